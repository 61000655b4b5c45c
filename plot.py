"""
Loss curves from the runs' logs (out_dir/log.jsonl, or a copy of it).

    python plot.py out-a out-b --labels=K=0,K=1 --out=assets/curves.png
    python plot.py results/reasoning/*.jsonl --x=flops --out=assets/by_flops.png
    python plot.py results/reasoning/*.jsonl --table      # a Markdown table instead
    python plot.py results/3sum/*.json --bars --labels=... --out=assets/3sum.png

--bars draws the accuracies of .json results (think.py accuracy --json) as bars, one per
file, with chance (0.5 for True/False) as a line.

Each run is a directory holding log.jsonl or a .jsonl file. Train loss (dashed) and val loss
(solid) from the eval rows, against iterations, tokens, wall time or FLOPs (if the rows
carry `flops`).
"""

import argparse
import json
import os
import sys

from vocab import cli_errors, log_rows, UserError

X_AXES = {'iter': 'iteration', 'tokens': 'text tokens seen', 'time': 'wall time (s)', 'flops': 'training FLOPs'}


def save_figure(fig, out):
    """Lay the figure out and write it (the directory too); every script's plots end here."""
    fig.tight_layout()
    try:
        os.makedirs(os.path.dirname(out) or '.', exist_ok=True)
        fig.savefig(out, dpi=120)
    except (OSError, ValueError) as e:  # ValueError: an extension matplotlib cannot write
        raise UserError(f"cannot write the figure {out}: {getattr(e, 'strerror', None) or e}")
    print(f"wrote {out}")


def read_eval_rows(path):
    if os.path.isdir(path):
        path = os.path.join(path, 'log.jsonl')
    if not os.path.exists(path):
        raise SystemExit(f"error: no log at {path}")
    return log_rows(path, 'val_loss', ('iter', 'train_loss'), 'a train.py log.jsonl (its eval rows)')


def table(runs, labels):
    """Final train/val loss (same iteration for every arm), best val, compute, wall time."""
    lines = ['| run | iters | final train loss | final val loss | best val loss (iter) | FLOPs/text token | '
             'total FLOPs | wall time |', '|---|---|---|---|---|---|---|---|']
    for run, label in zip(runs, labels):
        rows = read_eval_rows(run)
        last, best = rows[-1], min(rows, key=lambda r: r['val_loss'])
        flops, time = last.get('flops', float('nan')), last.get('time', float('nan'))
        per_token = flops / last['tokens'] if last.get('tokens') else float('nan')
        lines.append(f"| {label} | {last['iter']} | {last['train_loss']:.4f} | {last['val_loss']:.4f} | "
                     f"{best['val_loss']:.4f} ({best['iter']}) | {per_token / 1e6:.1f}M | {flops:.2e} | "
                     f"{time / 60:.1f} min |")
    return '\n'.join(lines)


def draw_curves(ax, runs, labels, x, ylim):
    for i, (run, label) in enumerate(zip(runs, labels)):
        rows = read_eval_rows(run)
        if rows and x not in rows[0]:
            raise SystemExit(f"error: {run} has no '{x}' in its eval rows")
        xs = [r[x] for r in rows]
        color = f'C{i}'
        ax.plot(xs, [r['val_loss'] for r in rows], color=color, label=f'{label} val')
        ax.plot(xs, [r['train_loss'] for r in rows], color=color, linestyle='--', alpha=0.7, label=f'{label} train')
    ax.set_xlabel(X_AXES[x])
    ax.set_ylabel('loss (nats per text token)')
    if ylim:
        ax.set_ylim(*parse_ylim(ylim))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def parse_ylim(text):
    try:
        low, high = map(float, text.split(','))
    except ValueError:
        raise UserError(f"--ylim={text} must be two numbers, low,high (e.g. --ylim=1.0,2.5)")
    return low, high


def read_accuracy(path):
    if not os.path.isfile(path):
        raise SystemExit(f"error: no result at {path}")
    try:
        with open(path) as f:
            result = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{path} is not JSON (expected the output of think.py accuracy --json)")
    if not isinstance(result, dict) or 'accuracy' not in result:
        raise SystemExit(f"error: {path} has no 'accuracy' (expected the output of think.py accuracy --json)")
    return result['accuracy']


def draw_bars(ax, paths, labels, chance):
    accs = [read_accuracy(p) for p in paths]
    bars = ax.bar(range(len(accs)), accs, color=[f'C{i % 2}' for i in range(len(accs))])
    ax.bar_label(bars, labels=[f'{a:.1%}' for a in accs], fontsize=8)
    ax.set_xticks(range(len(accs)), labels, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel('accuracy')
    if chance:
        ax.axhline(chance, color='gray', linestyle=':', label=f'chance ({chance:g})')
        ax.legend(fontsize=8)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('runs', nargs='+', help='out_dirs or log .jsonl files')
    p.add_argument('--labels', default='', help='comma-separated, one per run (default: the paths)')
    p.add_argument('--x', default='iter', choices=list(X_AXES))
    p.add_argument('--title', default='')
    p.add_argument('--ylim', default='', help='low,high')
    p.add_argument('--out', default='curves.png')
    p.add_argument('--table', action='store_true', help='print a Markdown table instead of plotting')
    p.add_argument('--bars', action='store_true', help='bars of accuracy .json results instead of curves')
    p.add_argument('--chance', type=float, default=0.5, help='with --bars: a line at this accuracy (0: none)')
    args = p.parse_args(argv)
    with cli_errors():
        if args.ylim:
            parse_ylim(args.ylim)  # before any work
        labels = args.labels.split(',') if args.labels else args.runs
        if len(labels) != len(args.runs):
            raise SystemExit(f"error: {len(labels)} labels for {len(args.runs)} runs")
        if args.table:
            print(table(args.runs, labels))
            return

        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 5))
        if args.bars:
            draw_bars(ax, args.runs, labels, args.chance)
        else:
            draw_curves(ax, args.runs, labels, args.x, args.ylim)
        if args.title:
            ax.set_title(args.title)
        save_figure(fig, args.out)


if __name__ == '__main__':
    main(sys.argv[1:])
