"""
The shared GPT that every idea in nanothink builds on.

It is nanoGPT's GPT-2 (tied embeddings, pre-LayerNorm blocks, SDPA attention),
split into three steps that the ideas compose:

    embed(idx, pos)          token ids + positions -> vectors
    blocks(x, mask, cache)   the transformer, with an optional attention mask and KV cache
    head(x)                  final LayerNorm + lm_head -> logits

An idea is a subclass whose forward(idx, targets) returns (logits at the text positions
of idx, the idea's loss) and whose generate() continues text. The config's `model = 'X'`
finds it in X.py, the one subclass of GPT that file defines (idea_class below): so
`cp quietstar.py myidea.py`, then `--model=myidea`, trains your copy.
"""

import importlib
import inspect
import math
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
from torch.nn import functional as F

import vocab


@dataclass
class GPTConfig:
    block_size: int = 1024  # longest context, in text tokens
    vocab_size: int = 50257  # base tokens + special tokens appended at the end
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # biases in Linear and LayerNorm, as GPT-2; False is a bit faster
    tanh_gelu: bool = False  # GPT-2's tanh-approximate GELU (from_pretrained sets it); exact is faster on CPU
    # init: GPT-2's N(0, 0.02) everywhere, lm_head tied to the token embedding. A small model
    # trained from scratch learns in-context lookups far sooner with an untied head, embeddings
    # N(0, 1) and block matrices N(0, 0.05) (docs/coconut.md, "The init"): config/coconut_prosqa.py
    tie_embeddings: bool = True
    embed_std: float = 0.02  # position embeddings, and token embeddings when untied (tied: the head's N(0, 0.02))
    init_std: float = 0.02  # the blocks' matrices (the residual projections / sqrt(2 n_layer), as GPT-2)

    def __post_init__(self):
        for name in ('block_size', 'vocab_size', 'n_layer', 'n_head', 'n_embd'):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.embed_std <= 0 or self.init_std <= 0:
            raise ValueError(f"embed_std and init_std must be positive, got {self.embed_std}, {self.init_std}")


