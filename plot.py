"""
Loss curves from the runs' logs (out_dir/log.jsonl, or a copy): train (dashed) and val (solid)
loss from the eval rows against iterations, tokens, wall time or FLOPs; runs that share a label
are seeds of one arm.

    python plot.py out-a out-b --labels=K=0,K=1 --out=assets/curves.png     # --x=flops; --table: Markdown
    python plot.py results/3sum/*.json --bars --labels=... --out=assets/3sum.png    # score.py --json accuracies
    python plot.py results/grpo/*.jsonl --figure=grpo --out=assets/grpo.png      # an idea's own figure and table
    python plot.py A1.json A2.json B1.json --figure=accuracy_by --labels=K=0@k=1,K=0@k=2,K=1@k=1  # vs a setting
"""

import argparse
import json
import os
import statistics
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


def by_label(paths, labels, read):
    """Paths that share a label are seeds of one arm: label -> [read(path), ...], in order."""
    arms = {}
    for path, label in zip(paths, labels):
        arms.setdefault(label, []).append(read(path))
    return arms


def mean_sd(values, digits=4):
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} +- {statistics.stdev(values):.{digits}f}"


def iters_to(seeds, level):
    """Each seed's first eval iteration whose val exact match reaches level ('-': none does)."""
    return ' / '.join(next((str(r['iter']) for r in rows if r['val_exact'] >= level), '-') for rows in seeds)


def table(runs, labels):
    """Final train/val loss, best val, compute, wall time (mean +- sd over the runs sharing a label); logs with
    val_exact (task records) add the final exact match and each seed's first iteration at 50% and 90%."""
    arms = by_label(runs, labels, read_eval_rows)
    exact = all('val_exact' in rows[-1] for seeds in arms.values() for rows in seeds)
    lines = ['| run | seeds | iters | final train loss | final val loss | best val loss | FLOPs/text token | '
             'total FLOPs | wall time |' + (' val exact | iters to 50% | iters to 90% |' if exact else ''),
             '|---|---|---|---|---|---|---|---|---|' + ('---|---|---|' if exact else '')]
    for label, seeds in arms.items():
        last = [rows[-1] for rows in seeds]
        best = [min(rows, key=lambda r: r['val_loss']) for rows in seeds]
        iters = sorted({r['iter'] for r in last})
        flops, time = last[0].get('flops', float('nan')), statistics.mean(r.get('time', float('nan')) for r in last)
        per_token = flops / last[0]['tokens'] if last[0].get('tokens') else float('nan')
        best_at = f" ({best[0]['iter']})" if len(seeds) == 1 else ''
        lines.append(f"| {label} | {len(seeds)} | {','.join(map(str, iters))} | {mean_sd([r['train_loss'] for r in last])} | "
                     f"{mean_sd([r['val_loss'] for r in last])} | {mean_sd([r['val_loss'] for r in best])}{best_at} | "
                     f"{per_token / 1e6:.1f}M | {flops:.2e} | {time / 60:.1f} min |")
        if exact:
            lines[-1] += f" {mean_sd([100 * r['val_exact'] for r in last], 1)}% | {iters_to(seeds, .5)} | {iters_to(seeds, .9)} |"
    return '\n'.join(lines)


def draw_curves(ax, runs, labels, x, ylim):
    """Val (solid) and train (dashed) loss per arm; an arm with several seeds as their mean,
    with the band between the lowest and highest seed."""
    for i, (label, seeds) in enumerate(by_label(runs, labels, read_eval_rows).items()):
        if any(rows and x not in rows[0] for rows in seeds):
            raise SystemExit(f"error: a run of {label} has no '{x}' in its eval rows")
        # seeds meet at the iterations they all evaluated; x (time, flops) is their mean there
        at = [{r['iter']: r for r in rows} for rows in seeds]
        iters = sorted(set.intersection(*(set(a) for a in at)))
        xs = [statistics.mean(a[it][x] for a in at) for it in iters]
        color = f'C{i}'
        for key, style in (('val_loss', '-'), ('train_loss', '--')):
            ys = [[a[it][key] for a in at] for it in iters]
            name = f"{label} {key.split('_')[0]}" + (f" ({len(seeds)} seeds)" if len(seeds) > 1 else '')
            ax.plot(xs, [statistics.mean(y) for y in ys], color=color, linestyle=style, alpha=1 if style == '-' else 0.7,
                    label=name)
            if len(seeds) > 1:
                ax.fill_between(xs, [min(y) for y in ys], [max(y) for y in ys], color=color, alpha=0.15)
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


