"""
<think_i> tokens chosen by the model, trained by reinforcement learning: n_think new tokens
that no text contains, which the model may emit anywhere. No supervised loss can say what
they mean, so REINFORCE rewards them by how they change the prediction of the text that
follows (next_text), or by a frozen teacher's score of the text written after them
(teacher); several rollouts per prefix give the baseline. A think token takes the position of
the text token before it: it is more computation at that position, so the token that predicts
the text at position p still sits at p - 1, as in training without thinking, and no text token
moves off the position it was trained at. (The earlier convention, the position of the text
token after it, put the prediction of position p at p: a probe (2-layer model, 2-digit addition)
reported 4.4-13.8 nats of cost on the next digit from one think token, 0.17 / 0.00 with the
previous position.)

Pause and filler tokens (pause.py) give the model extra positions it does not choose; here
the model chooses whether to think, and with which token. What we measured: docs/think_rl.md.

    python data/addition/prepare.py --n_think=64 --out_dir=data/addition_think
    python train.py config/think_rl_sft.py             # the supervised start
    python think.py config/think_rl.py [--key=value]   # RL on the think tokens (model = 'think')
    python plot.py out-think-rl/log.jsonl --figure=think_rl
"""

import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from model import GPT, GPTConfig, build_model, group_advantages, insert_tokens, lm_loss, random_slots, sample_token
from configurator import check_ranges, idea_meta, load_config, model_args, pick_device
from train import (Dataset, RunLog, batch_seed, checkpoint, eval_batch_seed, init_from_run, is_run,
                   load_checkpoint, model_from_checkpoint, save_checkpoint, set_lr)
from vocab import (Tokenizer, UserError, check_extends, check_writable, cli_errors, default_data_dir, load_meta,
                   think_ids, think_token_names)


# -----------------------------------------------------------------------------
# <think_i> tokens the model chooses, trained by reinforcement learning: the idea 'think'
#
# A rollout continues a prefix (a task prompt, or a window of text) one token at a time
# through the KV cache, sampling from the whole vocabulary: a think token stays in the
# context; a text token ends the thinking before it. Rewards, never shown a think token:
#   next_text  the text is forced to be the true continuation; the policy only chooses
#              when to think and with what, and is rewarded by the mean log-probability it
#              then gives the true text tokens (a softmax over text tokens only)
#   teacher    the policy writes the text too; a frozen train.py model without think tokens
#              scores the rollout's text with the think tokens removed (a teacher trained with
#              an intermediate written first writes its own teacher_chain tokens greedily)
# advantage = reward - the mean of the group of rollouts of the same prefix (a prefix whose
# text is easy earns every rollout the same, so it teaches nothing), optionally / the group's
# std; REINFORCE on the policy's own choices, an entropy bonus, a budget of max_think think
# tokens before each text token (sampling cannot exceed it) and an optional penalty per think
# token, and next-token losses on text so that the model stays a language model.

PROMPT, THINK, TEXT, PAD = 0, 1, 2, 3  # what each token of a rollout is
REWARDS = ('next_text', 'teacher')
BASELINES = ('none', 'mean', 'mean_std')


@dataclass
class ThinkConfig(GPTConfig):
    n_think: int = 2048  # <think0>..<think{n-1}>: the dataset's meta.pkl holds them (prepare --n_think)
    max_think: int = 4  # budget: at most this many think tokens before each text token
    think_id: int = -1  # the id of <think0> (the others follow it): train.py fills it
    think_init_std: float = 0.02  # grown from a run, think row i = the mean embedding + N(0, std^2) noise
    random_think_fraction: float = 0.0  # supervised training: random think tokens per text token, no loss
    untied_think: bool = False  # choose think tokens with their own output rows (zero at first: a uniform
    # choice), not the embedding rows that reading uses (tied, choosing moves what a think token means)

    def __post_init__(self):
        super().__post_init__()
        if self.n_think < 1 or self.max_think < 0:
            raise ValueError(f"need n_think >= 1 and max_think >= 0 (got {self.n_think}, {self.max_think})")
        if self.think_init_std < 0 or not 0 <= self.random_think_fraction < 1:
            raise ValueError(f"need think_init_std >= 0 and random_think_fraction in [0, 1) (got "
                             f"{self.think_init_std}, {self.random_think_fraction})")
        if self.think_id < 0:
            raise ValueError("think_id must be set (train.py sets it from the dataset's meta.pkl)")


