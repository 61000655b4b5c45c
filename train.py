"""
One training loop for every idea.

    python train.py config/cpu.py                     # a config file, then overrides
    python train.py config/cpu.py --max_iters=100 --device=cpu
    torchrun --standalone --nproc_per_node=8 train.py config/gpt2_124m.py

The config (configurator.py) says `model = 'X'`, the idea: the GPT subclass in X.py. Its
dataclass fields are config keys too, and its special tokens join the vocabulary. Data is a
token stream (data/<dataset>/{train,val}.bin + meta.pkl) or task records (data/<dataset>/{train,val}.jsonl with prompt/completion + meta.pkl; loss only on
the completion). Every run writes out_dir/ckpt.pt (atomically) and out_dir/log.jsonl.
"""

import json
import math
import os
import random
import sys
import time
from contextlib import nullcontext

import numpy as np
import torch

from configurator import idea_meta, load_config, model_args, pick_device, pick_dtype
from model import build_model, config_fields, idea_class
from vocab import (Tokenizer, UserError, check_extends, check_writable, cli_errors, default_data_dir,
                   load_meta, read_jsonl)

# -----------------------------------------------------------------------------
# data


class Dataset:
    """Training batches, each a pure function of (split, seed): a resumed or distributed run
    sees exactly the batches an uninterrupted single process would."""

    def __init__(self, data_dir, dataset, block_size, tokenizer, train_tokens=0):
        self.block_size = block_size
        self.train_tokens = train_tokens
        self.kind = 'stream' if os.path.exists(os.path.join(data_dir, 'train.bin')) else 'records'
        self.splits = {}
        for split in ('train', 'val'):
            if self.kind == 'stream':
                path = os.path.join(data_dir, f'{split}.bin')
                self.splits[split] = self.load_stream(path, dataset)
            else:
                path = os.path.join(data_dir, f'{split}.jsonl')
                if not os.path.exists(path):
                    raise UserError(f"no {split}.bin or {split}.jsonl in {data_dir}: run python data/{dataset}/prepare.py")
                self.splits[split] = self.encode_records(path, tokenizer)

    def load_stream(self, path, dataset):
        if not os.path.isfile(path):
            raise UserError(f"{path} {'is a directory' if os.path.isdir(path) else 'missing'}: "
                            f"run python data/{dataset}/prepare.py")
        size = os.path.getsize(path)
        if size % 2:
            raise UserError(f"{path} has {size} bytes, not whole uint16 tokens; rerun python data/{dataset}/prepare.py")
        if size // 2 <= self.block_size + 1:
            raise UserError(f"{path} holds {size // 2} tokens, fewer than one block of {self.block_size + 1}")
        return path

    def encode_records(self, path, tokenizer):
        """(ids, number of prompt tokens) per record."""
        out = []
        for n, r in enumerate(read_jsonl(path), 1):
            if not isinstance(r, dict) or not isinstance(r.get('prompt'), str) or not isinstance(r.get('completion'), str):
                raise UserError(f"{path} record {n} needs string fields prompt and completion")
            p, c = tokenizer.encode(r['prompt']), tokenizer.encode(r['completion'])
            out.append((p + c, len(p)))
        if not out:
            raise UserError(f"{path} holds no records")
        cut = sum(len(ids) - 1 > self.block_size for ids, _ in out)
        if cut:
            print(f"note: {cut:,} of the {len(out):,} records in {path} are longer than block_size + 1 "
                  f"({self.block_size + 1} tokens); each keeps its end, its start is cut", file=sys.stderr)
        return out

    def batch(self, split, batch_size, seed):
        g = torch.Generator().manual_seed(seed)
        if self.kind == 'stream':
            # a fresh memmap each batch: a long-lived one grows memory (numpy keeps pages)
            data = np.memmap(self.splits[split], dtype=np.uint16, mode='r')
            if split == 'train' and self.train_tokens:
                data = data[:self.train_tokens]
            ix = torch.randint(len(data) - self.block_size, (batch_size,), generator=g).tolist()
            x = torch.stack([torch.from_numpy(data[i:i + self.block_size].astype(np.int64)) for i in ix])
            y = torch.stack([torch.from_numpy(data[i + 1:i + 1 + self.block_size].astype(np.int64)) for i in ix])
            return x, y
        records = self.splits[split]
        ix = torch.randint(len(records), (batch_size,), generator=g).tolist()
        return records_batch([records[i] for i in ix], self.block_size)