def read_result(path):
    """A score.py --json (or think_answers.py) result: a dict with 'accuracy'."""
    try:
        with open(path) as f:
            result = json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not JSON that can be read ({type(e).__name__}): expected the output of score.py --json")
    if not isinstance(result, dict) or 'accuracy' not in result:
        raise SystemExit(f"error: {path} has no 'accuracy' (expected the output of score.py --json)")
    return result


def accuracies(paths, labels):
    return {label: [r['accuracy'] for r in results] for label, results in by_label(paths, labels, read_result).items()}


def accuracy_table(paths, labels):
    lines = ['| arm | seeds | accuracy | each seed |', '|---|---|---|---|']
    for label, accs in accuracies(paths, labels).items():
        sd = f" +- {statistics.stdev(accs):.1%}" if len(accs) > 1 else ''
        lines.append(f"| {label} | {len(accs)} | {statistics.mean(accs):.1%}{sd} | {', '.join(f'{a:.1%}' for a in accs)} |")
    return '\n'.join(lines)


def draw_bars(ax, paths, labels, chance):
    """One bar per arm at its mean accuracy; several seeds: each a dot, their sd an error bar."""
    arms = accuracies(paths, labels)
    means = [statistics.mean(a) for a in arms.values()]
    sds = [statistics.stdev(a) if len(a) > 1 else 0.0 for a in arms.values()]
    bars = ax.bar(range(len(arms)), means, yerr=sds, capsize=3, color=[f'C{i % 10}' for i in range(len(arms))], alpha=0.8)
    for i, accs in enumerate(arms.values()):
        if len(accs) > 1:
            ax.plot([i] * len(accs), accs, 'k.', markersize=4)
    ax.bar_label(bars, labels=[f'{m:.1%}' for m in means], fontsize=8)
    ax.set_xticks(range(len(arms)), list(arms), fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel('accuracy')
    if chance:
        ax.axhline(chance, color='gray', linestyle=':', label=f'chance ({chance:g})')
        ax.legend(fontsize=8)


# -----------------------------------------------------------------------------
# the ideas' own figures and tables

def pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def running_mean(values, window):
    """Mean of the last `window` values at each step: one batch of rollouts is noisy."""
    return [statistics.mean(values[max(0, j - window + 1):j + 1]) for j in range(len(values))]


GRPO_SCORES = (('eval_greedy', 'greedy'), ('eval_sampled', 'sampled'), ('eval_pass', 'pass@k'), ('eval_majority', 'majority@k'))


def grpo_table(arms):
    """A Markdown table: each arm's held-out scores at its last evaluation, mean +- sd over its seeds, in percent."""
    lines = ['| run | seeds | steps | ' + ' | '.join(name for _, name in GRPO_SCORES) + ' |',
             '|---|---|---|' + '---|' * len(GRPO_SCORES)]
    for label, runs in arms.items():
        last = [evals[-1] for evals, _ in runs]
        cells = [mean_sd([100 * r[key] for r in last], 1) for key, _ in GRPO_SCORES]
        steps = sorted({r['iter'] for r in last})
        lines.append(f"| {label} | {len(runs)} | {'/'.join(map(str, steps))} | " + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def grpo_figure(paths, labels, out, window=10):
    """Held-out accuracy (greedy solid, sampled dotted; the mean over the runs that share a label), the
    rollouts' accuracy and format, and the KL to the reference over the steps. A log with one evaluation
    and no steps (a start, or a supervised control scored with --max_iters=0) is a dashed level. Prints grpo_table."""
    what = 'the log.jsonl of a grpo.py run'
    arms = by_label(paths, labels, lambda path: (
        log_rows(path, 'eval_greedy', ('iter', 'eval_sampled', 'eval_pass', 'eval_majority'), what),
        log_rows(path, 'loss', ('iter', 'format', 'accuracy', 'kl'), what, required=False)))
    print(grpo_table(arms))
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for i, (label, runs) in enumerate(arms.items()):
        mean = lambda rows, key: [statistics.mean(r[key] for r in at) for at in zip(*rows)]
        evals = [e for e, _ in runs]
        if len(evals[0]) == 1:
            axes[0].axhline(mean(evals, 'eval_greedy')[0], color=f'C{i}', ls='--', label=f'{label}: greedy')
            continue
        x = [r['iter'] for r in evals[0]]
        axes[0].plot(x, mean(evals, 'eval_greedy'), f'C{i}-o', label=f'{label}: greedy')
        axes[0].plot(x, mean(evals, 'eval_sampled'), f'C{i}:s', label=f'{label}: sampled')
        steps = [s for _, s in runs]
        x = [r['iter'] for r in steps[0]]
        axes[1].plot(x, running_mean(mean(steps, 'format'), window), f'C{i}', label=f'{label}: format')
        axes[1].plot(x, running_mean(mean(steps, 'accuracy'), window), f'C{i}:', label=f'{label}: accuracy')
        if any(mean(steps, 'kl')):  # beta = 0: no reference pass, the KL is not measured (logged 0)
            axes[2].plot(x, running_mean(mean(steps, 'kl'), window), f'C{i}', label=label)
    n = max(len(runs) for runs in arms.values())
    axes[0].set(xlabel='GRPO step', ylabel='accuracy' + (f' (mean of up to {n} runs)' if n > 1 else ''),
                title='held-out prompts', ylim=(0, 1))
    axes[1].set(xlabel='GRPO step', ylabel=f'reward (mean of {window} steps)', title='rollouts: format and accuracy',
                ylim=(-0.02, 1.02))
    axes[2].set(xlabel='GRPO step', ylabel='k3 KL per token', title='KL to the reference')
    axes[2].set_yscale('symlog', linthresh=1e-3)  # from 0 at the start to tens when the policy collapses
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, out)


def think_rl_figure(paths, labels, out, window=10):
    """Think tokens per text token, val NLL with and without thinking, and the share of groups whose
    rewards differ (the rest carry no policy gradient); a table of each run's first and last eval."""
    plt = pyplot()
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(16, 4))
    print('| run | iter | think/text | val NLL thinking | val NLL no thinking | exact thinking | exact no thinking | '
          'groups with signal (mean over the run) |\n|---|---|---|---|---|---|---|---|')
    for i, (path, label) in enumerate(zip(paths, labels)):
        what = 'the log.jsonl of a think.py run'
        train = log_rows(path, 'think_per_text', ('iter',), what, required=False)
        evals = log_rows(path, 'val_nll_think', ('iter', 'val_nll_plain', 'val_think_rate', 'val_acc_think',
                                                 'val_acc_plain'), what)
        color, at = plt.cm.tab20(i % 20), [r['iter'] for r in evals]  # 20 colours: the default cycle has 10
        a.plot([r['iter'] for r in train], [r['think_per_text'] for r in train], label=label, color=color)
        b.plot(at, [r['val_nll_think'] for r in evals], label=f'{label} thinking', color=color)
        b.plot(at, [r['val_nll_plain'] for r in evals], ls='--', color=color, label=f'{label} no thinking')
        signal = [r for r in train if 'groups_with_signal' in r]
        if signal:
            c.plot([r['iter'] for r in signal], running_mean([r['groups_with_signal'] for r in signal], window),
                   color=color, label=label)
        share = f"{statistics.mean(r['groups_with_signal'] for r in signal):.3f}" if signal else '-'
        for e in (evals[0], evals[-1]):  # the start (the supervised model with think rows added) and the end
            print(f"| {label} | {e['iter']} | {e['val_think_rate']:.4f} | {e['val_nll_think']:.4f} | "
                  f"{e['val_nll_plain']:.4f} | {e['val_acc_think']:.3f} | {e['val_acc_plain']:.3f} | {share} |")
    a.set(xlabel='RL iteration', ylabel='think tokens per text token (rollouts)', title='how much the policy thinks')
    b.set(xlabel='RL iteration', ylabel='val NLL per answer token', title='thinking (solid) vs masked out (dashed)')
    c.set(xlabel='RL iteration', ylabel=f'share (running mean of {window} logged steps)', ylim=(-0.02, 1.02),
          title='groups whose rewards differ by > 0.01')
    for ax in (a, c) if len(paths) > 5 else (a, b, c):  # many runs: the colours are named in a and c
        ax.legend(fontsize=7)
    save_figure(fig, out)


