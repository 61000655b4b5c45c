"""cuda_run.py's dry run: every step of the GPU script (the CUDA tests, bench.py, the three
10M arms side by side, the summary) on the CPU, tiny."""


from conftest import run_script


def test_cuda_run_dry(char_data, tmp_path):
    r = run_script('cuda_run.py', '--dry', f'--data_dir={char_data}', f'--out={tmp_path}', timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    summary = (tmp_path / 'summary.txt').read_text()
    for arm in ('K=1', 'K=0', 'dense K=0'):
        assert any(line.startswith(arm + ' ') and line.split()[len(arm.split())] == '4' for line in summary.splitlines())
    assert '0.621 -> 0.401' in summary and 'training step' in (tmp_path / 'bench.txt').read_text()
    for name in ('K1', 'K0', 'dense-K0'):
        assert (tmp_path / name / 'log.jsonl').exists()


def test_cuda_run_refuses_a_machine_without_a_gpu(tmp_path):
    import pytest
    import torch
    if torch.cuda.is_available():
        pytest.skip('this machine has a GPU')
    r = run_script('cuda_run.py', f'--out={tmp_path}')
    assert r.returncode == 1 and 'no CUDA GPU here' in r.stderr and '--dry' in r.stderr
