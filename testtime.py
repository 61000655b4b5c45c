"""
Thinking at test time: more computation per question from a trained model, no training.
Any checkpoint of the project that writes <think> ... </think> then its answer (data/arith's
records; grpo.py's models) on held-out prompts:

- majority vote (self-consistency, Wang et al. 2022): k samples, the most common final answer;
  a tie goes to the answer written first.
- best-of-k by Marco-o1's confidence (Zhao et al. 2024, arXiv 2411.14405): the sample with the
  highest value v = mean over its tokens of c_i = p(t_i) / sum_{j<=5} p(top_j), the chosen
  token's probability renormalised over the five likeliest.
- budget forcing (s1, Muennighoff et al. 2025, arXiv 2501.19393): a </think> written before
  min_think thinking tokens is replaced by "Wait" and the thinking goes on; at max_think the
  </think> is forced and the model answers.
- MCTS (Marco-o1): nodes are partial thoughts; an action is a step (to the end of a line) or a
  mini-step of a few tokens; each simulation selects by UCT, expands `branching` actions, rolls
  every new child out to an answer and backs up the rollout's confidence value v. The answer:
  follow the most visited children from the root, then that node's best rollout.
- reflection (Marco-o1): at the first </think> of a sample, the reflection string is written
  instead and the thinking goes on ("Wait! Maybe I made some mistakes! I need to rethink from
  scratch."), for any method.

Everything is batched through the KV cache (model.sample_batch, with a `choose` hook that reads
the distribution and forces tokens). Tokens and FLOPs are counted per question: every token
generated or forced, and forward FLOPs (a third of model.flops_per_token) for every token a
forward pass processes, prompts included.

    python testtime.py RUN --method=majority --k=1,2,4,8,16,32           # also best_of, greedy
    python testtime.py RUN --method=budget --min_think=0,20,40 --max_think=60
    python testtime.py RUN --method=mcts --simulations=2,4,8 --action=ministep --ministep=6 --reflection
Each prints one JSON row per setting (accuracy, its standard error, tokens and FLOPs per
question) and appends it to --out (default RUN/testtime.jsonl).
"""

import argparse
import json
import math
import os
import sys
from collections import Counter

import torch

import vocab
from model import sample_batch, sample_token
from train import load_checkpoint, model_from_checkpoint
from vocab import Tokenizer, UserError, cli_errors, final_answer, normalize_number, read_jsonl

REFLECTION = "Wait! Maybe I made some mistakes! I need to rethink from scratch."
METHODS = ('greedy', 'majority', 'best_of', 'budget', 'mcts')


# -----------------------------------------------------------------------------
# the parts: confidence, the vote, forcing tokens into a batch

def confidence(logits, tokens):
    """Marco-o1's c_i for each row: the chosen token's probability over the sum of the five
    likeliest tokens' probabilities. logits (N, V), tokens (N,)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    top = logp.topk(min(5, logp.size(-1)), dim=-1).values
    return (logp.gather(-1, tokens[:, None])[:, 0] - torch.logsumexp(top, dim=-1)).exp()


def vote(answers):
    """The most common answer that is not None; a tie goes to the one that came first. None if
    no sample has an answer."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    most = max(counts.values())
    return next(a for a in answers if counts.get(a) == most)