class KVCache:
    """Preallocated keys and values of every layer; `pos` is how many positions are filled."""

    def __init__(self, n_layer, batch_size, n_head, max_len, head_dim, device, dtype):
        shape = (n_layer, batch_size, n_head, max_len, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.max_len = max_len
        self.pos = 0

    def update(self, layer, k, v):
        """Write k, v (B, nh, T, hd) after the filled part; return all keys and values so far."""
        T = k.size(2)
        if self.pos + T > self.max_len:
            raise ValueError(f"KV cache overflow: {self.pos} + {T} > {self.max_len}")
        self.k[layer, :, :, self.pos:self.pos + T] = k
        self.v[layer, :, :, self.pos:self.pos + T] = v
        return self.k[layer, :, :, :self.pos + T], self.v[layer, :, :, :self.pos + T]

    def advance(self, T):
        self.pos += T


class ListCache:
    """KVCache's interface with keys and values concatenated, not written in place: the
    preallocated KVCache is overwritten by each later pass, and autograd refuses to go back
    through a tensor that was modified after it was used. Training needs every pass's graph."""

    def __init__(self, n_layer):
        self.k, self.v, self.pos = [None] * n_layer, [None] * n_layer, 0

    def update(self, layer, k, v):
        if self.k[layer] is not None:
            k, v = torch.cat([self.k[layer], k], dim=2), torch.cat([self.v[layer], v], dim=2)
        self.k[layer], self.v[layer] = k, v
        return k, v

    def advance(self, T):
        self.pos += T


class CausalSelfAttention(nn.Module):

    def __init__(self, config, layer):
        super().__init__()
        self.layer = layer  # index into the KV cache
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.dropout = config.dropout

    def forward(self, x, mask=None, cache=None, keep=None):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        if keep is not None:  # outputs wanted at these positions only: fewer queries, all keys
            q = q[:, keep]
        q = q.view(B, q.size(1), self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        past = 0
        if cache is not None:
            past = cache.pos
            k, v = cache.update(self.layer, k, v)
        is_causal = False
        if mask is None:
            if past == 0:
                is_causal = T > 1  # the flash kernel's own causal mask
            elif T > 1:
                # new queries see all the past and the new keys up to themselves
                mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, q.size(2), C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate='tanh' if config.tanh_gelu else 'none')
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):

    def __init__(self, config, layer):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config, layer)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, mask=None, cache=None, keep=None):
        """keep: positions whose outputs are wanted (the rest still serve as keys and values);
        then mask is (len(keep), T) and the output (B, len(keep), C)."""
        x = (x if keep is None else x[:, keep]) + self.attn(self.ln_1(x), mask, cache, keep)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    config_class = GPTConfig
    # config field -> the special token whose id it holds. train.py adds the idea's tokens
    # (token_names) to the vocabulary of any dataset it trains the idea on, and fills the fields.
    special_tokens = {}
    stream_only = False  # True: the idea trains on token streams only, train.py refuses records

    @classmethod
    def token_names(cls, config):
        """The special tokens the idea needs in the vocabulary, in order; config: its fields."""
        return list(cls.special_tokens.values())

    def init_token_rows(self, tokenizer, new_ids):
        """Fine-tuning another run into this idea added rows new_ids to the embedding (at the
        mean embedding); an idea that wants them elsewhere sets them here."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config, i) for i in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        # GPT-2: residual projections scaled down by the depth
        for name, p in self.named_parameters():
            if name.endswith('c_proj.weight'):
                torch.nn.init.normal_(p, mean=0.0, std=config.init_std / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        c = self.config
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02 if module is self.lm_head else c.init_std)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=c.embed_std)

    def get_num_params(self, non_embedding=True):
        """Parameters, without the position embedding by default (as nanoGPT counts them)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.transformer.wpe.weight.numel()
        return n

    # --- the three steps -------------------------------------------------------------

    def embed(self, idx, pos=None):
        """Token ids (B, T) and positions (T,) or (B, T), default 0..T-1 -> vectors (B, T, C)."""
        if pos is None:
            pos = torch.arange(idx.size(1), device=idx.device)
        return self.transformer.drop(self.token_embedding(idx) + self.transformer.wpe(pos))

    def token_embedding(self, idx):
        """The input vectors of token ids: the (tied) embedding rows; an idea may give some
        tokens their own."""
        return self.transformer.wte(idx)

    def blocks(self, x, mask=None, cache=None):
        """The transformer. mask: bool (T, S) or (B, 1, T, S), True = may attend; S counts the
        cached positions too. Without a mask attention is causal. The cache advances by T."""
        for block in self.transformer.h:
            x = block(x, mask, cache)
        if cache is not None:
            cache.advance(x.size(1))
        return x

    def head(self, x):
        return self.lm_head(self.transformer.ln_f(x))

    # --- the interface every idea shares ----------------------------------------------

    def forward(self, idx, targets=None):
        logits = self.head(self.blocks(self.embed(idx)))
        loss = None if targets is None else lm_loss(logits, targets)
        return logits, loss

    def new_cache(self, batch_size, max_len=None):
        c = self.config
        p = self.lm_head.weight
        return KVCache(c.n_layer, batch_size, c.n_head, max_len or c.block_size, c.n_embd // c.n_head,
                       p.device, p.dtype)

    def new_pass_cache(self, batch_size, max_len):
        """A cache for several passes over the same positions (Quiet-STaR's thoughts, Coconut's
        latents): in training a ListCache, which autograd can go back through; else a KVCache."""
        return ListCache(self.config.n_layer) if torch.is_grad_enabled() else self.new_cache(batch_size, max_len)

    def next_token_logits(self, ctx, cache, n_new):
        """Logits (B, V) for the token after the context ctx (B, L), whose first L - n_new tokens
        are in the cache already: the last n_new go through it. An idea with another input
        layout or another next-token rule overrides this, and generate() is its decode loop too."""
        start = ctx.size(1) - n_new
        pos = torch.arange(start, ctx.size(1), device=ctx.device)
        return self.head(self.blocks(self.embed(ctx[:, start:], pos), cache=cache)[:, -1])

    @torch.no_grad()
    def explain(self, idx):
        """What sample.py shows of idx (B, T <= block_size), teacher forced: 'logits' (B, T, V),
        the prediction of every next token. An idea that thinks adds 'base_logits', the same
        prediction without its thinking ('gain' says what that compares), and 'thoughts'
        (B, T, n) ids, -1 where none: what it thought right after token t ('thought_join'
        separates them when shown: ' ' a sequence, '|' alternatives)."""
        return {'logits': self(idx)[0]}

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        """Continue idx (B, T). Prefill once, then one position per step. Past block_size the
        context is cropped to the last block_size tokens, which moves every position, so from
        then on each step refills the cache: exactly what recomputing would return."""
        block_size = self.config.block_size
        cache = None
        for _ in range(max_new_tokens):
            refill = cache is None or idx.size(1) > block_size
            if refill:
                cache = self.new_cache(idx.size(0))
            ctx = idx[:, -block_size:]
            logits = self.next_token_logits(ctx, cache, ctx.size(1) if refill else 1)
            idx = torch.cat((idx, sample_token(logits, temperature, top_k)), dim=1)
        return idx

    # --- vocabulary, optimizer, accounting ------------------------------------------

    def resize_vocab(self, new_size):
        """Append rows for special tokens to the embedding and the head (one matrix when tied).
        New rows start at the mean row (their logits start at the average logit, not at
        random); existing rows and so the logits of existing tokens are unchanged."""
        old_size = self.lm_head.weight.size(0)
        if new_size < old_size:
            raise ValueError(f"resize_vocab can only grow the vocabulary ({old_size} -> {new_size})")
        if new_size == old_size:
            return
        self.lm_head.weight = grown(self.lm_head.weight, new_size)
        self.transformer.wte.weight = self.lm_head.weight if self.config.tie_embeddings else \
            grown(self.transformer.wte.weight, new_size)
        self.lm_head.out_features = self.transformer.wte.num_embeddings = new_size
        self.config.vocab_size = new_size

    def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
        # decay matrices (Linear weights, embeddings); not biases or LayerNorm gains
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {'params': [p for p in params if p.dim() >= 2], 'weight_decay': weight_decay},
            {'params': [p for p in params if p.dim() < 2], 'weight_decay': 0.0},
        ]
        fused = device_type in ('cuda', 'cpu') and 'fused' in inspect.signature(torch.optim.AdamW).parameters
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, fused=fused)

    def flops_per_token(self, T=None):
        """Forward + backward FLOPs per trained token at context T (PaLM appendix B, as nanoGPT)."""
        c = self.config
        T = T or c.block_size
        N = self.get_num_params()
        return 6 * N + 12 * c.n_layer * c.n_embd * T

    def estimate_mfu(self, tokens_per_iter, dt, peak_flops):
        """Model FLOPs utilisation: achieved FLOP/s over peak_flops (A100 bf16: 312e12; for a
        CPU pass its measured fp32 matmul peak)."""
        return self.flops_per_token() * tokens_per_iter / dt / peak_flops

    # --- GPT-2 weights ---------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, name_or_dir, dropout=0.0, **idea_args):
        """GPT-2 weights from Hugging Face transformers: a model name ('gpt2', 'gpt2-medium',
        'gpt2-large', 'gpt2-xl') with internet, or a directory written by save_pretrained.
        idea_args: the idea's own config fields; its extra parameters keep their init."""
        if not idea_args.get('tie_embeddings', True):
            raise ValueError("GPT-2's head is tied to its token embedding: from_pretrained needs tie_embeddings=True")
        from transformers import GPT2LMHeadModel
        hf = GPT2LMHeadModel.from_pretrained(name_or_dir)
        hc = hf.config
        config = cls.config_class(block_size=hc.n_positions, vocab_size=hc.vocab_size, n_layer=hc.n_layer,
                                  n_head=hc.n_head, n_embd=hc.n_embd, dropout=dropout, bias=True, tanh_gelu=True,
                                  **idea_args)
        model = cls(config)
        sd = model.state_dict()
        hf_sd = hf.state_dict()
        # HF stores these as Conv1D (in, out); ours are Linear (out, in)
        transposed = ('attn.c_attn.weight', 'attn.c_proj.weight', 'mlp.c_fc.weight', 'mlp.c_proj.weight')
        for key in sd:
            if key == 'lm_head.weight' or key not in hf_sd:
                continue  # tied to wte, or the idea's own parameter
            src = hf_sd[key].t() if key.endswith(transposed) else hf_sd[key]
            if src.shape != sd[key].shape:
                raise ValueError(f"{key}: GPT-2 has shape {tuple(src.shape)}, this model {tuple(sd[key].shape)}")
            with torch.no_grad():
                sd[key].copy_(src)
        return model

    def crop_block_size(self, block_size):
        """Use a shorter context than the weights were trained for (e.g. GPT-2's 1024)."""
        assert block_size <= self.config.block_size
        self.config.block_size = block_size
        self.transformer.wpe.weight = nn.Parameter(self.transformer.wpe.weight[:block_size])


