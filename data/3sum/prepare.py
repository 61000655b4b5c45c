"""
3SUM for filler tokens, after Pfau, Merrill & Bowman 2024, "Let's Think Dot by Dot".

An instance is n tuples of d digits. It is True when three of them (i < j < k) sum to zero
mod 10 in every coordinate. Half the instances are True: a random pair, the tuple that
cancels it, and n-3 random tuples, shuffled. The False ones are near misses: such a triple
with one to three of its 3*d digits re-drawn (1 with probability 3/4, 2 with 3/16, 3 with
1/16, as in the paper's code), redrawn whole if any triple still sums to zero.

One token per tuple: tuple t is the character chr(0x4E00 + t as a d-digit number), so d=2
gives 100 symbols, d=3 a thousand (written below as [05] etc.; the records keep the digits in
"tuples"). The same instance in three formats (n=4, d=2):

    immediate  [05][75][22][69]:=False
    filler     [05][75][22][69]:................=False             (n^2 dots, as the paper)
    cot        [05][75][22][69]:[30]-[83]-[46]-[13]-[76]-[29]-=False

The chain of thought is parallel, two tokens per pair i < j in order: the tuple that would
complete the pair, -(x_i + x_j) mod 10, and '+' if it is one of the tuples after x_j, '-' if
not; every step reads only the input, so all steps can be computed at once. The answer is True
when some step has '+'. The paper's chain also has two tokens per pair, but its first is one of
the pair's two indices picked at random and its second one random coordinate of the pair's sum
(or the matching index): tokens a model cannot predict, so a teacher-forced chain accuracy
could not serve as the gate. Here every chain token is a function of the input. The filler is
'.' n^2 times (the paper's count; the chain has n(n-1) tokens); the no-filler control is the
same data with the dots removed.

--tokens=digit writes each tuple as its d digits instead (d tokens per tuple, the chain's
completing tuple too: '64+34-12-'), the digits in the input as Pfau et al. give them (their
model reads each tuple as one vector of per-coordinate one-hots).

--mix picks what train.jsonl and val.jsonl hold (test.jsonl holds the format in brackets):
    filler     half chain of thought, half filler, as the paper trains    [filler]
    nofiller   the same records with the dots removed                     [immediate]
    fillonly   all filler, no chain of thought (the paper's negative control) [filler]
    immediate  all immediate (pause fine-tuning: --n_pause=M)             [immediate]
    cot        all chain of thought                                       [cot]
--n_dots=K writes K dots instead of n^2: K = n(n-1), the chain's length with one token per
tuple, puts dot k where the chain's token k would be (with --tokens=digit the chain has
(d+1) n(n-1)/2 tokens).

--val_like_test writes val.jsonl in the test's format only (the filler records of the filler
mix), so that the val loss in the log follows what the test scores, not the chain half.
The instances depend only on --seed, --n, --d and the sizes, so the arms see the same ones.

Loss (--loss): 'input' (default, as the paper) trains on everything after the input: the
prompt is the input and ':' (then the pauses, with --n_pause), the completion the rest.
'answer' puts the chain of thought or filler in the prompt too: loss on '=True' only.
Test records are laid out for scoring (think.answer_accuracy): for filler and immediate the
prompt runs up to '=' (the filler given, as the paper evaluates with teacher forcing) and the
completion is the answer; for cot the model writes its own chain of thought.

Records: {"prompt", "completion", "tuples": ["05", ...], "answer": "True"|"False",
"format", "n", "d"}. meta.pkl: a character vocabulary (the structure characters and the 10^d
tuple symbols) that is the same for every mix and n at one d, plus the special token <pause>
(think.py), so checkpoints move between these datasets.
With --stream, train and val are token streams (train.bin, val.bin: the records' texts one
after another) for pre-training; test.jsonl as above.

Each variant needs a directory of its own, beside this script (data/<name> so train.py
finds it as dataset=<name>):
    python data/3sum/prepare.py --n=8 --mix=filler --out_dir=data/3sum_n8_filler
    python data/3sum/prepare.py --n=8 --mix=nofiller --out_dir=data/3sum_n8_nofiller
"""

