"""Every config in config/ runs a few iterations on CPU with overrides, on tiny local data."""

import pytest

import vocab
import configurator as C
import train as T
from conftest import ROOT, load_script, shakespeare_text, write_char_dataset

THINK_CONFIGS = ['think_hops.py', 'think_rl.py']  # think.py's, not train.py's
CONFIGS = sorted(p.name for p in (ROOT / 'config').glob('*.py')
                 if not p.name.startswith(('grpo', 'tpo')) and p.name not in THINK_CONFIGS)
GRPO_CONFIGS = sorted(p.name for p in (ROOT / 'config').glob('grpo*.py'))  # grpo.py's, not train.py's
TINY_RUN = ['--n_layer=2', '--n_head=2', '--n_embd=32', '--block_size=32', '--batch_size=2', '--max_iters=2',
            '--eval_interval=2', '--eval_iters=1', '--log_interval=1', '--gradient_accumulation_steps=1',
            '--device=cpu', '--compile=False', '--dtype=float32', '--init_from=scratch', '--train_tokens=0',
            '--progress=lines']


@pytest.fixture(scope='module')
def datasets(tmp_path_factory):
    """dataset name -> a tiny local copy of that kind of data, made on first use."""
    tmp = tmp_path_factory.mktemp('config_data')
    made = {}

    def get(name):
        if name in made:
            return made[name]
        out = tmp / name
        if name == 'shakespeare_char':
            write_char_dataset(out, shakespeare_text(20_000))
        elif name in ('shakespeare', 'openwebtext'):
            (tmp / 'input.txt').write_text(shakespeare_text(20_000))
            try:
                load_script('data/shakespeare/prepare.py', 'prepare_bpe').main([f'--input={tmp / "input.txt"}', f'--out_dir={out}'])
            except SystemExit as e:
                pytest.skip(f'no GPT-2 BPE here: {e}')
        elif name.startswith('3sum'):
            load_script('data/3sum/prepare.py', 'prepare_3sum').main(
                ['--n=4', '--train_size=64', '--val_size=16', '--test_size=16', f'--out_dir={out}'])
        elif name.startswith('arith'):
            style = 'answer' if name.endswith('_answer') else 'think'
            load_script('data/arith/prepare.py', 'prepare_arith').prepare(str(out), style, train_size=64, val_size=8)
        elif name.startswith('addition'):  # think.py: addition_think's meta has config/think_rl.py's 64 think tokens
            think_tokens = ['--n_think=64'] if name == 'addition_think' else []
            stream = ['--stream'] if name == 'addition_pt' else []  # pause pre-training reads a token stream
            load_script('data/addition/prepare.py', 'prepare_addition').main(
                ['--digits=2', '--train_size=64', '--val_size=8', '--test_size=0', f'--out_dir={out}', *think_tokens, *stream])
            if name in ('addition_pt', 'addition_ft0'):  # <pause> in the vocabulary, as the real ones
                vocab.main(['add_tokens', str(out), vocab.PAUSE])
        elif name.startswith('hops'):
            load_script('data/hops/prepare.py', 'prepare_hops').main(
                ['--n=8', '--k=3', '--train_size=64', '--val_size=8', '--test_size=8', f'--out_dir={out}'])
            if name.endswith('_think'):  # think.py on hops: 8 think tokens, as config/think_hops.py
                vocab.main(['add_tokens', str(out), '--n_think=8'])
        elif name == 'prosqa':  # coconut: task records whose meta has the markers
            load_script('data/prosqa/prepare.py', 'prepare_prosqa').main(
                ['--train_size=32', '--val_size=8', '--test_size=8', f'--out_dir={out}'])
        else:
            pytest.skip(f'no tiny stand-in for dataset {name}')
        made[name] = out
        return out
    return get