def grown(weight, new_size):
    """weight (V, C) with rows appended up to new_size, each the mean of the old rows."""
    with torch.no_grad():
        extra = weight.mean(dim=0, keepdim=True).expand(new_size - weight.size(0), -1)
        return nn.Parameter(torch.cat([weight, extra]).clone())


def lm_loss(logits, targets):
    """Mean next-token cross-entropy over the targets that are not -1 (0 if there are none,
    where F.cross_entropy's mean would be NaN)."""
    targets = targets.reshape(-1)
    total = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets, ignore_index=-1, reduction='sum')
    return total / (targets != -1).sum().clamp(min=1)


def sample_token(logits, temperature=1.0, top_k=None):
    """One token per row of logits (B, V); temperature 0 is greedy."""
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None:
        v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
        logits = logits.masked_fill(logits < v[:, [-1]], -float('inf'))
    return torch.multinomial(F.softmax(logits, dim=-1), num_samples=1)


# config `model = '...'` -> the class that builds it; modules are imported on demand
IDEAS = ('gpt', 'reasoning_tokens', 'pause', 'quietstar', 'coconut', 'think')  # the ones this repository has


def random_slots(B, T, k, device=None, generator=None):
    """(B, T) bool: k slots per row, uniformly among slots 1..T-1 (slot 0 stays text)."""
    slots = torch.rand(B, T - 1, device=device, generator=generator).argsort(dim=1)[:, :k] + 1
    return torch.zeros(B, T, dtype=torch.bool, device=device).scatter_(1, slots, True)