# The RL run's own keys: config keys like train.py's, not part of the model (or its checkpoint's model_args).
RL = dict(
    think_penalty=0.0,  # reward minus think_penalty * (think tokens per text token)
    reward='next_text',  # 'next_text' or 'teacher' (see above)
    teacher='',  # reward='teacher': the out_dir of a train.py run on the same text, no think tokens
    teacher_chain=0,  # reward='teacher': tokens the teacher writes itself after the prompt (greedily)
    # before it scores the policy's text: a teacher trained with the intermediate written as text
    think_slot=0,  # 0: think anywhere (the budget max_think); m > 0: exactly m think tokens after each prompt
    group_size=8,  # rollouts per prefix
    baseline='mean',  # advantage: 'none' (the reward), 'mean' (minus the group mean), 'mean_std' (and / std)
    rollout_temperature=1.0,
    entropy_weight=0.001,  # bonus on the policy's entropy where it chose a token
    lm_weight=1.0,  # next_text: NLL of the true text after thinking (so the model learns to read it)
    sft_weight=1.0,  # the plain next-token loss on a batch of text without think tokens
    sft_dataset='',  # where that batch comes from (a name in data/ or a directory; '': the run's dataset)
    n_true=8,  # token streams: true text tokens after each prefix (task records: the completion)
)


def check_rl(c):
    """The RL keys of a config (load_config(argv, extra=RL)), each in its range."""
    if c['model'] != 'think':
        raise UserError(f"the config must say model = 'think', not {c['model']!r}")
    check_ranges(c, positive=('group_size', 'n_true', 'rollout_temperature'),
                 nonnegative=('think_penalty', 'entropy_weight', 'lm_weight', 'sft_weight', 'think_slot',
                              'teacher_chain'),
                 choices={'reward': REWARDS, 'baseline': BASELINES})
    if c['baseline'] != 'none' and c['group_size'] < 2:
        raise UserError(f"config key baseline={c['baseline']!r} needs group_size >= 2, got {c['group_size']}")
    if c['teacher_chain'] and c['reward'] != 'teacher':
        raise UserError(f"config key teacher_chain={c['teacher_chain']} needs reward='teacher'")
    if c['n_true'] >= c['block_size']:
        raise UserError(f"config key n_true must be < block_size {c['block_size']}, got {c['n_true']}")


