"""
k-hop pointer chasing: a task with a latent computation, for every idea that thinks.

A record shows a random permutation f of n symbols, then a start symbol a and a hop count k,
and asks for f^k(a). One token per symbol (the first n lowercase letters), per hop count
(a digit) and per separator. The permutation is written as an array (slot i holds f(i), the
default) or as its n edges `x>y` in a shuffled order (--form=edges):

    array   prompt "cgdahbfe?a3:"             (f(a)=c, f(b)=g, ...; start a, 3 hops)
    edges   prompt "a>c e>h b>g ... ?a3:"
    direct  completion "=a\\n"                  answer "a"   (a -> c -> d -> a)
    chain   completion "cd=a\\n"                answer "a"   (the k-1 intermediate nodes first)
    stride  completion "d=a\\n"  (--chain_stride=2: every 2nd intermediate node, f^2(a), f^4(a), ...)

Answering directly, the model must do the k lookups inside its layers; with the chain
written, each lookup is one step of in-context copying. The hop count of each record is drawn
from --k (e.g. --k=3, or --k=1,2,3). --chain_share is the share of train and val records
written with the chain (0: all direct, 1: all chain); test.jsonl holds --test_chain_share (by
default the same). All splits are drawn from one seeded generator, and no (permutation,
start, k) repeats across splits. score.py reads the answer after the last '='.

    python data/hops/prepare.py --n=8 --k=3                       # direct answers: the control
    python data/hops/prepare.py --n=8 --k=3 --chain_share=1 --out_dir=data/hops_chain   # the ceiling
    python data/hops/prepare.py --n=8 --k=3 --chain_share=0.5 --test_chain_share=0 --out_dir=data/hops_mix
    python data/hops/prepare.py --n=8 --k=3 --chain_share=0.5 --chain_markers --out_dir=data/hops_thought_mix

--chain_markers writes a chain as a thought, =<startofthought>cd<endofthought>a (the markers are
two special tokens after the characters): Quiet-STaR's pre-training mix. Quiet-STaR predicts
each token after a thought at the position before it, so the thought that predicts the answer
sits after '=', at the positions this chain held (score.py reads the answer after the
thought). --chain_think writes the chain's nodes as think tokens, c -> <think2> (think.py: a model told
what its think tokens mean). --exclude=DIR draws none of DIR's records (permutation, start and hop count): fine-tuning
records the pre-training never showed (the permutations themselves may recur with other starts).

meta.pkl: the character vocabulary of the task (symbols, digits, '?', ':', '=', '>', ' ',
'\\n'), the same for every n <= 26 and k <= 9, so runs on different knobs share one vocabulary.
"""

import argparse
import math
import os
import pickle
import random
import string
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..'))  # the repository root: vocab.py
import vocab  # noqa: E402
from vocab import UserError, check_writable, cli_errors  # noqa: E402

SYMBOLS = string.ascii_lowercase
ALPHABET = SYMBOLS + '123456789' + '?:=> \n'
FORMS = ('array', 'edges')


def hops(f, a, k):
    """The nodes after each of the k hops from a: f(a), f(f(a)), ..., f^k(a)."""
    path = []
    for _ in range(k):
        a = f[a]
        path.append(a)
    return path


def record(f, a, k, form, chain, rng, markers=False, stride=1, think=False):
    n = len(f)
    names = SYMBOLS[:n]
    if form == 'array':
        shown = ''.join(names[f[i]] for i in range(n))
    else:
        order = list(range(n))
        rng.shuffle(order)
        shown = ' '.join(f'{names[i]}>{names[f[i]]}' for i in order) + ' '
    path = hops(f, a, k)
    answer = names[path[-1]]
    middle = ''.join((f'<think{p}>' if think else names[p]) for p in path[stride - 1:-1:stride]) if chain else ''
    if chain and markers:  # the chain as a thought after '=': where Quiet-STaR thinks before the answer
        completion = f'={vocab.START_THOUGHT}{middle}{vocab.END_THOUGHT}{answer}\n'
    else:
        completion = f'{middle}={answer}\n'
    return {'prompt': f'{shown}?{names[a]}{k}:', 'completion': completion, 'answer': answer,
            'k': k, 'path': [names[a]] + [names[p] for p in path]}


