"""
Quiet-STaR (Zelikman et al. 2024): after every token the model samples a short thought,
<startofthought> t_1 .. t_n <endofthought>, and a mixing head decides how much the
prediction after the thought counts. REINFORCE trains the thoughts: a thought whose
continuation predicts the true next tokens better than the other thoughts sampled at the
same position is made more likely.

All positions think at once. Pass 0 is the ordinary causal pass over the text (kept in the
KV cache). Each later pass adds one token per position: it attends to the text x<=i and to
the tokens of its own thought so far, nothing else. With the T new keys of every pass
appended to the cache, the boolean mask of pass k is (T, T*(k+1)) = [causal | I | .. | I].
The k-th token after position i (k=1 is <startofthought>) sits at position i+k; positions
past block_size-1 are clamped to block_size-1 (they share the last position embedding), so
every prediction that has a target is exact when T + thought_len + 2 <= block_size. (train.py
fills the context, T = block_size: the thoughts of the last thought_len + 2 positions are clamped.)

    pass:        0         1        2..n+1        n+2       n+3..n+1+n_true
    at i:       x_i     <start>   t_1..t_n     <end>     x_{i+1}..x_{i+n_true-1}  (teacher forced)
    predicts:  x_{i+1}    t_1     t_2..<end>   x_{i+1}   x_{i+2}..x_{i+n_true}

The two markers are this idea's special tokens (special_tokens below): training it on any
dataset adds them to the vocabulary, and fine-tuning a run into it starts their rows as copies
of '-' (init_token_rows). The paper's claim (Mistral 7B continued on OpenWebMath): GSM8K
5.9% -> 10.9%, CommonsenseQA 36.3% -> 47.2% zero-shot; what we measured: docs/quietstar.md.

The official recipe (ezelikman/quiet-star, modeling_mistral.py and quiet-star-train.py) has
terms that are config options here, off by default (today's behaviour), with the official
values in config/quietstar_official.py:
    base_nll_weight 0.5   half the loss is the base head's next-token NLL (no thought)
    policy_weight   1e6   REINFORCE's weight against the NLL
    marker_scale    100   the markers' input vectors are their own parameters, stored /100 and
                          used x100 (a reparameterisation, so Adam moves them 100x faster)
    mix_layers      3     the mixing head: Linear(2C, C), ReLU, Linear(C, C), ReLU, Linear(C, 1)
    mix_bound       none  w unbounded; here tanh by default, so w stays in (-1, 1)
    n_true          4     true tokens after each thought (the paper's n_ahead_talk)
    thought_len     9     official n_ahead = 12: <start> at step 0, sampled tokens at 1-9, <end> at 10
The mixing itself is the official one: it mixes the final hidden states, (1-w) h_base + w h_post,
before the (linear) head, which equals mixing the logits as done here. Left out: REINFORCE's
log-probabilities at temperature 3 (reinforce_temperature; ours use the sampling temperature);
straight-through Gumbel-softmax inputs (the thought tokens are detached there too, so the
samples and their gradient match Gumbel-max); and the official per-ahead-step averaging of the
mixed NLL (here one mean over every (position, step) pair with a target).

    python train.py config/cpu.py                    # the base model, out-cpu
    python train.py config/quietstar.py --thought_len=4 --out_dir=out-qs-t4   # fine-tuned from out-cpu
    python quietstar.py eval out-cpu out-qs-t4       # base vs mixed val NLL on fixed batches
    python quietstar.py answers out-qs-hops data/hops_k3/test.jsonl   # at the answers; thoughts swapped
    python bench.py quietstar                   # parallel vs one-position-at-a-time thoughts
    python plot.py results/quietstar/*.jsonl --out=assets/quietstar.png --figure=quietstar
"""

import argparse
import json
import os
import sys
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

import vocab
from model import GPT, GPTConfig, group_advantages, sample_token
from train import Dataset, eval_batch_seed, load_checkpoint, model_from_checkpoint
from vocab import Tokenizer, UserError, cli_errors, default_data_dir, read_jsonl


MIX_BOUNDS = ('tanh', 'none')