class Chooser:
    """model.sample_batch's choose hook: samples each row's next token, records its log-prob and
    confidence, counts thinking tokens, and forces tokens: 'Wait' in place of a </think> written
    before min_think, </think> itself at max_think, the reflection string in place of the first
    </think> (reflect)."""

    def __init__(self, n, ids, temperature, top_k=0, min_think=0, max_think=None, wait=(), reflect=()):
        self.ids, self.temperature, self.top_k = ids, temperature, top_k
        self.min_think, self.max_think, self.wait, self.reflect = min_think, max_think, list(wait), list(reflect)
        self.queue = [[] for _ in range(n)]
        self.thinking = [False] * n  # inside <think>
        self.count = [0] * n  # thinking tokens so far
        self.reflected = [False] * n
        self.logp, self.conf, self.forced = [[] for _ in range(n)], [[] for _ in range(n)], [0] * n

    def resume(self, prompts):
        """Take up each row where its prompt leaves off, as force() would have left it had it
        written the prompt: inside an unclosed <think> (an MCTS node's partial thought), its
        thinking tokens counted, a reflection written before known, and one cut off midway (a
        mini-step ends anywhere) finished first."""
        for b, row in enumerate(prompts):
            for token in row:
                if token == self.ids['open']:
                    self.thinking[b] = True
                elif token == self.ids['close']:
                    self.thinking[b] = False
                elif self.thinking[b]:
                    self.count[b] += 1
            if self.thinking[b] and self.reflect:
                since, n = row[len(row) - row[::-1].index(self.ids['open']):], len(self.reflect)  # the open thought
                cut = next((j for j in range(n - 1, 0, -1) if since[-j:] == self.reflect[:j]), 0)
                if cut or any(since[i:i + n] == self.reflect for i in range(len(since) - n + 1)):
                    self.reflected[b], self.queue[b] = True, self.reflect[cut:] if cut else []
        return self

    def __call__(self, logits):
        tokens = sample_token(logits, self.temperature, self.top_k or None)[:, 0]
        for b in range(len(self.queue)):
            tokens[b] = self.force(b, int(tokens[b]))
        logp = torch.log_softmax(logits.float() / max(self.temperature, 1e-6), -1).gather(-1, tokens[:, None])[:, 0]
        for b, (lp, c) in enumerate(zip(logp.tolist(), confidence(logits, tokens).tolist())):
            self.logp[b].append(lp)
            self.conf[b].append(c)
        return tokens[:, None]

    def force(self, b, token):
        open_id, close_id = self.ids['open'], self.ids['close']
        if self.queue[b]:
            token = self.queue[b].pop(0)
            self.forced[b] += 1
        elif self.thinking[b]:
            if self.max_think is not None and self.count[b] >= self.max_think:
                self.forced[b] += token != close_id
                token = close_id  # out of budget: stop thinking and answer
            elif token == close_id and self.count[b] < self.min_think and self.wait:
                token, self.queue[b] = self.wait[0], self.wait[1:]
                self.forced[b] += 1
            elif token == close_id and self.reflect and not self.reflected[b]:
                token, self.queue[b], self.reflected[b] = self.reflect[0], self.reflect[1:], True
                self.forced[b] += 1
        if token == open_id:
            self.thinking[b] = True
        elif token == close_id:
            self.thinking[b] = False
        elif self.thinking[b]:
            self.count[b] += 1
        return token


# -----------------------------------------------------------------------------
# sampling with the counts

