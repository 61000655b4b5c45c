"""
The CUDA path in one go, on a machine with one GPU and no network: the GPU tests, the
benchmark, then the post's 10M reasoning-token comparison for real (config/mini.py K=1,
config/mini_baseline.py K=0, config/mini_dense.py the FLOP-matched dense K=0), 5000
iterations each, the three side by side on the one GPU, and a summary beside the post's
numbers (theirs).

    python cuda_run.py                         # everything; logs in runs-cuda/
    python cuda_run.py --reference=/tmp/nanogpt/model.py   # bench.py beside nanoGPT's model too
    python cuda_run.py --dry                   # the same steps on the CPU, tiny: a test runs this

It needs data/shakespeare_char/{train,val}.bin and meta.pkl (~2 MB; made here from
input.txt or ../shared's copy if missing). The arms run with torch.compile and bf16 autocast;
each prints its own time estimate when it starts.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ARMS = {'K=1': 'config/mini.py', 'K=0': 'config/mini_baseline.py', 'dense K=0': 'config/mini_dense.py'}
TINY = ['--device=cpu', '--compile=False', '--dtype=float32', '--n_layer=1', '--n_head=2', '--n_embd=32',
        '--block_size=32', '--batch_size=4', '--max_iters=4', '--eval_interval=2', '--eval_iters=1', '--log_interval=1']
THEIRS = "the post (theirs, 10M, K=0 -> K=1): train loss 0.621 -> 0.401 at iteration 5000; GPT-2 124M val 2.85 -> 2.81"


def run(cmd, log=None):
    """Run a step; its output goes to the terminal (and to log). Returns (exit code, seconds)."""
    print(f"\n$ {' '.join(cmd)}", flush=True)
    t0 = time.time()
    if log:
        with open(log, 'w') as f:
            code = subprocess.call(cmd, cwd=HERE, stdout=f, stderr=subprocess.STDOUT)
    else:
        code = subprocess.call(cmd, cwd=HERE)
    return code, time.time() - t0


def ensure_data(data_dir):
    if all(os.path.exists(os.path.join(data_dir, f)) for f in ('train.bin', 'val.bin', 'meta.pkl')):
        return
    shared = os.path.join(HERE, '..', 'shared', 'data', 'tinyshakespeare', 'input.txt')
    local = os.path.join(data_dir, 'input.txt')
    source = local if os.path.exists(local) else shared if os.path.exists(shared) else None
    if source is None:
        sys.exit(f"error: no data in {data_dir} and no input.txt to make it from: run python "
                 f"data/shakespeare_char/prepare.py where there is a network, and bring {data_dir} along")
    code, _ = run([sys.executable, 'data/shakespeare_char/prepare.py', f'--input={source}', f'--out_dir={data_dir}'])
    if code:
        sys.exit(code)


def train_arms(out, extra):
    """The three arms at once, one process each; returns {arm: (exit code, seconds)}."""
    procs = {}
    for arm, config in ARMS.items():
        name = arm.replace('=', '').replace(' ', '-')
        cmd = [sys.executable, 'train.py', config, f'--out_dir={os.path.join(out, name)}', '--progress=lines', *extra]
        print(f"$ {' '.join(cmd)}  > {os.path.join(out, name + '.txt')}", flush=True)
        log = open(os.path.join(out, name + '.txt'), 'w')
        procs[arm] = (subprocess.Popen(cmd, cwd=HERE, stdout=log, stderr=subprocess.STDOUT), log, time.time(), name)
    done = {}
    for arm, (p, log, t0, name) in procs.items():
        done[arm] = (p.wait(), time.time() - t0, name)
        log.close()
    return done


def summary(out, done):
    lines = [f"{'arm':10s} {'iters':>6s} {'train':>8s} {'val':>8s} {'best val (iter)':>17s} {'tokens/s':>10s} {'wall':>8s}"]
    for arm, (code, seconds, name) in done.items():
        path = os.path.join(out, name, 'log.jsonl')
        if code or not os.path.exists(path):
            lines.append(f"{arm:10s} failed (exit {code}): see {os.path.join(out, name + '.txt')}")
            continue
        rows = [json.loads(line) for line in open(path)]
        evals = [r for r in rows if 'val_loss' in r]
        speed = [r['tokens_per_s'] for r in rows if 'tokens_per_s' in r]
        last, best = evals[-1], min(evals, key=lambda r: r['val_loss'])
        lines.append(f"{arm:10s} {last['iter']:6d} {last['train_loss']:8.4f} {last['val_loss']:8.4f} "
                     f"{best['val_loss']:10.4f} ({best['iter']:4d}) {statistics.median(speed) if speed else 0:10.0f} "
                     f"{seconds / 60:6.1f} min")
    lines.append(THEIRS)
    return '\n'.join(lines)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default='runs-cuda', help='where the logs go')
    p.add_argument('--dry', action='store_true', help='every step on the CPU, tiny (a few seconds each)')
    p.add_argument('--data_dir', default='', help='the shakespeare_char data (default: data/shakespeare_char)')
    p.add_argument('--reference', default='', help="nanoGPT's model.py, for bench.py")
    args = p.parse_args(argv)
    if not args.dry:
        import torch
        if not torch.cuda.is_available():
            sys.exit("error: no CUDA GPU here; python cuda_run.py --dry runs the same steps on the CPU, tiny")
    data_dir = os.path.abspath(args.data_dir or os.path.join(HERE, 'data', 'shakespeare_char'))
    ensure_data(data_dir)
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()

    code, t_tests = run([sys.executable, '-m', 'pytest', '-q', '-m', 'cuda', 'tests/test_cuda.py'])
    if code:
        sys.exit(f"error: the CUDA tests failed (exit {code}); nothing else was run")
    bench = ['--reasoning=0,1', '--gen_tokens=256', '--device=cuda']
    if args.dry:
        bench = ['--device=cpu', '--n_layer=1', '--n_head=2', '--n_embd=32', '--block_size=32', '--batch_size=2',
                 '--steps=1', '--warmup=0', '--gen_tokens=4', '--reasoning=0,1']
    bench += [f'--reference={args.reference}'] if args.reference else []
    code, t_bench = run([sys.executable, 'bench.py', *bench], log=os.path.join(args.out, 'bench.txt'))
    print(open(os.path.join(args.out, 'bench.txt')).read())
    extra = [f'--data_dir={data_dir}'] + (TINY if args.dry else ['--device=cuda', '--compile=True', '--dtype=bfloat16'])
    done = train_arms(args.out, extra)
    text = summary(args.out, done)
    text += f"\ntimes: tests {t_tests:.0f} s, bench {t_bench:.0f} s, the three arms together " \
            f"{max(s for _, s, _ in done.values()) / 60:.1f} min; in all {(time.time() - t0) / 60:.1f} min"
    with open(os.path.join(args.out, 'summary.txt'), 'w') as f:
        f.write(text + '\n')
    print('\n' + text)
    sys.exit(1 if code or any(c for c, _, _ in done.values()) else 0)


if __name__ == '__main__':
    main(sys.argv[1:])
