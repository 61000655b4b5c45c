"""
Self-reasoning tokens: K extra slots after every text token that no loss reaches directly.

For text x_1..x_T the transformer reads a stream of T*(K+1) slots

    g_1 r_1^1 .. r_1^K   g_2 r_2^1 .. r_2^K   ...   g_T r_T^1 .. r_T^K

Every slot of group t takes the same input, the embedding of x_t plus the position
embedding of t (plus, optionally, a learned embedding of its slot number). Attention is the
plain causal attention of the GPT. Only g_t is trained, to predict x_{t+1}. r_t comes after
g_t, so it cannot help predict x_{t+1}; its only gradient comes from the later g slots that
attend to it, so it learns to compute what is useful further ahead: room to "think" about
x_t, paid for with K more positions per text token. K = 0 is exactly the baseline GPT.

What the slots hold, on the hops task (data/hops): linear probes of each slot of the last
prompt tokens for the first hop and the answer, beside the output head's own reading:
    python reasoning_tokens.py probe out-hops-rt-k1 data/hops_k2/test.jsonl
"""

import argparse
import json
import os
import sys
from dataclasses import dataclass

import torch
import torch.nn as nn

from model import GPT, GPTConfig, lm_loss
from train import load_checkpoint, model_from_checkpoint
from vocab import Tokenizer, UserError, cli_errors, read_jsonl


@dataclass
class ReasoningTokensConfig(GPTConfig):
    n_reasoning: int = 1  # K, reasoning slots after every text token
    reasoning_loss: bool = False  # in training, also train every r slot on x_{t+1}
    slot_embedding: bool = True  # a learned embedding per slot k = 0..K tells the slots apart
    group_positions: bool = True  # all slots of text position t sit at position t; False: stream index

    def __post_init__(self):
        super().__post_init__()
        if self.n_reasoning < 0:
            raise ValueError(f"n_reasoning must be >= 0, got {self.n_reasoning}")


