"""
Prepare GSM8K (grade-school math word problems) as prompt/completion records.

A GSM8K answer is a worked solution whose last line is `#### N`; its lines carry
calculator notes like `<<48/2=24>>`. Each record is parsed into the question, the
solution steps (notes removed), the notes' equations and the final answer, then
rendered as a prompt and a completion in one of three styles (see render()):

    answer   the final answer only          (no chain of thought)
    cot      the steps, then the answer     (chain of thought in plain text)
    think    <think> steps </think>, then the answer

Writes train.jsonl, val.jsonl (--val_size records held out of train by a seeded
shuffle), test.jsonl when a test split exists, and meta.pkl (tokenizer and style).

    python data/gsm8k/prepare.py                      # openai/gsm8k through HF datasets
    python data/gsm8k/prepare.py --train=../shared/data/gsm8k/train.jsonl --style=think
"""

import argparse
import json
import os
import pickle
import random
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
import vocab  # noqa: E402
from vocab import UserError, check_writable, cli_errors, first_number, jsonl_lines, write_atomic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STYLES = ('answer', 'cot', 'think')
NOTE = re.compile(r'<<(.*?)>>')  # calculator note; non-greedy: several on one line

# -----------------------------------------------------------------------------
# parsing and rendering (pure functions, imported by tests and by reward code)


def parse_answer(text):
    """The final answer: the first number after the last '####', normalized
    (vocab.first_number), or None if there is no '####' or no number after it."""
    if '####' not in text:
        return None
    return first_number(text.rsplit('####', 1)[1])


def parse_record(rec):
    """A GSM8K record {"question", "answer"} ->
    {'question', 'steps': solution lines before '####' with calculator notes removed,
     'equations': the notes' contents ('48/2=24') in order, 'answer': normalized str}.
    Raises ValueError if the record is malformed."""
    if not isinstance(rec, dict):
        raise ValueError(f"expected an object with \"question\" and \"answer\", got {type(rec).__name__}")
    question, solution = rec.get('question'), rec.get('answer')
    if not isinstance(question, str) or not question.strip():
        raise ValueError('missing or empty "question"')
    if not isinstance(solution, str):
        raise ValueError('missing "answer"')
    if '####' not in solution:
        raise ValueError('"answer" has no "#### N" line')
    answer = parse_answer(solution)
    if answer is None:
        raise ValueError(f'no number after "####" in {solution.rsplit("####", 1)[1].strip()!r}')
    body = solution.rsplit('####', 1)[0]
    # split on '\n' only: GSM8K text holds a few U+2028 that str.splitlines() would cut at
    steps = [NOTE.sub('', line).strip() for line in body.split('\n')]
    return {
        'question': question.strip(),
        'steps': [s for s in steps if s],
        'equations': NOTE.findall(body),
        'answer': answer,
    }


