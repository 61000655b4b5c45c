"""The CUDA path, on a GPU only (skipped elsewhere; `python cuda_run.py` runs these first):
bf16 autocast training steps of every idea, the flash attention kernel equal to the math
kernel, torch.compile equal to eager, cached generation equal to recomputation, and resume
equal to an uninterrupted run, all on the GPU."""

import pytest
import torch

import configurator as C
import train as T
from conftest import assert_greedy, read_log, tiny_args
from model import build_model

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')]
DEV = 'cuda'
SHAPE = dict(block_size=64, vocab_size=80, n_layer=2, n_head=4, n_embd=64, bias=False, dropout=0.0)
IDEAS = {
    'gpt': {},
    'reasoning_tokens': {'n_reasoning': 2},
    'quietstar': {'thought_len': 3, 'n_true': 2, 'thoughts_per_position': 2, 'start_id': 78, 'end_id': 79},
    'pause': {'pause_id': 79},
    'think': {'think_id': 70, 'n_think': 8},
    'coconut': {'bot_id': 77, 'latent_id': 78, 'eot_id': 79},
}


def idea(name, seed=0):
    torch.manual_seed(seed)
    return build_model(name, dict(SHAPE, **IDEAS[name])).to(DEV)


@pytest.mark.parametrize('name', IDEAS)
def test_bf16_training_step_of_every_idea(name):
    model = idea(name)
    opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.95), 'cuda')
    x = torch.randint(70, (4, 32), device=DEV)
    y = torch.randint(70, (4, 32), device=DEV)
    if name == 'coconut':
        x[:, 5], x[:, 6], x[:, 7] = 77, 78, 79  # <bot><latent><eot>
    losses = []
    for _ in range(3):
        with torch.autocast('cuda', dtype=torch.bfloat16):
            _, loss = model(x, y)
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    assert all(map(lambda v: v == v and v < 10, losses)) and losses[-1] < losses[0]  # it learns the batch


def test_flash_attention_equals_the_math_kernel():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    model = idea('gpt').eval()
    x = torch.randint(70, (4, 64), device=DEV)
    with torch.no_grad(), torch.autocast('cuda', dtype=torch.bfloat16):
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            flash = model(x)[0].float()
        with sdpa_kernel(SDPBackend.MATH):
            math = model(x)[0].float()
    assert torch.allclose(flash, math, atol=3e-2, rtol=3e-2)  # bf16: a few ulps of logits near 1
    assert (flash.argmax(-1) == math.argmax(-1)).float().mean() > 0.95


@pytest.mark.parametrize('name', ['gpt', 'reasoning_tokens'])
def test_compile_equals_eager(name):
    model = idea(name).eval()
    compiled = torch.compile(model)
    x = torch.randint(70, (2, 48), device=DEV)
    with torch.no_grad():
        assert torch.allclose(compiled(x)[0], model(x)[0], atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize('name', ['gpt', 'reasoning_tokens', 'think'])
def test_cached_generation_equals_recompute_on_the_gpu(name):
    model = idea(name).eval()
    idx = torch.randint(70, (2, 5), device=DEV)
    out = model.generate(idx, 20, temperature=0)
    assert_greedy(out, 5, lambda prefix: model(prefix)[0][:, -1], atol=1e-3)


def test_resume_equals_uninterrupted_on_the_gpu(char_data, tmp_path):
    common = ['--device=cuda', '--max_iters=6', '--eval_interval=3', '--dtype=bfloat16']
    T.train(C.load_config(tiny_args(char_data, tmp_path / 'whole', *common)))
    T.train(C.load_config(tiny_args(char_data, tmp_path / 'parts', *common[:1], '--max_iters=3', *common[2:])))
    T.train(C.load_config(tiny_args(char_data, tmp_path / 'parts', *common, '--init_from=resume')))
    whole = [r for r in read_log(tmp_path / 'whole') if 'val_loss' in r]
    parts = [r for r in read_log(tmp_path / 'parts') if 'val_loss' in r]
    assert [r['iter'] for r in whole] == [r['iter'] for r in parts] == [0, 3, 6]
    for a, b in zip(whole, parts):  # one GPU, one code path: equal up to atomics in cuBLAS/SDPA backward
        assert abs(a['val_loss'] - b['val_loss']) < 1e-3