class ReasoningTokensGPT(GPT):
    """The GPT run over the interleaved stream. forward(idx, targets) returns the logits of the
    g slots (B, T, V), aligned with idx as in the GPT, and the loss. The loss is the g-slot
    next-token loss, averaged per text token. With reasoning_loss=True the training-mode loss
    is the mean over all slots (every slot of group t predicting x_{t+1}); in eval mode the loss
    is always the g-slot loss alone, so validation losses compare across K and across arms."""
    config_class = ReasoningTokensConfig

    def __init__(self, config):
        super().__init__(config)
        self.S = S = config.n_reasoning + 1  # slots per text token
        if S > 1 and not config.group_positions:
            # every slot has a position of its own: block_size text tokens are block_size*S slots
            self.transformer.wpe = nn.Embedding(config.block_size * S, config.n_embd)
            nn.init.normal_(self.transformer.wpe.weight, mean=0.0, std=config.embed_std)
        if S > 1 and config.slot_embedding:
            # zero at init: the slots start as exact copies of g and drift apart only as far as
            # the loss asks; an added embedding still gets gradient from zero, and each row its own
            self.transformer.wse = nn.Embedding(S, config.n_embd)
            nn.init.zeros_(self.transformer.wse.weight)

    def stream(self, idx, start=0):
        """Text tokens idx (B, T) at text positions start.. -> stream inputs (B, T*S, C)."""
        T, S, dev = idx.size(1), self.S, idx.device
        x = self.transformer.wte(idx.repeat_interleave(S, dim=1))  # x_1 x_1 .. x_2 x_2 ..
        if self.config.group_positions:
            pos = torch.arange(start, start + T, device=dev).repeat_interleave(S)  # 0 0 .. 1 1 ..
        else:
            pos = torch.arange(start * S, (start + T) * S, device=dev)  # 0 1 2 3 ..
        x = x + self.transformer.wpe(pos)
        if 'wse' in self.transformer:
            x = x + self.transformer.wse(torch.arange(S, device=dev).repeat(T))  # 0 1 .. K 0 1 .. K
        return self.transformer.drop(x)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"sequence of {T} text tokens is longer than block_size {self.config.block_size}")
        S = self.S
        if S > 1 and not (self.config.reasoning_loss and self.training):
            # only the g slots' outputs are used: the last layer computes its attention queries,
            # projections and MLP at the g slots alone (the r slots still give keys and values)
            *body, last = self.transformer.h
            x = self.stream(idx)
            for block in body:
                x = block(x)  # no mask: plain causal attention
            g = torch.arange(0, T * S, S, device=idx.device)
            g_sees = torch.arange(T * S, device=idx.device)[None, :] <= g[:, None]  # causal rows of g slots
            logits = self.head(last(x, mask=g_sees, keep=g))
            # targets stay per text token: shifting them over the stream would train g_t to
            # predict r_t^1, a copy of its own input, and fake a low loss
            return logits, None if targets is None else lm_loss(logits, targets)
        x = self.blocks(self.stream(idx)).view(B, T, S, -1)  # no mask: plain causal attention
        logits = self.head(x[:, :, 0])  # g_t predicts x_{t+1}; the r slots need no head for that
        if targets is None:
            return logits, None
        if self.config.reasoning_loss and self.training and S > 1:
            # every slot of group t predicts x_{t+1} too; mean over all slots
            logits_all = torch.cat([logits.unsqueeze(2), self.head(x[:, :, 1:])], dim=2)
            return logits, lm_loss(logits_all, targets.unsqueeze(2).expand(-1, -1, self.S))
        return logits, lm_loss(logits, targets)

    @torch.no_grad()
    def explain(self, idx):
        """The g-slot logits with the slots, and 'base_logits' with every r slot masked out of
        attention (the g slots then see the text alone: the same weights as a K=0 model).
        'thoughts' (B, T, K): the output head read on each r slot of group t, its top token.
        No loss trains the r slots to predict a token: this is what the head makes of them,
        not a decoding of what they compute."""
        B, T = idx.shape
        S = self.S
        x = self.stream(idx)
        h = self.blocks(x).view(B, T, S, -1)
        out = {'logits': self.head(h[:, :, 0])}
        if S > 1:
            n = T * S
            sees_g = (torch.arange(n, device=idx.device) % S == 0)[None, :] | torch.eye(n, dtype=torch.bool, device=idx.device)
            base = self.blocks(x, torch.ones(n, n, dtype=torch.bool, device=idx.device).tril() & sees_g)
            out.update(base_logits=self.head(base.view(B, T, S, -1)[:, :, 0]), thoughts=self.head(h[:, :, 1:]).argmax(-1),
                       thought_join=' ', gain='log-prob with the reasoning slots minus with every r slot masked out')
        return out

    def new_cache(self, batch_size, max_len=None):
        return super().new_cache(batch_size, max_len or self.config.block_size * self.S)

    def next_token_logits(self, ctx, cache, n_new):
        # whole groups go into the cache (the next g attends to these r slots); the prediction
        # of the next text token is the g slot of the last group. GPT.generate crops in text
        # tokens, so the context always starts on a group boundary.
        start = ctx.size(1) - n_new
        x = self.blocks(self.stream(ctx[:, start:], start), cache=cache)
        return self.head(x[:, -self.S])

    def flops_per_token(self, T=None):
        """Forward + backward FLOPs per TEXT token at a context of T text tokens. The stream has
        T*S slots and each costs what a token of a GPT with context T*S costs: 6N for the
        matmuls plus 12*L*C*(T*S) for attention (PaLM appendix B). A text token owns S slots:
        S * (6N + 12*L*C*T*S), about S^2 times the attention and S times the rest. N counts the
        slot embedding. Every slot is counted through every layer and the lm_head: exact with
        reasoning_loss in training; otherwise forward skips the r slots' last-layer queries,
        MLP and head, so this is an upper bound (by about K/(K+1) * 1/n_layer of 6N)."""
        c = self.config
        T = T or c.block_size
        return self.S * (6 * self.get_num_params() + 12 * c.n_layer * c.n_embd * T * self.S)


# -----------------------------------------------------------------------------
# what the slots hold: a linear probe on task records (python reasoning_tokens.py probe RUN RECORDS)

@torch.no_grad()
def slot_states(model, prompts):
    """Final hidden states (after ln_f) of every slot of every prompt token, (B, T, S, C):
    prompts are lists of ids of one length."""
    idx = torch.tensor(prompts, dtype=torch.long, device=model.lm_head.weight.device)
    h = model.transformer.ln_f(model.blocks(model.stream(idx)))
    return h.view(idx.size(0), idx.size(1), model.S, -1)


def fit_probe(features, labels, n_classes, train_share=0.8, steps=300, lr=0.05, weight_decay=1e-3):
    """Held-out accuracy of a linear read-out (multinomial logistic regression, full-batch Adam)
    from features (N, C) to labels (N,): fitted on the first train_share of rows, scored on the rest."""
    n = int(len(labels) * train_share)
    x = (features - features[:n].mean(0)) / (features[:n].std(0) + 1e-6)
    g = torch.Generator().manual_seed(0)
    w = (0.01 * torch.randn(x.size(1), n_classes, generator=g)).requires_grad_()
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(x[:n] @ w + b, labels[:n])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return ((x[n:] @ w + b).argmax(-1) == labels[n:]).float().mean().item()


