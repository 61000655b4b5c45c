"""
Thinking tokens in the vocabulary: the registry of special tokens, how they are shown, and
pause tokens (Goyal et al. 2023, "Think before you speak: training language models with
pause tokens").

The vocabulary is the base tokens (characters, or GPT-2's 50257) plus special tokens
appended after them. This file is the one place that names them; meta.pkl (and so every
checkpoint, which stores its dataset's meta) records name -> id, and every other file asks
here for ids:

    add_special_tokens(meta, names)   -> new meta, new names appended after the vocabulary
    special_id(meta, '<pause>')       -> the id
    think_token_names(n_think)        -> ['<think0>', '<think1>', ...]
    render(ids, tokenizer)            -> text with special tokens visible, colored by kind

A model grows to a larger vocabulary with GPT.resize_vocab(meta['vocab_size']); train.py's
Tokenizer reads a special token's name inside text as its id ('<pause><pause>' is two ids).

Pause tokens, two ways:
- pause fine-tuning is data only: M '<pause>' names after the prompt of task records
  (pause_records below, or data/3sum/prepare.py --n_pause=M). The prompt gets no loss, so
  nothing is trained until the last pause, which predicts the first answer token. meta
  records n_pause, so sample.py appends the same M pauses at inference.
- pause pre-training is the idea PauseGPT (config: model = 'pause'): in training, its
  forward inserts pauses at random places of each sequence and takes no loss where the next
  token is a pause. train.py is unchanged: the batches are the plain text batches, so any
  token stream (with <pause> in its meta: add_tokens below) serves, and every batch gets
  fresh pause places. Its config field pause_id is marked as a special token, so train.py
  fills it from the dataset's meta.pkl.

Tools (python think.py -h):
    python think.py add_tokens DATA_DIR '<pause>' [--n_think=N]      # append to a meta.pkl
    python think.py pause_records SRC_DIR OUT_DIR --n_pause=10         # a pause fine-tuning copy
    python think.py accuracy OUT_DIR SPLIT.jsonl                       # greedy answers, scored
"""

import argparse
import html
import json
import os
import pickle
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field

import torch

from model import GPT, GPTConfig, lm_loss
from train import UserError, Tokenizer, load_checkpoint, load_meta, model_from_checkpoint, read_jsonl

ROOT = os.path.dirname(os.path.abspath(__file__))

# -----------------------------------------------------------------------------
# the registry: names and kinds of special tokens

PAUSE = '<pause>'  # pause / filler token (Goyal et al.)
START_THOUGHT, END_THOUGHT = '<startofthought>', '<endofthought>'  # Quiet-STaR
BOT, LATENT, EOT = '<bot>', '<latent>', '<eot>'  # Coconut
THINK_OPEN, THINK_CLOSE = '<think>', '</think>'  # the answer format GRPO rewards
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


def think_ids(meta):
    """Ids of the numbered think tokens, in number order."""
    found = [(int(m.group(1)), i) for name, i in meta.get('special_tokens', {}).items()
             if (m := NUMBERED_THINK.fullmatch(name))]
    return [i for _, i in sorted(found)]


def dataset_meta(dataset, data_dir=''):
    """The meta.pkl of a dataset, found as train.py finds it."""
    return load_meta(data_dir or os.path.join(ROOT, 'data', dataset), dataset)


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


# -----------------------------------------------------------------------------
# rendering

ANSI = {'think': '\033[36m', 'pause': '\033[2m', 'thought': '\033[35m', 'latent': '\033[32m',
        'tags': '\033[33m', 'special': '\033[34m', 'unknown': '\033[1;31m'}
ANSI_RESET = '\033[0m'
CSS = {'think': 'color:#0a9ba8', 'pause': 'color:#888;opacity:0.6', 'thought': 'color:#a626a4',
       'latent': 'color:#2e8b3a', 'tags': 'color:#b58900', 'special': 'color:#2855d6',
       'unknown': 'color:#d11;font-weight:bold'}


def use_color(stream=None):
    """ANSI colors on a terminal, unless NO_COLOR is set (https://no-color.org)."""
    stream = stream or sys.stdout
    return not os.environ.get('NO_COLOR') and hasattr(stream, 'isatty') and stream.isatty()


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


# -----------------------------------------------------------------------------
# pause fine-tuning: data only

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
    os.makedirs(out_dir, exist_ok=True)
    for split in splits:
        rows = [{**r, 'prompt': r['prompt'] + pause_text(n_pause)} for r in read_jsonl(os.path.join(src_dir, f'{split}.jsonl'))]
        write_atomic(os.path.join(out_dir, f'{split}.jsonl'), ''.join(json.dumps(r) + '\n' for r in rows).encode())
    write_atomic(os.path.join(out_dir, 'meta.pkl'), pickle.dumps(meta))
    return meta