def insert_tokens(idx, targets, is_new, new_tokens):
    """Tokens that take no loss (pauses, random think tokens) inserted into rows of text idx
    (B, T) with targets (B, T) -> (stream, stream targets), both (B, T): the slots where
    is_new holds (the same count k in every row, never slot 0) get new_tokens' token there
    and the first T-k text tokens fill the others in order. A slot's target is the target of
    the last text token at or before it when the next slot is text (or it is the last slot),
    and -1 when the next slot is a new token."""
    B, T = is_new.shape
    text = ~is_new
    m = int(text[0].sum())
    stream = new_tokens.clone()
    stream[text] = idx[:, :m].reshape(-1)  # row-major order: each row gets its own first m tokens
    last_text = text.long().cumsum(dim=1) - 1
    stream_targets = targets[:, :m].gather(1, last_text)
    next_is_new = torch.cat([is_new[:, 1:], torch.zeros_like(is_new[:, :1])], dim=1)
    return stream, stream_targets.masked_fill(next_is_new, -1)


# -----------------------------------------------------------------------------
# batches of prompts of any lengths: left padding, so that every row ends in the same column

def pad_positions(valid):
    """Text positions of left-padded rows: 0 at each row's first real token (0 on padding)."""
    return (valid.long().cumsum(dim=1) - 1).clamp(min=0)