def record_key(r):
    """(f as a tuple, start, k) of a record, read back from its prompt in either form."""
    shown, query = r['prompt'].split('?')
    if '>' in shown:
        edges = dict(e.split('>') for e in shown.split())
        f = [SYMBOLS.index(edges[s]) for s in SYMBOLS[:len(edges)]]
    else:
        f = [SYMBOLS.index(s) for s in shown]
    return tuple(f), SYMBOLS.index(query[0]), int(query[1:-1])


def excluded_keys(dirs):
    keys = set()
    for d in dirs:
        for split in ('train', 'val', 'test'):
            path = os.path.join(d, f'{split}.jsonl')
            if not os.path.exists(path):
                raise UserError(f"--exclude={d} has no {split}.jsonl: give a hops dataset directory")
            keys.update(record_key(r) for r in vocab.read_jsonl(path))
    return keys


def make_splits(sizes, n, ks, form, chain_share, test_chain_share, seed, markers=False, exclude=(), stride=1,
                think=False):
    rng = random.Random(f'hops:{seed}:{n}:{form}')
    seen, out = set(exclude), {}
    for split, size in sizes.items():
        share = test_chain_share if split == 'test' else chain_share
        rows = []
        while len(rows) < size:
            f = list(range(n))
            rng.shuffle(f)
            a, k = rng.randrange(n), rng.choice(ks)
            key = (tuple(f), a, k)
            if key in seen:
                continue
            seen.add(key)
            rows.append(record(f, a, k, form, rng.random() < share, rng, markers, stride, think))
        out[split] = rows
    return out


def baselines(rows):
    """The trivial baselines' accuracies on records: the most common answer, copying the start
    a, and one hop f(a) (the answer of k = 1)."""
    answers = [r['answer'] for r in rows]
    majority = max(set(answers), key=answers.count)
    return {'majority answer': sum(a == majority for a in answers) / len(rows),
            'copy the start': sum(r['path'][0] == r['answer'] for r in rows) / len(rows),
            'one hop f(a)': sum(r['path'][1] == r['answer'] for r in rows) / len(rows)}


def make_meta(markers=False, n_think=0):
    stoi = {ch: i for i, ch in enumerate(ALPHABET)}
    meta = {'vocab_size': len(ALPHABET), 'tokenizer': 'char', 'stoi': stoi, 'itos': dict(enumerate(ALPHABET)),
            'special_tokens': {}}
    special = ([vocab.START_THOUGHT, vocab.END_THOUGHT] if markers else []) + vocab.think_token_names(n_think)
    return vocab.add_special_tokens(meta, special) if special else meta


def parse_ks(text):
    try:
        ks = sorted({int(v) for v in text.split(',') if v})
    except ValueError:
        ks = []
    if not ks or not all(1 <= k <= 9 for k in ks):
        raise UserError(f"--k={text} must be hop counts from 1 to 9, comma-separated (e.g. 3 or 1,2,3)")
    return ks


def check(args, ks, excluded):
    if not 2 <= args.n <= len(SYMBOLS):
        raise UserError(f"--n must be from 2 to {len(SYMBOLS)} symbols, got {args.n}")
    for name in ('chain_share', 'test_chain_share'):
        value = getattr(args, name)
        if value is not None and not 0 <= value <= 1:
            raise UserError(f"--{name} must be in [0, 1], got {value}")
    if args.chain_think and args.chain_markers:
        raise UserError("--chain_think and --chain_markers are two ways to write the chain: choose one")
    if args.chain_stride < 1:
        raise UserError(f"--chain_stride must be >= 1, got {args.chain_stride}")
    if min(args.train_size, args.val_size) < 1 or args.test_size < 0:
        raise UserError("--train_size and --val_size must be >= 1, --test_size >= 0")
    limit = len(ks) * args.n * math.factorial(args.n) - len(excluded)
    if args.train_size + args.val_size + args.test_size > limit * 3 // 4:
        raise UserError(f"n={args.n} and k in {ks} have {limit:,} distinct records (after --exclude); "
                        f"ask for at most 3/4 of them")