class Sampler:
    """One model, its tokenizer and the run's settings; every batch it samples is counted."""

    def __init__(self, model, tok, max_new_tokens, temperature=1.0, top_k=0, min_think=0, max_think=None,
                 wait='Wait', reflection=False):
        self.model, self.tok, self.max_new = model, tok, max_new_tokens
        self.temperature, self.top_k, self.min_think, self.max_think = temperature, top_k, min_think, max_think
        self.ids = {'open': tok.special.get(vocab.THINK_OPEN), 'close': tok.special.get(vocab.THINK_CLOSE),
                    'end': vocab.end_of_text_id(tok)}
        if None in self.ids.values():
            raise UserError(f"the model's vocabulary needs {vocab.THINK_OPEN}, {vocab.THINK_CLOSE} and "
                            f"{vocab.END_OF_TEXT}: test-time thinking reads <think> ... </think>, then the answer")
        self.wait = tok.encode(wait) if min_think else []
        self.reflect = tok.encode(REFLECTION) if reflection else []
        self.flops_per_token = model.flops_per_token() / 3  # forward only
        self.tokens = self.forward_tokens = 0

    def sample(self, prompts, max_new=None, end_id=None, temperature=None):
        """Continue prompts (lists of ids): (completions (token lists up to and including the end),
        per-token confidences, per-token log-probs). end_id: where a completion stops (default
        <|endoftext|>); temperature: default the sampler's."""
        end_id = self.ids['end'] if end_id is None else end_id
        t = self.temperature if temperature is None else temperature
        choose = Chooser(len(prompts), self.ids, t, self.top_k, self.min_think, self.max_think, self.wait,
                         self.reflect).resume(prompts)
        seq, _, mask = sample_batch(self.model, prompts, max_new or self.max_new, t, self.top_k, end_id, choose)
        lengths = mask.sum(1).long().tolist()
        new = seq[:, seq.size(1) - mask.size(1):].tolist()
        self.tokens += sum(lengths)
        self.forward_tokens += sum(map(len, prompts)) + mask.size(1) * len(prompts)
        return ([row[:n] for row, n in zip(new, lengths)], [c[:n] for c, n in zip(choose.conf, lengths)],
                [lp[:n] for lp, n in zip(choose.logp, lengths)])

    def answer(self, completion):
        return final_answer(vocab.render(completion, self.tok, mode='plain'))


# -----------------------------------------------------------------------------
# MCTS over partial thoughts

class Node:
    """A partial thought: its tokens after the prompt (prefix) and their confidences."""

    def __init__(self, prefix, conf=(), parent=None, done=False):
        self.prefix, self.conf, self.parent, self.done = prefix, list(conf), parent, done
        self.children, self.visits, self.value = [], 0, 0.0
        self.best = None  # (reward, completion): the best rollout through this node

    def uct(self, c_puct):
        if self.visits == 0:
            return float('inf')
        return self.value / self.visits + c_puct * math.sqrt(math.log(self.parent.visits) / self.visits)


def mean_confidence(completion, conf):
    return sum(conf) / max(len(conf), 1)


def mcts(sampler, prompt, simulations, branching=3, action='step', ministep=6, c_puct=1.0, reward=mean_confidence):
    """The search for one prompt (ids); returns (the chosen completion, the root). An action
    continues a partial thought by a step (to the next newline, or the end) or a mini-step of
    `ministep` tokens; a rollout continues a new child to the end, and its reward (by default
    the mean confidence of the whole completion, the node's tokens and the rollout's) is backed
    up to the root."""
    newline = sampler.tok.encode('\n')[0]
    end = sampler.ids['end']
    root = Node([])
    for _ in range(simulations):
        node = root
        while node.children and not node.done:
            node = max(node.children, key=lambda ch: ch.uct(c_puct))
        if node.done:
            leaves = [(node, [node.best])]
        else:
            step_end, length = (newline, sampler.max_new) if action == 'step' else (None, ministep)
            room = sampler.max_new - len(node.prefix)
            acts, conf, _ = sampler.sample([prompt + node.prefix] * branching, min(length, room), step_end)
            cut = [a.index(end) + 1 if end in a else len(a) for a in acts]  # an action ends at the end too
            acts, conf = [a[:n] for a, n in zip(acts, cut)], [c[:n] for c, n in zip(conf, cut)]
            node.children = [Node(node.prefix + a, node.conf + c, node, (end in a) or len(node.prefix + a) >= sampler.max_new)
                             for a, c in zip(acts, conf)]
            # roll the children out to the end, a batch per prefix length: each row may take exactly
            # the tokens left to it (one batch shares its padded length, so longer rows would overflow)
            outcome = {}
            for n in sorted({len(ch.prefix) for ch in node.children if not ch.done}):
                group = [ch for ch in node.children if not ch.done and len(ch.prefix) == n]
                rolled = sampler.sample([prompt + ch.prefix for ch in group], sampler.max_new - n)
                outcome.update({id(ch): (ch.prefix + r, ch.conf + c) for ch, r, c in zip(group, rolled[0], rolled[1])})
            leaves = []
            for ch in node.children:
                completion, conf_all = outcome.get(id(ch), (ch.prefix, ch.conf))
                leaves.append((ch, [(reward(completion, conf_all), completion)]))
        for leaf, results in leaves:
            for value, completion in results:
                n = leaf
                while n is not None:
                    n.visits += 1
                    n.value += value
                    if n.best is None or value > n.best[0]:
                        n.best = (value, completion)
                    n = n.parent
    node = root
    while node.children:
        node = max(node.children, key=lambda ch: ch.visits)
    return node.best[1], root