def pad_mask(valid):
    """(N, 1, T, T) bool: causal, padding hidden. A pad sees itself: a query that sees nothing
    gives NaN, which would reach the real tokens through later layers' values (0 * NaN)."""
    T = valid.size(1)
    causal = torch.ones(T, T, dtype=torch.bool, device=valid.device).tril()
    eye = torch.eye(T, dtype=torch.bool, device=valid.device)
    return ((causal & valid[:, None, :]) | eye)[:, None]


def left_pad(prompts, device='cpu'):
    """Lists of ids -> (ids (N, P), valid (N, P)): each prompt at the right end of its row."""
    P = max(map(len, prompts))
    ids = torch.zeros(len(prompts), P, dtype=torch.long)
    valid = torch.zeros(len(prompts), P, dtype=torch.bool)
    for i, p in enumerate(prompts):
        ids[i, P - len(p):] = torch.tensor(p, dtype=torch.long)
        valid[i, P - len(p):] = True
    return ids.to(device), valid.to(device)


def completion_mask(tokens, end_id):
    """(N, M) float: 1 on each completion's tokens up to and including its first end_id."""
    is_end = (tokens == end_id).long()
    return ((is_end.cumsum(dim=1) - is_end) == 0).float()


@torch.no_grad()
def sample_batch(model, prompts, max_new_tokens, temperature=1.0, top_k=0, end_id=None, choose=None):
    """Continue every prompt (lists of ids) with the KV cache, all rows at once; stop when
    every row has written end_id. Returns (seq, valid, mask): seq (N, P + M) the left-padded
    prompts then M completion tokens, valid (N, P + M) False on padding, mask (N, M) the
    completion tokens up to and including end_id. choose(logits (N, V)) -> tokens (N, 1)
    replaces the sampling (default: sample_token at temperature and top_k): test-time methods
    read the distribution there and may force tokens."""
    choose = choose or (lambda logits: sample_token(logits, temperature, top_k or None))
    ids, valid = left_pad(prompts, model.lm_head.weight.device)
    N, P = ids.shape
    if P + max_new_tokens > model.config.block_size:
        raise ValueError(f"prompts of {P} tokens + max_new_tokens {max_new_tokens} exceed the model's "
                         f"block_size {model.config.block_size}")
    cache = model.new_cache(N, P + max_new_tokens)
    x = model.blocks(model.embed(ids, pad_positions(valid)), pad_mask(valid), cache)
    logits = model.head(x[:, -1])
    next_pos = pad_positions(valid)[:, -1:] + 1
    out, alive = [], torch.ones(N, dtype=torch.bool, device=ids.device)
    for t in range(max_new_tokens):
        token = choose(logits)
        out.append(token)
        if end_id is not None:
            alive &= token[:, 0] != end_id
        if not alive.any() or t == max_new_tokens - 1:
            break
        valid = torch.cat([valid, torch.ones(N, 1, dtype=torch.bool, device=ids.device)], dim=1)
        x = model.blocks(model.embed(token, next_pos + t), valid[:, None, None, :], cache)
        logits = model.head(x[:, -1])
    tokens = torch.cat(out, dim=1)
    seq = torch.cat([ids, tokens], dim=1)
    valid = torch.cat([valid[:, :P], torch.ones_like(tokens, dtype=torch.bool)], dim=1)
    mask = completion_mask(tokens, end_id) if end_id is not None else torch.ones_like(tokens, dtype=torch.float)
    return seq, valid, mask