def write_atomic(path, data):
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


# -----------------------------------------------------------------------------
# pause pre-training: the idea 'pause'

@dataclass
class PauseConfig(GPTConfig):
    pause_fraction: float = 0.1  # pauses inserted per position in training (Goyal et al.: 10%)
    pause_id: int = field(default=-1, metadata={'special_token': PAUSE})  # train.py fills it from meta.pkl

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= self.pause_fraction < 1.0:
            raise ValueError(f"pause_fraction must be in [0, 1), got {self.pause_fraction}")
        if self.pause_id < 0:
            raise ValueError("pause_id must be set (train.py sets it from the dataset's meta.pkl)")


class PauseGPT(GPT):
    """The GPT, pre-trained with pauses. In training, k = round(pause_fraction * T) pauses go
    at random places of each row of T tokens (never first: every pause follows a text token);
    the sequence keeps its length T, so its last k text tokens drop out, as when Goyal et al.
    trim to the context. No loss where the next token is a pause: a pause is never a target,
    and the last slot before each text token predicts it, whether that slot is text or pause.
    forward returns the logits of the text tokens that took part, (B, T-k, V), aligned with
    idx[:, :T-k]. In eval mode and in generate there are no inserted pauses (the logits are
    aligned with all of idx, and val loss compares with the plain GPT); pauses already in the
    text are never targets in any mode. pause_fraction = 0 is exactly the GPT."""
    config_class = PauseConfig

    def __init__(self, config):
        super().__init__(config)
        if config.pause_id >= config.vocab_size:
            raise ValueError(f"pause_id {config.pause_id} is not in the vocabulary of {config.vocab_size}")

    def forward(self, idx, targets=None):
        if targets is not None:
            targets = targets.masked_fill(targets == self.config.pause_id, -1)
        B, T = idx.shape
        k = min(round(self.config.pause_fraction * T), T - 1)
        if targets is None or not self.training or k == 0:
            return super().forward(idx, targets)
        is_pause = random_pause_slots(B, T, k, idx.device)
        stream, stream_targets = insert_pauses(idx, targets, is_pause, self.config.pause_id)
        logits = self.head(self.blocks(self.embed(stream)))
        text_logits = logits[~is_pause].view(B, T - k, -1)
        return text_logits, lm_loss(logits, stream_targets)


def random_pause_slots(B, T, k, device=None, generator=None):
    """(B, T) bool: k slots per row, uniformly among slots 1..T-1 (slot 0 stays text)."""
    slots = torch.rand(B, T - 1, device=device, generator=generator).argsort(dim=1)[:, :k] + 1
    return torch.zeros(B, T, dtype=torch.bool, device=device).scatter_(1, slots, True)


def insert_pauses(idx, targets, is_pause, pause_id):
    """Rows of text idx (B, T) with targets (B, T) -> (stream, stream targets), both (B, T):
    the slots where is_pause holds (the same count k in every row, never slot 0) become pauses
    and the first T-k text tokens fill the others in order. A slot's target is the target of
    the last text token at or before it when the next slot is text (or it is the last slot),
    and -1 when the next slot is a pause."""
    B, T = is_pause.shape
    text = ~is_pause
    m = int(text[0].sum())
    stream = torch.full_like(idx, pause_id)
    stream[text] = idx[:, :m].reshape(-1)  # row-major order: each row gets its own first m tokens
    last_text = text.long().cumsum(dim=1) - 1
    stream_targets = targets[:, :m].gather(1, last_text)
    next_is_pause = torch.cat([is_pause[:, 1:], torch.zeros_like(is_pause[:, :1])], dim=1)
    return stream, stream_targets.masked_fill(next_is_pause, -1)


# -----------------------------------------------------------------------------
# answers: greedy generation after each prompt, scored

@torch.no_grad()
def greedy_completions(model, prompts, max_new_tokens, batch_size=64, device='cpu'):
    """The greedy continuation (ids) of every prompt (a list of ids). Prompts of the same
    length go in one batch, so no padding is needed (the task prompts here all have one length)."""
    out = [None] * len(prompts)
    by_length = defaultdict(list)
    for k, p in enumerate(prompts):
        by_length[len(p)].append(k)
    for length, ks in by_length.items():
        for s in range(0, len(ks), batch_size):
            chunk = ks[s:s + batch_size]
            x = torch.tensor([prompts[k] for k in chunk], dtype=torch.long, device=device)
            y = model.generate(x, max_new_tokens, temperature=0)[:, length:].tolist()
            for k, row in zip(chunk, y):
                out[k] = row
    return out