class ThinkGPT(GPT):
    """The GPT with n_think think tokens it may emit anywhere. A think token takes the position
    of the text token before it (text positions count text tokens only), so the next text token
    is predicted from the position it would be predicted from without thinking. Text is predicted by a softmax over the
    text tokens only: a think token is never a target, and a probability of thinking does not
    lower the likelihood of the text. On text without think tokens this is the GPT.

    Reading before writing: with random_think_fraction > 0, training forward passes (with
    targets) insert k = round(fraction * T) think tokens of random identity at random places
    of each row of T tokens (the row grows to T + k; no text drops out) and take no loss
    where the next token is a think token, so the model learns to read past think tokens
    before any policy writes one. Eval mode inserts none."""
    config_class = ThinkConfig
    special_tokens = {'think_id': '<think0>'}

    @classmethod
    def token_names(cls, config):
        return think_token_names(config['n_think'])

    def __init__(self, config):
        super().__init__(config)
        if config.think_id + config.n_think > config.vocab_size:
            raise ValueError(f"think tokens {config.think_id}..{config.think_id + config.n_think - 1} are not all in "
                             f"the vocabulary of {config.vocab_size}")
        if config.untied_think:
            self.think_out = nn.Linear(config.n_embd, config.n_think, bias=False)
            nn.init.zeros_(self.think_out.weight)

    def head(self, x):
        """The GPT's head; with untied_think the think tokens' logits come from think_out."""
        if not self.config.untied_think:
            return super().head(x)
        h = self.transformer.ln_f(x)
        logits, c = self.lm_head(h), self.config
        return torch.cat([logits[..., :c.think_id], self.think_out(h), logits[..., c.think_id + c.n_think:]], -1)

    def init_token_rows(self, tokenizer, new_ids):
        """Distinct think rows: the mean row (resize_vocab put it there) plus noise, so that which
        think token is chosen can mean something from the start; in the input embedding and,
        when untied, in the head as well."""
        c = self.config
        ids = [i for i in new_ids if c.think_id <= i < c.think_id + c.n_think]
        rows = [self.transformer.wte.weight] + ([] if c.tie_embeddings else [self.lm_head.weight])
        with torch.no_grad():
            for w in rows:
                w[ids] += c.think_init_std * torch.randn(len(ids), w.size(1), device=w.device, dtype=w.dtype)

    def is_think(self, idx):
        return (idx >= self.config.think_id) & (idx < self.config.think_id + self.config.n_think)

    def think_mask(self, device):
        return self.is_think(torch.arange(self.config.vocab_size, device=device))

    def text_only(self, logits):
        return logits.masked_fill(self.think_mask(logits.device), -float('inf'))

    def think_only(self, logits):
        return logits.masked_fill(~self.think_mask(logits.device), -float('inf'))

    def budget(self, logits, run):
        """No think token where run (consecutive think tokens so far, per row) reached max_think."""
        over = (run >= self.config.max_think)[..., None] & self.think_mask(logits.device)
        return logits.masked_fill(over, -float('inf'))

    def positions(self, idx):
        """A text token: the text tokens before it; a think token: the last text token's position
        (0 before any text); past the block (a rollout's padding) the last position."""
        text = (~self.is_think(idx)).long()
        return (text.cumsum(1) - 1).clamp(min=0, max=self.config.block_size - 1)

    def forward(self, idx, targets=None):
        k = round(self.config.random_think_fraction * idx.size(1))
        if targets is not None and self.training and k > 0:
            idx, targets = self.insert_random_thinks(idx, targets, k)
        logits = self.head(self.blocks(self.embed(idx, self.positions(idx))))
        if targets is None:
            return logits, None
        return logits, lm_loss(self.text_only(logits), targets.masked_fill(self.is_think(targets), -1))

    def insert_random_thinks(self, idx, targets, k, generator=None):
        """(idx, targets) (B, T) -> (B, T + k): k think tokens of uniformly random identity at
        random slots (never slot 0), the text in order around them, no loss where the next
        token is a think token."""
        B, T = idx.shape
        pad = idx.new_zeros(B, k)
        slots = random_slots(B, T + k, k, idx.device, generator)
        thinks = self.config.think_id + torch.randint(self.config.n_think, (B, T + k), device=idx.device,
                                                       generator=generator)
        return insert_tokens(torch.cat([idx, pad], 1), torch.cat([targets, pad - 1], 1), slots, thinks)

    def next_token_logits(self, ctx, cache, n_new):
        """GPT.generate's step: positions count text tokens only, and no think token past the
        budget (max_think in a row at the end of ctx)."""
        h = self.blocks(self.embed(ctx[:, -n_new:], self.positions(ctx)[:, -n_new:]), cache=cache)
        run = self.is_think(ctx).flip(1).long().cumprod(1).sum(1)  # think tokens at the end
        return self.budget(self.head(h[:, -1]), run)


