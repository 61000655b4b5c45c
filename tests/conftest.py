"""Shared fixtures: a tiny character dataset and helpers to run the project's scripts."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / 'shared'
sys.path.insert(0, str(ROOT))

# GPT-2 BPE offline (see shared/README.md); with internet tiktoken downloads it instead
if 'TIKTOKEN_CACHE_DIR' not in os.environ and (SHARED / 'tiktoken').is_dir():
    os.environ['TIKTOKEN_CACHE_DIR'] = str(SHARED / 'tiktoken')

# the tests' models are tiny: extra threads only add overhead, and much more when other jobs
# share the cores (subprocesses choose their own). TEST_THREADS=2 runs the suite at two threads,
# where reductions split otherwise: every comparison across code paths has a tolerance.
torch.set_num_threads(int(os.environ.get('TEST_THREADS', '1')))

FALLBACK_TEXT = """First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

First Citizen:
You are all resolved rather to die than to famish?
""" * 40


def shakespeare_text(n_chars=60_000):
    path = SHARED / 'data' / 'tinyshakespeare' / 'input.txt'
    text = path.read_text() if path.exists() else FALLBACK_TEXT
    return text[:n_chars]


def load_script(path, name):
    """Import a script that is not a package module, e.g. data/shakespeare_char/prepare.py."""
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_char_dataset(data_dir, text):
    """train.bin/val.bin/meta.pkl through the real data/shakespeare_char/prepare.py."""
    load_script('data/shakespeare_char/prepare.py', 'prepare_shakespeare_char').prepare(text, str(data_dir))
    return data_dir


@pytest.fixture(scope='session')
def char_data(tmp_path_factory):
    return write_char_dataset(tmp_path_factory.mktemp('data') / 'tiny_char', shakespeare_text())


TINY = ['--n_layer=2', '--n_head=2', '--n_embd=32', '--block_size=32', '--batch_size=4',
        '--dropout=0.0', '--bias=False', '--eval_iters=2', '--log_interval=1', '--progress=lines',
        '--device=cpu', '--warmup_iters=5']


def tiny_args(data_dir, out_dir, *extra):
    return [f'--data_dir={data_dir}', f'--out_dir={out_dir}', *TINY, *extra]


def assert_greedy(seq, n_prompt, next_logits, atol=1e-4):
    """seq (B, T) or (T,), decoded greedily after n_prompt tokens by one code path: every new
    token must be an argmax, within atol, of next_logits(seq[:, :t]) -> (B, V) computed by
    another (a full recompute, say). Exact token equality would hang on near-ties, which float
    sums in another order (another CPU's kernels, another thread count) can break either way."""
    seq = torch.as_tensor(seq)
    seq = seq[None] if seq.dim() == 1 else seq
    assert seq.size(1) > n_prompt
    for t in range(n_prompt, seq.size(1)):
        with torch.no_grad():
            logits = next_logits(seq[:, :t]).float()
        gap = logits.max(-1).values - logits.gather(1, seq[:, t:t + 1]).squeeze(1)
        assert (gap <= atol).all(), f"token {t} is not an argmax of the reference: short by {gap.max().item():.2e}"


def run_script(*args, env=None, timeout=300):
    """Run a project script in a subprocess from the repository root."""
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def read_log(out_dir):
    import json
    return [json.loads(line) for line in open(Path(out_dir) / 'log.jsonl')]


def pytest_configure(config):
    config.addinivalue_line('markers', 'cuda: needs a CUDA GPU (skipped elsewhere); python cuda_run.py runs them')