@dataclass
class QuietSTaRConfig(GPTConfig):
    thought_len: int = 4  # sampled thought tokens between <startofthought> and <endofthought>
    n_true: int = 2  # true tokens predicted after each thought (teacher forced): loss and reward horizon
    thoughts_per_position: int = 2  # thoughts sampled per position in training; the reward baseline is their mean
    thought_temperature: float = 1.0  # 0: greedy thoughts
    policy_weight: float = 1.0  # weight of the REINFORCE loss (official: 1e6)
    clamp_rewards: bool = True  # negative advantages -> 0: only better-than-average thoughts are reinforced
    base_nll_weight: float = 0.0  # b: loss (1-b) mixed NLL + b base NLL of the next token (official: 0.5)
    marker_scale: float = 0.0  # s > 0: the markers' own input vectors, stored /s, used x s (official: 100)
    mix_layers: int = 2  # linear layers of the mixing head, ReLU between (official: 3)
    mix_bound: str = 'tanh'  # mixing weight w = tanh(head), in (-1, 1); 'none': w = head, unbounded (official)
    start_id: int = -1  # the ids of <startofthought>, <endofthought>: train.py fills them
    end_id: int = -1

    def __post_init__(self):
        super().__post_init__()
        if self.thought_len < 0 or self.n_true < 1 or self.thoughts_per_position < 2:
            raise ValueError(f"need thought_len >= 0, n_true >= 1, thoughts_per_position >= 2 (got {self.thought_len}, "
                             f"{self.n_true}, {self.thoughts_per_position})")
        if self.thought_temperature < 0 or self.policy_weight < 0 or self.marker_scale < 0:
            raise ValueError("thought_temperature, policy_weight and marker_scale must be >= 0")
        if not 0 <= self.base_nll_weight <= 1 or self.mix_layers < 1 or self.mix_bound not in MIX_BOUNDS:
            raise ValueError(f"need base_nll_weight in [0, 1], mix_layers >= 1 and mix_bound in {MIX_BOUNDS} (got "
                             f"{self.base_nll_weight}, {self.mix_layers}, {self.mix_bound!r})")
        if self.start_id < 0 or self.end_id < 0:
            raise ValueError("start_id and end_id must be set (train.py sets them from the dataset's meta.pkl)")


def reinforce_loss(logp, reward, valid, clamp=True):
    """logp (S, B, T): log-probability of each sampled thought (summed over its tokens);
    reward (S, B, T): log p(true next tokens | thought). The S thoughts of one position are
    compared with each other: advantage = reward - mean over S, so a position that is easy
    for every thought earns nothing. Mean over the valid positions."""
    adv = group_advantages(reward, dim=0)
    if clamp:
        adv = adv.clamp(min=0)
    return -(adv.detach() * logp * valid).sum() / valid.sum().clamp(min=1)