@torch.no_grad()
def rollout(model, prompts, n_text, truth=None, text='sample', think=True, temperature=1.0, random_thinks=False):
    """Continue prompts (N, P; think tokens in them allowed) until n_text text tokens follow
    each; one token per step, all rows at once, through the KV cache. Each step samples from
    the whole vocabulary (no think token past the budget, none at all when think=False); a
    think token is kept (random_thinks: with a uniformly random identity instead, the ablation
    of which token was chosen), a text token is kept (text='sample'), replaced by truth's next
    token ('forced') or by the likeliest text token ('greedy'). Finished rows get PAD. Returns
    tokens (N, L) and their kinds (N, L)."""
    c, (N, P), dev = model.config, prompts.shape, prompts.device
    cache = model.new_cache(N, P + n_text * (1 + c.max_think))
    logits = model.head(model.blocks(model.embed(prompts, model.positions(prompts)), cache=cache))[:, -1]
    P = (~model.is_think(prompts)).sum(1)  # text tokens in each prompt: where its text goes on
    tokens, kinds = [prompts], [torch.full_like(prompts, PROMPT)]
    n_done = torch.zeros(N, dtype=torch.long, device=dev)
    run = torch.zeros_like(n_done)  # think tokens since the last text token
    while (n_done < n_text).any():
        logits = model.budget(logits, run if think else torch.full_like(run, c.max_think))
        tok = sample_token(logits, temperature)[:, 0]
        if text == 'forced':
            tok_text = truth.gather(1, n_done.clamp(max=n_text - 1)[:, None])[:, 0]
        elif text == 'greedy':
            tok_text = model.text_only(logits).argmax(-1)
        else:
            tok_text = tok
        thinks = model.is_think(tok)
        if random_thinks:
            tok = torch.where(thinks, c.think_id + torch.randint_like(tok, c.n_think), tok)
        kind = torch.where(n_done < n_text, torch.where(thinks, THINK, TEXT), PAD)
        tok = torch.where(kind == THINK, tok, tok_text)
        pos = (P + n_done - (kind == THINK).long()).clamp(max=c.block_size - 1)  # a think token: the last text position
        logits = model.head(model.blocks(model.embed(tok[:, None], pos[:, None]), cache=cache))[:, -1]
        n_done += kind == TEXT
        run = torch.where(kind == THINK, run + 1, 0)
        tokens.append(tok[:, None])
        kinds.append(kind[:, None])
    return torch.cat(tokens, 1), torch.cat(kinds, 1)


@torch.no_grad()
def slot_rollout(model, prompts, truth, n_slot, temperature=1.0, choose='sample', text='forced'):
    """The fixed think slot: exactly n_slot think tokens right after each prompt (N, P), each
    sampled from the softmax over the think tokens alone ('sample'), the likeliest ('greedy')
    or uniform ('random'), then the true text truth (N, K) (text='forced'), or K text tokens the
    policy samples from its text softmax (text='sample'). Returns tokens and kinds, as rollout."""
    tokens = prompts
    for _ in range(n_slot):
        logits = model.think_only(model(tokens)[0][:, -1])
        if choose == 'random':
            logits = model.think_only(torch.zeros_like(logits))
        tok = logits.argmax(-1, keepdim=True) if choose == 'greedy' else sample_token(logits, temperature)
        tokens = torch.cat([tokens, tok], 1)
    kinds = torch.cat([torch.full_like(prompts, PROMPT), torch.full_like(tokens[:, prompts.size(1):], THINK),
                       torch.full_like(truth, TEXT)], 1)
    if text == 'forced':
        return torch.cat([tokens, truth], 1), kinds
    for _ in range(truth.size(1)):
        tokens = torch.cat([tokens, sample_token(model.text_only(model(tokens)[0][:, -1]), temperature)], 1)
    return tokens, kinds


def think_runs(kinds):
    """(N, L): consecutive THINK tokens ending at each position (0 where the token is none)."""
    runs, run = [], torch.zeros_like(kinds[:, 0])
    for t in range(kinds.size(1)):
        run = torch.where(kinds[:, t] == THINK, run + 1, 0)
        runs.append(run)
    return torch.stack(runs, 1)


