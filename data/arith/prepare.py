"""
Short arithmetic problems, a running total changed by --steps operations (add / subtract /
multiply on small numbers), as task records in GSM8K's layout (data/gsm8k/prepare.py renders
them, so a model trained here reads and writes what a GSM8K one does):

    prompt   Question: Ann has 12 pens, gets 7 more, then has 3 times as many. How many pens now?\\nAnswer:
    think    <think>\\n12+7=19\\n19*3=57\\n</think>\\n#### 57\\n<|endoftext|>
    answer   #### 57\\n<|endoftext|>                      (no steps, no tags: the R1-Zero start)

--style=answer --think_examples=N writes N of the train records (the first N, a random
sample) in the think style: a start that has seen the tags in only N examples, as
DeepSeek-R1's "cold start" data (val stays in the answer style).

--extra_chars=TEXT puts TEXT's characters in the vocabulary too, though no record holds them:
a model that can be handed strings it never read (testtime.py's "Wait" and Marco-o1's
reflection, in docs/testtime.md).

--question=short writes the same problem as "Question: 12 +7 *3\\nAnswer: " (operations in
order on the running total, not by precedence): a third of the tokens, for CPU-scale RL.

<think>, </think> and <|endoftext|> are special tokens (think.py's registry) on a character
vocabulary. The vocabulary does not depend on --style, so a checkpoint of one style can be
fine-tuned or RL-trained on the other's prompts. Val problems never appear in train.

    python data/arith/prepare.py                                    # data/arith, style think
    python data/arith/prepare.py --style=answer --out_dir=data/arith_answer
    python data/arith/prepare.py --question=short --steps=2 --max_operand=99 --max_multiplier=9 --train_size=100000 --out_dir=data/arith2  # the GRPO gate's task
"""

import argparse
import importlib.util
import os
import pickle
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, ROOT)
import vocab  # noqa: E402
from vocab import check_writable, cli_errors  # noqa: E402

# GSM8K's renderer, loaded by path (data/ is not a package)
_spec = importlib.util.spec_from_file_location('gsm8k_prepare', os.path.join(ROOT, 'data', 'gsm8k', 'prepare.py'))
gsm8k = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gsm8k)

STYLES = ('think', 'answer')
QUESTIONS = ('words', 'short')
NAMES = ['Ann', 'Ben', 'Cal', 'Dee', 'Eve', 'Fay', 'Gus', 'Hal', 'Ivy', 'Jo', 'Kim', 'Lou']
ITEMS = ['pens', 'apples', 'cards', 'coins', 'books', 'eggs', 'shells', 'stamps']
SPECIAL = [vocab.THINK_OPEN, vocab.THINK_CLOSE, vocab.END_OF_TEXT]


def step(rng, x, max_operand=9, max_multiplier=3):
    """One operation on the running total x: (phrase, short form, equation, new total). By
    default one operand is a single digit (multipliers 2 or 3), so a small model can learn
    the facts in minutes; larger max_operand / max_multiplier make the task harder (a total up
    to max(20, max_operand) can be multiplied)."""
    ops = ['add'] + (['sub'] if x >= 2 else []) + (['mul'] if x <= max(20, max_operand) else [])
    op = rng.choice(ops)
    if op == 'add':
        b = rng.randint(1, max_operand)
        return f"gets {b} more", f"+{b}", f"{x}+{b}={x + b}", x + b
    if op == 'sub':
        b = rng.randint(1, min(x - 1, max_operand))
        return f"loses {b}", f"-{b}", f"{x}-{b}={x - b}", x - b
    b = rng.randint(2, max_multiplier)
    return f"has {b} times as many", f"*{b}", f"{x}*{b}={x * b}", x * b


def make_problem(rng, steps=2, question='words', max_operand=9, max_multiplier=3):
    """A parsed record, as data/gsm8k/prepare.py's parse_record returns one."""
    name, items, x = rng.choice(NAMES), rng.choice(ITEMS), rng.randint(2, 20)
    phrases, short, equations = [], [str(x)], []
    for _ in range(steps):
        phrase, op, equation, x = step(rng, x, max_operand, max_multiplier)
        phrases.append(phrase)
        short.append(op)
        equations.append(equation)
    if question == 'short':
        text = ' '.join(short)
    else:
        said = ', '.join(phrases[:-1]) + ', then ' + phrases[-1] if steps > 1 else phrases[0]
        text = f"{name} has {short[0]} {items}, {said}. How many {items} now?"
    return {'question': text, 'steps': equations, 'equations': equations, 'answer': str(x)}