class QuietSTaRGPT(GPT):
    """forward(idx, targets) -> mixed next-token logits (B, T, V), each from x<=t and the thought
    at t, and the loss: in training (1 - b) * the mixed NLL over the n_true true tokens + b * the
    base NLL of the next token (b = base_nll_weight) + policy_weight * REINFORCE over
    thoughts_per_position thoughts per position; in eval the mixed NLL of
    the next token alone (one thought per position), comparable with the GPT's val loss.
    self.stats holds, as tensors for the log, base_nll, mixed_nll (next token), policy_loss and
    the mean mixing weight where predictions have targets (and the share of it below 0)."""
    config_class = QuietSTaRConfig
    special_tokens = {'start_id': vocab.START_THOUGHT, 'end_id': vocab.END_THOUGHT}
    marker_init = '-'  # after the paper's '---': a dash is a break after which the text goes on, as after a thought

    def __init__(self, config):
        super().__init__(config)
        if max(config.start_id, config.end_id) >= config.vocab_size or config.start_id == config.end_id:
            raise ValueError(f"start_id and end_id must differ and be in the vocabulary of {config.vocab_size}")
        C = config.n_embd
        widths = [2 * C] + [C] * (config.mix_layers - 1) + [1]
        layers = [layer for a, b in zip(widths, widths[1:]) for layer in (nn.Linear(a, b), nn.ReLU())]
        self.mix = nn.Sequential(*layers[:-1])
        # zero last layer: w = 0, so training starts from the base model exactly
        nn.init.zeros_(self.mix[-1].weight)
        nn.init.zeros_(self.mix[-1].bias)
        if config.marker_scale:
            self.marker_embedding = nn.Parameter(torch.empty(2, C))
            self.copy_marker_rows()
        self.stats = {}

    def copy_marker_rows(self):
        """The markers' own input vectors start at their embedding rows (divided by the scale)."""
        if self.config.marker_scale:
            with torch.no_grad():
                self.marker_embedding.copy_(self.transformer.wte.weight[self.markers('cpu')] / self.config.marker_scale)

    def token_embedding(self, idx):
        """With marker_scale s, the markers read s * marker_embedding instead of their rows: the
        official reparameterisation, whose Adam steps move a marker s times as far as a row's."""
        e = super().token_embedding(idx)
        if self.config.marker_scale:
            for j, marker in enumerate((self.config.start_id, self.config.end_id)):
                e = torch.where((idx == marker).unsqueeze(-1), self.config.marker_scale * self.marker_embedding[j], e)
        return e

    def init_token_rows(self, tokenizer, new_ids):
        """New marker rows start as copies of marker_init's embedding, not the mean one (the rows
        are the markers' logits too, tied, but those are masked for text); a vocabulary without
        that character (the hops task's) keeps the mean row."""
        markers = [i for i in (self.config.start_id, self.config.end_id) if i in new_ids]
        try:
            init = tokenizer.encode(self.marker_init)
        except UserError:
            init = []
        if markers and len(init) == 1:
            with torch.no_grad():
                self.transformer.wte.weight[markers] = self.transformer.wte.weight[init[0]].clone()
        self.copy_marker_rows()

    def markers(self, device):
        return torch.tensor([self.config.start_id, self.config.end_id], device=device)

    def text_only(self, logits):
        """The thought markers are never text, and never sampled inside a thought."""
        return logits.index_fill(-1, self.markers(logits.device), -float('inf'))

    def sample_thought(self, h, noise=None, given=None):
        """Next thought token from hidden states h (..., C): Gumbel-max on logits/temperature,
        so tests can fix the noise; or the given ids. Returns (ids, log-probabilities with gradient)."""
        logits = self.text_only(self.head(h))
        if self.config.thought_temperature > 0:
            logits = logits / self.config.thought_temperature
        logp = F.log_softmax(logits, dim=-1)
        with torch.no_grad():
            if given is not None:
                tok = given
            elif self.config.thought_temperature == 0:
                tok = logits.argmax(-1)
            else:
                g = noise if noise is not None else -torch.empty_like(logits).exponential_().log()
                tok = (logits + g).argmax(-1)
        return tok, logp.gather(-1, tok.unsqueeze(-1)).squeeze(-1)

    def mixed_logits(self, h_base, h_post):
        """Mixing head: w from [base hidden; post-thought hidden]; (1-w) base + w post."""
        hb, hp = self.transformer.ln_f(h_base), self.transformer.ln_f(h_post)
        w = self.mix(torch.cat([hb, hp], dim=-1))
        if self.config.mix_bound == 'tanh':
            w = torch.tanh(w)  # tanh(0) = 0, bounded, gradient 1 at 0
        base, post = self.lm_head(hb), self.lm_head(hp)
        return self.text_only(base), self.text_only(base + w * (post - base)), w

    def think(self, x, n_true, noise=None, thoughts=None):
        """The parallel passes over x (B, T). n_true: true tokens to predict after each thought
        (n_true-1 of them teacher forced). noise: Gumbel noise (thought_len, B, T, V) or None.
        thoughts: given thought ids (B, T, thought_len) to read instead of sampling (their logp is
        still the model's).
        Returns h_base (B, T, C), h_post (B, T, n_true, C) (the <endofthought> state, then the
        teacher-forced ones), logp (B, T, thought_len) and the thought ids (B, T, thought_len)."""
        c, (B, T), dev = self.config, x.shape, x.device
        n = c.thought_len
        n_pass = n + 2 + n_true
        cache = self.new_pass_cache(B, T * n_pass)
        h = h_base = self.blocks(self.embed(x), cache=cache)  # pass 0: the ordinary causal pass
        mask, eye = torch.ones(T, T, dtype=torch.bool, device=dev).tril(), torch.eye(T, dtype=torch.bool, device=dev)
        # teacher-forced inputs x_{i+j}; where i+j runs past the text the target is missing anyway
        ahead = x[:, (torch.arange(T, device=dev)[:, None] + torch.arange(1, n_true, device=dev)).clamp(max=T - 1)]
        tokens, logps, h_post = [], [], []
        for k in range(1, n_pass):
            if k == 1:
                tok = torch.full_like(x, c.start_id)
            elif k <= n + 1:
                tok, logp = self.sample_thought(h, None if noise is None else noise[k - 2],
                                                None if thoughts is None else thoughts[:, :, k - 2])
                tokens.append(tok)
                logps.append(logp)
            elif k == n + 2:
                tok = torch.full_like(x, c.end_id)
            else:
                tok = ahead[:, :, k - n - 3]
            mask = torch.cat([mask, eye], dim=1)  # [causal | I | .. | I]: the text, then its own thought
            pos = (torch.arange(T, device=dev) + k).clamp(max=c.block_size - 1)
            h = self.blocks(self.embed(tok, pos), mask, cache)
            if k >= n + 2:
                h_post.append(h)
        logp = torch.stack(logps, dim=-1) if logps else h.new_zeros(B, T, 0)
        thought = torch.stack(tokens, dim=-1) if tokens else x.new_zeros(B, T, 0)
        return h_base, torch.stack(h_post, dim=2), logp, thought

    def forward(self, idx, targets=None, noise=None):
        c, (B, T), dev = self.config, idx.shape, idx.device
        if T > c.block_size:
            raise ValueError(f"sequence of {T} tokens is longer than block_size {c.block_size}")
        training = self.training and targets is not None
        S, n_true = (c.thoughts_per_position, c.n_true) if training else (1, 1)
        x = idx.repeat(S, 1)  # thought s of row b is row s*B + b
        h_base, h_post, logp, _ = self.think(x, n_true, noise)
        # the base prediction of the same target as post-thought step j is the base state at i+j
        shift = torch.arange(T, device=dev)[:, None] + torch.arange(n_true, device=dev)
        past_end = shift > T - 1  # no target there: masked below
        shift = shift.clamp(max=T - 1)
        base, mixed, w = self.mixed_logits(h_base[:, shift], h_post)  # (S*B, T, n_true, V)
        logits = mixed[:B, :, 0]
        if targets is None:
            return logits, None
        y = targets[:, shift].masked_fill(past_end, -1).repeat(S, 1, 1)  # (S*B, T, n_true)
        valid = y != -1
        nll = F.cross_entropy(mixed.flatten(0, 2), y.flatten(), ignore_index=-1, reduction='none').view_as(y)
        mixed_nll = nll.sum() / valid.sum().clamp(min=1)
        next_valid = valid[:, :, 0].sum().clamp(min=1)
        base_nll = F.cross_entropy(base[:, :, 0].flatten(0, 1), y[:, :, 0].flatten(), ignore_index=-1,
                                   reduction='sum') / next_valid
        # the mixing weight where it counts: at predictions that have a target (tanh: it can go negative)
        w_used = w.squeeze(-1)[valid]
        none = w_used.numel() == 0
        # tensors, detached: train.py turns them into numbers only when it logs (no sync here)
        self.stats = {'base_nll': base_nll.detach(), 'mixed_nll': nll[:, :, 0].detach().sum() / next_valid,
                      'mix_weight': w.new_zeros(()) if none else w_used.detach().mean(),
                      'mix_weight_negative': w.new_zeros(()) if none else (w_used.detach() < 0).float().mean()}
        if not training:
            return logits, nll[:, :, 0].sum() / next_valid
        # reward: log p(true next n_true tokens | thought) under the mixed prediction, as in the
        # paper; equal for all thoughts while w = 0: REINFORCE starts once the mixing head listens
        reward = -nll.detach().sum(dim=-1).view(S, B, T)
        policy = reinforce_loss(logp.sum(-1).view(S, B, T), reward, valid[:, :, 0].view(S, B, T), c.clamp_rewards)
        self.stats.update(policy_loss=policy.detach(), mixed_nll_ahead=mixed_nll.detach())
        b = c.base_nll_weight
        return logits, (1 - b) * mixed_nll + b * base_nll + c.policy_weight * policy

    @torch.no_grad()
    def explain(self, idx):
        """One thought sampled at every position (teacher forced, as in eval): the mixed
        prediction, the base prediction before thinking, and the thoughts."""
        h_base, h_post, _, thought = self.think(idx, 1)
        base, mixed, _ = self.mixed_logits(h_base[:, :, None], h_post)
        return {'logits': mixed[:, :, 0], 'base_logits': base[:, :, 0], 'thoughts': thought, 'thought_join': '',
                'gain': 'log-prob of the mixed prediction (after a thought) minus the base one'}

    def flops_per_token(self, T=None):
        """Training FLOPs per text token, roughly: every text token runs thoughts_per_position times through
        thought_len + n_true + 2 passes, each about a GPT token's cost (PaLM's 6N + 12*L*C*T)."""
        c = self.config
        return c.thoughts_per_position * (c.thought_len + c.n_true + 2) * super().flops_per_token(T)

    # --- generation: one position at a time -------------------------------------------

    def think_one(self, h_last, cache):
        """A thought after the last text token in the cache (whose hidden state is h_last (B, C)):
        <start>, n sampled tokens, <end>, one token per step. The caller rolls cache.pos back, so
        the next text token never sees it. Returns (thought ids (B, n), post-thought hidden (B, C))."""
        c, B, dev = self.config, h_last.size(0), h_last.device
        i = cache.pos - 1  # the text position that thinks
        tok, h, tokens = torch.full((B, 1), c.start_id, device=dev), None, []
        for k in range(1, c.thought_len + 3):
            if 2 <= k <= c.thought_len + 1:
                tok = self.sample_thought(h)[0]
                tokens.append(tok)
            elif k == c.thought_len + 2:
                tok = torch.full((B, 1), c.end_id, device=dev)
            pos = torch.tensor([min(i + k, c.block_size - 1)], device=dev)
            h = self.blocks(self.embed(tok, pos), cache=cache)  # one query: sees the text and its own thought
        thought = torch.cat(tokens, dim=1) if tokens else torch.zeros(B, 0, dtype=torch.long, device=dev)
        return thought, h[:, -1]

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, show_thoughts=False):
        """Think at the newest position, then sample the next token from the mixed logits.
        show_thoughts: return the text with every thought in it, <start> t_1..t_n <end> before
        the token it helped predict. Past block_size the context is cropped and refilled."""
        c = self.config
        shown = idx
        cache = None
        for _ in range(max_new_tokens):
            T = idx.size(1)
            if cache is None or T > c.block_size:
                cache = self.new_cache(idx.size(0), c.block_size + c.thought_len + 2)
                h = self.blocks(self.embed(idx[:, -c.block_size:]), cache=cache)[:, -1]
            else:
                h = self.blocks(self.embed(idx[:, -1:], torch.tensor([T - 1], device=idx.device)), cache=cache)[:, -1]
            text_len = cache.pos
            thought, h_post = self.think_one(h, cache)
            cache.pos = text_len  # forget the thought
            _, logits, _ = self.mixed_logits(h, h_post)
            nxt = sample_token(logits, temperature, top_k)
            idx = torch.cat([idx, nxt], dim=1)
            marks = self.markers(idx.device).expand(idx.size(0), 2)
            shown = torch.cat([shown, marks[:, :1], thought, marks[:, 1:], nxt], dim=1)
        return shown if show_thoughts else idx