def policy_terms(model, tokens, kinds, forced_text, temperature=1.0, slot=False):
    """One forward pass over rollouts (with gradient when enabled). Per token the policy chose
    (kinds THINK or TEXT), aligned with tokens[:, 1:]: 'action', its log-probability under the
    distribution it was sampled from (budget applied; with forced text the choice at a TEXT
    token is 'stop thinking', log P(any text token)); 'entropy' of that distribution; and at
    TEXT tokens 'text', the log-probability of the token under the text softmax. Zero elsewhere.
    slot: the fixed think slot (slot_rollout): the policy chose which think token, from the
    softmax over the think tokens, and its text was forced (no choice) or sampled from the text
    softmax. 'chose' marks the tokens the policy chose.
    'action' and 'entropy' are those of the sampling distribution, softmax(logits / temperature):
    temperature must be rollout()'s. 'text' is the model's own likelihood (temperature 1)."""
    if not temperature > 0:
        raise ValueError(f"the policy's log-probabilities need a temperature > 0 (0 is greedy), got {temperature}")
    logits = model(tokens)[0][:, :-1]
    nxt, kind = tokens[:, 1:], kinds[:, 1:]
    if slot:
        logp = torch.where((kind == THINK)[..., None], F.log_softmax(model.think_only(logits) / temperature, dim=-1),
                           F.log_softmax(model.text_only(logits) / temperature, dim=-1))
    else:
        logp = F.log_softmax(model.budget(logits, think_runs(kinds)[:, :-1]) / temperature, dim=-1)
    action = logp.gather(-1, nxt[..., None])[..., 0]
    if forced_text and not slot:
        action = torch.where(kind == TEXT, model.text_only(logp).logsumexp(-1), action)
    chose = (kind == THINK) | ((kind == TEXT) & (not (slot and forced_text)))
    entropy = -(logp.exp() * logp.masked_fill(logp == -float('inf'), 0)).sum(-1)  # 0 * -inf would be NaN, in the gradient too
    text = F.log_softmax(model.text_only(logits), dim=-1).gather(-1, nxt[..., None])[..., 0]
    zero = torch.zeros_like(action)
    return {'action': torch.where(chose, action, zero), 'entropy': torch.where(chose, entropy, zero),
            'text': torch.where(kind == TEXT, text, zero), 'chose': chose}


def next_text_reward(text_logp, n_text):
    """Mean log-probability of the true text tokens after the thinking, per rollout."""
    return text_logp.detach().sum(1) / n_text


@torch.no_grad()
def teacher_reward(teacher, tokens, kinds, n_prompt, n_chain=0):
    """The frozen teacher's mean log-probability of each rollout's text after the prompt, given
    the prompt, its own n_chain greedy tokens after it (a teacher trained to write an
    intermediate first) and the text before it. The think tokens are removed first: the teacher
    never sees one (every row holds the same number of text tokens)."""
    keep = (kinds == PROMPT) | (kinds == TEXT)
    text = tokens[keep].view(tokens.size(0), -1)
    prefix, written = text[:, :n_prompt], text[:, n_prompt:]
    for _ in range(n_chain):
        prefix = torch.cat([prefix, teacher(prefix)[0][:, -1].argmax(-1, keepdim=True)], 1)
    logits, _ = teacher(torch.cat([prefix, written], 1))
    logp = F.log_softmax(logits[:, prefix.size(1) - 1:-1], dim=-1).gather(-1, written[..., None])[..., 0]
    return logp.mean(1)


def advantages(reward, group_size, baseline):
    """reward (N,), groups of group_size consecutive rollouts of one prefix -> advantage (N,)."""
    if baseline == 'none':
        return reward
    groups = reward.view(-1, group_size)
    return group_advantages(groups, scale='group' if baseline == 'mean_std' else 'none').reshape(-1)


def policy_loss(action_logp, adv):
    """REINFORCE: minus the mean over rollouts of advantage * log-probability of the rollout
    (the sum over the tokens the policy chose)."""
    return -(adv.detach() * action_logp.sum(1)).mean()


class Prefixes:
    """Prefixes and their true continuations from train.py's Dataset: task records (prompt,
    completion; one batch holds records of one length) or windows of a token stream
    (block_size - n_true tokens, then n_true)."""

    def __init__(self, data, n_true):
        self.data, self.n_true = data, n_true
        self.buckets = {}
        if data.kind == 'records':
            for split, records in data.splits.items():
                by_len = defaultdict(list)
                for ids, n_prompt in records:
                    by_len[n_prompt, len(ids)].append(ids)
                self.buckets[split] = list(by_len.items())

    def batch(self, split, batch_size, seed):
        """(prompts (B, P), truth (B, K)), a function of (split, seed)."""
        g = torch.Generator().manual_seed(seed)
        if self.data.kind == 'stream':
            x, y = self.data.batch(split, batch_size, seed)
            full = torch.cat([x, y[:, -1:]], dim=1)
            return full[:, :-self.n_true], full[:, -self.n_true:]
        buckets = self.buckets[split]
        sizes = torch.tensor([len(b) for _, b in buckets], dtype=torch.float)
        (n_prompt, _), bucket = buckets[torch.multinomial(sizes, 1, generator=g).item()]
        rows = torch.tensor([bucket[i] for i in torch.randint(len(bucket), (batch_size,), generator=g).tolist()])
        return rows[:, :n_prompt], rows[:, n_prompt:]