def quietstar_figure(paths, labels, out, window=10):
    """Mixed minus base next-token NLL (smoothed) and the mean mixing weight over training."""
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for path, label in zip(paths, labels):
        rows = log_rows(path, 'mixed_nll', ('iter', 'base_nll', 'mix_weight'), 'the log.jsonl of a quietstar run')
        it = [r['iter'] for r in rows]
        smooth = running_mean([r['mixed_nll'] - r['base_nll'] for r in rows], window)  # one batch is noisy
        a.plot(it, smooth, label=label)
        b.plot(it, [r['mix_weight'] for r in rows], label=label)
    a.axhline(0, color='k', lw=0.5)
    a.set(xlabel='iteration', ylabel=f'mixed - base NLL (train batches, mean of {window} logs)',
          title='next-token NLL: < 0 means the thought helps')
    b.set(xlabel='iteration', ylabel='mean mixing weight w', title='how much the mixed logits use the thought')
    a.legend()
    save_figure(fig, out)


def coconut_stages(path):
    if not os.path.exists(path):
        raise UserError(f"no stage rows in {path}: run python coconut.py curriculum first")
    return log_rows(path, 'stage', ('arm', 'iters', 'accuracy', 'correct', 'n', 'thought_tokens', 'decoded_tokens',
                                    'train_time', 'split'), 'a stages.jsonl of coconut.py curriculum')