def render(record, style):
    """(prompt, completion) of a parsed record, exactly:

        prompt     = "Question: {question}\\nAnswer: "
        'answer':  completion = "#### {answer}\\n"
        'cot':     completion = "{step 1}\\n{step 2}\\n...#### {answer}\\n"
        'think':   completion = "<think>\\n{step 1}\\n{step 2}\\n...</think>\\n#### {answer}\\n"

    Every step ends with a newline; the completion ends with one so a model learns to stop."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}, expected one of {STYLES}")
    prompt = f"Question: {record['question']}\nAnswer: "
    steps = ''.join(step + '\n' for step in record['steps'])
    final = f"#### {record['answer']}\n"
    if style == 'answer':
        return prompt, final
    if style == 'cot':
        return prompt, steps + final
    return prompt, '<think>\n' + steps + '</think>\n' + final

# -----------------------------------------------------------------------------
# reading sources and writing splits


def parse_all(named_records):
    """Parse (where, record) pairs; a malformed record stops the run, naming where it is."""
    parsed = []
    for where, rec in named_records:
        try:
            parsed.append(parse_record(rec))
        except ValueError as e:
            raise UserError(f"{where}: {e}")
    return parsed


def load_local(path):
    if not os.path.isfile(path):
        raise UserError(f"{path} does not exist (GSM8K JSONL: one {{\"question\", \"answer\"}} per line)")
    return parse_all((f"{path} line {lineno}", rec) for lineno, rec in jsonl_lines(path))


def load_hf():
    """{'train': [...], 'test': [...]} parsed from openai/gsm8k (main) through HF datasets."""
    from datasets import load_dataset  # imported here: it is slow to import and needs the network
    try:
        ds = load_dataset('openai/gsm8k', 'main')
    except Exception as e:  # mostly: no network; the cause is in e's first line
        raise UserError(f"could not load openai/gsm8k ({type(e).__name__}: {str(e).splitlines()[0]}); "
                         f"without network, pass local files, e.g. --train=../shared/data/gsm8k/train.jsonl")
    return {split: parse_all((f"openai/gsm8k {split} record {i}", rec) for i, rec in enumerate(ds[split]))
            for split in ('train', 'test')}


def hold_out(records, val_size, seed):
    """(train, val): val_size records picked by a seeded shuffle; both keep the source order."""
    if not 0 <= val_size < len(records):
        raise UserError(f"--val_size={val_size} must be at least 0 and less than the "
                         f"{len(records)} training records")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    val_ids = set(order[:val_size])
    train = [r for i, r in enumerate(records) if i not in val_ids]
    val = [r for i, r in enumerate(records) if i in val_ids]
    return train, val


def with_text(record, style):
    """The record with its prompt and completion; the completion ends with <|endoftext|>, so
    a model trained on it learns to stop and a sampler (grpo.py) knows where it did."""
    prompt, completion = render(record, style)
    return {**record, 'prompt': prompt, 'completion': completion + vocab.END_OF_TEXT}


def write_jsonl(path, rows):
    write_atomic(path, ''.join(json.dumps(row, ensure_ascii=False) + '\n' for row in rows).encode('utf-8'))


SPECIAL = [vocab.THINK_OPEN, vocab.THINK_CLOSE, vocab.END_OF_TEXT]


def make_meta(splits, tokenizer, style):
    """GPT-2's BPE has <|endoftext|> as a base token; a character vocabulary gets <think>,
    </think> and <|endoftext|> as special tokens after every character the text uses."""
    if tokenizer == 'r50k_base':
        return {'vocab_size': 50257, 'tokenizer': 'r50k_base', 'special_tokens': {}, 'style': style}
    names = re.compile('|'.join(map(re.escape, SPECIAL)))
    chars = sorted(set(''.join(names.sub('', r['prompt'] + r['completion']) for rows in splits.values() for r in rows)))
    meta = {'vocab_size': len(chars), 'tokenizer': 'char',
            'stoi': {c: i for i, c in enumerate(chars)}, 'itos': {i: c for i, c in enumerate(chars)},
            'special_tokens': {}, 'style': style}
    return vocab.add_special_tokens(meta, SPECIAL)


def main(argv=None):
    with cli_errors():
        prepare(argv)


def prepare(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--train', default=None, help='local GSM8K train JSONL (default: openai/gsm8k through HF datasets)')
    parser.add_argument('--test', default=None, help='local GSM8K test JSONL (optional, with --train)')
    parser.add_argument('--style', default='cot', choices=STYLES, help='how completions are written')
    parser.add_argument('--val_size', type=int, default=500, help='records held out of train for val')
    parser.add_argument('--seed', type=int, default=1337, help='seed of the val hold-out shuffle')
    parser.add_argument('--tokenizer', default='char', choices=('char', 'r50k_base'), help='recorded in meta.pkl')
    parser.add_argument('--out_dir', default=HERE, help='where the .jsonl files and meta.pkl go (default: this script\'s directory)')
    args = parser.parse_args(argv)
    if args.test and not args.train:
        parser.error('--test needs --train (without local files both splits come from openai/gsm8k)')

    if args.train:
        sources = {'train': load_local(args.train)}
        if args.test:
            sources['test'] = load_local(args.test)
    else:
        sources = load_hf()
    train, val = hold_out(sources['train'], args.val_size, args.seed)
    parts = {'train': train, 'val': val}
    if 'test' in sources:
        parts['test'] = sources['test']
    splits = {name: [with_text(r, args.style) for r in records] for name, records in parts.items()}

    check_writable(args.out_dir)
    for name, rows in splits.items():
        write_jsonl(os.path.join(args.out_dir, f'{name}.jsonl'), rows)
    stale = os.path.join(args.out_dir, 'test.jsonl')
    if 'test' not in splits and os.path.exists(stale):
        os.remove(stale)  # left by an earlier run: it would not match this style
        print(f"removed {stale} of an earlier run (no test source this time)")
    meta = make_meta(splits, args.tokenizer, args.style)
    write_atomic(os.path.join(args.out_dir, 'meta.pkl'), pickle.dumps(meta))
    counts = ', '.join(f"{name} {len(rows):,}" for name, rows in splits.items())
    print(f"records: {counts}; style {args.style}, tokenizer {args.tokenizer}, vocab size {meta['vocab_size']:,}")


if __name__ == '__main__':
    main()
