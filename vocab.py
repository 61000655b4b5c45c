"""
The shared vocabulary: what every script, data script and idea agrees on about tokens and
files, with no torch import (the data scripts need only this, and start in a moment).

- bad input: UserError, printed by cli_errors() as one line with no traceback;
- special tokens: their names, kinds and ids (meta.pkl records name -> id, appended after
  the base vocabulary), and Tokenizer, which reads a special token's name inside text as its id;
- rendering: render(ids, vocab) shows special tokens by name, colored by kind (ANSI, HTML);
- files: meta.pkl, JSON lines, and atomic writes (write, then rename).

    add_special_tokens(meta, names)   -> new meta, new names appended after the vocabulary
    special_id(meta, '<pause>')       -> the id
    think_token_names(n_think)        -> ['<think0>', '<think1>', ...]
    render(ids, tokenizer)            -> text with special tokens visible, colored by kind

    python vocab.py add_tokens DATA_DIR '<pause>' [--n_think=N]    # append to a meta.pkl
    python vocab.py pause_records SRC_DIR OUT_DIR --n_pause=10       # a pause fine-tuning copy
"""

import html
import json
import os
import pickle
import re
import sys
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation

import numpy as np

ROOT = os.path.dirname(os.path.abspath(__file__))


# -----------------------------------------------------------------------------
# bad input

class UserError(Exception):
    """Bad input or a fault the user can fix: printed as one line, no traceback."""


@contextmanager
def cli_errors():
    """How every script ends on bad input: a UserError is one line on stderr and exit code 1,
    never a traceback; Ctrl-C says the last checkpoint is kept (checkpoints are atomic)."""
    try:
        yield
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted; the last checkpoint is kept", file=sys.stderr)
        sys.exit(130)


def bpe_encoding(name='r50k_base'):
    """tiktoken's encoding (GPT-2's BPE is r50k_base); offline it needs a local cache."""
    import tiktoken
    try:
        return tiktoken.get_encoding(name)
    except Exception as e:  # offline without a cache it fails deep inside requests
        raise UserError(f"tiktoken could not load {name} ({type(e).__name__}); offline, "
                        f"export TIKTOKEN_CACHE_DIR=../shared/tiktoken (GPT-2's BPE ranks)")


class Tokenizer:
    """Text <-> ids as meta.pkl describes: characters or tiktoken's r50k_base (GPT-2), plus
    special tokens appended after the base vocabulary (name -> id). encode() reads a special
    token's name inside text as its id: a prompt ending in '<pause><pause>' ends in two pauses."""

    def __init__(self, meta):
        self.kind = meta['tokenizer']
        self.vocab_size = meta['vocab_size']
        self.special = dict(meta.get('special_tokens', {}))
        self.special_names = {i: name for name, i in self.special.items()}
        # longest name first, so a name is never matched as a piece of a longer one
        names = sorted(self.special, key=len, reverse=True)
        self.special_re = re.compile('(' + '|'.join(map(re.escape, names)) + ')') if names else None
        if self.kind == 'char':
            self.stoi, self.itos = meta['stoi'], meta['itos']
        else:
            self.enc = bpe_encoding(self.kind)

    def encode(self, text):
        # split() with a capturing group: text, name, text, name, ..., text
        parts = self.special_re.split(text) if self.special_re else [text]
        texts = parts[0::2]
        if self.kind == 'char':
            missing = sorted(set(''.join(texts)) - self.stoi.keys())
            if missing:
                raise UserError(f"characters not in the vocabulary: {''.join(missing)!r}")
        ids = []
        for k, part in enumerate(parts):
            if k % 2:
                ids.append(self.special[part])
            elif self.kind == 'char':
                ids.extend(self.stoi[ch] for ch in part)
            elif part:
                ids.extend(self.enc.encode(part, allowed_special={'<|endoftext|>'}))
        return ids

    def decode_text(self, ids):
        """Base-vocabulary ids to text (think.render shows special tokens too)."""
        if self.kind == 'char':
            return ''.join(self.itos[i] for i in ids)
        return self.enc.decode(ids)