def parse_answer(text, marker='='):
    """The answer in a generated completion: its first line, after the last marker if it
    has one (a chain of thought before '=True'), stripped."""
    line = text.split('\n', 1)[0]
    return line.rsplit(marker, 1)[-1].strip()


def answer_accuracy(out_dir, split_path, marker='=', limit=0, batch_size=64, device='cpu'):
    """Accuracy of out_dir/ckpt.pt on the records of a jsonl split: each prompt is continued
    greedily (at most as many tokens as the longest reference completion, plus 2) and the
    answer parsed from it (parse_answer) must equal the record's 'answer' field. For 3SUM test
    splits the prompt runs up to '=' (filler and pauses given, as Pfau et al. evaluate), so the
    first generated word is the final True/False."""
    ckpt = load_checkpoint(os.path.join(out_dir, 'ckpt.pt'))
    model = model_from_checkpoint(ckpt).eval().to(device)
    tok = Tokenizer(ckpt['meta'])
    if not os.path.exists(split_path):
        raise UserError(f"no split at {split_path}")
    records = read_jsonl(split_path)
    records = records[:limit] if limit else records
    for n, r in enumerate(records, 1):
        if not isinstance(r, dict) or not all(isinstance(r.get(k), str) for k in ('prompt', 'completion', 'answer')):
            raise UserError(f"{split_path} record {n} needs string fields prompt, completion and answer")
    if not records:
        raise UserError(f"{split_path} holds no records")
    prompts = [tok.encode(r['prompt']) for r in records]
    max_new = max(len(tok.encode(r['completion'])) for r in records) + 2
    completions = greedy_completions(model, prompts, max_new, batch_size, device)
    right, count, predictions = defaultdict(int), defaultdict(int), []
    for r, ids in zip(records, completions):
        pred = parse_answer(render(ids, tok, mode='plain'), marker)
        predictions.append(pred)
        count[r['answer']] += 1
        right[r['answer']] += pred == r['answer']
    correct = sum(right.values())
    return {'accuracy': correct / len(records), 'correct': correct, 'n': len(records),
            'by_answer': {a: right[a] / count[a] for a in sorted(count)},
            'unparsed': sum(p not in count for p in predictions), 'predictions': predictions}


# -----------------------------------------------------------------------------
# command line

def main(argv):
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
    a = sub.add_parser('accuracy', help="greedy answers of OUT_DIR's checkpoint on a jsonl split")
    a.add_argument('out_dir')
    a.add_argument('split', help='a .jsonl file with prompt, completion, answer')
    a.add_argument('--marker', default='=', help="the answer follows the last marker ('=' for 3SUM)")
    a.add_argument('--limit', type=int, default=0, help='first N records only')
    a.add_argument('--batch_size', type=int, default=64)
    a.add_argument('--device', default='cpu')
    a.add_argument('--json', action='store_true', help='print the result as one JSON object')
    args = p.parse_args(argv)
    try:
        if args.command == 'add_tokens':
            meta = load_meta(args.data_dir, os.path.basename(args.data_dir))
            try:
                meta = add_special_tokens(meta, args.names + think_token_names(args.n_think))
            except ValueError as e:
                raise UserError(str(e))
            write_atomic(os.path.join(args.data_dir, 'meta.pkl'), pickle.dumps(meta))
            print(f"{args.data_dir}/meta.pkl: vocab size {meta['vocab_size']}, {len(meta['special_tokens'])} special tokens")
        elif args.command == 'pause_records':
            meta = pause_records(args.src_dir, args.out_dir, args.n_pause)
            print(f"{args.out_dir}: {args.n_pause} pauses after every prompt, pause id {special_id(meta, PAUSE)}")
        else:
            r = answer_accuracy(args.out_dir, args.split, args.marker, args.limit, args.batch_size, args.device)
            if args.json:
                print(json.dumps({k: v for k, v in r.items() if k != 'predictions'}))
            else:
                parts = ', '.join(f"{a} {acc:.3f}" for a, acc in r['by_answer'].items())
                print(f"accuracy {r['accuracy']:.4f} ({r['correct']}/{r['n']}); by answer: {parts}; unparsed {r['unparsed']}")
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main(sys.argv[1:])