def run_label(path):
    """A run's name: its directory for out_dir/log.jsonl or stages.jsonl, else the file's stem."""
    return os.path.basename(os.path.dirname(os.path.abspath(path))) if path.endswith(('stages.jsonl', 'log.jsonl')) else \
        os.path.splitext(os.path.basename(path))[0]


def coconut_table(paths, labels):
    """A Markdown table: the last stage of every run."""
    lines = ['| run | arm | stages | iters | accuracy | forced choice | thought tokens | decoded tokens | train time (s) |',
             '|---|---|---|---|---|---|---|---|---|']
    for path, label in zip(paths, labels):
        rows = coconut_stages(path)
        r = rows[-1]
        stages = f"{rows[0]['stage']}..{r['stage']}" if r['arm'] not in ('cot', 'nocot') else '-'
        choice = f"{r['choice_accuracy']:.3f}" if 'choice_accuracy' in r else '-'
        lines.append(f"| {label} | {r['arm']} | {stages} | {r['iters']} | {r['accuracy']:.3f} "
                     f"({r['correct']}/{r['n']}) | {choice} | {r['thought_tokens']:.1f} | {r['decoded_tokens']:.1f} | "
                     f"{r['train_time']:.0f} |")
    return '\n'.join(lines)


def coconut_figure(paths, labels, out, window=10):
    """Accuracy after each stage (and the forced choice, if scored); single-stage runs (cot,
    nocot, no curriculum) as lines."""
    print(coconut_table(paths, labels))
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator
    runs = [(label, coconut_stages(p)) for p, label in zip(paths, labels)]
    metrics = {'accuracy': 'greedy answer accuracy'}
    if all('choice_accuracy' in r for _, rows in runs for r in rows):
        metrics['choice_accuracy'] = 'forced choice between the two options'
    colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
    fig, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4), squeeze=False)
    for ax, (metric, title) in zip(axes[0], metrics.items()):
        for n, (label, rows) in enumerate(runs):
            style = dict(color=colors[n % len(colors)], label=f"{label} ({rows[-1][metric]:.2f})")
            if len(rows) > 1:
                ax.plot([r['stage'] for r in rows], [r[metric] for r in rows], marker='o', **style)
            else:  # dash patterns differ, so equal lines stay visible
                ax.axhline(rows[0][metric], linestyle=(n * 2, (4, 4)), linewidth=1.5, **style)
        if metric == 'choice_accuracy':
            ax.axhline(0.5, color='black', linewidth=0.8, linestyle=':', label='chance')
        ax.set(xlabel='stage k (first k steps replaced by k*c thoughts)', ylabel=f"{runs[-1][1][-1]['split']} accuracy",
               title=title, ylim=(0, 1.02))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7)
    save_figure(fig, out)


