"""
Generate text from a trained checkpoint or from GPT-2 weights, with the thinking shown.

    python sample.py                                   # the latest run under ./out*
    python sample.py --out_dir=out-shakespeare-char --start="ROMEO:" --num_samples=3
    python sample.py --init_from=gpt2 --start=FILE:prompt.txt      # GPT-2 by name or local HF dir
    python sample.py --show_thoughts --html=sample.html             # thoughts inline; a page to hover
    python sample.py --out_dir=out-arith --start=FILE:q.txt --majority=8 --min_think=20   # test-time thinking

What is shown, in color on a terminal (plain when NO_COLOR is set or output is not a terminal):
- special tokens by name, colored by kind (vocab.render): <think_i>, <pause>, thoughts, latents;
- where the model thinks without writing tokens (reasoning slots, Quiet-STaR), every generated
  token is tinted by its thinking gain: the log-prob the model gave it minus the log-prob
  without the thinking (green: thinking raised it, red: lowered it; deeper = more), measured
  in one teacher-forced pass over the sample;
- --show_thoughts: a Quiet-STaR model's thought before each token it generates (the thought
  that chose it); a reasoning-token model's slots after each token, read by the output head;
- Coconut latents, each followed by the top tokens the output head reads on its input state.
--html=FILE writes the same as one self-contained page; hovering a token shows its top-5
alternatives (probabilities at temperature 1), its gain and its thought.
A pause-fine-tuned checkpoint records n_pause in its meta; that many pauses go after the start
text, as in its fine-tuning data (--n_pause overrides).
"""

import argparse
import glob
import html
import inspect
import os
import sys

import torch

import testtime
import vocab
from configurator import pick_device
from model import GPT
from train import load_checkpoint, model_from_checkpoint
from vocab import cli_errors, Tokenizer, UserError

GAIN_STEPS = (0.1, 0.5, 1.0, 2.0)  # nats: tint levels 1..4 start here; below 0.1 no tint
ANSI_GAIN = {1: (22, 28, 34, 40), -1: (52, 88, 124, 160)}  # 256-color backgrounds, light to deep
CSS_GAIN = {1: '46,160,67', -1: '215,58,73'}
KIND_NAMES = {'think': 'cyan <think_i>', 'pause': 'dim <pause>', 'thought': 'magenta thoughts',
              'latent': 'green latents (and what the head reads on them)', 'tags': 'yellow <think>..</think>',
              'special': 'blue special tokens', 'unknown': 'red unknown ids'}


def latest_run(root='.'):
    """The folder under root/out* whose ckpt.pt was written last, or None."""
    paths = glob.glob(os.path.join(root, 'out*', 'ckpt.pt')) + glob.glob(os.path.join(root, 'out*', '*', 'ckpt.pt'))
    return os.path.dirname(max(paths, key=os.path.getmtime)) if paths else None


def find_run(out_dir):
    if out_dir is None:
        out_dir = latest_run()
        if out_dir is None:
            raise UserError(f"no trained run here (no out*/ckpt.pt under {os.getcwd()}): train one first "
                            f"(python train.py config/cpu.py), or sample GPT-2 with --init_from=gpt2")
        print(f"sampling {os.path.normpath(out_dir)}, the latest run; --out_dir=... for another", file=sys.stderr)
    elif not os.path.isfile(os.path.join(out_dir, 'ckpt.pt')):
        runs = sorted({os.path.dirname(p) for p in glob.glob(os.path.join('out*', 'ckpt.pt'))})
        raise UserError(f"no checkpoint at {os.path.join(out_dir, 'ckpt.pt')}: give the out_dir of a run"
                        + (f" (here: {', '.join(runs)})" if runs else "; train one first (python train.py config/cpu.py)"))
    return out_dir


def load_model(args):
    """(model, meta) from out_dir/ckpt.pt, or GPT-2 weights with the r50k_base tokenizer."""
    if args.init_from == 'resume':
        ckpt = load_checkpoint(os.path.join(find_run(args.out_dir), 'ckpt.pt'))
        return model_from_checkpoint(ckpt), ckpt['meta']
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


# -----------------------------------------------------------------------------
# what the model made of each token: one teacher-forced pass