def check_think_tokens(meta, model):
    c = model.config
    if think_ids(meta) != list(range(c.think_id, c.think_id + c.n_think)):
        raise UserError(f"the dataset's vocabulary must hold exactly n_think={c.n_think} think tokens, in order, it "
                        f"holds {len(think_ids(meta))}: prepare it with --n_think={c.n_think}")


def load_teacher(path, meta):
    """The frozen model of reward='teacher': a run without think tokens on the same base vocabulary."""
    if not path:
        raise UserError("reward='teacher' needs teacher=OUT_DIR, a train.py run without think tokens")
    ckpt = load_checkpoint(path)
    check_extends(ckpt['meta'], meta)
    if think_ids(ckpt['meta']):
        raise UserError(f"the teacher {path} has think tokens in its vocabulary; use a run without them")
    teacher = model_from_checkpoint(ckpt).eval()
    teacher.requires_grad_(False)
    return teacher


@torch.no_grad()
def think_and_answer(model, prompts, truth, n_slot=0, choose='sample', temperature=1.0):
    """Thinking, then the text, per prompt (N, P) with its true continuation truth (N, K).
    n_slot > 0: exactly n_slot think tokens right after the prompt, chosen as slot_rollout's
    choose ('sample', 'greedy', 'random'); n_slot = 0: the model thinks where it likes
    (choose='sample' as in training, 'random' with each chosen think token's identity replaced
    by a uniform one, 'none' masks thinking out). Returns per prompt: 'nll', the NLL per true
    text token after the thinking; 'correct', whether the greedy text equals truth (its own
    thinking sampled again); 'think_rate', think tokens per text token; 'first', the index
    (0..n_think-1) of the first think token, -1 where none."""
    K = truth.size(1)
    if n_slot:
        prompts = slot_rollout(model, prompts, truth, n_slot, temperature, choose)[0][:, :prompts.size(1) + n_slot]
    think, shuffle = n_slot == 0 and choose != 'none', choose == 'random'
    tokens, kinds = rollout(model, prompts, K, truth, 'forced', think, temperature, shuffle)
    nll = -policy_terms(model, tokens, kinds, True)['text'].sum(1) / K
    written, written_kinds = rollout(model, prompts, K, None, 'greedy', think, temperature, shuffle)
    correct = (written[written_kinds == TEXT].view(len(prompts), K) == truth).all(1)
    is_think = model.is_think(tokens)
    first = (tokens - model.config.think_id).gather(1, is_think.long().argmax(1, keepdim=True))[:, 0]
    return {'nll': nll, 'correct': correct, 'think_rate': is_think.sum(1) / K,
            'first': torch.where(is_think.any(1), first, -1)}


def eval_modes(n_slot):
    """The evaluations of a run: name -> (think tokens in the slot, how they are chosen)."""
    if n_slot:
        return {'think': (n_slot, 'sample'), 'greedy': (n_slot, 'greedy'), 'random': (n_slot, 'random'),
                'plain': (0, 'none')}
    return {'think': (0, 'sample'), 'random': (0, 'random'), 'plain': (0, 'none')}