TESTTIME_SETTINGS = ('k', 'min_think', 'max_think', 'simulations', 'action', 'branching')


def testtime_variant(row):
    """The curve a testtime.py row belongs to: its method, MCTS's action, budget forcing's wait
    string (a cut-off at max_think alone is its own curve), and reflection."""
    name = row['method'] + (f" {row['action']}" if row.get('action') else '')
    if row['method'] == 'budget':
        name += f" wait {row['wait']!r}" if row.get('wait') else (' max' if row.get('max_think') else ' none (sampling)')
    return name + (' + reflection' if row.get('reflection') else '')


def testtime_table(models):
    lines = ['| model | method | setting | accuracy (+- se) | tokens / question | forward FLOPs / question |',
             '|---|---|---|---|---|---|']
    for label, rows in models.items():
        for r in rows:
            setting = ', '.join(f"{k} {r[k]}" for k in TESTTIME_SETTINGS if r.get(k) is not None and k != 'action')
            lines.append(f"| {label} | {testtime_variant(r)} | {setting or '-'} | {100 * r['accuracy']:.1f} +- "
                         f"{100 * r['se']:.1f} | {r['tokens_per_question']:g} | {r['flops_per_question']:.3g} |")
    return '\n'.join(lines)


def testtime_figure(paths, labels, out, window=10):
    """Accuracy against generated tokens per question (log x), one colour per model (its testtime.jsonl),
    one line style per method, the eval set's standard error as bars. Prints testtime_table."""
    what = 'the testtime.jsonl of testtime.py runs'
    models = {}
    for path, label in zip(paths, labels):
        models.setdefault(label, []).extend(log_rows(path, 'method', ('accuracy', 'se', 'tokens_per_question', 'flops_per_question'), what))
    print(testtime_table(models))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(12, 6))
    styles = {}
    for i, (label, rows) in enumerate(models.items()):
        variants = {}
        for r in rows:
            variants.setdefault(testtime_variant(r), []).append(r)
        for name, points in variants.items():
            points.sort(key=lambda r: r['tokens_per_question'])
            n = styles.setdefault(name, len(styles))  # a line style and a marker of its own per method
            style = ('-', '--', ':', '-.')[n % 4] + 'osD^v<>pPX*h'[n % 12]
            ax.errorbar([r['tokens_per_question'] for r in points], [r['accuracy'] for r in points],
                        yerr=[r['se'] for r in points], fmt=f'C{i}{style}', capsize=2, label=f'{label}: {name}')
    ax.set_xscale('log')
    ax.set(xlabel='generated tokens per question', ylabel='accuracy (held-out)', ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1))
    save_figure(fig, out)