def load_meta(data_dir, dataset):
    path = os.path.join(data_dir, 'meta.pkl')
    if not os.path.exists(path):
        raise UserError(f"no dataset at {data_dir} (meta.pkl missing): run python data/{dataset}/prepare.py")
    try:
        with open(path, 'rb') as f:
            meta = pickle.load(f)
    except Exception as e:
        raise UserError(f"{path} is unreadable ({type(e).__name__}); rerun python data/{dataset}/prepare.py")
    ok = isinstance(meta, dict) and isinstance(meta.get('vocab_size'), int) and meta.get('tokenizer') in ('char', 'r50k_base')
    if ok and meta['tokenizer'] == 'char':
        ok = isinstance(meta.get('stoi'), dict) and isinstance(meta.get('itos'), dict)
    if not ok:
        raise UserError(f"{path} is malformed (needs vocab_size, tokenizer 'char' with stoi/itos, or "
                        f"'r50k_base'); rerun python data/{dataset}/prepare.py")
    return meta


def jsonl_lines(path):
    """(line number, object) of every non-blank line of a .jsonl file, read as it goes (a large
    corpus never sits in memory); a file that is missing, unreadable or not JSON lines is a
    UserError naming it and the line."""
    try:
        with open(path, 'rb') as f:  # bytes: json.loads decodes each line and names bad UTF-8
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield n, json.loads(line)
                except UnicodeDecodeError as e:
                    raise UserError(f"{path} line {n} is not UTF-8 text ({e.reason} at byte {e.start}); "
                                    f"expected JSON lines")
                except json.JSONDecodeError as e:
                    raise UserError(f"{path} line {n} is not valid JSON: {e.msg}")
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}")


def read_jsonl(path):
    """The objects of a .jsonl file, one a line (blank lines skipped): jsonl_lines, all at once."""
    return [record for _, record in jsonl_lines(path)]


def log_rows(path, marker, keys=(), what='a log.jsonl', required=True):
    """The rows of a log (read_jsonl) that hold the key `marker`, each checked for `keys`: a
    plot of another script's log, or of no log at all, is a UserError that says so."""
    rows = [r for r in read_jsonl(path) if isinstance(r, dict) and marker in r]
    if required and not rows:
        raise UserError(f"{path} has no rows with {marker!r}: is it {what}?")
    for r in rows:
        missing = [k for k in keys if k not in r]
        if missing:
            raise UserError(f"{path}: a row with {marker!r} lacks {', '.join(missing)}: is it {what}?")
    return rows


def check_writable(out_dir):
    try:
        os.makedirs(out_dir, exist_ok=True)
        probe = os.path.join(out_dir, '.write_test')
        with open(probe, 'w') as f:
            f.write('ok')
        os.remove(probe)
    except OSError as e:
        raise UserError(f"out_dir {out_dir} is not writable: {e.strerror}")


# -----------------------------------------------------------------------------
# special tokens, rendering, atomic writes

PAUSE = '<pause>'  # pause / filler token (Goyal et al.)
START_THOUGHT, END_THOUGHT = '<startofthought>', '<endofthought>'  # Quiet-STaR
BOT, LATENT, EOT = '<bot>', '<latent>', '<eot>'  # Coconut
THINK_OPEN, THINK_CLOSE = '<think>', '</think>'  # the answer format GRPO rewards
END_OF_TEXT = '<|endoftext|>'  # ends a record; GPT-2's BPE has it as a base token, a char vocabulary adds it
KINDS = {PAUSE: 'pause', START_THOUGHT: 'thought', END_THOUGHT: 'thought',
         BOT: 'latent', LATENT: 'latent', EOT: 'latent', THINK_OPEN: 'tags', THINK_CLOSE: 'tags'}