@torch.no_grad()
def evaluate_thinking(model, prefixes, c, temperature):
    """On the same val prefixes every time, per mode of eval_modes (thinking sampled as in
    training, the think slot's likeliest token, think tokens of random identity, thinking
    masked out): the NLL per true text token, the share of prefixes whose continuation the
    model writes exactly (text greedy), and the think tokens per text token."""
    sums = defaultdict(float)
    model.eval()
    for k in range(c['eval_iters']):
        prompts, truth = prefixes.batch('val', c['batch_size'], seed=eval_batch_seed('val', k))
        for mode, (n_slot, choose) in eval_modes(c['think_slot']).items():
            out = think_and_answer(model, prompts, truth, n_slot, choose, temperature)
            sums[f'val_nll_{mode}'] += out['nll'].sum().item()
            sums[f'val_acc_{mode}'] += out['correct'].sum().item()
            if mode == 'think':
                sums['val_think_rate'] += out['think_rate'].sum().item()
    model.train()
    n = c['eval_iters'] * c['batch_size']
    return {k: v / n for k, v in sums.items()}


def rl_loss(model, prompts, truth, c, teacher=None):
    """The RL part of one step, on prefixes (B, P) and their true continuations (B, K):
    group_size rollouts of each prefix at rollout_temperature (the rollouts of one prefix in
    consecutive rows: advantages compare each rollout with its own group), their rewards
    (reward - think_penalty * think tokens per text token) and advantages, and
        loss = REINFORCE - entropy_weight * entropy + lm_weight * (NLL of the true text)
    with gradient (the NLL term only with reward='next_text', the text being forced). Returns
    (loss, info): info holds the rollouts' tokens and kinds, policy_terms' terms, and per
    rollout the score, think rate, reward and advantage, and the loss's terms."""
    G, forced, temp = c['group_size'], c['reward'] == 'next_text', c['rollout_temperature']
    prompts, truth = prompts.repeat_interleave(G, 0), truth.repeat_interleave(G, 0)
    K = truth.size(1)
    if c['think_slot']:
        tokens, kinds = slot_rollout(model, prompts, truth, c['think_slot'], temp, text='forced' if forced else 'sample')
    else:
        tokens, kinds = rollout(model, prompts, K, truth, 'forced' if forced else 'sample', True, temp)
    terms = policy_terms(model, tokens, kinds, forced, temp, slot=c['think_slot'] > 0)
    think_rate = (kinds == THINK).sum(1) / K
    score = (next_text_reward(terms['text'], K) if forced else
             teacher_reward(teacher, tokens, kinds, prompts.size(1), c['teacher_chain']))
    reward = score - c['think_penalty'] * think_rate
    adv = advantages(reward, G, c['baseline'])
    pg = policy_loss(terms['action'], adv)
    entropy = terms['entropy'].sum() / terms['chose'].sum()
    lm = -terms['text'].sum() / (K * len(prompts)) if forced else torch.zeros((), device=prompts.device)
    loss = pg - c['entropy_weight'] * entropy + c['lm_weight'] * lm
    info = {'tokens': tokens, 'kinds': kinds, 'terms': terms, 'score': score, 'think_rate': think_rate,
            'reward': reward, 'adv': adv, 'policy_loss': pg, 'entropy': entropy, 'lm_nll': lm}
    return loss, info


def share_with_signal(groups, spread=0.01):
    """The share of groups (rows of rewards) whose rewards differ by more than `spread` (in the
    reward's units: 0.01 nats per text token): the others carry no policy-gradient signal."""
    return ((groups.max(1).values - groups.min(1).values) > spread).float().mean().item()


def rl_step(model, optimizer, prompts, truth, c, teacher=None, sft_batch=None):
    """One update of train_rl: rl_loss on the prefixes, plus sft_weight * the plain next-token
    loss on sft_batch (x, y) when given; gradient clipped to grad_clip (0: not). Returns the log
    row's numbers."""
    loss, info = rl_loss(model, prompts, truth, c, teacher)
    sft = model(*sft_batch)[1] if sft_batch is not None else torch.zeros((), device=prompts.device)
    loss = loss + c['sft_weight'] * sft
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if c['grad_clip'] > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), c['grad_clip'])
    optimizer.step()
    groups = info['reward'].view(-1, c['group_size'])
    return {'think_per_text': info['think_rate'].mean().item(), 'reward': info['reward'].mean().item(),
            'adv_std': info['adv'].std().item(), 'groups_with_signal': share_with_signal(groups),
            'policy_loss': info['policy_loss'].item(), 'entropy': info['entropy'].item(),
            'lm_nll': info['lm_nll'].item(), 'sft_loss': sft.item()}