def tpo_table(arms):
    """A Markdown table: each arm's held-out greedy accuracy before and after its iterations,
    mean +- sd over its runs (seeds), and its last iteration's pairs and thoughts."""
    lines = ['| run | seeds | iterations | rollouts | greedy, start -> end | thought tokens | steps right when right | '
             'ties | pairs right over wrong |', '|---|---|---|---|---|---|---|---|---|']
    for label, runs in arms.items():
        first, last = [r[0] for r in runs], [r[-1] for r in runs]
        steps = [r['eval_steps_right_when_right'] for r in last if r['eval_steps_right_when_right'] is not None]
        ties = [r['ties'] / (r['ties'] + r['pairs']) for r in last if 'ties' in r]
        cells = [f"{label} | {len(runs)} | {'/'.join(sorted({str(r['iter']) for r in last}))}",
                 '/'.join(sorted({str(r['total_rollouts']) for r in last})),
                 f"{mean_sd([100 * r['eval_greedy'] for r in first], 1)} -> {mean_sd([100 * r['eval_greedy'] for r in last], 1)}",
                 mean_sd([r['eval_thought_tokens'] for r in last], 1),
                 mean_sd([100 * v for v in steps], 1) if steps else '-',
                 mean_sd([100 * v for v in ties], 1) if ties else '-',
                 mean_sd([100 * r['pairs_right_over_wrong'] for r in last if 'pairs' in r], 1) if ties else '-']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def tpo_figure(paths, labels, out, window=10):
    """Held-out greedy accuracy over the iterations (the mean over the runs that share a label,
    against the rollouts sampled so far), and per iteration the share of pairs whose chosen
    completion is right and rejected one wrong. Prints tpo_table."""
    what = 'the log.jsonl of a tpo.py run'
    arms = by_label(paths, labels, lambda path: log_rows(path, 'eval_greedy', ('iter', 'total_rollouts', 'eval_thought_tokens',
                                                                               'eval_steps_right_when_right'), what))
    print(tpo_table(arms))
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for i, (label, runs) in enumerate(arms.items()):
        mean = lambda key: [statistics.mean(r.get(key, float('nan')) for r in at) for at in zip(*runs)]
        x = [r['total_rollouts'] for r in runs[0]]
        axes[0].plot(x, mean('eval_greedy'), f'C{i}-o', label=label)
        axes[1].plot(x[1:], mean('pairs_right_over_wrong')[1:], f'C{i}-o', label=label)
    axes[0].set(xlabel='rollouts sampled', ylabel='held-out greedy accuracy (mean over seeds)', ylim=(0, 1))
    axes[1].set(xlabel='rollouts sampled', ylabel='pairs: chosen right, rejected wrong', ylim=(0, 1.05))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, out)


def answer_curves(path):
    """The rows of a `quietstar.py answers` curve (curve-NAME.jsonl: one row per scored
    iteration), each with the training FLOPs at its iteration from the run's log NAME.jsonl
    beside it, and the answer accuracy: the mixed prediction's, or a plain GPT's direct one."""
    rows = log_rows(path, 'base_accuracy', ('iter',), 'a curve of quietstar.py answers rows')
    log = os.path.join(os.path.dirname(path), os.path.basename(path).removeprefix('curve-'))
    if log == path or not os.path.exists(log):
        raise UserError(f"{path} needs the run's log beside it as {log} (named curve-NAME.jsonl, log NAME.jsonl)")
    flops = {r['iter']: r['flops'] for r in log_rows(log, 'val_loss', ('iter', 'flops'), "a train.py log.jsonl")}
    missing = [r['iter'] for r in rows if r['iter'] not in flops]
    if missing:
        raise UserError(f"{log} has no evaluation at iterations {missing} of {path}")
    return [{**r, 'flops': flops[r['iter']], 'accuracy': r.get('mixed_accuracy', r['base_accuracy'])} for r in rows]


ANSWER_COLUMNS = (('accuracy', 'answer accuracy'), ('base_accuracy', 'base head'), ('swapped_accuracy', 'thoughts swapped'),
                  ('thought_is_chain', 'thought = chain'), ('mix_weight', 'w at the answer'))


