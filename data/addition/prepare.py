"""
Multi-digit addition (or multiplication) as task records, for <think_i> tokens trained by RL
(think.py). The first operand is written with --digits digits (zero padded), the second with
--digits_b (default: as many), every answer with as many digits as the largest result has,
so all prompts have one length and all answers another:

    prompt "0123+0456="   completion "00579\\n"   answer "00579"        (--digits=4)
    prompt "0123+0456="   completion "97500\\n"   answer "97500"        (--reverse)
    prompt "012345*7="    completion "0086415\\n" answer "0086415"      (--op=mul --digits=6 --digits_b=1)

Most significant digit first (the default), the first answer digit depends on every carry
below it: an intermediate result the model would profit from writing down somewhere first.
--reverse writes the answer least significant digit first, where each digit needs only the
carry of the digit before it (an easy task for small transformers).

meta.pkl: one token per character of '0123456789+*=\\n'; --n_think=N also appends
<think0>..<think{N-1}> (think.py's registry), for the RL run. Make two directories, the same
records (same seed) with and without them:
    python data/addition/prepare.py                                      # data/addition (supervised, teacher)
    python data/addition/prepare.py --n_think=2048 --out_dir=data/addition_think   # the RL run

--stream writes train and val as token streams (train.bin, val.bin: the records' texts one
after another) for pre-training, as the pause-token experiment does (config/pause_pretrain.py);
test.jsonl stays records.
"""

import argparse
import os
import pickle
import random
import sys


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..'))  # the repository root: vocab.py
import vocab  # noqa: E402
from vocab import check_writable, cli_errors  # noqa: E402

ALPHABET = '0123456789+*=\n'
OPS = {'add': '+', 'mul': '*'}


def answer_digits(digits, op, digits_b):
    """Digits of the largest result: one more than the longer operand for a sum, the two
    operands' digits together for a product."""
    return max(digits, digits_b) + 1 if op == 'add' else digits + digits_b


def record(a, b, digits, op, reverse, digits_b=None):
    digits_b = digits_b or digits
    result = a + b if op == 'add' else a * b
    answer = f'{result:0{answer_digits(digits, op, digits_b)}d}'
    if reverse:
        answer = answer[::-1]
    return {'prompt': f'{a:0{digits}d}{OPS[op]}{b:0{digits_b}d}=', 'completion': answer + '\n', 'answer': answer}


def make_splits(sizes, digits, op, reverse, seed, digits_b=None):
    """split -> records; no operand pair appears twice, in a split or across splits."""
    digits_b = digits_b or digits
    rng = random.Random(f'addition:{seed}:{digits}')
    if sum(sizes.values()) > 10 ** (digits + digits_b) // 2:
        raise SystemExit(f"error: {sum(sizes.values()):,} records need more distinct pairs than "
                         f"{digits} and {digits_b} digits give")
    seen, out = set(), {}
    for split, size in sizes.items():
        rows = []
        while len(rows) < size:
            pair = (rng.randrange(10 ** digits), rng.randrange(10 ** digits_b))
            if pair not in seen:
                seen.add(pair)
                rows.append(record(*pair, digits, op, reverse, digits_b))
        out[split] = rows
    return out


def make_meta(n_think):
    stoi = {ch: i for i, ch in enumerate(ALPHABET)}
    meta = {'vocab_size': len(ALPHABET), 'tokenizer': 'char', 'stoi': stoi, 'itos': dict(enumerate(ALPHABET)),
            'special_tokens': {}}
    return vocab.add_special_tokens(meta, vocab.think_token_names(n_think))


def prepare(args):
    check_writable(args.out_dir)
    sizes = {'train': args.train_size, 'val': args.val_size, 'test': args.test_size}
    meta = make_meta(args.n_think)
    for split, rows in make_splits(sizes, args.digits, args.op, args.reverse, args.seed,
                                         args.digits_b).items():
        vocab.write_split(args.out_dir, split, rows, lambda text: [meta['stoi'][ch] for ch in text],
                          args.stream and split != 'test')
    meta.update(task='addition', digits=args.digits, digits_b=args.digits_b, op=args.op, reverse=args.reverse)
    vocab.write_atomic(os.path.join(args.out_dir, 'meta.pkl'), pickle.dumps(meta))
    widths = f"{args.digits}-" + (f" and {args.digits_b}-" if args.digits_b != args.digits else '')
    print(f"{args.op} of {widths}digit numbers{' (reversed answers)' if args.reverse else ''}: "
          f"{'streams' if args.stream else 'records'} train "
          f"{args.train_size:,}, val {args.val_size:,}, test {args.test_size:,} in {args.out_dir}; vocab size "
          f"{meta['vocab_size']} ({args.n_think} think tokens)")
    return meta


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--digits', type=int, default=4, help='digits per operand')
    p.add_argument('--digits_b', type=int, help='digits of the second operand (default: --digits)')
    p.add_argument('--op', default='add', choices=sorted(OPS))
    p.add_argument('--reverse', action='store_true', help='answers least significant digit first')
    p.add_argument('--stream', action='store_true', help='train.bin/val.bin token streams instead of records')
    p.add_argument('--n_think', type=int, default=0, help='append <think0>..<think{N-1}> to the vocabulary')
    p.add_argument('--train_size', type=int, default=50_000)
    p.add_argument('--val_size', type=int, default=500)
    p.add_argument('--test_size', type=int, default=1_000)
    p.add_argument('--seed', type=int, default=1337)
    p.add_argument('--out_dir', default=HERE, help="where the files go (default: this script's directory)")
    args = p.parse_args(argv)
    args.digits_b = args.digits if args.digits_b is None else args.digits_b
    if args.digits < 1 or args.digits_b < 1 or args.n_think < 0 or min(args.train_size, args.val_size) < 1 or args.test_size < 0:
        raise SystemExit("error: --digits and --digits_b must be >= 1, --n_think >= 0, --train_size and --val_size >= 1, --test_size >= 0")
    with cli_errors():
        prepare(args)


if __name__ == '__main__':
    main()