import argparse
import os
import pickle
import random
import sys
from itertools import combinations

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..'))  # the repository root: vocab.py
import vocab  # noqa: E402
from vocab import check_writable, cli_errors, Tokenizer  # noqa: E402

MOD = 10
SYMBOL_BASE = 0x4E00  # tuple t is chr(SYMBOL_BASE + t read as a number): printable, none combining
STRUCTURE = sorted(set(':+-.=TrueFalse\n'))  # every other character of every format
FORMATS = ('immediate', 'filler', 'cot')
# mix -> (share of chain-of-thought records in train/val, the format of the others and of test)
MIXES = {'filler': (0.5, 'filler'), 'nofiller': (0.5, 'immediate'), 'fillonly': (0.0, 'filler'),
         'immediate': (0.0, 'immediate'), 'cot': (1.0, 'cot')}
MAX_TRIES = 100_000  # redraws of one False instance before giving up (d=1 has few tuples)

# -----------------------------------------------------------------------------
# instances


def neg_sum(a, b):
    """The tuple c with a + b + c = 0 mod 10 in every coordinate."""
    return tuple((-x - y) % MOD for x, y in zip(a, b))


def zero_triples(tuples):
    """Every (i, j, k), i < j < k, whose tuples sum to zero mod 10 in every coordinate."""
    where = {}
    for k, t in enumerate(tuples):
        where.setdefault(t, []).append(k)
    return [(i, j, k) for i, j in combinations(range(len(tuples)), 2)
            for k in where.get(neg_sum(tuples[i], tuples[j]), ()) if k > j]


def redraw_count(rng):
    """1, 2 or 3 with probabilities 3/4, 3/16, 1/16: a geometric draw (p=3/4) capped at 3."""
    n = 1
    while n < 3 and rng.random() >= 0.75:
        n += 1
    return n