def completion_logprobs(model, seq, valid, n_prompt, temperature=1.0):
    """Log-probabilities (N, M) of the completion tokens seq[:, n_prompt:] under model at the
    sampling temperature, log_softmax(logits / temperature) as model.sample_batch draws them: the ratio
    and the KL must be those of the policy that wrote the rollouts (TRL's GRPOTrainer divides
    the logits by its temperature likewise, for the old, reference and new log-probs alike).
    One forward over the padded rows (with gradient, when enabled)."""
    if not temperature > 0:
        raise ValueError(f"log-probabilities need a sampling temperature > 0 (0 is greedy), got {temperature}")
    x = model.blocks(model.embed(seq, pad_positions(valid)), pad_mask(valid))
    logits = model.head(x[:, n_prompt - 1:-1]).float() / temperature
    return torch.log_softmax(logits, dim=-1).gather(-1, seq[:, n_prompt:, None])[..., 0]


def sample_texts(model, tok, prompts, max_new_tokens, temperature, top_k, end_id, chunk=256):
    """sample_batch over prompts (lists of ids), chunk rows at a time: (the completions as text
    (vocab.completion_texts), their lengths in tokens, end included)."""
    texts, lengths = [], []
    for s in range(0, len(prompts), chunk):
        seq, _, mask = sample_batch(model, prompts[s:s + chunk], max_new_tokens, temperature, top_k, end_id)
        n = mask.sum(dim=1).long().tolist()
        texts += vocab.completion_texts(tok, seq[:, seq.size(1) - mask.size(1):].tolist(), n, end_id)
        lengths += n
    return texts, lengths


def idea_class(name):
    """The class of the idea `name`: GPT for 'gpt', else the one subclass of GPT that the file
    NAME.py (importable: beside train.py, or on PYTHONPATH) defines."""
    if name == 'gpt':
        return GPT
    if not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(f"unknown model {name!r}; known: {', '.join(IDEAS)}, or the name of your own idea file")
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        raise ValueError(f"unknown model {name!r}: no {name}.py to import; known: {', '.join(IDEAS)}")
    classes = [v for v in vars(module).values()
               if inspect.isclass(v) and issubclass(v, GPT) and v.__module__ == module.__name__]
    if len(classes) != 1:
        raise ValueError(f"model {name!r}: {name}.py must define exactly one subclass of model.GPT, it defines "
                         f"{len(classes)} ({', '.join(c.__name__ for c in classes) or 'none'})")
    return classes[0]


def build_model(name, model_args):
    """The idea's class from a plain dict of its config fields (as stored in checkpoints)."""
    cls = idea_class(name)
    return cls(cls.config_class(**model_args))


def config_fields(name):
    """Name -> default of every config field of the idea `name`."""
    return {f.name: f.default for f in fields(idea_class(name).config_class)}


# -----------------------------------------------------------------------------
# learning from samples (Quiet-STaR's thoughts, <think_i> rollouts, GRPO's completions)

def group_advantages(rewards, dim=-1, scale='none', eps=1e-4):
    """Each reward minus the mean of its group (one prompt's samples, along dim), divided by the
    group's std + eps (scale='group', GRPO), the batch's std + eps ('batch') or nothing ('none').
    An equal group teaches nothing: exactly 0 (the float mean of sixteen 0.1s is not 0.1)."""
    equal = rewards.amax(dim=dim, keepdim=True) == rewards.amin(dim=dim, keepdim=True)
    centered = torch.where(equal, 0.0, rewards - rewards.mean(dim=dim, keepdim=True))
    if scale == 'group':
        return centered / (rewards.std(dim=dim, keepdim=True) + eps)
    if scale == 'batch':
        return centered / (rewards.std() + eps)
    if scale != 'none':
        raise ValueError(f"scale must be 'group', 'batch' or 'none', got {scale!r}")
    return centered