NUMBERED_THINK = re.compile(r'<think(\d+)>')  # <think0> .. <think2047>, chosen by the model
# text between an opening and its closing token is shown in the color of the pair
REGIONS = {START_THOUGHT: END_THOUGHT, THINK_OPEN: THINK_CLOSE, BOT: EOT}


def think_token_names(n_think):
    """Names of the n_think numbered think tokens, in id order."""
    return [f'<think{i}>' for i in range(n_think)]


def token_kind(name):
    if NUMBERED_THINK.fullmatch(name):
        return 'think'
    return KINDS.get(name, 'special')


def add_special_tokens(meta, names):
    """A new meta with `names` appended after the vocabulary, in order. Names it already has
    keep their ids, so adding twice changes nothing; the input meta is not modified. A name
    looks like '<...>' (no '<' or '>' inside), so that no name is part of another or of text
    the base vocabulary writes by accident."""
    special = dict(meta.get('special_tokens', {}))
    vocab_size = meta['vocab_size']
    for name in names:
        if not (isinstance(name, str) and re.fullmatch(r'<[^<>]+>', name)):
            raise ValueError(f"special token names look like '<name>', got {name!r}")
        if name not in special:
            special[name] = vocab_size
            vocab_size += 1
    return {**meta, 'special_tokens': special, 'vocab_size': vocab_size}


def special_id(meta, name):
    special = meta.get('special_tokens', {})
    if name not in special:
        known = ', '.join(special) or 'none'
        raise UserError(f"special token {name} is not in this vocabulary (it has: {known}); "
                        f"add it with think.add_special_tokens")
    return special[name]


def end_of_text_id(tok, required=False):
    """The id of <|endoftext|> in train.Tokenizer tok (GPT-2's BPE has it as a base token; a
    character vocabulary only as a special token), or None if the vocabulary has none
    (required: a UserError instead, for scripts whose completions must end)."""
    if tok.kind == 'char' and END_OF_TEXT not in tok.special:
        if required:
            raise UserError(f"the vocabulary has no {END_OF_TEXT}, so completions cannot end: task records "
                            f"must end with it (data/arith/prepare.py writes them so)")
        return None
    return tok.encode(END_OF_TEXT)[0]


def completion_texts(tok, rows, lengths, end_id):
    """Completions (lists of ids, each of its length: model.sample_batch's mask summed) as
    text with special tokens by name, each without its end_id."""
    texts = []
    for row, n in zip(rows, lengths):
        row = row[:int(n)]
        texts.append(render(row[:-1] if row and row[-1] == end_id else row, tok, mode='plain'))
    return texts


def think_ids(meta):
    """Ids of the numbered think tokens, in number order."""
    found = [(int(m.group(1)), i) for name, i in meta.get('special_tokens', {}).items()
             if (m := NUMBERED_THINK.fullmatch(name))]
    return [i for _, i in sorted(found)]


def default_data_dir(dataset):
    """Where a dataset lives unless a config says data_dir: data/<dataset> beside this file."""
    return os.path.join(ROOT, 'data', dataset)


def dataset_meta(dataset, data_dir=''):
    """The meta.pkl of a dataset, found as train.py finds it."""
    return load_meta(data_dir or default_data_dir(dataset), dataset)


def base_vocab_size(meta):
    return meta['vocab_size'] - len(meta.get('special_tokens', {}))


