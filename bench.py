"""
Benchmarks (not tests): training tokens/s and achieved GFLOP/s, generation with and without
the KV cache, and the cost of each idea relative to the plain GPT. Arms are timed
interleaved (A B A B ...) in one run and medians are reported, because a shared machine's
timings are noisy.

    python bench.py                                    # 10.65M shape, batch 8, block 256
    python bench.py --reference=/tmp/nanogpt/model.py  # side by side with nanoGPT's model.py
    python bench.py --reasoning=0,1,3                  # reasoning-token step time vs K=0
    python bench.py quietstar --T=128 --thought_len=8    # Quiet-STaR: parallel thoughts vs one position at a time
"""

import argparse
import importlib.util
import os
import statistics
import sys
import time
from contextlib import nullcontext

import torch

import quietstar
from configurator import pick_device
from model import GPT, GPTConfig, build_model, idea_class
from vocab import cli_errors, UserError


def peak_matmul_flops(n=2048, repeats=5):
    """Measured fp32 matmul FLOP/s of this machine, its best of a few: the roof for MFU on a CPU."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / min(times)


def train_step_fn(model, batch_size, block_size, vocab_size, dtype='float32', device='cpu'):
    """One forward + backward + AdamW step on fixed random tokens; bfloat16: under autocast,
    as train.py runs it (weights and optimizer stay fp32)."""
    device_type = 'cuda' if device.startswith('cuda') else 'cpu'
    model.to(device)
    optimizer = model.configure_optimizers(0.1, 1e-4, (0.9, 0.95), device_type)
    x = torch.randint(vocab_size, (batch_size, block_size), device=device)
    y = torch.randint(vocab_size, (batch_size, block_size), device=device)
    ctx = torch.autocast(device_type, dtype=torch.bfloat16) if dtype == 'bfloat16' else nullcontext()

    def step():
        with ctx:
            _, loss = model(x, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return step


def time_interleaved(fns, steps, warmup):
    """Median seconds per call of each fn, called in turn so that load hits all alike (on CUDA
    each call waits for the GPU to finish)."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)  # main() sets the device
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(steps):
        for name, fn in fns.items():
            sync()
            t = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def load_reference(path, config):
    """nanoGPT's GPT from its model.py (kept outside this repository)."""
    spec = importlib.util.spec_from_file_location('reference_model', path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        return module.GPT(module.GPTConfig(**config))
    except Exception as e:  # someone else's file: any fault is theirs, said in one line
        raise UserError(f"--reference={path} does not give a nanoGPT GPT: {type(e).__name__}: {e}")


@torch.no_grad()
def generate_recompute(model, idx, max_new_tokens):
    """Greedy decoding that recomputes the whole context each step (no cache)."""
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -model.config.block_size:])
        idx = torch.cat((idx, logits[:, -1].argmax(-1, keepdim=True)), dim=1)
    return idx


def check_args(args):
    """The arguments, before the minutes of timing: the shape builds, the counts are in range."""
    if args.steps < 1 or args.warmup < 0 or args.gen_tokens < 0:
        raise UserError(f"need --steps >= 1, --warmup >= 0 and --gen_tokens >= 0, got {args.steps}, {args.warmup}, "
                        f"{args.gen_tokens}")
    if min(args.batch_size, args.vocab_size) < 1:
        raise UserError(f"--batch_size and --vocab_size must be >= 1, got {args.batch_size}, {args.vocab_size}")
    if args.reference and not (os.path.isfile(args.reference) and args.reference.endswith('.py')):
        raise UserError(f"--reference={args.reference} must be a Python file (nanoGPT's model.py)")
    bad = [d for d in args.dtypes.split(',') if d not in ('float32', 'bfloat16')]
    if bad:
        raise UserError(f"--dtypes={args.dtypes}: each must be float32 or bfloat16, not {', '.join(bad)}")
    try:
        ks = [int(v) for v in args.reasoning.split(',') if v]
    except ValueError:
        raise UserError(f"--reasoning={args.reasoning} must be comma-separated integers, e.g. 0,1,3")
    shape = dict(n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd, block_size=args.block_size,
                 vocab_size=args.vocab_size)
    try:
        GPTConfig(**shape)
        for k in ks:
            idea_class('reasoning_tokens').config_class(**shape, n_reasoning=k)
    except (ValueError, TypeError) as e:
        raise UserError(f"bad shape: {e}")
    return ks