def records_batch(records, block_size):
    """Pad (ids, n_prompt) records into x, y; targets -1 on the prompt and the padding. A
    record longer than the block keeps its end (the completion)."""
    rows = []
    for ids, n_prompt in records:
        ids = torch.tensor(ids, dtype=torch.long)
        y = ids[1:].clone()
        y[:n_prompt - 1] = -1
        rows.append((ids[:-1][-block_size:], y[-block_size:]))
    T = max(len(x) for x, _ in rows)
    x = torch.zeros(len(rows), T, dtype=torch.long)
    y = torch.full((len(rows), T), -1, dtype=torch.long)
    for b, (xi, yi) in enumerate(rows):
        x[b, :len(xi)], y[b, :len(yi)] = xi, yi
    return x, y


def eval_batch_seed(split, k):
    """Seed of evaluation batch k of a split: the same batches at every evaluation of every run."""
    return -(2 * k + ('train', 'val').index(split) + 1) % 2**62


def batch_seed(seed, it, micro):
    """Seed of training micro-batch `micro` (counted over all processes) at iteration it."""
    return (seed * 1_000_003 + it) * 4099 + micro


# -----------------------------------------------------------------------------
# checkpoints

def save_checkpoint(ckpt, path):
    """Write then rename: an interrupted save never leaves a half file where a good one was."""
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        torch.save(ckpt, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def checkpoint(model, optimizer, idea, meta, config, iter_num, best_val_loss=float('inf'), elapsed=0.0,
               rng_states=None):
    """What a checkpoint holds, as plain data (loadable with weights_only=True)."""
    return {'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
            'model_args': dict(vars(model.config)), 'idea': idea, 'meta': meta, 'iter_num': iter_num,
            'best_val_loss': best_val_loss, 'elapsed': elapsed, 'config': config,
            'rng': {'torch': rng_states or [torch.get_rng_state()]}}


def load_checkpoint(path):
    """A checkpoint (a file, or a run's out_dir) as plain data; weights_only: opening one runs no code."""
    path = os.path.join(path, 'ckpt.pt') if os.path.isdir(path) else path
    if not os.path.exists(path):
        raise UserError(f"no checkpoint at {path}; train one first (python train.py ...) or use init_from='scratch'")
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:
        raise UserError(f"checkpoint {path} is unreadable (truncated or corrupt?): {type(e).__name__}")
    if not isinstance(ckpt, dict) or not {'model', 'model_args', 'idea', 'meta'} <= ckpt.keys():
        raise UserError(f"{path} is not a nanothink checkpoint (needs model, model_args, idea, meta)")
    return ckpt


def model_from_checkpoint(ckpt):
    model = build_model(ckpt['idea'], ckpt['model_args'])
    model.load_state_dict(ckpt['model'])
    return model


def check_resume(ckpt, config, meta):
    """A checkpoint of another idea, shape or vocabulary than the config asks for is refused."""
    if ckpt['idea'] != config['model']:
        raise UserError(f"checkpoint is a {ckpt['idea']!r} model but the config asks for model={config['model']!r}")
    diff = [f"{k}={ckpt['model_args'][k]!r} (config {config[k]!r})" for k in ckpt['model_args']
            if k in config and config[k] != ckpt['model_args'][k]]
    if diff:
        raise UserError(f"checkpoint was built with {', '.join(diff)}; use the run's own config")
    if ckpt['meta'] != meta:
        raise UserError(f"checkpoint's vocabulary ({ckpt['meta']['vocab_size']} tokens, {ckpt['meta']['tokenizer']}) "
                        f"differs from dataset {config['dataset']}'s ({meta['vocab_size']}, {meta['tokenizer']})")


def is_run(path):
    """init_from names another run: its out_dir (holding ckpt.pt) or the checkpoint file."""
    return os.path.isfile(os.path.join(path, 'ckpt.pt')) or (path.endswith('.pt') and os.path.isfile(path))


def init_from_run(config, meta):
    """Fine-tune another run's weights in this config's idea: a 'gpt' run can start a
    'quietstar' one (the idea's own new parameters keep their initialisation), grown to this
    dataset's vocabulary (special tokens appended); iteration 0, a fresh optimizer."""
    src = load_checkpoint(path := config['init_from'])
    check_extends(src['meta'], meta)
    args = src['model_args']
    diff = [f"{k}={args[k]!r} (config {config[k]!r})" for k in ('n_layer', 'n_head', 'n_embd', 'bias', 'tanh_gelu')
            if args[k] != config[k]]
    if diff or config['block_size'] > args['block_size']:
        diff += [f"block_size={args['block_size']} (config {config['block_size']})"] if config['block_size'] > args['block_size'] else []
        raise UserError(f"the checkpoint in {path} was built with {', '.join(diff)}")
    source = model_from_checkpoint(src)
    source.resize_vocab(meta['vocab_size'])
    if config['block_size'] < args['block_size']:
        source.crop_block_size(config['block_size'])
    model = build_model(config['model'], model_args(config, meta))
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    if unexpected:
        raise UserError(f"the weights in {path} ({src['idea']}) do not fit model={config['model']!r}: "
                        f"unexpected {', '.join(unexpected)}")
    model.init_token_rows(Tokenizer(meta), range(src['meta']['vocab_size'], meta['vocab_size']))
    return model, missing


def init_pretrained(config, meta):
    """GPT-2 weights (by name or local directory) for a run on r50k_base data."""
    name = config['init_from']
    hf_dir = os.path.isfile(os.path.join(name, 'config.json'))
    if not hf_dir and not name.startswith('gpt2'):
        raise UserError(f"init_from={name!r} is no run (no {os.path.join(name, 'ckpt.pt')}), no Hugging Face "
                        f"directory and no GPT-2 name (gpt2, gpt2-medium, gpt2-large, gpt2-xl)")
    if meta['tokenizer'] != 'r50k_base':
        raise UserError(f"init_from={config['init_from']!r} needs a GPT-2 BPE dataset (tokenizer r50k_base), "
                        f"dataset {config['dataset']} uses {meta['tokenizer']}")
    cls = idea_class(config['model'])
    extra = {k: config[k] for k in config_fields(config['model']) if k not in config_fields('gpt')}
    try:
        model = cls.from_pretrained(config['init_from'], dropout=config['dropout'], **extra)
    except OSError as e:
        raise UserError(f"cannot load GPT-2 weights {config['init_from']!r}: {str(e).splitlines()[0]}")
    diff = [f"{k}={getattr(model.config, k)!r}" for k in ('n_layer', 'n_head', 'n_embd', 'bias', 'tanh_gelu')
            if config[k] != getattr(model.config, k)]
    if diff or config['block_size'] > model.config.block_size:
        diff += [f"block_size<={model.config.block_size}"] if config['block_size'] > model.config.block_size else []
        raise UserError(f"{config['init_from']} needs {', '.join(diff)} in the config")
    if config['block_size'] < model.config.block_size:
        model.crop_block_size(config['block_size'])
    model.resize_vocab(meta['vocab_size'])
    return model


# -----------------------------------------------------------------------------
# the loop

def get_lr(it, c):
    """Linear warmup over warmup_iters, then cosine down to min_lr (decay_lr) or constant."""
    decay_iters = c['lr_decay_iters'] or c['max_iters']
    if it < c['warmup_iters']:
        return c['learning_rate'] * (it + 1) / (c['warmup_iters'] + 1)
    if not c['decay_lr']:
        return c['learning_rate']
    if it > decay_iters:
        return c['min_lr']
    ratio = (it - c['warmup_iters']) / max(1, decay_iters - c['warmup_iters'])
    return c['min_lr'] + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (c['learning_rate'] - c['min_lr'])


def set_lr(optimizer, it, c):
    """The schedule's learning rate at iteration it, set on every parameter group; returned."""
    lr = get_lr(it, c)
    for group in optimizer.param_groups:
        group['lr'] = lr
    return lr


class RunLog:
    """out_dir/log.jsonl, one JSON object per line: train rows (loss) and eval rows
    (train_loss, val_loss). A resumed run first drops the rows after its checkpoint."""

    def __init__(self, path, resume_iter=None):
        self.path = path
        if resume_iter is None:
            open(path, 'w').close()
        elif os.path.exists(path):
            rows = read_jsonl(path)
            if not all(isinstance(row, dict) and isinstance(row.get('iter'), int) for row in rows):
                raise UserError(f"{path} holds a row that is not train.py's (an object with an int iter); "
                                f"move the file away to resume")
            kept = [row for row in rows
                    if row['iter'] < resume_iter or (row['iter'] == resume_iter and 'val_loss' in row)]
            with open(path + '.tmp', 'w') as f:
                f.writelines(json.dumps(row) + '\n' for row in kept)
            os.replace(path + '.tmp', path)

    def write(self, row):
        with open(self.path, 'a') as f:
            f.write(json.dumps(row) + '\n')


@torch.no_grad()
def evaluate(model, data, config, ctx, device, show=False):
    """Mean loss over the same eval_iters batches of each split every time. An idea that samples
    in eval (Quiet-STaR's thoughts) draws from a fork of the random state: how often a run is
    evaluated never changes what it trains on. show: a progress bar over the batches."""
    with forked_rng(device):
        return evaluate_splits(model, data, config, ctx, device, show)


def forked_rng(device):
    """A fork of the random state (CPU, and the device's own on CUDA): restored on exit."""
    cuda = torch.device(device).type == 'cuda'
    return torch.random.fork_rng(devices=[torch.device(device).index or 0] if cuda else [])


def evaluate_splits(model, data, config, ctx, device, show=False):
    out = {}
    model.eval()
    bar = None
    if show:
        from tqdm import tqdm
        bar = tqdm(total=2 * config['eval_iters'], desc='eval', leave=False, dynamic_ncols=True)
    for split in ('train', 'val'):
        losses, exact = torch.zeros(config['eval_iters']), []
        for k in range(config['eval_iters']):
            x, y = data.batch(split, config['batch_size'], seed=eval_batch_seed(split, k))
            x, y = x.to(device), y.to(device)
            with ctx:
                logits, loss = model(x, y)
            losses[k] = loss.item()
            if data.kind == 'records' and logits.shape[:2] == y.shape:
                exact.append(((logits.argmax(-1) == y) | (y < 0)).all(1).float().cpu())
            if bar:
                bar.update(1)
        out[split] = losses.mean().item()
        if exact:  # every completion token the argmax: what greedy decoding writes from the prompt
            out[f'{split}_exact'] = torch.cat(exact).mean().item()
    if bar:
        bar.close()
    model.train()
    return out


def time_run(model, data, c, ctx, device, accum):
    """(seconds per training iteration, seconds per eval batch), measured before the run on
    this machine: forward + backward (no optimizer step, gradients dropped, the random state
    forked) and an eval forward, of the whole batch where that takes a few seconds, else of an
    eighth of it, scaled up (batch rows cost about alike)."""
    kind = torch.device(device).type
    sync = (lambda: torch.cuda.synchronize(device)) if kind == 'cuda' else torch.mps.synchronize if kind == 'mps' else (lambda: None)

    def clock(fn, rows):
        sync()
        t0 = time.perf_counter()
        fn(*(t[:rows].to(device) for t in batch))
        sync()
        return time.perf_counter() - t0

    def step(x, y):
        with ctx:
            _, loss = model(x, y)
        loss.backward()

    def eval_batch(x, y):
        model.eval()
        with torch.no_grad(), ctx:
            model(x, y)
        model.train()

    batch = data.batch('train', c['batch_size'], seed=eval_batch_seed('train', 0))
    B = c['batch_size']
    rows = -(-B // 8)
    trains = not c['eval_only']  # an eval-only run needs no backward (nor the memory for one)
    with forked_rng(device):
        if clock(step if trains else eval_batch, rows) * B / rows < 5:  # the first call warms up too
            rows = B
        scale = B / rows
        t_step, t_eval = clock(step, rows) * scale if trains else 0.0, clock(eval_batch, rows) * scale
    model.zero_grad(set_to_none=True)
    return accum * t_step, t_eval


def count_evals(c, start_iter, resumed):
    """Evaluations a run from start_iter does: every eval_interval and at max_iters (a resumed
    run has its start's evaluation already)."""
    end, every = c['max_iters'], c['eval_interval']
    n = end // every - (start_iter - 1) // every + (end % every != 0)
    return 1 if c['eval_only'] else max(0, n - (resumed and (start_iter % every == 0 or start_iter == end)))


def duration(s):  # seconds as a person reads them
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"


def announce_cost(c, device, t_step, t_eval, iters, evals):
    """One line of what the run will cost here; on a CPU, hours of it name the CPU-sized twin."""
    total = iters * t_step + evals * 2 * c['eval_iters'] * t_eval
    print(f"timing: {t_step:.3g} s/iter, {t_eval:.3g} s per eval batch: {iters} iters and {evals} evaluations "
          f"of 2x{c['eval_iters']} batches, about {duration(total)} here")
    if device == 'cpu' and total > 3600:
        what = (f"this config is sized for a GPU: {duration(total)} on this CPU. Sized for a CPU: python train.py "
                f"{c['cpu_config']}" if c['cpu_config'] else f"about {duration(total)} on this CPU")
        print(f"note: {what}. Going on (Ctrl-C stops).")
    return total


def train(config):
    """Train as config says; under torchrun (RANK set) one process of a DDP run. Returns the best val loss."""
    device = pick_device(config['device'])
    if int(os.environ.get('RANK', -1)) == -1:
        return train_process(config, device, 0, 1)
    import torch.distributed as dist
    rank, world = int(os.environ['RANK']), int(os.environ['WORLD_SIZE'])
    if device.startswith('cuda'):
        device = f"cuda:{os.environ['LOCAL_RANK']}"
        torch.cuda.set_device(device)
    if config['gradient_accumulation_steps'] % world:
        raise UserError(f"gradient_accumulation_steps ({config['gradient_accumulation_steps']}) must be divisible "
                        f"by the number of processes ({world})")
    dist.init_process_group(backend='nccl' if device.startswith('cuda') else 'gloo')
    try:
        best_val = train_process(config, device, rank, world)
        # Shutdown order: train_process has returned, so its DDP wrapper (whose reducer holds the
        # process group) is freed; then every rank waits until all are past their last
        # collective (the checkpoint's rng gather), and only then do they close their
        # connections. A rank that closes while a peer is still inside a collective pulls the
        # peer's gloo connection from under it.
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return best_val


def train_process(config, device, rank, world):
    c = config
    ddp = int(os.environ.get('RANK', -1)) != -1
    master = rank == 0
    accum = c['gradient_accumulation_steps'] // world
    device_type = 'cuda' if device.startswith('cuda') else device
    dtype = pick_dtype(c['dtype'], device_type, c.get('n_embd', 0))
    ptdtype = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}[dtype]
    ctx = nullcontext() if dtype == 'float32' else torch.autocast(device_type=device_type, dtype=ptdtype)

    out_dir = c['out_dir']
    ckpt_path = os.path.join(out_dir, 'ckpt.pt')
    if master:
        check_writable(out_dir)
    data_dir = c['data_dir'] or default_data_dir(c['dataset'])
    meta = idea_meta(c, load_meta(data_dir, c['dataset']))
    data = Dataset(data_dir, c['dataset'], c['block_size'], Tokenizer(meta), c['train_tokens'])
    if c['train_tokens'] and (data.kind != 'stream' or c['train_tokens'] <= c['block_size'] + 1):
        raise UserError(f"train_tokens must exceed block_size + 1 ({c['block_size'] + 1}) and needs a token-stream dataset")
    if idea_class(c['model']).stream_only and data.kind != 'stream':
        raise UserError(f"model={c['model']!r} trains on token streams only ({data_dir} holds records): "
                        f"prepare it with --stream")

    torch.manual_seed(c['seed'] + rank)
    random.seed(c['seed'] + rank)
    iter_num, best_val, elapsed0 = 0, float('inf'), 0.0
    ckpt = None
    if c['init_from'] == 'scratch':
        model = build_model(c['model'], model_args(c, meta))
    elif c['init_from'] == 'resume':
        ckpt = load_checkpoint(ckpt_path)
        check_resume(ckpt, c, meta)
        model = model_from_checkpoint(ckpt)
        iter_num, best_val, elapsed0 = ckpt['iter_num'], ckpt['best_val_loss'], ckpt['elapsed']
    elif is_run(c['init_from']):
        model, new_params = init_from_run(c, meta)
        torch.manual_seed(c['seed'] + rank)  # training starts from the seed's state, whatever building took
        if master:
            print(f"fine-tuning the weights of {c['init_from']}" + (f"; new: {', '.join(new_params)}" if new_params else ''))
    else:
        model = init_pretrained(c, meta)
    model.to(device)
    raw_model = model

    scaler = torch.amp.GradScaler(device_type, enabled=(dtype == 'float16'))
    optimizer = model.configure_optimizers(c['weight_decay'], c['learning_rate'], (c['beta1'], c['beta2']), device_type)
    if ckpt is not None:
        optimizer.load_state_dict(ckpt['optimizer'])
        torch.set_rng_state(ckpt['rng']['torch'][rank % len(ckpt['rng']['torch'])])
        ckpt = None  # free the memory
    if c['compile']:
        model = torch.compile(model)
    if ddp:
        from torch.nn.parallel import DistributedDataParallel as DDP
        model = DDP(model, device_ids=[int(os.environ['LOCAL_RANK'])] if device_type == 'cuda' else None)

    tokens_per_iter = c['batch_size'] * c['block_size'] * c['gradient_accumulation_steps']
    peak = c['peak_flops'] or (312e12 if device_type == 'cuda' else 0.0)
    log = RunLog(os.path.join(out_dir, 'log.jsonl'), iter_num if c['init_from'] == 'resume' else None) if master else None
    if master:
        print(f"{c['model']}: {raw_model.get_num_params() / 1e6:.2f}M parameters, {tokens_per_iter:,} tokens/iter, "
              f"device {device} {dtype}, {world} process(es)")

    def rng_states():
        states = [torch.get_rng_state()]
        if ddp:
            gathered = [None] * world
            torch.distributed.all_gather_object(gathered, states[0])
            states = gathered
        return states

    def save(it):
        ckpt = checkpoint(raw_model, optimizer, c['model'], meta, c, it, best_val,
                          elapsed0 + time.time() - t_start, rng_states())
        if master:
            save_checkpoint(ckpt, ckpt_path)

    resumed = c['init_from'] == 'resume'
    if master:
        t_step, t_eval_batch = time_run(raw_model, data, c, ctx, device, accum)
        announce_cost(c, device, t_step, t_eval_batch, 0 if c['eval_only'] else c['max_iters'] - iter_num,
                      count_evals(c, iter_num, resumed))
    first_log = True
    progress = None
    if master and c['progress'] == 'tqdm':
        from tqdm import tqdm
        progress = tqdm(total=c['max_iters'], initial=iter_num, dynamic_ncols=True, desc='train')

    t_start = time.time()
    start_iter = iter_num
    t_last, last_logged = time.time(), iter_num
    while True:
        at_eval = iter_num % c['eval_interval'] == 0 or iter_num == c['max_iters']
        if (at_eval or c['eval_only']) and not (resumed and iter_num == start_iter and not c['eval_only']):
            t_eval = time.time()
            losses = evaluate(model, data, c, ctx, device, show=progress is not None)
            if not all(map(math.isfinite, losses.values())):
                raise UserError(f"eval loss is {losses} at iter {iter_num}: stopped; the last good checkpoint "
                                f"{ckpt_path} is kept (try a lower learning_rate)")
            if master:
                log.write({'iter': iter_num, 'tokens': iter_num * tokens_per_iter,
                           'flops': iter_num * tokens_per_iter * raw_model.flops_per_token(),
                           'time': round(elapsed0 + time.time() - t_start, 3),
                           'train_loss': losses['train'], 'val_loss': losses['val'],
                           **{k: v for k, v in losses.items() if k.endswith('_exact')}})
                msg = f"iter {iter_num}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}"
                if 'val_exact' in losses:
                    msg += f", val exact match {losses['val_exact']:.1%}"
                (progress.write if progress else print)(msg)
            improved = losses['val'] < best_val
            best_val = min(best_val, losses['val'])
            if iter_num > start_iter and (improved or c['always_save_checkpoint']):
                save(iter_num)
            t_eval_batch = (time.time() - t_eval) / (2 * c['eval_iters'])
            t_last += time.time() - t_eval  # ms/iter counts training only
        if iter_num >= c['max_iters'] or c['eval_only']:
            break

        lr = set_lr(optimizer, iter_num, c)
        for micro in range(accum):
            x, y = data.batch('train', c['batch_size'], batch_seed(c['seed'], iter_num, rank * accum + micro))
            x, y = x.to(device), y.to(device)
            if ddp:  # sync gradients only on the last micro-step
                model.require_backward_grad_sync = micro == accum - 1
            with ctx:
                _, loss = model(x, y)
                loss = loss / accum
            scaler.scale(loss).backward()
        lossf = loss.item() * accum
        if not math.isfinite(lossf):
            raise UserError(f"loss is {lossf} at iter {iter_num}: stopped; the last good checkpoint "
                            f"{ckpt_path} is kept (try a lower learning_rate or grad_clip)")
        if c['grad_clip'] > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), c['grad_clip'])
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

        iter_num += 1
        if progress:
            progress.update(1)
        if master and iter_num % c['log_interval'] == 0:
            dt = (time.time() - t_last) / (iter_num - last_logged)  # a resumed run's first interval can be short
            t_last, last_logged = time.time(), iter_num
            flops = raw_model.flops_per_token() * tokens_per_iter / dt
            row = {'iter': iter_num - 1, 'tokens': iter_num * tokens_per_iter,
                   'time': round(elapsed0 + time.time() - t_start, 3), 'lr': lr, 'loss': lossf,
                   'ms_per_iter': round(dt * 1000, 2), 'tokens_per_s': round(tokens_per_iter / dt, 1),
                   'gflops': round(flops / 1e9, 2)}
            row.update({k: float(v) for k, v in getattr(raw_model, 'stats', {}).items()})  # an idea's loss parts
            if peak:
                row['mfu'] = round(raw_model.estimate_mfu(tokens_per_iter, dt, peak), 4)
            log.write(row)
            if first_log:  # the estimate again, from this run's own iterations
                left = (c['max_iters'] - iter_num) * dt + count_evals(c, iter_num, False) * 2 * c['eval_iters'] * t_eval_batch
                (progress.write if progress else print)(f"measured {dt:.3g} s/iter over the first {iter_num - start_iter} "
                                                        f"iters: the rest takes about {duration(left)}")
                first_log = False
            stats = f"loss {lossf:.4f}, {dt * 1000:.0f} ms/iter, {row['tokens_per_s']:.0f} tok/s, {flops / 1e9:.1f} GFLOP/s"
            if peak:
                stats += f", mfu {100 * row['mfu']:.1f}%"
            if progress:
                progress.set_postfix_str(stats)
            else:
                print(f"iter {iter_num - 1}: {stats}")
    if progress:
        progress.close()
    return best_val


def main(argv):
    with cli_errors():
        train(load_config(argv))


if __name__ == '__main__':
    main(sys.argv[1:])