@pytest.mark.parametrize('name', CONFIGS)
def test_config_runs_a_few_iterations(name, datasets, tmp_path):
    path = str(ROOT / 'config' / name)
    dataset = C.read_config_file(path).get('dataset', C.DEFAULTS['dataset'])
    config = C.load_config([path, *TINY_RUN, f'--data_dir={datasets(dataset)}', f'--out_dir={tmp_path}'])
    T.train(config)
    evals = [r for r in T.read_jsonl(str(tmp_path / 'log.jsonl')) if 'val_loss' in r]
    assert all(r['val_loss'] > 0 for r in evals)
    if config['eval_only']:
        assert [r['iter'] for r in evals] == [0]
        return
    assert [r['iter'] for r in evals] == [0, 2]
    assert T.load_checkpoint(str(tmp_path / 'ckpt.pt'))['idea'] == config['model']


@pytest.mark.parametrize('name', GRPO_CONFIGS)
def test_grpo_config_runs_a_few_steps(name, datasets, tmp_path):
    """A grpo config from a 2-iteration train.py model of its dataset (prompts need block 128)."""
    import grpo
    path = str(ROOT / 'config' / name)
    dataset = C.read_config_file(path).get('dataset', grpo.DEFAULTS['dataset'])
    data_dir = datasets(dataset)
    T.train(C.load_config([*TINY_RUN, '--block_size=128', f'--data_dir={data_dir}', f'--out_dir={tmp_path / "sft"}']))
    grpo.run(grpo.load_config([path, f'--init_from={tmp_path / "sft"}', f'--data_dir={data_dir}',
                               f'--out_dir={tmp_path}', '--max_iters=2', '--eval_interval=2', '--eval_prompts=2',
                               '--eval_samples=2', '--batch_size=2', '--group_size=2', '--max_new_tokens=8',
                               '--device=cpu', '--progress=lines']))
    evals = [r for r in T.read_jsonl(str(tmp_path / 'log.jsonl')) if 'eval_greedy' in r]
    assert [r['iter'] for r in evals] == [0, 2]
    assert T.load_checkpoint(str(tmp_path / 'ckpt.pt'))['iter_num'] == 2


def test_tpo_config_runs_an_iteration(datasets, tmp_path):
    """config/tpo_arith.py is tpo.py's: one iteration from a 2-iteration train.py model."""
    import tpo
    path = str(ROOT / 'config' / 'tpo_arith.py')
    data_dir = datasets(C.read_config_file(path)['dataset'])
    T.train(C.load_config([*TINY_RUN, '--block_size=128', f'--data_dir={data_dir}', f'--out_dir={tmp_path / "sft"}']))
    tpo.run(tpo.load_config([path, f'--init_from={tmp_path / "sft"}', f'--data_dir={data_dir}', f'--out_dir={tmp_path}',
                             '--iterations=1', '--prompts_per_iteration=2', '--samples=2', '--eval_prompts=2',
                             '--max_new_tokens=8', '--device=cpu', '--progress=lines']))
    rows = T.read_jsonl(str(tmp_path / 'log.jsonl'))
    assert [r['iter'] for r in rows] == [0, 1] and rows[1]['rollouts'] == 4
    assert T.load_checkpoint(str(tmp_path / 'ckpt.pt'))['iter_num'] == 1


@pytest.mark.parametrize('name', THINK_CONFIGS)
def test_think_config_runs_a_few_steps(datasets, tmp_path, name):
    """think.py's configs (their RL keys are no train.py keys): a few RL steps from scratch."""
    import think
    path = str(ROOT / 'config' / name)
    data_dir = datasets(C.read_config_file(path)['dataset'])
    think.train_rl(C.load_config([path, *TINY_RUN, '--block_size=16', '--group_size=2', f'--data_dir={data_dir}',
                                  f'--out_dir={tmp_path}'], extra=think.RL))
    evals = [r for r in T.read_jsonl(str(tmp_path / 'log.jsonl')) if 'val_nll_think' in r]
    assert [r['iter'] for r in evals] == [0, 2]
    assert T.load_checkpoint(str(tmp_path / 'ckpt.pt'))['idea'] == 'think'