def make_splits(train_size, val_size, seed, steps=2, question='words', max_operand=9, max_multiplier=3):
    """Distinct problems: val first, then train without any val question."""
    rng = random.Random(seed)
    seen, splits = set(), {}
    for split, size in (('val', val_size), ('train', train_size)):
        rows = []
        while len(rows) < size:
            p = make_problem(rng, steps, question, max_operand, max_multiplier)
            if p['question'] not in seen:
                seen.add(p['question'])
                rows.append(p)
        splits[split] = rows
    return splits


def with_text(record, style):
    prompt, completion = gsm8k.render(record, style)
    return {**record, 'prompt': prompt, 'completion': completion + vocab.END_OF_TEXT}


def make_meta(splits, style, extra_chars=''):
    """The characters of every problem in the think style (a superset of answer's) and
    extra_chars, then the special tokens: the same vocabulary for both styles."""
    names = re.compile('|'.join(map(re.escape, SPECIAL)))
    texts = (with_text(p, 'think') for rows in splits.values() for p in rows)
    chars = sorted(set(''.join(names.sub('', r['prompt'] + r['completion']) for r in texts)) | set(extra_chars))
    meta = {'vocab_size': len(chars), 'tokenizer': 'char', 'stoi': {c: i for i, c in enumerate(chars)},
            'itos': dict(enumerate(chars)), 'special_tokens': {}}
    return {**vocab.add_special_tokens(meta, SPECIAL), 'task': 'arith', 'style': style}


def prepare(out_dir, style='think', train_size=20_000, val_size=500, seed=1337, steps=2, question='words',
            max_operand=9, max_multiplier=3, think_examples=0, extra_chars=''):
    splits = make_splits(train_size, val_size, seed, steps, question, max_operand, max_multiplier)
    check_writable(out_dir)
    for name, rows in splits.items():
        n_think = think_examples if name == 'train' else 0
        records = [with_text(p, 'think' if i < n_think else style) for i, p in enumerate(rows)]
        vocab.write_split(out_dir, name, records, encode=None, stream=False)
    meta = make_meta(splits, style, extra_chars)
    vocab.write_atomic(os.path.join(out_dir, 'meta.pkl'), pickle.dumps(meta))
    return meta


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--style', default='think', choices=STYLES, help='how completions are written')
    parser.add_argument('--question', default='words', choices=QUESTIONS, help='how prompts are written')
    parser.add_argument('--steps', type=int, default=2, help='operations per problem')
    parser.add_argument('--max_operand', type=int, default=9, help='largest number added or subtracted')
    parser.add_argument('--max_multiplier', type=int, default=3, help='largest multiplier (>= 2)')
    parser.add_argument('--think_examples', type=int, default=0,
                        help='with --style=answer: this many train records in the think style (a cold start)')
    parser.add_argument('--extra_chars', default='', help='characters to put in the vocabulary beyond the records\'')
    parser.add_argument('--train_size', type=int, default=20_000)
    parser.add_argument('--val_size', type=int, default=500)
    parser.add_argument('--seed', type=int, default=1337)
    parser.add_argument('--out_dir', default=HERE, help="where the files go (default: this script's directory)")
    args = parser.parse_args(argv)
    if min(args.train_size, args.val_size, args.steps, args.max_operand) < 1 or args.max_multiplier < 2:
        raise SystemExit("error: --train_size, --val_size, --steps and --max_operand must be >= 1, "
                         "--max_multiplier >= 2")
    if not 0 <= args.think_examples <= args.train_size or (args.think_examples and args.style != 'answer'):
        raise SystemExit(f"error: --think_examples must be between 0 and --train_size ({args.train_size}), "
                         f"and goes with --style=answer")
    with cli_errors():
        meta = prepare(args.out_dir, args.style, args.train_size, args.val_size, args.seed, args.steps, args.question,
                       args.max_operand, args.max_multiplier, args.think_examples, args.extra_chars)
    think = f" ({args.think_examples:,} train records in the think style)" if args.think_examples else ''
    print(f"{args.out_dir}: train {args.train_size:,}, val {args.val_size:,} records; style {args.style}{think}, "
          f"vocab size {meta['vocab_size']} ({len(meta['special_tokens'])} special tokens)")


if __name__ == '__main__':
    main()