# -----------------------------------------------------------------------------
# fine-tuning from a train.py checkpoint


@torch.no_grad()
def evaluate(out_dir, n_batches=20, batch_size=12, seed=0):
    """Mean base and mixed NLL of the next token over fixed val batches (train.py's own val
    batches at one batch size, so every run sees the same tokens). A 'gpt' checkpoint gives its
    NLL as both."""
    if n_batches <= 0 or batch_size <= 0:
        raise UserError(f"--batches and --batch_size must be > 0, got {n_batches}, {batch_size}")
    ckpt = load_checkpoint(os.path.join(out_dir, 'ckpt.pt'))
    c = ckpt['config']
    model = model_from_checkpoint(ckpt).eval()
    data_dir = c['data_dir'] or default_data_dir(c['dataset'])
    data = Dataset(data_dir, c['dataset'], c['block_size'], Tokenizer(ckpt['meta']))
    torch.manual_seed(seed)
    base = mixed = 0.0
    for k in range(n_batches):
        x, y = data.batch('val', batch_size, seed=eval_batch_seed('val', k))  # train.py's val batches
        _, loss = model(x, y)
        stats = getattr(model, 'stats', {})
        base += float(stats.get('base_nll', loss)) / n_batches
        mixed += float(stats.get('mixed_nll', loss)) / n_batches
    return {'out_dir': out_dir, 'iter': ckpt['iter_num'], 'base_nll': base, 'mixed_nll': mixed}


