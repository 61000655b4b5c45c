"""
A ProsQA-style data set (Hao et al. 2024, "Training Large Language Models to Reason in a
Continuous Latent Space"): reasoning over a random directed acyclic graph of made-up
concepts, small enough to learn on a CPU.

Each example is its own graph. Two disjoint chains of `depth` hops, root -> .. -> answer and
root' -> .. -> distractor, plus random extra edges that keep the graph acyclic, never make
the distractor reachable from the root and never shorten the root's path to the answer, so
the answer is found only by following `depth` facts. Tom is a member of the root:

    prompt      Every k is a f. Every b is a k. Every q is a m. ... Every f is a w.
                Tom is a b. Is Tom a w or a m?
    completion  Every b is a k.
                Every k is a f.
                Every f is a w.
                #### w

The steps (the chain of thought) are the facts of the path, one per line; the answer
follows '####' as in GSM8K. Concept names are single letters by default (one token each
at the character level); --name_len=4 makes made-up words like 'wumo'.

Records: {"prompt", "completion", "question" (= prompt), "steps", "answer", "root",
"options", "edges", "depth"}; train/val/test hold no graph twice. meta.pkl: a character
vocabulary plus Coconut's special tokens and <pause> (think.py), so coconut.py and the
pause-as-thought baseline train on these records without a new vocabulary.

    python data/prosqa/prepare.py                       # 3000/200/300 examples, depth 2..3
    python data/prosqa/prepare.py --min_depth=2 --max_depth=6 --n_nodes=16 --n_extra=10
"""

import argparse
import json
import os
import pickle
import random
import string
import sys
from collections import deque

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..'))  # think.py, for the special tokens
import vocab  # noqa: E402
from vocab import check_writable, cli_errors  # noqa: E402

CONSONANTS = 'bcdfghjklmnpqrstvwxz'
VOWELS = 'eiouy'


def concept_names(rng, n, name_len):
    """n distinct made-up names: single letters (not 'a', which reads as the article), or
    words of alternating consonants and vowels."""
    if name_len == 1:
        letters = [ch for ch in string.ascii_lowercase if ch != 'a']
        if n > len(letters):
            raise SystemExit(f"error: {n} concepts need --name_len > 1 (only {len(letters)} single letters)")
        return rng.sample(letters, n)
    names = set()
    while len(names) < n:
        names.add(''.join(rng.choice(CONSONANTS if k % 2 == 0 else VOWELS) for k in range(name_len)))
    return rng.sample(sorted(names), n)


def reachable(edges, start):
    """Distance (hops) from start to every node it reaches."""
    children = {}
    for u, v in edges:
        children.setdefault(u, []).append(v)
    dist, todo = {start: 0}, deque([start])
    while todo:
        u = todo.popleft()
        for v in children.get(u, []):
            if v not in dist:
                dist[v] = dist[u] + 1
                todo.append(v)
    return dist


def make_graph(rng, depth, n_nodes, n_extra):
    """(edges, root, answer, distractor, path) over nodes 0..n_nodes-1."""
    path = list(range(depth + 1))
    other = list(range(depth + 1, 2 * depth + 2))
    edges = list(zip(path, path[1:])) + list(zip(other, other[1:]))
    answer, distractor = path[-1], other[-1]
    for _ in range(50 * n_extra):
        if len(edges) == len(path) + len(other) - 2 + n_extra:
            break
        u, v = rng.sample(range(n_nodes), 2)
        trial = edges + [(u, v)]
        if (u, v) in edges or u in reachable(trial, v):
            continue  # a repeat, or a cycle
        dist = reachable(trial, path[0])
        if distractor in dist or dist[answer] < depth:
            continue
        edges = trial
    return edges, path[0], answer, distractor, path