def explain(model, ids, n_top=5):
    """model.explain over ids (B, N), in windows of block_size that overlap by half (each
    position keeps at least half a block of context), reduced per position t to: 'top'
    (ids, probs) of the prediction of token t+1, 'gain' (B, N) the log-prob of the actual
    token t+1 minus the same without thinking (nan where none), 'thoughts' (B, N, n) or None."""
    L, N = model.config.block_size, ids.size(1)
    step = max(1, L // 2)
    parts, s = [], 0
    while True:
        window = ids[:, s:s + L]
        out = model.explain(window)
        keep = 0 if s == 0 else L - step
        nxt = ids[:, s + 1:s + L + 1]
        nxt = torch.cat([nxt, window[:, nxt.size(1):]], dim=1)[..., None]  # token t+1 (past the end: a stand-in)
        logp = torch.log_softmax(out['logits'].float(), -1)
        probs, top = logp.exp().topk(n_top, dim=-1)
        gain = torch.full(window.shape, float('nan'))
        if 'base_logits' in out:
            base = torch.log_softmax(out['base_logits'].float(), -1)
            gain = (logp.gather(-1, nxt) - base.gather(-1, nxt)).squeeze(-1).cpu()
        thoughts = out.get('thoughts')
        parts.append((top[:, keep:].cpu(), probs[:, keep:].cpu(), gain[:, keep:],
                      None if thoughts is None else thoughts[:, keep:].cpu()))
        if s + L >= N:
            break
        s += step
    gain = torch.cat([p[2] for p in parts], dim=1)
    gain[:, -1] = float('nan')  # nothing follows the last token
    return {'top': torch.cat([p[0] for p in parts], 1), 'probs': torch.cat([p[1] for p in parts], 1), 'gain': gain,
            'thoughts': None if parts[0][3] is None else torch.cat([p[3] for p in parts], 1),
            'join': out.get('thought_join', ' '), 'gain_means': out.get('gain')}


def gain_level(g):
    """(sign, level 0..4) of a gain in nats: level 0 is no tint."""
    if g != g:  # nan: no gain measured
        return 0, 0
    return (1 if g > 0 else -1), sum(abs(g) >= t for t in GAIN_STEPS)


def tint(text, g, mode):
    sign, level = gain_level(g)
    if mode == 'html':
        return f'background:rgba({CSS_GAIN[sign]},{0.2 * level + 0.1:.1f})' if level else ''
    if mode == 'ansi' and level and not text.isspace():
        return f'\033[48;5;{ANSI_GAIN[sign][level - 1]}m{text}\033[0m'
    return text


def shown_token(tok, i):
    """A thought's token as one visible piece: newlines and spaces written out."""
    return vocab.render([i], tok, 'plain').replace('\n', '\\n') if i >= 0 else ''


def split_display(row, tok):
    """A generated row with Quiet-STaR's thoughts in it -> (text ids, thought ids shown before
    each text token). Tokens between a thought's markers are not text."""
    text, before, closing = [], [[]], None  # closing: the marker that ends the open thought
    for i in row:
        name = tok.special_names.get(i)
        if closing is not None or name in vocab.REGIONS:
            before[-1].append(i)
            closing = vocab.REGIONS[name] if closing is None else (None if name == closing else closing)
            continue
        text.append(i)
        before.append([])
    return text, before[:-1]


def complete_text(tok, ids):
    """Whether ids end on a whole character: a BPE token can hold part of one (UTF-8 bytes)."""
    if tok.kind == 'char':
        return True
    try:
        b''.join(tok.enc.decode_single_token_bytes(i) for i in ids if is_text(tok, i)).decode('utf-8')
    except UnicodeDecodeError:
        return False
    return True


def is_text(tok, i):
    return i not in tok.special_names and vocab.is_base(tok, i)


def display_row(row, n_start, tok, end_id, has_thoughts):
    """(text ids, thought ids before each text token) of a generated row, the text cut at its
    first <|endoftext|> after the start (a thought that holds one does not end the sample)."""
    text, before = split_display(row, tok) if has_thoughts else (row, [[] for _ in row])
    text = cut_at_end(text, n_start, end_id)
    return text, before[:len(text)]


def row_pieces(b, text, before, n_start, info, tok, show_thoughts, generated_thoughts):
    """One sample as (ids, gain, tooltip, region kind) pieces in display order: a thought that
    came before a token (generated_thoughts: Quiet-STaR's, with --show_thoughts), the token (BPE
    tokens grouped until they end a character; text inside <think>..</think> keeps the tags'
    color), what the head reads after it (Coconut's latents always; reasoning slots with
    --show_thoughts)."""
    pieces, group, closing, region = [], [], None, None
    nan = float('nan')
    th = info['thoughts']
    inline = info['join'] == '|' or (show_thoughts and not generated_thoughts)
    for t, i in enumerate(text):
        if show_thoughts and before[t]:
            pieces.append((before[t], nan, None, None))
        group.append(i)
        name = tok.special_names.get(i)
        if name is None and t < len(text) - 1 and not complete_text(tok, group):
            continue  # the rest of the character is in the next token
        generated = n_start <= t
        pieces.append((group, info['gain'][b, t - 1].item() if generated else nan,  # predicted at t-1
                       tooltip(b, t - 1, info, tok) if generated else None, region if name is None else None))
        group = []
        if closing is None and name in vocab.REGIONS:
            closing, region = vocab.REGIONS[name], vocab.token_kind(name)
        elif name is not None and name == closing:
            closing, region = None, None
        after = [] if th is None or not inline else [j for j in th[b, t].tolist() if j >= 0]
        if after and (info['join'] == '|' or t >= n_start - 1):
            kind = 'latent' if info['join'] == '|' else 'thought'
            pieces.append(((kind, '[' + info['join'].join(shown_token(tok, j) for j in after) + ']'), nan, None, None))
    return pieces


def tooltip(b, t, info, tok):
    lines = [f"{shown_token(tok, i)!r} {p:.3f}" for i, p in zip(info['top'][b, t].tolist(), info['probs'][b, t].tolist())]
    g = info['gain'][b, t].item()
    if g == g:
        lines.append(f"thinking gain {g:+.3f} nats")
    if info['thoughts'] is not None and info['join'] != '|':  # where the token is t+1
        after = info['join'].join(shown_token(tok, j) for j in info['thoughts'][b, t + 1].tolist() if j >= 0)
        lines.append(f"thought after it (this pass): {after!r}")
    return lines


def paint_pieces(pieces, tok, mode):
    out = []
    for ids, g, tip, region in pieces:
        if isinstance(ids, tuple):  # (kind, text): what the head reads on a slot or latent
            out.append(vocab.paint(*ids, mode))
            continue
        if region:
            text = vocab.paint(region, vocab.render(ids, tok, 'plain'), mode)
        else:
            text = vocab.render(ids, tok, mode)
        if mode != 'html':
            out.append(tint(text, g, mode))
            continue
        style, box = tint(text, g, mode), ''
        if tip:
            box = '<span class="tip">' + '<br>'.join(map(html.escape, tip)) + '</span>'
        out.append(f'<span class="t" style="{style}">{text}{box}</span>')
    return ''.join(out)


def legend(kinds, info, mode):
    """One line saying what the colors mean (empty when nothing is colored)."""
    parts = [KIND_NAMES[k] for k in KIND_NAMES if k in kinds]
    if info['gain_means'] and mode != 'plain':
        parts.append(f"token background: thinking gain ({info['gain_means']}; green raised, red lowered, "
                     f"deeper = more, from {', '.join(map(str, GAIN_STEPS))} nats)")
    if not parts or mode == 'plain':
        return ''
    return 'colors: ' + '; '.join(parts)


def kinds_in(rows, tok):
    return {vocab.token_kind(tok.special_names[i]) for row in rows for i in row if i in tok.special_names}


HTML_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title><style>
body {{ font-family: monospace; margin: 2em; background: #fff; color: #111; }}
.sample {{ white-space: pre-wrap; border-top: 1px solid #ccc; padding: 1em 0; line-height: 1.6; }}
.t {{ position: relative; }}
.t .tip {{ display: none; position: absolute; left: 0; top: 1.4em; z-index: 1; background: #222; color: #eee;
          padding: 4px 8px; border-radius: 4px; white-space: pre; font-size: 12px; }}
.t:hover .tip {{ display: block; }}
.legend {{ color: #555; }}
</style></head><body>
<h3>{title}</h3><p class="legend">{legend}</p>
{samples}
</body></html>
"""


def write_html(path, title, samples, legend_text):
    body = '\n'.join(f'<div class="sample">{s}</div>' for s in samples)
    page = HTML_PAGE.format(title=html.escape(title), legend=html.escape(legend_text or 'no colors: plain text'), samples=body)
    vocab.write_atomic(path, page.encode('utf-8'))


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
    if args.show_thoughts and type(model).explain is GPT.explain and 'show_thoughts' not in inspect.signature(model.generate).parameters:
        raise UserError(f"--show_thoughts needs a model that thinks (quietstar, reasoning_tokens); this one is {type(model).__name__}")
    if args.show_thoughts and 'show_thoughts' in inspect.signature(model.generate).parameters:
        extra['show_thoughts'] = True  # the thoughts that chose each token, between the text tokens
    forcing = args.majority or args.min_think or args.max_think
    with torch.no_grad():
        if forcing:  # testtime.py's sampler: budget forcing, and the samples for the vote
            room = model.config.block_size - len(ids)  # it keeps the whole sequence in the KV cache
            if room < 1:
                raise UserError(f"the start text ({len(ids)} tokens) fills the model's block ({model.config.block_size})")
            s = testtime.Sampler(model, tokenizer, min(args.max_new_tokens, room), args.temperature, args.top_k,
                                 args.min_think, args.max_think or None, args.wait)
            completions = s.sample([ids] * (args.majority or args.num_samples))[0]
            y = [ids + c for c in completions]
        else:
            y = model.generate(x, args.max_new_tokens, temperature=args.temperature, top_k=args.top_k or None,
                               **extra).tolist()
    end_id = vocab.end_of_text_id(tokenizer)
    split = [display_row(row, len(ids), tokenizer, end_id, bool(extra)) for row in y]
    rows = [text + [i for b in before for i in b] for text, before in split]  # every token shown
    longest = max(len(text) for text, _ in split)
    padded = torch.tensor([text + text[-1:] * (longest - len(text)) for text, _ in split], device=device)
    with torch.no_grad():
        info = explain(model, padded)
    if args.show_thoughts and not extra and info['thoughts'] is None:
        raise UserError(f"--show_thoughts needs a model that thinks (quietstar, reasoning_tokens with n_reasoning > 0); "
                        f"this one is {type(model).__name__}")
    mode = 'ansi' if vocab.use_color() else 'plain'
    pieces = [row_pieces(b, text, before, len(ids), info, tokenizer, args.show_thoughts, bool(extra))
              for b, (text, before) in enumerate(split)]
    read = set() if info['thoughts'] is None else {'latent' if info['join'] == '|' else 'thought'}
    kinds = kinds_in(rows, tokenizer) | (read if args.show_thoughts or read == {'latent'} else set())
    line = legend(kinds, info, mode)
    if line:
        print(line)
    for p in pieces:
        print(paint_pieces(p, tokenizer, mode))
        print('---------------')
    if args.majority:
        answers = [s.answer(c) for c in completions]
        print(f"majority vote over {len(answers)} samples: {testtime.vote(answers)} (answers: {answers})")
    if args.html:
        title = f"{args.out_dir or 'sample'}: {type(model).__name__}"
        write_html(args.html, title, [paint_pieces(p, tokenizer, 'html') for p in pieces], legend(kinds, info, 'html'))
        print(f"wrote {args.html}", file=sys.stderr)


def check_args(args):
    """The numbers, before any work: one line naming the first that is out of range."""
    limits = [('num_samples', args.num_samples > 0, '> 0'), ('max_new_tokens', args.max_new_tokens >= 0, '>= 0'),
              ('temperature', 0 <= args.temperature < float('inf'), '>= 0 and finite (0 is greedy)'),
              ('top_k', args.top_k >= 0, '>= 0 (0 keeps all tokens)'), ('n_pause', (args.n_pause or 0) >= 0, '>= 0'),
              ('majority', args.majority >= 0, '>= 0'), ('min_think', args.min_think >= 0, '>= 0'),
              ('max_think', args.max_think >= 0, '>= 0 (0: no maximum)')]
    for name, ok, need in limits:
        if not ok:
            raise UserError(f"--{name} must be {need}, got {getattr(args, name)}")
    if args.html:
        vocab.check_writable(os.path.dirname(os.path.abspath(args.html)))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--init_from', default='resume', help="'resume' (a checkpoint in out_dir), a GPT-2 name or a local HF dir")
    p.add_argument('--out_dir', default=None, help='the run to sample (default: the latest under ./out*)')
    p.add_argument('--start', default='\n', help='start text, or FILE:path')
    p.add_argument('--num_samples', type=int, default=3)
    p.add_argument('--max_new_tokens', type=int, default=500)
    p.add_argument('--temperature', type=float, default=0.8, help='0 is greedy')
    p.add_argument('--top_k', type=int, default=200, help='0 keeps all tokens')
    p.add_argument('--seed', type=int, default=1337)
    p.add_argument('--device', default='auto')
    p.add_argument('--show_thoughts', action='store_true',
                   help="print the thinking between the text tokens: a Quiet-STaR model's sampled thoughts; a "
                        "reasoning-token model's slots as the output head reads them (no loss trains a slot to be a "
                        "token: a glimpse, not a decoding)")
    p.add_argument('--html', default='', help='also write the samples as a self-contained HTML page (hover a token)')
    p.add_argument('--n_pause', type=int, default=None, help="pauses after the start text (default: the checkpoint's n_pause, if any)")
    p.add_argument('--majority', type=int, default=0, help='a <think> model: this many samples, then their majority answer')
    p.add_argument('--min_think', type=int, default=0, help="budget forcing: an earlier </think> becomes --wait")
    p.add_argument('--max_think', type=int, default=0, help='budget forcing: </think> forced after this many thinking tokens')
    p.add_argument('--wait', default='Wait', help='budget forcing: what replaces an early </think>')
    args = p.parse_args(argv)
    with cli_errors():
        check_args(args)
        sample(args)


if __name__ == '__main__':
    main(sys.argv[1:])