# -----------------------------------------------------------------------------
# Quiet-STaR: thoughts at every position in parallel vs one position at a time

def bench_model(T, thought_len):
    torch.manual_seed(0)
    cfg = quietstar.QuietSTaRConfig(block_size=256, vocab_size=67, n_layer=4, n_head=4, n_embd=128, bias=False,
                          thought_len=thought_len, thought_temperature=0.0, start_id=65, end_id=66)
    return quietstar.QuietSTaRGPT(cfg).eval(), torch.randint(65, (1, T))


@torch.no_grad()
def think_serial(model, idx):
    """What generate does at each new position: one text token into the cache, then its thought."""
    cache = model.new_cache(idx.size(0), idx.size(1) + model.config.thought_len + 2)
    posts = []
    for i in range(idx.size(1)):
        h = model.blocks(model.embed(idx[:, i:i + 1], torch.tensor([i])), cache=cache)[:, -1]
        _, h_post = model.think_one(h, cache)
        cache.pos = i + 1
        posts.append(h_post)
    return torch.stack(posts, dim=1)


def peak_memory_mb(fn):
    """Peak resident memory of fn() above the memory before it, in MB: Linux's high-water mark
    (VmHWM), reset first by writing 5 to /proc/self/clear_refs. torch's CPU tensors are not
    Python objects, so tracemalloc cannot see them."""
    def status(key):
        return next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith(key))
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    before = status('VmRSS')
    fn()
    return (status('VmHWM') - before) / 1024


def quietstar_bench(T=128, thought_len=8, repeats=5):
    """Thoughts at all T positions (T * (thought_len + 2) thought tokens): the parallel passes vs
    generate's way, one position at a time through the KV cache. Interleaved, medians."""
    if T < 1 or thought_len < 0 or repeats < 1:
        raise UserError(f"need --T >= 1, --thought_len >= 0 and --repeats >= 1, got {T}, {thought_len}, {repeats}")
    model, idx = bench_model(T, thought_len)
    if T > model.config.block_size:
        raise UserError(f"--T={T} is longer than the bench model's block_size {model.config.block_size}")
    fns = {'parallel': lambda: torch.no_grad()(model.think)(idx, 1), 'serial': lambda: think_serial(model, idx)}
    mem = {name: peak_memory_mb(fn) for name, fn in fns.items()}  # first, before freed memory is reused
    assert torch.allclose(fns['parallel']()[1][:, :, 0], fns['serial'](), atol=1e-4), 'the two paths disagree'
    secs = time_interleaved(fns, steps=repeats, warmup=1)
    kv = 2 * model.config.n_layer * T * (thought_len + 3) * model.config.n_embd * 4 / 2**20
    print(f"T={T}, {thought_len} thought tokens, 4 layers x 128, batch 1, {torch.get_num_threads()} thread(s), median of {repeats}:")
    for name in fns:
        print(f"  {name:8s} {secs[name] * 1000:8.1f} ms  {T * (thought_len + 2) / secs[name]:8.0f} thought tokens/s  "
              f"peak memory +{mem[name]:.1f} MB")
    print(f"  parallel is {secs['serial'] / secs['parallel']:.1f}x faster; its KV cache is {kv:.1f} MB")


def main(argv=None):
    with cli_errors():
        if argv and argv[0] == 'quietstar':
            p = argparse.ArgumentParser(prog='bench.py quietstar', description=quietstar_bench.__doc__)
            p.add_argument('--T', type=int, default=128)
            p.add_argument('--thought_len', type=int, default=8)
            p.add_argument('--repeats', type=int, default=5)
            args = p.parse_args(argv[1:])
            quietstar_bench(args.T, args.thought_len, args.repeats)
        else:
            run(argv)