def make_example(rng, depth, n_nodes, n_extra, name_len):
    edges, root, answer, distractor, path = make_graph(rng, depth, n_nodes, n_extra)
    name = concept_names(rng, n_nodes, name_len)
    facts = [f"Every {name[u]} is a {name[v]}." for u, v in edges]
    rng.shuffle(facts)
    options = [name[answer], name[distractor]]
    rng.shuffle(options)
    question = ' '.join(facts) + f"\nTom is a {name[root]}. Is Tom a {options[0]} or a {options[1]}?\n"
    steps = [f"Every {name[u]} is a {name[v]}." for u, v in zip(path, path[1:])]
    return {'prompt': question, 'completion': ''.join(s + '\n' for s in steps) + f"#### {name[answer]}\n",
            'question': question, 'steps': steps, 'answer': name[answer], 'root': name[root],
            'options': options, 'edges': sorted([name[u], name[v]] for u, v in edges), 'depth': depth}


def graph_key(r):
    return (r['root'], tuple(r['options']), tuple(map(tuple, r['edges'])))


def make_splits(sizes, min_depth, max_depth, n_nodes, n_extra, name_len, seed):
    """{split: records}; a graph (edges, root, options) is never in two splits, or twice in one."""
    if not 1 <= min_depth <= max_depth:
        raise SystemExit(f"error: need 1 <= --min_depth <= --max_depth, got {min_depth}, {max_depth}")
    if n_nodes < 2 * max_depth + 2:
        raise SystemExit(f"error: --n_nodes={n_nodes} is too few for two chains of {max_depth} hops "
                         f"(need {2 * max_depth + 2})")
    rng = random.Random(seed)
    seen, splits = set(), {}
    for split, size in sizes.items():
        rows = []
        for _ in range(100 * size + 100):
            if len(rows) == size:
                break
            r = make_example(rng, rng.randint(min_depth, max_depth), n_nodes, n_extra, name_len)
            if graph_key(r) not in seen:
                seen.add(graph_key(r))
                rows.append(r)
        if len(rows) < size:
            raise SystemExit(f"error: only {len(rows)} distinct graphs for {split}; use more --n_nodes or --n_extra")
        splits[split] = rows
    return splits


def make_meta(splits):
    chars = sorted(set(''.join(r['prompt'] + r['completion'] for rows in splits.values() for r in rows)))
    meta = {'vocab_size': len(chars), 'tokenizer': 'char',
            'stoi': {c: i for i, c in enumerate(chars)}, 'itos': {i: c for i, c in enumerate(chars)}}
    return vocab.add_special_tokens(meta, [vocab.BOT, vocab.LATENT, vocab.EOT, vocab.PAUSE])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--train_size', type=int, default=3000)
    p.add_argument('--val_size', type=int, default=200)
    p.add_argument('--test_size', type=int, default=300)
    p.add_argument('--min_depth', type=int, default=2, help='fewest hops from Tom to the answer')
    p.add_argument('--max_depth', type=int, default=3, help='most hops (one reasoning step each)')
    p.add_argument('--n_nodes', type=int, default=9, help='concepts per graph')
    p.add_argument('--n_extra', type=int, default=3, help='random edges beside the two chains')
    p.add_argument('--name_len', type=int, default=1, help='letters per concept name')
    p.add_argument('--seed', type=int, default=1337)
    p.add_argument('--out_dir', default=HERE)
    args = p.parse_args(argv)
    if min(args.train_size, args.val_size, args.test_size) < 1 or args.n_extra < 0 or args.name_len < 1:
        p.error('sizes and --name_len must be >= 1, --n_extra >= 0')
    sizes = {'train': args.train_size, 'val': args.val_size, 'test': args.test_size}
    splits = make_splits(sizes, args.min_depth, args.max_depth, args.n_nodes, args.n_extra, args.name_len, args.seed)
    with cli_errors():
        check_writable(args.out_dir)
    for split, rows in splits.items():
        vocab.write_atomic(os.path.join(args.out_dir, f'{split}.jsonl'),
                           ''.join(json.dumps(r) + '\n' for r in rows).encode())
    meta = make_meta(splits)
    vocab.write_atomic(os.path.join(args.out_dir, 'meta.pkl'), pickle.dumps(meta))
    longest = max(len(r['prompt']) + len(r['completion']) for rows in splits.values() for r in rows)
    print(f"{args.out_dir}: train {len(splits['train'])}, val {len(splits['val'])}, test {len(splits['test'])}; "
          f"vocab {meta['vocab_size']}; longest record {longest} characters")


if __name__ == '__main__':
    main()