def check_extends(old, new):
    """new's vocabulary must be old's with (maybe) more special tokens appended: then a model
    of old's vocabulary grows into new's with resize_vocab and keeps the meaning of its rows."""
    same_base = old['tokenizer'] == new['tokenizer'] and base_vocab_size(old) == base_vocab_size(new)
    if same_base and old['tokenizer'] == 'char':
        same_base = old['stoi'] == new['stoi']
    if not same_base:
        raise UserError(f"the vocabularies differ ({old['tokenizer']}, {base_vocab_size(old)} base tokens vs "
                        f"{new['tokenizer']}, {base_vocab_size(new)}): prepare both datasets with the same tokenizer")
    for name, i in old.get('special_tokens', {}).items():
        if new.get('special_tokens', {}).get(name) != i:
            raise UserError(f"special token {name} is id {i} in the checkpoint but "
                            f"{new.get('special_tokens', {}).get(name)} in the dataset")
    if new['vocab_size'] < old['vocab_size']:
        raise UserError(f"the dataset's vocabulary ({new['vocab_size']}) is smaller than the checkpoint's "
                        f"({old['vocab_size']})")


ANSI = {'think': '\033[36m', 'pause': '\033[2m', 'thought': '\033[35m', 'latent': '\033[32m',
        'tags': '\033[33m', 'special': '\033[34m', 'unknown': '\033[1;31m'}


ANSI_RESET = '\033[0m'


CSS = {'think': 'color:#0a9ba8', 'pause': 'color:#888;opacity:0.6', 'thought': 'color:#a626a4',
       'latent': 'color:#2e8b3a', 'tags': 'color:#b58900', 'special': 'color:#2855d6',
       'unknown': 'color:#d11;font-weight:bold'}


def use_color(stream=None):
    """ANSI colors on a terminal, unless NO_COLOR is set (https://no-color.org); FORCE_COLOR
    colors a pipe too (less -R, tests)."""
    stream = stream or sys.stdout
    if os.environ.get('NO_COLOR'):
        return False
    return bool(os.environ.get('FORCE_COLOR')) or (hasattr(stream, 'isatty') and stream.isatty())


def is_base(tok, i):
    if tok.kind == 'char':
        return i in tok.itos
    return 0 <= i < tok.enc.n_vocab


def render(ids, vocab, mode='auto', stream=None):
    """Ids as text: text tokens as text, special tokens by name, ids that are neither as
    <unk:ID>. mode: 'auto' (ANSI when `stream`, default stdout, is a terminal and NO_COLOR is
    unset, else plain), 'ansi', 'plain' or 'html' (escaped text with colored <span>s).
    Colors by kind: numbered think tokens cyan, pauses dim, Quiet-STaR thoughts magenta,
    Coconut latents green, <think>..</think> yellow; the text inside a thought is colored
    like its markers. vocab: a train.Tokenizer or a meta dict."""
    tok = vocab if isinstance(vocab, Tokenizer) else Tokenizer(vocab)
    if mode == 'auto':
        mode = 'ansi' if use_color(stream) else 'plain'
    if mode not in ('ansi', 'plain', 'html'):
        raise ValueError(f"render mode must be auto, ansi, plain or html, got {mode!r}")
    pieces, run, region = [], [], []  # region: the stack of open markers

    def flush():
        if run:
            pieces.append((token_kind(region[-1]) if region else None, tok.decode_text(run)))
            run.clear()

    for i in map(int, ids):
        name = tok.special_names.get(i)
        if name is None and is_base(tok, i):
            run.append(i)
            continue
        flush()
        if name is None:
            pieces.append(('unknown', f'<unk:{i}>'))
            continue
        pieces.append((token_kind(name), name))
        if name in REGIONS:
            region.append(name)
        elif region and name == REGIONS[region[-1]]:
            region.pop()
    flush()
    return ''.join(paint(kind, text, mode) for kind, text in pieces)


def paint(kind, text, mode):
    if mode == 'html':
        text = html.escape(text)
        return f'<span class="think-{kind}" style="{CSS[kind]}">{text}</span>' if kind else text
    if mode == 'ansi' and kind:
        return f'{ANSI[kind]}{text}{ANSI_RESET}'
    return text


# pause fine-tuning is data only: M pauses after every prompt

def pause_text(n_pause):
    """The M pauses that go after a prompt, as text (Tokenizer.encode reads the names)."""
    return PAUSE * n_pause