@torch.no_grad()
def answer_metrics(model, tok, records, seed=0):
    """At the answer of each task record (the token after the completion's last '='): base and
    mixed accuracy (argmax) and NLL, the mixing weight, how often the thought there starts with
    the true chain (hops records: the path's inner nodes), and the content ablation: the same
    mixed prediction with every record reading another record's thoughts (rolled by one within
    a group of records of one length). A thought that carries the answer's computation loses it
    when swapped; one that does not leaves the mixed result where it was. A plain GPT (a
    control) gets the base numbers only: its direct answer, with the thought markers masked."""
    torch.manual_seed(seed)
    thinks = hasattr(model, 'mixed_logits')  # as in answers(): a Quiet-STaR model, whichever module it came from
    markers = [i for i, name in tok.special_names.items() if name in (vocab.START_THOUGHT, vocab.END_THOUGHT)]
    groups = {}
    for r in records:
        ids = tok.encode(r['prompt'] + r['completion'])
        at = max(i for i, t in enumerate(ids[:-1]) if t == tok.encode('=')[0])
        chain = tok.encode(''.join(r['path'][1:-1])) if 'path' in r else None
        groups.setdefault(len(ids), []).append((ids, at, chain))
    sums, counted_chains = {}, 0
    for rows in groups.values():
        x = torch.tensor([ids[:-1] for ids, _, _ in rows], device=model.lm_head.weight.device)
        at = torch.tensor([a for _, a, _ in rows], device=x.device)
        b = torch.arange(len(rows), device=x.device)
        y = x.new_tensor([ids[a + 1] for ids, a, _ in rows])
        if not thinks:
            base = model.head(model.blocks(model.embed(x)))[b, at].index_fill(-1, x.new_tensor(markers), -float('inf'))
            sums['base_accuracy'] = sums.get('base_accuracy', 0) + (base.argmax(-1) == y).sum().item()
            sums['base_nll'] = sums.get('base_nll', 0) + F.cross_entropy(base, y, reduction='sum').item()
            continue
        h_base, h_post, _, thought = model.think(x, 1)
        base, mixed, w = model.mixed_logits(h_base[b, at], h_post[b, at, 0])
        swapped = model.think(x, 1, thoughts=thought.roll(1, dims=0))
        mixed_swapped = model.mixed_logits(h_base[b, at], swapped[1][b, at, 0])[1]
        for name, logits in (('base', base), ('mixed', mixed), ('swapped', mixed_swapped)):
            sums[f'{name}_accuracy'] = sums.get(f'{name}_accuracy', 0) + (logits.argmax(-1) == y).sum().item()
            sums[f'{name}_nll'] = sums.get(f'{name}_nll', 0) + F.cross_entropy(logits, y, reduction='sum').item()
        sums['mix_weight'] = sums.get('mix_weight', 0) + w.sum().item()
        for (_, _, chain), t in zip(rows, thought[b, at].tolist()):
            if chain is not None and len(chain) <= len(t):
                counted_chains += 1
                sums['thought_is_chain'] = sums.get('thought_is_chain', 0) + (t[:len(chain)] == chain)
    n = len(records)
    out = {key: round(value / (counted_chains if key == 'thought_is_chain' else n), 4) for key, value in sums.items()}
    return {'records': n, **out}