def run(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--n_layer', type=int, default=6)
    p.add_argument('--n_head', type=int, default=6)
    p.add_argument('--n_embd', type=int, default=384)
    p.add_argument('--block_size', type=int, default=256)
    p.add_argument('--batch_size', type=int, default=8)
    p.add_argument('--vocab_size', type=int, default=65)
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--reference', default='', help="nanoGPT's model.py, timed beside ours")
    p.add_argument('--reasoning', default='', help='comma-separated K values, e.g. 0,1,3')
    p.add_argument('--dtypes', default='float32,bfloat16', help='training-step dtypes, timed side by side')
    p.add_argument('--gen_tokens', type=int, default=256)
    p.add_argument('--seed', type=int, default=1337)
    p.add_argument('--device', default='cpu', help='cpu or cuda (auto: cuda when there is one)')
    p.add_argument('--peak_flops', type=float, default=989e12, help='on CUDA: the bf16 peak for MFU (H100/H200 dense)')
    args = p.parse_args(argv)
    reasoning = check_args(args)
    torch.manual_seed(args.seed)
    shape = dict(n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd, block_size=args.block_size,
                 vocab_size=args.vocab_size, dropout=0.0, bias=False)
    tokens = args.batch_size * args.block_size
    device = pick_device(args.device)
    if device == 'mps':
        raise UserError("bench.py times cpu or cuda; MPS has no bf16 autocast path here")
    cuda = device.startswith('cuda')
    if cuda:
        torch.cuda.set_device(device)  # the timing syncs wait on this GPU
    if cuda:  # MFU against the GPU's bf16 peak; fp32 steps run as TF32 if torch allows it
        peak, peak_dtype = args.peak_flops, 'bfloat16'
        print(f"torch {torch.__version__}, {torch.cuda.get_device_name(device)}; bf16 peak {peak / 1e12:.0f} TFLOP/s (--peak_flops)")
    else:
        peak, peak_dtype = peak_matmul_flops(), 'float32'
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fp32 matmul peak {peak / 1e9:.0f} GFLOP/s")
    print(f"shape: {args.n_layer} layers, {args.n_head} heads, {args.n_embd} wide, block {args.block_size}, "
          f"batch {args.batch_size}")

    ours = GPT(GPTConfig(**shape))
    arms = {'nanothink': (ours, ours.flops_per_token())}
    if args.reference:
        ref = load_reference(args.reference, shape)
        arms['nanoGPT'] = (ref, ours.flops_per_token())  # same shape, same FLOPs per token
    for k in reasoning:
        m = build_model('reasoning_tokens', dict(shape, n_reasoning=k))
        arms[f'reasoning K={k}'] = (m, m.flops_per_token())
    dtypes = args.dtypes.split(',')
    fns = {f'{name} {d}': train_step_fn(m, args.batch_size, args.block_size, args.vocab_size, d, device)
           for name, (m, _) in arms.items() for d in dtypes}
    secs = time_interleaved(fns, args.steps, args.warmup)
    base = secs[f'nanothink {dtypes[0]}']
    print(f"\ntraining step (forward + backward + AdamW), median of {args.steps}; {peak_dtype} mfu against the peak:")
    for label in fns:
        name, d = label.rsplit(' ', 1)
        achieved = arms[name][1] * tokens / secs[label]
        mfu = f"  mfu {100 * achieved / peak:5.1f}%" if d == peak_dtype else ' ' * 12
        print(f"  {label:26s} {secs[label] * 1000:8.1f} ms/step  {tokens / secs[label]:8.0f} text tokens/s  "
              f"{achieved / 1e9:6.1f} GFLOP/s{mfu}  x{base / secs[label]:.2f} the speed of nanothink {dtypes[0]}")

    if args.gen_tokens:
        ours.eval()
        idx = torch.zeros((1, 1), dtype=torch.long, device=device)
        secs = time_interleaved({
            'kv cache': lambda: ours.generate(idx, args.gen_tokens, temperature=0),
            'recompute': lambda: generate_recompute(ours, idx, args.gen_tokens),
        }, steps=3, warmup=1)
        print(f"\ngeneration of {args.gen_tokens} tokens (batch 1, greedy), median of 3:")
        for name, s in secs.items():
            print(f"  {name:16s} {args.gen_tokens / s:8.0f} tokens/s")
        print(f"  speed-up of the cache: {secs['recompute'] / secs['kv cache']:.1f}x")


if __name__ == '__main__':
    main(sys.argv[1:])