def prepare(args):
    ks = parse_ks(args.k)
    excluded = {key for key in excluded_keys(args.exclude) if len(key[0]) == args.n and key[2] in ks}
    check(args, ks, excluded)
    check_writable(args.out_dir)
    test_share = args.chain_share if args.test_chain_share is None else args.test_chain_share
    sizes = {'train': args.train_size, 'val': args.val_size, 'test': args.test_size}
    meta = make_meta(args.chain_markers, args.n if args.chain_think else 0)
    splits = make_splits(sizes, args.n, ks, args.form, args.chain_share, test_share, args.seed, args.chain_markers,
                         excluded, args.chain_stride, args.chain_think)
    for split, rows in splits.items():
        vocab.write_split(args.out_dir, split, rows, None, False)
    meta.update(task='hops', n=args.n, k=ks, form=args.form, chain_share=args.chain_share, test_chain_share=test_share,
                chain_stride=args.chain_stride)
    vocab.write_atomic(os.path.join(args.out_dir, 'meta.pkl'), pickle.dumps(meta))
    tok = vocab.Tokenizer(meta)
    longest = max(len(tok.encode(r['prompt'] + r['completion'])) for rows in splits.values() for r in rows)
    print(f"{args.n}-symbol permutations as {args.form}, k in {ks}, chain share {args.chain_share} "
          f"(test {test_share}): train {args.train_size:,}, val {args.val_size:,}, test {args.test_size:,} "
          f"records in {args.out_dir}; longest record {longest} tokens")
    if splits['test']:
        shares = baselines(splits['test']).items()
        print('trivial baselines on test.jsonl: ' + ', '.join(f'{name} {100 * v:.1f}%' for name, v in shares))
    return meta


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--n', type=int, default=8, help='symbols in the permutation (2..26)')
    p.add_argument('--k', default='3', help='hop counts, comma-separated; each record draws one')
    p.add_argument('--form', default='array', choices=FORMS, help='the permutation as an array or as shuffled edges')
    p.add_argument('--chain_share', type=float, default=0.0, help='share of train/val records with the chain written')
    p.add_argument('--test_chain_share', type=float, default=None, help='the same for test.jsonl (default: --chain_share)')
    p.add_argument('--chain_markers', action='store_true',
                   help="write a chain between <startofthought> and <endofthought> (Quiet-STaR's pre-training mix)")
    p.add_argument('--chain_think', action='store_true',
                   help='write the chain\'s nodes as think tokens, node i as <think{i}> (n of them in meta.pkl): '
                        'a think model taught what its think tokens mean (think.py\'s side arm)')
    p.add_argument('--chain_stride', type=int, default=1,
                   help='a written chain holds every S-th intermediate node: 2 at k=4 writes only f^2(a)')
    p.add_argument('--exclude', action='append', default=[], metavar='DIR',
                   help="draw none of the records (permutation, start, k) of this hops dataset (repeatable)")
    p.add_argument('--train_size', type=int, default=200_000)
    p.add_argument('--val_size', type=int, default=1_000)
    p.add_argument('--test_size', type=int, default=1_000)
    p.add_argument('--seed', type=int, default=1337)
    p.add_argument('--out_dir', default=HERE, help="where the files go (default: this script's directory)")
    args = p.parse_args(argv)
    with cli_errors():
        prepare(args)


if __name__ == '__main__':
    main()