def answers(run_dir, records_path, limit=1000):
    """answer_metrics of run_dir's checkpoint on the first `limit` records of a jsonl file."""
    ckpt = load_checkpoint(os.path.join(run_dir, 'ckpt.pt'))
    model = model_from_checkpoint(ckpt).eval()
    if not hasattr(model, 'mixed_logits') and ckpt['idea'] != 'gpt':  # not isinstance: as a script this file is __main__
        raise UserError(f"{run_dir} is a {ckpt['idea']!r} run; answers needs a Quiet-STaR one or a plain GPT")
    records = [r for r in read_jsonl(records_path) if '=' in r.get('completion', '')][:limit]
    if not records:
        raise UserError(f"{records_path} has no task records whose completion holds '=' before the answer")
    return {'run': run_dir, 'iter': ckpt['iter_num'], **answer_metrics(model, Tokenizer(ckpt['meta']), records)}


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='command', required=True)
    a = sub.add_parser('eval', help='base vs mixed val NLL of OUT_DIR on fixed batches')
    a.add_argument('out_dirs', nargs='+')
    a.add_argument('--batches', type=int, default=20)
    a.add_argument('--batch_size', type=int, default=12)
    r = sub.add_parser('answers', help="base vs mixed at the answers of RECORDS, and with the thoughts swapped "
                                       "(a plain GPT: its direct answer)")
    r.add_argument('run_dir')
    r.add_argument('records')
    r.add_argument('--limit', type=int, default=1000)
    args = p.parse_args(argv)
    with cli_errors():
        if args.command == 'answers':
            print(json.dumps(answers(args.run_dir, args.records, args.limit)))
            return
        for d in args.out_dirs:
            print(json.dumps(evaluate(d, args.batches, args.batch_size)))


if __name__ == '__main__':
    main(sys.argv[1:])
