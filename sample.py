"""
Generate text from a trained checkpoint or from GPT-2 weights.

    python sample.py --out_dir=out-shakespeare-char --start="ROMEO:" --num_samples=3
    python sample.py --init_from=gpt2 --start=FILE:prompt.txt      # GPT-2 by name or local HF dir

Special tokens (think tokens, pauses, ...) are shown by name, in color on a terminal
(plain when NO_COLOR is set or output is not a terminal): vocab.render. A start text may
name them ('<pause>'). A pause-fine-tuned checkpoint records n_pause in its meta; that many
pauses go after the start text, as in its fine-tuning data (--n_pause overrides).
--show_thoughts prints a Quiet-STaR model's thought before every token it generates.
"""

import argparse
import inspect
import os
import sys

import torch

import vocab
from train import load_checkpoint, model_from_checkpoint, pick_device
from vocab import cli_errors, Tokenizer, UserError


def load_model(args):
    """(model, meta) from out_dir/ckpt.pt, or GPT-2 weights with the r50k_base tokenizer."""
    if args.init_from == 'resume':
        ckpt = load_checkpoint(os.path.join(args.out_dir, 'ckpt.pt'))
        return model_from_checkpoint(ckpt), ckpt['meta']
    from model import GPT
    try:
        model = GPT.from_pretrained(args.init_from)
    except OSError as e:
        raise UserError(f"cannot load GPT-2 weights {args.init_from!r}: {str(e).splitlines()[0]}")
    return model, {'tokenizer': 'r50k_base', 'vocab_size': model.config.vocab_size, 'special_tokens': {}}


def read_start(start):
    if start.startswith('FILE:'):
        path = start[5:]
        if not os.path.isfile(path):
            raise UserError(f"start file {path} {'is a directory' if os.path.isdir(path) else 'not found'}")
        try:
            with open(path, encoding='utf-8') as f:
                return f.read()
        except UnicodeDecodeError as e:
            raise UserError(f"start file {path} is not UTF-8 text ({e.reason} at byte {e.start})")
    return start


def cut_at_end(row, n_start, end_id):
    """A sample stops at its first <|endoftext|> after the start: what follows is a new,
    unrelated document (task records end there)."""
    if end_id is not None and end_id in row[n_start:]:
        return row[:row.index(end_id, n_start) + 1]
    return row


def sample(args):
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    model, meta = load_model(args)
    tokenizer = Tokenizer(meta)
    model.eval().to(device)
    ids = tokenizer.encode(read_start(args.start))
    if not ids:
        raise UserError("the start text is empty; give --start=TEXT (e.g. a newline)")
    ids += vocab.pause_ids(meta, args.n_pause)
    block_size = model.config.block_size
    if len(ids) > block_size:
        print(f"note: the start is {len(ids)} tokens, longer than the context ({block_size}); "
              f"only its last {block_size} are used", file=sys.stderr)
        ids = ids[-block_size:]
    x = torch.tensor(ids, dtype=torch.long, device=device)[None].repeat(args.num_samples, 1)
    extra = {}
    if args.show_thoughts:  # a model that thinks returns its thoughts between the text tokens
        if 'show_thoughts' not in inspect.signature(model.generate).parameters:
            raise UserError(f"--show_thoughts needs a model that thinks (quietstar); this one is {type(model).__name__}")
        extra['show_thoughts'] = True
    with torch.no_grad():
        y = model.generate(x, args.max_new_tokens, temperature=args.temperature, top_k=args.top_k or None, **extra)
    end_id = vocab.end_of_text_id(tokenizer)
    for row in y.tolist():
        print(vocab.render(cut_at_end(row, len(ids), end_id), tokenizer))
        print('---------------')


def check_args(args):
    """The numbers, before any work: one line naming the first that is out of range."""
    limits = [('num_samples', args.num_samples > 0, '> 0'), ('max_new_tokens', args.max_new_tokens >= 0, '>= 0'),
              ('temperature', 0 <= args.temperature < float('inf'), '>= 0 and finite (0 is greedy)'),
              ('top_k', args.top_k >= 0, '>= 0 (0 keeps all tokens)'), ('n_pause', (args.n_pause or 0) >= 0, '>= 0')]
    for name, ok, need in limits:
        if not ok:
            raise UserError(f"--{name} must be {need}, got {getattr(args, name)}")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--init_from', default='resume', help="'resume' (a checkpoint in out_dir), a GPT-2 name or a local HF dir")
    p.add_argument('--out_dir', default='out')
    p.add_argument('--start', default='\n', help='start text, or FILE:path')
    p.add_argument('--num_samples', type=int, default=3)
    p.add_argument('--max_new_tokens', type=int, default=500)
    p.add_argument('--temperature', type=float, default=0.8, help='0 is greedy')
    p.add_argument('--top_k', type=int, default=200, help='0 keeps all tokens')
    p.add_argument('--seed', type=int, default=1337)
    p.add_argument('--device', default='auto')
    p.add_argument('--show_thoughts', action='store_true', help="print every hidden thought (quietstar) in color between the text tokens")
    p.add_argument('--n_pause', type=int, default=None, help="pauses after the start text (default: the checkpoint's n_pause, if any)")
    args = p.parse_args(argv)
    with cli_errors():
        check_args(args)
        sample(args)


if __name__ == '__main__':
    main(sys.argv[1:])