def answers_table(arms):
    """A Markdown table: each arm's last scored row, mean +- sd over its seeds (percent, w as is)."""
    lines = ['| arm | seeds | iterations | training FLOPs | ' + ' | '.join(name for _, name in ANSWER_COLUMNS) + ' |',
             '|---|---|---|---|' + '---|' * len(ANSWER_COLUMNS)]
    for label, runs in arms.items():
        last = [rows[-1] for rows in runs]
        cells = [mean_sd([r[k] * (1 if k == 'mix_weight' else 100) for r in last], 2 if k == 'mix_weight' else 1)
                 if k in last[0] else '-' for k, _ in ANSWER_COLUMNS]
        lines.append(f"| {label} | {len(runs)} | {'/'.join(sorted({str(r['iter']) for r in last}))} | "
                     f"{statistics.mean(r['flops'] for r in last):.2e} | " + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def quietstar_answers_figure(paths, labels, out, window=10):
    """Answer accuracy and the share of thoughts that are the true chain against training
    FLOPs (the mean over the runs that share a label, seeds thin), and their table."""
    plt = pyplot()
    arms = by_label(paths, labels, answer_curves)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (label, runs) in enumerate(arms.items()):
        for key, ax in (('accuracy', a), ('thought_is_chain', b)):
            if key not in runs[0][0]:
                continue
            for rows in runs:
                ax.plot([r['flops'] for r in rows], [100 * r[key] for r in rows], color=f'C{i}', lw=0.6, alpha=0.4)
            points = list(zip(*[[(r['flops'], r[key]) for r in rows] for rows in runs]))
            ax.plot([statistics.mean(x for x, _ in p) for p in points], [100 * statistics.mean(y for _, y in p) for p in points],
                    color=f'C{i}', marker='o', ms=3, label=f"{label} ({len(runs)} seed{'s' * (len(runs) > 1)})")
    for ax in (a, b):
        ax.set_xscale('log')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    a.set(xlabel='training FLOPs', ylabel='answer accuracy (%)', title='the answer: mixed prediction (plain GPT: direct)')
    b.set(xlabel='training FLOPs', ylabel='thoughts equal to the true chain (%)', title='what the thought at the answer holds')
    print(answers_table(arms))
    save_figure(fig, out)


THINK_COLUMNS = (('accuracy', 'accuracy (its thinking)'), ('acc_greedy', 'slot: likeliest token'),
                 ('acc_random', 'think tokens of random identity'), ('acc_plain', 'thinking masked'),
                 ('nll_think', 'NLL thinking'), ('nll_random', 'NLL random tokens'), ('nll_plain', 'NLL masked'))


def think_answers_table(arms):
    """A Markdown table of think_answers.py (or score.py) results, mean +- sd over each arm's seeds;
    accuracies in percent; the think token's mutual information with each path node (bits, mean)."""
    lines = ['| arm | seeds | ' + ' | '.join(name for _, name in THINK_COLUMNS) + ' | MI with a, f(a), f^2(a), ... (bits) |',
             '|---|---|' + '---|' * (len(THINK_COLUMNS) + 1)]
    for label, results in arms.items():
        cells = [mean_sd([r[k] * (100 if k.startswith('acc') else 1) for r in results], 1 if k.startswith('acc') else 3)
                 if all(k in r for r in results) else '-' for k, _ in THINK_COLUMNS]
        mi = [r['mi_bits_with_path'] for r in results if 'mi_bits_with_path' in r]
        cells.append(', '.join(f'{statistics.mean(v):.2f}' for v in zip(*mi)) if mi else '-')
        lines.append(f"| {label} | {len(results)} | {' | '.join(cells)} |")
    return '\n'.join(lines)


def think_answers_figure(paths, labels, out, window=10):
    """Accuracy bars of the arms (think_answers.py or score.py --json results; a shared label: seeds)
    and the think token's mutual information with each node of the path; prints the table."""
    plt = pyplot()
    arms = by_label(paths, labels, read_result)
    fig, (a, b) = plt.subplots(1, 2, figsize=(14, 4.5), gridspec_kw={'width_ratios': [3, 2]})
    draw_bars(a, paths, labels, chance=0)
    mis = {label: [r['mi_bits_with_path'] for r in results if 'mi_bits_with_path' in r] for label, results in arms.items()}
    for i, (label, mi) in enumerate(mis.items()):  # colours as the bars'
        for v in mi:
            b.plot(range(len(v)), v, '.', color=f'C{i}', alpha=0.5)
        if mi:
            b.plot(range(len(mi[0])), [statistics.mean(v) for v in zip(*mi)], color=f'C{i}', marker='o', label=label)
    top = max((v for mi in mis.values() for x in mi for v in x), default=0)
    b.set(xlabel='node of the path (0: the start a, i: f^i(a))', ylabel='mutual information (bits)', ylim=(0, max(0.5, 1.1 * top)),
          title='what the first think token says')
    b.xaxis.get_major_locator().set_params(integer=True)
    b.legend(fontsize=7)
    print(think_answers_table(arms))
    save_figure(fig, out)


def accuracy_by_figure(paths, labels, out, window=10):
    """Accuracy against a setting, labels ARM@SETTING (e.g. K=1@k=2): one line per arm, mean +- sd
    over the seeds that share a label, each seed a dot; prints the table (arms by settings)."""
    cells = {}
    for label, accs in accuracies(paths, labels).items():
        arm, at, setting = label.rpartition('@')
        if not at:
            raise UserError(f"--figure=accuracy_by: the label {label!r} is not ARM@SETTING (e.g. --labels=K=0@k=1,K=1@k=1)")
        cells.setdefault(arm, {})[setting] = accs
    settings = list(dict.fromkeys(s for by in cells.values() for s in by))
    print('| arm | ' + ' | '.join(settings) + ' |\n|---|' + '---|' * len(settings))
    fig, ax = pyplot().subplots(figsize=(7, 4.5))
    for i, (arm, by) in enumerate(cells.items()):
        print(f'| {arm} | ' + ' | '.join(f"{mean_sd([100 * a for a in by[s]], 1)}% ({len(by[s])})" if s in by else '-'
                                         for s in settings) + ' |')
        xs = [settings.index(s) + 0.06 * (i - len(cells) / 2) for s in by]  # arms side by side
        ax.errorbar(xs, [statistics.mean(a) for a in by.values()], yerr=[statistics.stdev(a) if len(a) > 1 else 0
                    for a in by.values()], fmt=f'C{i}-o', capsize=3, label=arm)
        ax.plot([x for x, a in zip(xs, by.values()) for _ in a], [v for a in by.values() for v in a], '.', color=f'C{i}', alpha=0.5)
    ax.set_xticks(range(len(settings)), settings)
    ax.set(ylabel='accuracy', ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, out)


IDEA_FIGURES = {'grpo': grpo_figure, 'think_rl': think_rl_figure, 'quietstar': quietstar_figure, 'coconut': coconut_figure,
                'quietstar_answers': quietstar_answers_figure, 'testtime': testtime_figure, 'tpo': tpo_figure,
                'think_answers': think_answers_figure, 'accuracy_by': accuracy_by_figure}  # name -> draw(paths, labels, out, window)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('runs', nargs='+', help='out_dirs or log .jsonl files')
    p.add_argument('--labels', default='', help='comma-separated, one per run (default: the paths)')
    p.add_argument('--x', default='iter', choices=list(X_AXES))
    p.add_argument('--title', default='')
    p.add_argument('--ylim', default='', help='low,high')
    p.add_argument('--out', default='', help='the figure (default: curves.png, or FIGURE.png with --figure)')
    p.add_argument('--table', action='store_true', help='print a Markdown table instead of plotting (of accuracy with --bars)')
    p.add_argument('--bars', action='store_true', help='bars of accuracy .json results instead of curves')
    p.add_argument('--chance', type=float, default=0.5, help='with --bars: a line at this accuracy (0: none)')
    p.add_argument('--figure', default='curves', choices=['curves', *IDEA_FIGURES],
                   help="an idea's own figure (and table) from its logs instead of loss curves")
    p.add_argument('--window', type=int, default=10, help='grpo, quietstar: steps in the running mean')
    args = p.parse_args(argv)
    with cli_errors():
        if args.ylim:
            parse_ylim(args.ylim)  # before any work
        out = args.out or ('curves.png' if args.figure == 'curves' else f'{args.figure}.png')
        if args.window < 1:
            raise UserError(f"--window must be >= 1, got {args.window}")
        default = args.runs if args.figure == 'curves' else [run_label(p) for p in args.runs]
        labels = args.labels.split(',') if args.labels else default
        if len(labels) != len(args.runs):
            raise SystemExit(f"error: {len(labels)} labels for {len(args.runs)} runs")
        if args.figure != 'curves':
            IDEA_FIGURES[args.figure](args.runs, labels, out, args.window)
            return
        if args.table:
            print(accuracy_table(args.runs, labels) if args.bars else table(args.runs, labels))
            return
        fig, ax = pyplot().subplots(figsize=(8, 5))
        if args.bars:
            draw_bars(ax, args.runs, labels, args.chance)
        else:
            draw_curves(ax, args.runs, labels, args.x, args.ylim)
        ax.set_title(args.title)
        save_figure(fig, out)


if __name__ == '__main__':
    main(sys.argv[1:])
