"""
The diagnostics of a think.py run on task records: for each way of filling the thinking
(sampled as in training, the fixed slot's likeliest token, think tokens of random identity,
thinking masked out) the accuracy of the greedy completion and the NLL of the true one, the
think rate, and the mutual information between the first think token and each node of a
record's 'path' (hops records: the start, f(a), f^2(a), ...: which hop, if any, the token carries).

    python think_answers.py out-k4-slot data/hops_k4_think/test.jsonl
    python think_answers.py out-k4-read data/hops_k4_think/test.jsonl --think_slot=1
"""

import argparse
import json
import math
import sys
from collections import defaultdict

import torch

from think import eval_modes, think_and_answer
from train import load_checkpoint, model_from_checkpoint
from vocab import Tokenizer, UserError, cli_errors, read_jsonl


def mutual_information(xs, ys):
    """The plug-in mutual information in bits between two lists of labels, paired."""
    n, joint = len(xs), defaultdict(int)
    px, py = defaultdict(int), defaultdict(int)
    for x, y in zip(xs, ys):
        joint[x, y] += 1
        px[x] += 1
        py[y] += 1
    return sum(m / n * math.log2(m * n / (px[x] * py[y])) for (x, y), m in joint.items())


@torch.no_grad()
def answers(run_dir, records_path, limit=1000, n_slot=None, seed=0):
    """The module's diagnostics of run_dir's checkpoint on the first `limit` records (one dict);
    the mutual information is that of the sampled thinking's first think token."""
    torch.manual_seed(seed)
    ckpt = load_checkpoint(run_dir)
    model = model_from_checkpoint(ckpt).eval()
    if not hasattr(model, 'is_think'):
        raise UserError(f"{run_dir} is a {ckpt['idea']!r} run; answers needs a think run")
    n_slot = ckpt['config'].get('think_slot', 0) if n_slot is None else n_slot
    tok = Tokenizer(ckpt['meta'])
    records = [r for r in read_jsonl(records_path) if isinstance(r, dict) and 'completion' in r][:limit]
    if not records:
        raise UserError(f"{records_path} holds no task records (prompt, completion)")
    groups = defaultdict(list)  # one batch per (prompt length, completion length)
    for r in records:
        prompt, completion = tok.encode(r['prompt']), tok.encode(r['completion'])
        groups[len(prompt), len(completion)].append((prompt, completion, r.get('path', [])))
    sums, firsts, paths = defaultdict(float), [], []
    for rows in groups.values():
        prompts, truth = torch.tensor([p for p, _, _ in rows]), torch.tensor([c for _, c, _ in rows])
        for mode, (slots, choose) in eval_modes(n_slot).items():
            out = think_and_answer(model, prompts, truth, slots, choose)
            sums[f'acc_{mode}'] += out['correct'].sum().item()
            sums[f'nll_{mode}'] += out['nll'].sum().item()
            if mode == 'think':
                sums['think_rate'] += out['think_rate'].sum().item()
                firsts += out['first'].tolist()
                paths += [path for _, _, path in rows]
    result = {'run': run_dir, 'iter': ckpt['iter_num'], 'think_slot': n_slot, 'n': len(records),
              **{k: v / len(records) for k, v in sums.items()}}
    result['accuracy'] = result['acc_think']  # as score.py --json: plot.py --bars reads it
    thought = [(f, p) for f, p in zip(firsts, paths) if f >= 0]
    result['thought_share'] = len(thought) / len(records)
    if thought and all(p for _, p in thought):
        hops = min(len(p) for _, p in thought)
        result['mi_bits_with_path'] = [round(mutual_information([f for f, _ in thought], [p[i] for _, p in thought]), 4)
                                       for i in range(hops)]
        result['think_tokens_used'] = len({f for f, _ in thought})
    return result


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('run_dir')
    p.add_argument('records')
    p.add_argument('--limit', type=int, default=1000)
    p.add_argument('--think_slot', type=int, default=None, help="think tokens after each prompt (default: the run's)")
    args = p.parse_args(argv)
    with cli_errors():
        print(json.dumps(answers(args.run_dir, args.records, args.limit, args.think_slot)))


if __name__ == '__main__':
    main(sys.argv[1:])
