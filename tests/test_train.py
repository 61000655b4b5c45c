"""train.py: the loop learns, resumes exactly, runs distributed, and its pieces do what they say."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import configurator as C
import train as T
import model as M
from conftest import ROOT, read_log, run_script, tiny_args


def run(data_dir, out_dir, *extra):
    return T.train(C.load_config(tiny_args(data_dir, out_dir, *extra)))


def train_losses(out_dir):
    return {r['iter']: r['loss'] for r in read_log(out_dir) if 'loss' in r}


def eval_losses(out_dir):
    return {r['iter']: (r['train_loss'], r['val_loss']) for r in read_log(out_dir) if 'val_loss' in r}


def test_thirty_iterations_lower_the_loss(char_data, tmp_path):
    run(char_data, tmp_path, '--max_iters=30', '--eval_interval=30', '--learning_rate=3e-3')
    evals = eval_losses(tmp_path)
    assert evals[30][1] < evals[0][1] - 0.5, evals
    assert (tmp_path / 'ckpt.pt').exists()


def test_same_seed_same_losses(char_data, tmp_path):
    args = ['--max_iters=8', '--eval_interval=4', '--dropout=0.1']
    run(char_data, tmp_path / 'a', *args)
    run(char_data, tmp_path / 'b', *args)
    run(char_data, tmp_path / 'c', *args, '--seed=7')
    assert train_losses(tmp_path / 'a') == train_losses(tmp_path / 'b')
    assert train_losses(tmp_path / 'a') != train_losses(tmp_path / 'c')


def test_resume_equals_uninterrupted(char_data, tmp_path):
    # dropout on, so the restored RNG state matters too
    common = ['--eval_interval=5', '--lr_decay_iters=16', '--dropout=0.1']
    run(char_data, tmp_path / 'full', '--max_iters=16', *common)
    run(char_data, tmp_path / 'part', '--max_iters=10', *common)
    run(char_data, tmp_path / 'part', '--max_iters=16', '--init_from=resume', *common)
    assert train_losses(tmp_path / 'part') == train_losses(tmp_path / 'full')
    assert eval_losses(tmp_path / 'part') == eval_losses(tmp_path / 'full')
    # the resumed log has each iteration once
    iters = [r['iter'] for r in read_log(tmp_path / 'part') if 'loss' in r]
    assert iters == sorted(set(iters))


def test_sigkill_mid_run_then_resume_matches(char_data, tmp_path):
    args = ['train.py', *tiny_args(char_data, tmp_path / 'killed', '--max_iters=400', '--eval_interval=20',
                                   '--lr_decay_iters=400')]
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / 'killed' / 'ckpt.pt'
    deadline = time.time() + 120
    while time.time() < deadline and not (ckpt.exists() and len(eval_losses(tmp_path / 'killed')) >= 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = torch.load(ckpt, weights_only=True)['iter_num']
    assert 0 < saved < 400, 'the run should be killed mid-way'
    assert not (tmp_path / 'killed' / 'ckpt.pt.tmp').exists() or True  # a stray temp file is harmless
    resumed = run_script(*args, '--init_from=resume', '--max_iters=60')
    assert resumed.returncode == 0, resumed.stderr
    # the uninterrupted reference: the same run to 60 without a kill
    ref = run_script('train.py', *tiny_args(char_data, tmp_path / 'ref', '--max_iters=60', '--eval_interval=20',
                                            '--lr_decay_iters=400'))
    assert ref.returncode == 0, ref.stderr
    got, want = train_losses(tmp_path / 'killed'), train_losses(tmp_path / 'ref')
    assert got == want
    assert eval_losses(tmp_path / 'killed') == eval_losses(tmp_path / 'ref')


def test_ddp_two_processes_match_one(char_data, tmp_path):
    # global batch: 2 micro-batches of 4; one process accumulates both, two processes take one each
    common = tiny_args(char_data, '', '--max_iters=6', '--eval_interval=3', '--gradient_accumulation_steps=2')
    single = run_script('train.py', *common, f'--out_dir={tmp_path / "one"}')
    assert single.returncode == 0, single.stderr
    ddp = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
                          'train.py', *common, f'--out_dir={tmp_path / "two"}'],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert ddp.returncode == 0 and 'terminate called' not in ddp.stderr, ddp.stderr[-3000:]
    one, two = eval_losses(tmp_path / 'one'), eval_losses(tmp_path / 'two')
    assert one.keys() == two.keys() == {0, 3, 6}
    for it in one:  # float sums in another order: equal within 1e-4
        assert one[it] == pytest.approx(two[it], abs=1e-4)
    assert one[6] != one[0]
    assert sorted(os.listdir(tmp_path / 'two')) == ['ckpt.pt', 'log.jsonl']


def test_nan_loss_stops_and_keeps_last_good_checkpoint(char_data, tmp_path, monkeypatch):
    run(char_data, tmp_path, '--max_iters=4', '--eval_interval=2')
    good = torch.load(tmp_path / 'ckpt.pt', weights_only=True)
    from model import GPT
    real_forward = GPT.forward

    def forward(self, idx, targets=None):
        logits, loss = real_forward(self, idx, targets)
        return logits, loss * float('nan')
    monkeypatch.setattr(GPT, 'forward', forward)
    with pytest.raises(T.UserError, match='at iter 4'):
        run(char_data, tmp_path, '--max_iters=8', '--eval_interval=2', '--init_from=resume')
    kept = torch.load(tmp_path / 'ckpt.pt', weights_only=True)
    assert kept['iter_num'] == good['iter_num'] == 4
    for k in good['model']:
        assert torch.equal(kept['model'][k], good['model'][k])


def test_records_batch_masks_the_prompt():
    # record: prompt [1, 2, 3], completion [4, 5]; another shorter one padded
    x, y = T.records_batch([([1, 2, 3, 4, 5], 3), ([6, 7, 8], 2)], block_size=8)
    assert x.tolist() == [[1, 2, 3, 4], [6, 7, 0, 0]]
    assert y.tolist() == [[-1, -1, 4, 5], [-1, 8, -1, -1]]
    # too long for the block: the end (the completion) is kept
    x, y = T.records_batch([([1, 2, 3, 4, 5], 3)], block_size=2)
    assert x.tolist() == [[3, 4]] and y.tolist() == [[4, 5]]


def test_exact_match_counts_a_record_only_when_every_completion_token_is_the_argmax():
    import contextlib

    class Records:  # three records, every batch the same
        kind = 'records'

        def batch(self, split, batch_size, seed):
            return T.records_batch([([1, 2, 3, 4], 3), ([5, 6, 8, 9], 2), ([1, 5, 6, 7], 2)], 8)

    class PlusOne(torch.nn.Module):  # predicts the next token as this token + 1
        def forward(self, x, y):
            return torch.nn.functional.one_hot((x + 1) % 10, 10).float(), torch.tensor(0.0)

    out = T.evaluate_splits(PlusOne(), Records(), {'eval_iters': 2, 'batch_size': 3}, contextlib.nullcontext(), 'cpu')
    # right: the first (3 -> 4) and the third (its prompt token 1 -> 2 is wrong, but prompts are
    # not scored); wrong: the second (6 -> 7, not 8), though its last token is right
    assert out['val_exact'] == pytest.approx(2 / 3) and out['train_exact'] == pytest.approx(2 / 3)


def test_task_records_train_on_completions_only(char_data, tmp_path):
    import pickle
    data = tmp_path / 'records'
    data.mkdir()
    recs = [{'prompt': f'{a}+{b}=', 'completion': f'{a + b}\n'} for a in range(10) for b in range(10)]
    for split in ('train', 'val'):
        with open(data / f'{split}.jsonl', 'w') as f:
            f.writelines(json.dumps(r) + '\n' for r in recs)
    chars = sorted(set('0123456789+=\n'))
    meta = {'vocab_size': len(chars), 'tokenizer': 'char', 'stoi': {c: i for i, c in enumerate(chars)},
            'itos': dict(enumerate(chars)), 'special_tokens': {}}
    pickle.dump(meta, open(data / 'meta.pkl', 'wb'))
    run(data, tmp_path / 'out', '--max_iters=40', '--eval_interval=40', '--learning_rate=3e-3')
    evals = eval_losses(tmp_path / 'out')
    assert evals[40][1] < evals[0][1]


def test_lr_schedule():
    c = dict(C.DEFAULTS, learning_rate=1.0, min_lr=0.1, warmup_iters=10, lr_decay_iters=110, max_iters=200)
    assert T.get_lr(0, c) == pytest.approx(1 / 11)
    assert T.get_lr(10, c) == pytest.approx(1.0)
    assert T.get_lr(60, c) == pytest.approx(0.1 + 0.5 * 0.9)
    assert T.get_lr(110, c) == pytest.approx(0.1) and T.get_lr(150, c) == 0.1
    assert T.get_lr(50, dict(c, decay_lr=False)) == 1.0
    # a constant schedule warms up too (grpo.py and think.py use decay_lr=False)
    assert T.get_lr(0, dict(c, decay_lr=False)) == pytest.approx(1 / 11)
    assert T.get_lr(4, dict(c, decay_lr=False)) == pytest.approx(5 / 11)
    assert T.get_lr(0, dict(c, decay_lr=False, warmup_iters=0)) == 1.0


def test_checkpoint_is_plain_data(char_data, tmp_path):
    run(char_data, tmp_path, '--max_iters=2', '--eval_interval=2')
    ckpt = torch.load(tmp_path / 'ckpt.pt', weights_only=True)
    assert ckpt['idea'] == 'gpt' and ckpt['iter_num'] == 2 and ckpt['meta']['tokenizer'] == 'char'
    model = T.model_from_checkpoint(ckpt)
    assert model.config.vocab_size == ckpt['meta']['vocab_size']


def test_sample_from_checkpoint(char_data, tmp_path):
    run(char_data, tmp_path, '--max_iters=2', '--eval_interval=2')
    r = run_script('sample.py', f'--out_dir={tmp_path}', '--num_samples=2', '--max_new_tokens=20',
                   '--start=First Citizen:', '--temperature=0')
    assert r.returncode == 0, r.stderr
    samples = r.stdout.split('---------------\n')
    assert samples[0].startswith('First Citizen:') and samples[0] == samples[1]
    long_start = 'a' * 50  # longer than block_size 32: cropped, and said
    r = run_script('sample.py', f'--out_dir={tmp_path}', '--num_samples=1', '--max_new_tokens=5', f'--start={long_start}')
    assert r.returncode == 0 and 'only its last 32' in r.stderr
    r = run_script('sample.py', f'--out_dir={tmp_path}', '--start=caf\u00e9 \u2603')
    assert r.returncode == 1 and r.stderr.strip().count('\n') == 0
    assert '\u00e9' in r.stderr and '\u2603' in r.stderr


def test_finetune_local_gpt2_dir_then_resume(tmp_path):
    transformers = pytest.importorskip('transformers')
    from conftest import load_script, shakespeare_text
    try:
        load_script('data/shakespeare/prepare.py', 'prepare_shakespeare').main(
            ['--input=' + str(_write(tmp_path / 'input.txt', shakespeare_text(20_000))), f'--out_dir={tmp_path / "bpe"}'])
    except SystemExit as e:
        pytest.skip(f'no GPT-2 BPE here: {e}')
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_positions=64, n_embd=32, n_layer=2, n_head=2))
    hf.save_pretrained(tmp_path / 'gpt2-tiny')
    shape = ['--n_layer=2', '--n_head=2', '--n_embd=32', '--bias=True', '--tanh_gelu=True', '--block_size=32',
             '--batch_size=2', '--eval_iters=1', '--eval_interval=2', '--progress=lines', '--device=cpu']
    common = [f'--data_dir={tmp_path / "bpe"}', f'--out_dir={tmp_path / "out"}', *shape]
    T.train(C.load_config([*common, f'--init_from={tmp_path / "gpt2-tiny"}', '--max_iters=2']))
    T.train(C.load_config([*common, '--init_from=resume', '--max_iters=4']))
    assert sorted(eval_losses(tmp_path / 'out')) == [0, 2, 4]
    with pytest.raises(T.UserError, match='n_layer=2'):
        T.train(C.load_config([*common, f'--init_from={tmp_path / "gpt2-tiny"}', '--n_layer=3']))
    r = run_script('sample.py', f'--init_from={tmp_path / "gpt2-tiny"}', '--num_samples=1', '--max_new_tokens=5',
                   '--start=Hello')
    assert r.returncode == 0 and r.stdout.startswith('Hello'), r.stderr


def _write(path, text):
    path.write_text(text)
    return path


def test_train_tokens_limits_the_training_windows(char_data):
    import numpy as np
    data = np.fromfile(char_data / 'train.bin', dtype=np.uint16).astype(np.int64)
    ds = T.Dataset(str(char_data), 'tiny', block_size=8, tokenizer=None, train_tokens=10)
    allowed = {tuple(data[0:8]), tuple(data[1:9])}  # the only windows inside the first 10 tokens
    for seed in range(5):
        x, y = ds.batch('train', 16, seed)
        assert {tuple(r) for r in x.tolist()} <= allowed
        assert torch.equal(y[:, :-1], x[:, 1:])
    x, _ = ds.batch('val', 64, 0)  # val is untouched
    assert len({tuple(r) for r in x.tolist()}) > 2


# -----------------------------------------------------------------------------
# group-relative advantages (Quiet-STaR, <think_i> RL, GRPO)

def test_group_advantages_by_hand():
    r = torch.tensor([1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0])
    # group 1: mean 0.25, unbiased std 0.5; group 2: all equal
    a = M.group_advantages(r.view(2, 4), scale='group').flatten()
    assert torch.allclose(a[:4], torch.tensor([0.75, -0.25, -0.25, -0.25]) / (0.5 + 1e-4))
    assert torch.equal(a[4:], torch.zeros(4))  # exactly: 2.0 - mean(2.0, 2.0, 2.0, 2.0) is 0 in floats
    assert torch.allclose(M.group_advantages(r.view(2, 4)).flatten(), torch.tensor([0.75, -0.25, -0.25, -0.25, 0, 0, 0, 0]))
    b = M.group_advantages(r.view(2, 4), scale='batch').flatten()
    assert torch.allclose(b, M.group_advantages(r.view(2, 4)).flatten() / (r.std() + 1e-4))


def test_all_equal_group_has_zero_advantage_and_no_nan():
    for scale in ('group', 'batch', 'none'):
        a = M.group_advantages(torch.ones(2, 3), scale=scale)
        assert torch.equal(a, torch.zeros(2, 3)), scale  # exactly: 1 - mean of ones is 0 in floats
        # sixteen 0.1s (a format reward of weight 0.1): their float mean is not 0.1
        r = torch.full((2, 16), 0.1)
        r[1, 0] = 1.1
        assert r[0].mean() != r[0, 0]
        a = M.group_advantages(r, scale=scale)
        assert torch.equal(a[0], torch.zeros(16)) and (a[1] != 0).all(), scale
    with pytest.raises(ValueError):
        M.group_advantages(torch.ones(2, 2), scale='std')


def test_group_advantages_along_a_dim():
    # Quiet-STaR's groups: the S thoughts of one position, along dim 0 of (S, B, T)
    r = torch.tensor([[[1.0, 4.0]], [[3.0, 4.0]]])  # S=2, B=1, T=2
    assert torch.equal(M.group_advantages(r, dim=0), torch.tensor([[[-1.0, 0.0]], [[1.0, 0.0]]]))