# -----------------------------------------------------------------------------
# the methods on held-out records

def sample_pool(sampler, records, k):
    """k samples of every record's prompt (for majority@j and best-of-j, j <= k, the first j):
    [(answer, value, mean log-prob)] per record."""
    prompts = [r['ids'] for r in records for _ in range(k)]
    comps, conf, logp = sampler.sample(prompts)
    rows = [(sampler.answer(c), sum(cf) / max(len(cf), 1), sum(lp) / max(len(lp), 1)) for c, cf, lp in zip(comps, conf, logp)]
    return [rows[i * k:(i + 1) * k] for i in range(len(records))]


def auroc(scores, labels):
    """P(score of a right sample > score of a wrong one), ties half; None without both kinds."""
    right = [s for s, ok in zip(scores, labels) if ok]
    wrong = [s for s, ok in zip(scores, labels) if not ok]
    if not right or not wrong:
        return None
    pairs = sum((a > b) + 0.5 * (a == b) for a in right for b in wrong)
    return pairs / (len(right) * len(wrong))


def summary(method, setting, correct, sampler, n):
    acc = sum(correct) / n
    return {'method': method, **setting, 'accuracy': round(acc, 4), 'se': round(math.sqrt(acc * (1 - acc) / n), 4),
            'tokens_per_question': round(sampler.tokens / n, 1),
            'flops_per_question': round(sampler.forward_tokens * sampler.flops_per_token / n)}


def truth(r):
    return normalize_number(str(r['answer']))


def run_method(model, tok, records, args):
    """The JSON rows of one method over its settings."""
    def new_sampler(**kw):
        return Sampler(model, tok, args.max_new_tokens, args.temperature, args.top_k, reflection=args.reflection,
                       wait=args.wait, **kw)
    n, rows = len(records), []
    if args.method == 'greedy':
        s = new_sampler()
        comps, _, _ = s.sample([r['ids'] for r in records], temperature=0.0)
        rows.append(summary('greedy', {}, [s.answer(c) == truth(r) for c, r in zip(comps, records)], s, n))
    elif args.method in ('majority', 'best_of'):
        ks = parse_ints(args.k, 'k')
        s = new_sampler()
        pool = sample_pool(s, records, max(ks))
        per_sample = s.tokens / (n * max(ks)), s.forward_tokens / (n * max(ks))
        for k in ks:
            if args.method == 'majority':
                picks = [vote([a for a, _, _ in p[:k]]) for p in pool]
            else:
                picks = [max(p[:k], key=lambda row: row[1])[0] for p in pool]
            s.tokens, s.forward_tokens = per_sample[0] * n * k, per_sample[1] * n * k
            rows.append(summary(args.method, {'k': k}, [a == truth(r) for a, r in zip(picks, records)], s, n))
        labels = [a == truth(r) for p, r in zip(pool, records) for a, _, _ in p]
        rows[-1].update(auroc_confidence=auroc([v for p in pool for _, v, _ in p], labels),
                        auroc_logprob=auroc([lp for p in pool for _, _, lp in p], labels))
    elif args.method == 'budget':
        for min_think in parse_ints(args.min_think, 'min_think'):
            s = new_sampler(min_think=min_think, max_think=args.max_think or None)
            comps, _, _ = s.sample([r['ids'] for r in records])
            rows.append(summary('budget', {'min_think': min_think, 'max_think': args.max_think or None,
                                           'wait': args.wait if min_think else None},
                                [s.answer(c) == truth(r) for c, r in zip(comps, records)], s, n))
    else:
        for sims in parse_ints(args.simulations, 'simulations'):
            s = new_sampler()
            picks = [s.answer(mcts(s, r['ids'], sims, args.branching, args.action, args.ministep)[0]) for r in records]
            rows.append(summary('mcts', {'simulations': sims, 'action': args.action, 'branching': args.branching},
                                [a == truth(r) for a, r in zip(picks, records)], s, n))
    for row in rows:
        row['reflection'] = args.reflection
    return rows