def make_instance(rng, n, d, true):
    """n tuples of d digits (tuples of ints) with (true) or without a zero-sum triple."""
    for _ in range(MAX_TRIES):
        a = tuple(rng.randrange(MOD) for _ in range(d))
        b = tuple(rng.randrange(MOD) for _ in range(d))
        triple = [list(a), list(b), list(neg_sum(a, b))]
        if not true:  # a near miss: re-draw 1-3 of the triple's 3*d digits
            for cell in rng.sample(range(3 * d), redraw_count(rng)):
                triple[cell // d][cell % d] = rng.randrange(MOD)
        tuples = [tuple(t) for t in triple] + [tuple(rng.randrange(MOD) for _ in range(d)) for _ in range(n - 3)]
        rng.shuffle(tuples)
        if true or not zero_triples(tuples):
            return tuples
    raise ValueError(f"no False instance of n={n}, d={d} in {MAX_TRIES:,} draws: almost every {n} tuples of "
                     f"{d} digits hold a zero-sum triple; use a larger d or a smaller n")


# -----------------------------------------------------------------------------
# formats


def digits(t):
    return ''.join(map(str, t))


def symbol(t, tokens='tuple'):
    """How tuple t is written: one token (a symbol), or with tokens='digit' its d digits."""
    return digits(t) if tokens == 'digit' else chr(SYMBOL_BASE + int(digits(t)))


def from_symbol(ch, d):
    value = ord(ch) - SYMBOL_BASE
    if not 0 <= value < MOD ** d:
        raise ValueError(f"{ch!r} is no tuple of {d} digits")
    return tuple(int(x) for x in str(value).zfill(d))


def alphabet(d, tokens='tuple'):
    """Every character of every format at d digits per tuple: the structure, then the tuple
    symbols (or the ten digits)."""
    return STRUCTURE + (list('0123456789') if tokens == 'digit' else [chr(SYMBOL_BASE + v) for v in range(MOD ** d)])


def cot_steps(tuples, tokens='tuple'):
    """The parallel chain of thought: per pair i < j, the completing tuple and '+' or '-'."""
    steps = []
    for i, j in combinations(range(len(tuples)), 2):
        c = neg_sum(tuples[i], tuples[j])
        steps.append(symbol(c, tokens) + ('+' if c in tuples[j + 1:] else '-'))
    return ''.join(steps)


def body(tuples, fmt, tokens='tuple', n_dots=None):
    """What goes between the input and '=': nothing, n_dots dots (n^2 by default), or the chain
    of thought."""
    if fmt == 'immediate':
        return ''
    return cot_steps(tuples, tokens) if fmt == 'cot' else '.' * (len(tuples) ** 2 if n_dots is None else n_dots)


def text_parts(tuples, fmt, n_pause=0, tokens='tuple', n_dots=None):
    """(input, body, answer) of an instance; the full text is input + body + '=' + answer + '\\n',
    where input = the tuples, ':', then n_pause pauses."""
    answer = 'True' if zero_triples(tuples) else 'False'
    inp = ''.join(symbol(t, tokens) for t in tuples)
    return inp + ':' + vocab.pause_text(n_pause), body(tuples, fmt, tokens, n_dots), answer


def layout(tuples, fmt, loss='input', n_pause=0, test=False, tokens='tuple', n_dots=None):
    """(prompt, completion) of an instance in a format; see the docstring for the layouts."""
    inp, mid, answer = text_parts(tuples, fmt, n_pause, tokens, n_dots)
    if (test and fmt != 'cot') or loss == 'answer':
        return inp + mid + '=', answer + '\n'
    return inp, mid + '=' + answer + '\n'


def parse(text, d, tokens='tuple'):
    """Full text of any format -> (tuples, format, answer); pauses are dropped. Raises
    ValueError on text that is no instance of d-digit tuples."""
    text = text.replace(vocab.PAUSE, '')
    inp, sep, rest = text.partition(':')
    mid, sep2, answer = rest.partition('=')
    if not (sep and sep2 and answer.endswith('\n') and answer[:-1] in ('True', 'False')):
        raise ValueError(f"not a 3SUM text: {text!r}")
    if tokens == 'digit':
        if len(inp) % d or not inp.isdigit():
            raise ValueError(f"{inp!r} is no run of {d}-digit tuples")
        tuples = [tuple(map(int, inp[s:s + d])) for s in range(0, len(inp), d)]
    else:
        tuples = [from_symbol(ch, d) for ch in inp]
    fmt = 'immediate' if not mid else 'filler' if set(mid) == {'.'} else 'cot'
    return tuples, fmt, answer[:-1]


def record(tuples, fmt, loss, n_pause, test=False, tokens='tuple', n_dots=None):
    prompt, completion = layout(tuples, fmt, loss, n_pause, test, tokens, n_dots)
    answer = 'True' if zero_triples(tuples) else 'False'
    return {'prompt': prompt, 'completion': completion, 'tuples': [digits(t) for t in tuples],
            'answer': answer, 'format': fmt, 'n': len(tuples), 'd': len(tuples[0])}


def make_split(seed, split, size, n, d):
    """size instances, exactly half True (alternating), from a generator of their own: a split
    does not change when another split's size does."""
    rng = random.Random(f'3sum:{seed}:{split}')
    return [make_instance(rng, n, d, true=(k % 2 == 0)) for k in range(size)]


def formats_for(seed, split, size, mix):
    """Which format each record of a split takes; the same draws for every mix, so the
    no-filler arm is exactly the filler arm with the dots removed."""
    rng = random.Random(f'3sum:{seed}:{split}:format')
    share, other = MIXES[mix]
    return ['cot' if rng.random() < share else other for _ in range(size)]


def make_meta(args):
    stoi = {ch: i for i, ch in enumerate(alphabet(args.d, args.tokens))}
    meta = {'vocab_size': len(stoi), 'tokenizer': 'char', 'stoi': stoi, 'itos': {i: ch for ch, i in stoi.items()},
            'special_tokens': {}}
    meta = vocab.with_pauses(meta, args.n_pause)
    meta.update(task='3sum', n=args.n, d=args.d, mix=args.mix, loss=args.loss, tokens=args.tokens, n_dots=args.n_dots)
    return meta


def prepare(args):
    check_writable(args.out_dir)
    meta = make_meta(args)
    tok = Tokenizer(meta)  # train.py's: characters, and '<pause>' as the pause id
    sizes = {'train': args.train_size, 'val': args.val_size, 'test': args.test_size}
    longest = 0
    for split, size in sizes.items():
        try:
            instances = make_split(args.seed, split, size, args.n, args.d)
        except ValueError as e:
            raise SystemExit(f"error: {e}")
        if split == 'test' or (split == 'val' and args.val_like_test):
            fmts = [MIXES[args.mix][1]] * size
        else:
            fmts = formats_for(args.seed, split, size, args.mix)
        rows = [record(t, f, args.loss, args.n_pause, split == 'test', args.tokens, args.n_dots) for t, f in zip(instances, fmts)]
        longest = max([longest] + [len(tok.encode(r['prompt'] + r['completion'])) for r in rows])
        vocab.write_split(args.out_dir, split, rows, tok.encode, args.stream and split != 'test')
    vocab.write_atomic(os.path.join(args.out_dir, 'meta.pkl'), pickle.dumps(meta))
    kind = 'streams' if args.stream else 'records'
    print(f"3SUM n={args.n} d={args.d} tokens={args.tokens} mix={args.mix} loss={args.loss} n_pause={args.n_pause}: {kind} train "
          f"{args.train_size:,}, val {args.val_size:,}, test {args.test_size:,} in {args.out_dir}; vocab size "
          f"{meta['vocab_size']}; longest record {longest} tokens (block_size >= {longest - 1})")
    return meta


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--n', type=int, default=8, help='tuples per instance (at least 3)')
    parser.add_argument('--d', type=int, default=2, help='digits per tuple (10^d tuple symbols)')
    parser.add_argument('--tokens', default='tuple', choices=('tuple', 'digit'),
                        help="'tuple': one token per tuple (10^d symbols); 'digit': d digit tokens per tuple")
    parser.add_argument('--mix', default='filler', choices=sorted(MIXES), help='formats of train/val (see above)')
    parser.add_argument('--loss', default='input', choices=('input', 'answer'),
                        help="'input': loss on everything after the input (the paper); 'answer': on the answer only")
    parser.add_argument('--n_pause', type=int, default=0, help='<pause> tokens after the input (pause fine-tuning)')
    parser.add_argument('--n_dots', type=int, default=None,
                        help='dots of the filler format (default n^2, the paper\'s; n(n-1) is the chain\'s length)')
    parser.add_argument('--val_like_test', action='store_true',
                        help="val.jsonl in the test's format only (its val loss follows what the test scores)")
    parser.add_argument('--stream', action='store_true', help='train.bin/val.bin token streams instead of records')
    parser.add_argument('--train_size', type=int, default=100_000)
    parser.add_argument('--val_size', type=int, default=1_000)
    parser.add_argument('--test_size', type=int, default=2_000)
    parser.add_argument('--seed', type=int, default=1337)
    parser.add_argument('--out_dir', default=HERE, help="where the files go (default: this script's directory)")
    args = parser.parse_args(argv)
    if args.n < 3 or args.d < 1:
        raise SystemExit(f"error: --n must be at least 3 and --d at least 1 (got n={args.n}, d={args.d})")
    if args.n_dots is not None and args.n_dots < 1:
        raise SystemExit(f"error: --n_dots must be at least 1 (got {args.n_dots})")
    if args.n_pause < 0 or min(args.train_size, args.val_size) < 1 or args.test_size < 0:
        raise SystemExit("error: --n_pause must be >= 0, --train_size and --val_size >= 1, --test_size >= 0")
    with cli_errors():
        prepare(args)


if __name__ == '__main__':
    main()