def with_pauses(meta, n_pause):
    """meta with <pause> in the vocabulary and n_pause recorded (sample.py appends that many)."""
    return {**add_special_tokens(meta, [PAUSE]), 'n_pause': n_pause}


def pause_ids(meta, n_pause=None):
    """The ids to append after a prompt: n_pause pauses, by default the meta's own n_pause."""
    n = meta.get('n_pause', 0) if n_pause is None else n_pause
    return [special_id(meta, PAUSE)] * n if n else []


def pause_records(src_dir, out_dir, n_pause):
    """Copy the task records of src_dir to out_dir with n_pause pauses after every prompt."""
    if n_pause < 0:
        raise UserError(f"n_pause must be >= 0, got {n_pause}")
    meta = with_pauses(load_meta(src_dir, os.path.basename(src_dir)), n_pause)
    splits = [s for s in ('train', 'val', 'test') if os.path.exists(os.path.join(src_dir, f'{s}.jsonl'))]
    if 'train' not in splits:
        raise UserError(f"{src_dir} has no train.jsonl (pause fine-tuning needs task records)")
    rows = {}
    for split in splits:  # every split read and checked before anything is written
        path = os.path.join(src_dir, f'{split}.jsonl')
        records = read_jsonl(path)
        bad = next((n for n, r in enumerate(records, 1) if not (isinstance(r, dict) and isinstance(r.get('prompt'), str))), None)
        if bad:
            raise UserError(f"{path} record {bad} needs a string field prompt")
        rows[split] = [{**r, 'prompt': r['prompt'] + pause_text(n_pause)} for r in records]
    check_writable(out_dir)
    for split in splits:
        write_atomic(os.path.join(out_dir, f'{split}.jsonl'), ''.join(json.dumps(r) + '\n' for r in rows[split]).encode())
    write_atomic(os.path.join(out_dir, 'meta.pkl'), pickle.dumps(meta))
    return meta


def write_atomic(path, data):
    """Write data (bytes, or a function that writes to the open binary file) to a temporary
    file beside path, then rename it: an interrupted run never leaves a half-written file
    under the real name."""
    tmp = path + '.tmp'
    try:
        with open(tmp, 'wb') as f:
            data(f) if callable(data) else f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_split(out_dir, split, rows, encode, stream):
    """Task records as split.jsonl or, with stream (pre-training data), their texts one after
    another as split.bin token ids (encode: text -> ids). An earlier run's file of the other
    kind goes: train.py would read a .bin first."""
    if stream:
        ids = [i for r in rows for i in encode(r['prompt'] + r['completion'])]
        write_atomic(os.path.join(out_dir, f'{split}.bin'), np.array(ids, dtype=np.uint16).tobytes())
    else:
        write_atomic(os.path.join(out_dir, f'{split}.jsonl'), ''.join(json.dumps(r) + '\n' for r in rows).encode())
    stale = os.path.join(out_dir, f"{split}.{'jsonl' if stream else 'bin'}")
    if os.path.exists(stale):
        os.remove(stale)


def parse_answer(text, marker='='):
    """The answer in a generated completion: its first line, after the last marker if it
    has one (a chain of thought before '=True'), stripped."""
    line = text.split('\n', 1)[0]
    return line.rsplit(marker, 1)[-1].strip()


NUMBER = re.compile(r'[-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)')


def normalize_number(s):
    """'1,000' -> '1000', '3.50' -> '3.5', '7.0' -> '7', '+5' -> '5', '-0' -> '0';
    None if s is not a number. Equal numbers give equal strings, so answers compare as text."""
    try:
        d = Decimal(s.replace(',', ''))
    except InvalidOperation:
        return None
    if not d.is_finite():
        return None
    if d == 0:
        return '0'  # not '-0' or '0E-3'
    return format(d.normalize(), 'f')  # 'f' writes 1E+3 as 1000