def pointers(prompt):
    """The permutation of a hops prompt (array 'cgd...?' or edges 'a>c b>g ...?') as a dict, and
    the positions where an image f(x) is shown: the tokens a slot could chase one hop further."""
    shown = prompt[:prompt.index('?')]
    if '>' not in shown:
        return {chr(ord('a') + i): y for i, y in enumerate(shown)}, list(range(len(shown)))
    at = [i + 1 for i, ch in enumerate(shown) if ch == '>']
    return {shown[i - 2]: shown[i] for i in at}, at


def probe_pointers(model, records, h, slot, symbols, symbol_ids):
    """At every position that shows an image y = f(x): does the slot hold the next hop f(y)?
    Positions of all records are pooled; 'copy' is the share where f(y) = y."""
    states, labels, shown = [], [], []
    for i, r in enumerate(records):
        f, at = pointers(r['prompt'])
        for pos in at:
            y = r['prompt'][pos]
            states.append(h[i, pos, slot])
            labels.append(symbols.index(f[y]))
            shown.append(symbols.index(y))
    states, labels = torch.stack(states), torch.tensor(labels)
    read = model.lm_head(states)[:, symbol_ids].argmax(-1)
    return [{'position': 'shown images f(x)', 'slot': slot, 'target': 'next hop f(f(x))',
             'probe_accuracy': round(fit_probe(states, labels, len(symbols)), 4),
             'head_accuracy': round((read == labels).float().mean().item(), 4),
             'copy_shown': round((labels == torch.tensor(shown)).float().mean().item(), 4)}]


def probe(run_dir, records_path, limit=2000):
    """For hops records (data/hops, one length of prompt): does a slot of the last prompt
    tokens (the start symbol, the hop count, ':') linearly encode the first hop f(a), or the
    answer? And does a slot where the permutation shows an image y hold the next hop f(y)?
    One probe per (position, slot); the output head's own reading of each slot too (argmax
    over the symbols). Slot 0 is g, 1..K the reasoning slots. Compare with 'baselines',
    not with 1/n: the answer is the start itself whenever a's cycle length divides k."""
    ckpt = load_checkpoint(os.path.join(run_dir, 'ckpt.pt'))
    model = model_from_checkpoint(ckpt).eval()
    tok = Tokenizer(ckpt['meta'])
    records = [r for r in read_jsonl(records_path) if 'path' in r][:limit]
    if len(records) < 50 or len({len(r['prompt']) for r in records}) != 1 or not hasattr(model, 'S'):
        raise UserError(f"probe needs a reasoning-token run and >= 50 hops records of one prompt length in {records_path}")
    h = slot_states(model, [tok.encode(r['prompt']) for r in records])
    symbols = sorted({s for r in records for s in r['path'] + list(pointers(r['prompt'])[0].values())})
    targets = {'first hop': torch.tensor([symbols.index(r['path'][1]) for r in records]),
               'answer': torch.tensor([symbols.index(r['answer']) for r in records])}
    symbol_ids = torch.tensor([tok.encode(s)[0] for s in symbols])
    # what needs no hop at all: the majority class, copying the start (right whenever a's cycle
    # length divides k), and a probe that sees only the start symbol
    start = torch.tensor([symbols.index(r['path'][0]) for r in records])
    one_hot = torch.nn.functional.one_hot(start, len(symbols)).float()
    baselines = {name: {'majority': round(y.bincount().max().item() / len(y), 4),
                        'copy_start': round((y == start).float().mean().item(), 4),
                        'probe_on_start_only': round(fit_probe(one_hot, y, len(symbols)), 4)}
                 for name, y in targets.items()}
    rows = [row for slot in range(model.S) for row in probe_pointers(model, records, h, slot, symbols, symbol_ids)]
    for back, where in ((3, 'start symbol'), (2, 'hop count'), (1, "':'")):
        for slot in range(model.S):
            states = h[:, -back, slot]
            read = model.lm_head(states)[:, symbol_ids].argmax(-1)
            for name, y in targets.items():
                rows.append({'position': where, 'slot': slot, 'target': name,
                             'probe_accuracy': round(fit_probe(states, y, len(symbols)), 4),
                             'head_accuracy': round((read == y).float().mean().item(), 4)})
    return {'run': run_dir, 'records': len(records), 'chance': round(1 / len(symbols), 4), 'baselines': baselines,
            'rows': rows}


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='command', required=True)
    a = sub.add_parser('probe', help="linear probes of RUN's slots on hops RECORDS (jsonl)")
    a.add_argument('run_dir')
    a.add_argument('records')
    a.add_argument('--limit', type=int, default=2000)
    args = p.parse_args(argv)
    with cli_errors():
        print(json.dumps(probe(args.run_dir, args.records, args.limit)))


if __name__ == '__main__':
    main(sys.argv[1:])