def sft_dataset(c, meta):
    """The plain loss's records from another dataset of the same vocabulary (e.g. records with
    the intermediate written as a think token: reading taught throughout while RL writes)."""
    name = c['sft_dataset']
    data_dir = name if os.path.isdir(name) else default_data_dir(name)
    other = load_meta(data_dir, name)
    if any(other.get(k) != meta.get(k) for k in ('vocab_size', 'stoi', 'special_tokens')):
        raise UserError(f"sft_dataset={name!r} must have the vocabulary of dataset={c['dataset']!r}")
    return Dataset(data_dir, name, c['block_size'], Tokenizer(other))


def train_rl(c):
    """python think.py CONFIG: REINFORCE with a group baseline on think tokens, from a
    train.py run (init_from=OUT_DIR, its vocabulary grown by the think tokens) or from scratch."""
    from tqdm import tqdm
    check_rl(c)  # REINFORCE learns from sampled rollouts: rollout_temperature > 0
    temp = c['rollout_temperature']
    device = pick_device(c['device'])
    torch.manual_seed(c['seed'])
    data_dir = c['data_dir'] or default_data_dir(c['dataset'])
    meta = idea_meta(c, load_meta(data_dir, c['dataset']))
    data = Dataset(data_dir, c['dataset'], c['block_size'], Tokenizer(meta))
    prefixes = Prefixes(data, c['n_true'])
    sft_data = sft_dataset(c, meta) if c['sft_dataset'] else data
    if c['init_from'] == 'scratch':
        model = build_model('think', model_args(c, meta))
    elif is_run(c['init_from']):
        model, _ = init_from_run(c, meta)
    else:
        raise UserError(f"init_from must be 'scratch' or a train.py run's out_dir, got {c['init_from']!r}")
    check_think_tokens(meta, model)
    model.to(device)
    teacher = load_teacher(c['teacher'], meta).to(device) if c['reward'] == 'teacher' else None
    optimizer = model.configure_optimizers(c['weight_decay'], c['learning_rate'], (c['beta1'], c['beta2']), device.split(':')[0])
    check_writable(c['out_dir'])
    log = RunLog(os.path.join(c['out_dir'], 'log.jsonl'))
    t0 = time.time()
    progress = tqdm(range(c['max_iters'] + 1), desc='rl', dynamic_ncols=True, disable=c['progress'] != 'tqdm')
    for it in progress:
        if it % c['eval_interval'] == 0 or it == c['max_iters']:
            row = {'iter': it, 'time': round(time.time() - t0, 2), **evaluate_thinking(model, prefixes, c, temp)}
            log.write(row)
            progress.write(' '.join(f"{k} {v:.4g}" for k, v in row.items()))
            if it > 0:
                save_checkpoint(checkpoint(model, optimizer, 'think', meta, c, it, elapsed=row['time']),
                                os.path.join(c['out_dir'], 'ckpt.pt'))
        if it == c['max_iters']:
            break
        lr = set_lr(optimizer, it, c)
        prompts, truth = prefixes.batch('train', c['batch_size'], batch_seed(c['seed'], it, 0))
        x, y = sft_data.batch('train', c['batch_size'], batch_seed(c['seed'], it, 1))
        numbers = rl_step(model, optimizer, prompts.to(device), truth.to(device), c, teacher,
                          (x.to(device), y.to(device)))
        if it % c['log_interval'] == 0:
            row = {'iter': it, 'time': round(time.time() - t0, 2), 'lr': lr, **numbers}
            log.write(row)
            stats = f"think/text {row['think_per_text']:.3f}, reward {row['reward']:.3f}, sft {row['sft_loss']:.3f}"
            if c['progress'] == 'tqdm':
                progress.set_postfix_str(stats)
            else:
                print(f"iter {it}: {stats}")
    return model


def main(argv):
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__)
        return
    with cli_errors():
        train_rl(load_config(argv, extra=RL))


if __name__ == '__main__':
    main(sys.argv[1:])