def parse_ints(text, name):
    try:
        values = [int(v) for v in str(text).split(',') if v]
    except ValueError:
        values = []
    if not values or min(values) < (0 if name == 'min_think' else 1):
        raise UserError(f"--{name}={text} must be comma-separated integers >= {0 if name == 'min_think' else 1}")
    return values


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('run_dir')
    p.add_argument('--method', default='majority', choices=METHODS)
    p.add_argument('--records', default='', help="held-out records (default: the run's dataset's val.jsonl)")
    p.add_argument('--limit', type=int, default=500)
    p.add_argument('--k', default='1,2,4,8,16,32', help='majority, best_of: samples per question')
    p.add_argument('--min_think', default='0', help='budget: thinking tokens before </think> is allowed')
    p.add_argument('--max_think', type=int, default=0, help='budget: thinking tokens before </think> is forced (0: none)')
    p.add_argument('--wait', default='Wait', help="budget: what replaces an early </think>")
    p.add_argument('--simulations', default='4', help='mcts: simulations per question')
    p.add_argument('--branching', type=int, default=3)
    p.add_argument('--action', default='step', choices=('step', 'ministep'))
    p.add_argument('--ministep', type=int, default=6, help='mcts: tokens per mini-step')
    p.add_argument('--reflection', action='store_true', help="write Marco-o1's reflection at the first </think>")
    p.add_argument('--max_new_tokens', type=int, default=64)
    p.add_argument('--temperature', type=float, default=1.0)
    p.add_argument('--top_k', type=int, default=0)
    p.add_argument('--seed', type=int, default=1337)
    p.add_argument('--out', default='', help='append the rows here (default: RUN/testtime.jsonl)')
    args = p.parse_args(argv)
    with cli_errors():
        if min(args.limit, args.branching, args.ministep, args.max_new_tokens) < 1 or args.temperature <= 0:
            raise UserError("--limit, --branching, --ministep and --max_new_tokens must be >= 1, --temperature > 0")
        ckpt = load_checkpoint(os.path.join(args.run_dir, 'ckpt.pt'))
        model, tok = model_from_checkpoint(ckpt).eval(), Tokenizer(ckpt['meta'])
        path = args.records or os.path.join(ckpt['config']['data_dir'] or vocab.default_data_dir(ckpt['config']['dataset']),
                                            'val.jsonl')
        records = [r for r in read_jsonl(path) if isinstance(r, dict) and 'prompt' in r and 'answer' in r][:args.limit]
        if not records:
            raise UserError(f"{path} has no records with a prompt and an answer")
        for r in records:
            r['ids'] = tok.encode(r['prompt'])
        torch.manual_seed(args.seed)
        with torch.no_grad():
            rows = run_method(model, tok, records, args)
        out = args.out or os.path.join(args.run_dir, 'testtime.jsonl')
        with open(out, 'a') as f:
            for row in rows:
                print(json.dumps(row))
                f.write(json.dumps({'run': args.run_dir, **row}) + '\n')


if __name__ == '__main__':
    main(sys.argv[1:])