def first_number(text):
    """The first number in text, normalized, or None: extra words around it ('$1,234.50
    dollars') are ignored, and a typeset minus is a minus."""
    m = NUMBER.search(text.replace('\u2212', '-'))
    return normalize_number(m.group(0)) if m else None


ANSWER_TAG = re.compile(r'<answer>(.*?)</answer>', re.DOTALL)


def final_answer(completion):
    """The completion's final answer, normalized ('1,000' -> '1000', '3.50' -> '3.5'), or None:
    the number in the last <answer>...</answer>, else after the last '#### ', else the first
    number after the last </think>."""
    tagged = ANSWER_TAG.findall(completion)
    if tagged:
        return first_number(tagged[-1])
    if '####' in completion:
        return first_number(completion.rsplit('####', 1)[1])
    if THINK_CLOSE in completion:
        return first_number(completion.rsplit(THINK_CLOSE, 1)[1])
    return None


def prompt_splits(data_dir, dataset, tok, n_val, max_new_tokens, block_size):
    """The train records and the first n_val val records (task_records) for a model of block_size
    that continues each prompt by up to max_new_tokens; a prompt with no room for that is a UserError."""
    train, val = task_records(data_dir, 'train', tok, dataset), task_records(data_dir, 'val', tok, dataset)[:n_val]
    longest = max(len(r['ids']) for r in train + val)
    if longest + max_new_tokens > block_size:
        raise UserError(f"the longest prompt ({longest} tokens) + max_new_tokens ({max_new_tokens}) exceed "
                        f"the model's block_size ({block_size}): lower max_new_tokens")
    return train, val


def task_records(data_dir, split, tok, dataset):
    """The records of data_dir/split.jsonl (prompt, answer, ...), each with its prompt's ids."""
    path = os.path.join(data_dir, f'{split}.jsonl')
    if not os.path.exists(path):
        raise UserError(f"no {path}: run python data/{dataset}/prepare.py")
    records = read_jsonl(path)
    for n, r in enumerate(records, 1):
        if not isinstance(r, dict) or not isinstance(r.get('prompt'), str) or 'answer' not in r:
            raise UserError(f"{path} record {n} needs a string prompt and an answer")
        r['ids'] = tok.encode(r['prompt'])
    if not records:
        raise UserError(f"{path} holds no records")
    return records


# -----------------------------------------------------------------------------
# command line: the vocabulary of a prepared dataset

def main(argv):
    import argparse
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='command', required=True)
    a = sub.add_parser('add_tokens', help="append special tokens to DATA_DIR/meta.pkl")
    a.add_argument('data_dir')
    a.add_argument('names', nargs='*', help="e.g. '<pause>'")
    a.add_argument('--n_think', type=int, default=0, help='also <think0>..<think{N-1}>')
    a = sub.add_parser('pause_records', help='copy task records with N pauses after every prompt')
    a.add_argument('src_dir')
    a.add_argument('out_dir')
    a.add_argument('--n_pause', type=int, required=True)
    args = p.parse_args(argv)
    with cli_errors():
        if args.command == 'add_tokens':
            if args.n_think < 0:
                raise UserError(f"--n_think must be >= 0, got {args.n_think}")
            meta = load_meta(args.data_dir, os.path.basename(args.data_dir))
            try:
                meta = add_special_tokens(meta, args.names + think_token_names(args.n_think))
            except ValueError as e:
                raise UserError(str(e))
            write_atomic(os.path.join(args.data_dir, 'meta.pkl'), pickle.dumps(meta))
            print(f"{args.data_dir}/meta.pkl: vocab size {meta['vocab_size']}, {len(meta['special_tokens'])} special tokens")
        else:
            meta = pause_records(args.src_dir, args.out_dir, args.n_pause)
            print(f"{args.out_dir}: {args.n_pause} pauses after every prompt, pause id {special_id(meta, PAUSE)}")


if __name__ == '__main__':
    main(sys.argv[1:])
