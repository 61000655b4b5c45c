"""Bad input gets one clear line before any work; faults lose nothing."""

import json
import os
import pickle
import shutil
import string

import pytest
import torch
from hypothesis import given, settings, strategies as st

import train as T
from conftest import load_script, run_script, tiny_args


def config_error(*args):
    with pytest.raises(T.UserError) as e:
        T.load_config(list(args))
    msg = str(e.value)
    assert '\n' not in msg
    return msg


def test_unknown_key_names_it_and_the_closest():
    msg = config_error('--n_layers=4')
    assert 'n_layers' in msg and 'did you mean n_layer?' in msg and 'known keys' in msg


def test_unknown_key_in_a_config_file(tmp_path):
    (tmp_path / 'c.py').write_text("learning_rat = 1e-3\n")
    assert 'learning_rat' in config_error(str(tmp_path / 'c.py'))


def test_vocab_size_comes_from_the_dataset():
    assert 'meta.pkl' in config_error('--vocab_size=100')


@pytest.mark.parametrize('arg,words', [
    ('--max_iters=1.5', 'max_iters must be int'),
    ('--max_iters=True', 'max_iters must be int'),
    ('--compile=1', 'compile must be bool'),
    ('--dataset=3', 'dataset must be str'),
    ('--learning_rate=fast', 'learning_rate must be float'),
    ('--batch_size=0', 'batch_size must be > 0'),
    ('--learning_rate=-1', 'learning_rate must be >= 0'),
    ('--max_iters=-5', 'max_iters must be >= 0'),
    ('--block_size=0', 'block_size must be positive'),
    ('--n_embd=100', 'divisible'),
    ('--dropout=1.5', 'dropout'),
    ('--eval_interval=0', 'eval_interval must be > 0'),
    ('--dtype=fp8', 'dtype'),
    ('--model=telepathy', 'unknown model'),
    ('--n_reasoning=-1', 'unknown config key n_reasoning'),  # a key of another idea
    ('--max_iters', 'needs a value'),
])
def test_bad_values_are_named(arg, words):
    assert words in config_error(arg)


def test_idea_keys_are_known_for_that_idea():
    c = T.load_config(['--model=reasoning_tokens', '--n_reasoning=3'])
    assert c['n_reasoning'] == 3
    assert 'n_reasoning must be >= 0' in config_error('--model=reasoning_tokens', '--n_reasoning=-1')


def test_broken_or_missing_config_file(tmp_path):
    (tmp_path / 'bad.py').write_text("batch_size = = 3\n")
    assert 'does not run' in config_error(str(tmp_path / 'bad.py'))
    assert 'not found' in config_error(str(tmp_path / 'nope.py'))


def test_cli_errors_are_one_line_without_traceback():
    r = run_script('train.py', '--n_layers=4')
    assert r.returncode == 1
    assert r.stderr.strip().startswith('error: unknown config key n_layers') and 'Traceback' not in r.stderr
    assert r.stderr.strip().count('\n') == 0


keys = st.sampled_from(sorted(T.known_keys('gpt')) + ['n_layers', 'lr', 'vocab_size', ''])
values = st.one_of(st.integers(-10, 10**6), st.floats(allow_nan=True), st.booleans(),
                   st.text(string.printable, max_size=12))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(keys, values), max_size=4))
def test_fuzz_config_parsing_accepts_or_says_why(pairs):
    args = [f'--{k}={v!r}' if isinstance(v, str) else f'--{k}={v}' for k, v in pairs]
    try:
        c = T.load_config(args)
    except T.UserError as e:
        assert str(e) and '\n' not in str(e)
        return
    for k, v in c.items():  # what it accepts has the default's type
        default = T.known_keys(c['model'])[k]
        assert type(v) is type(default) or (isinstance(default, float) and isinstance(v, float))


# --- data ------------------------------------------------------------------

def data_error(data_dir, tmp_path):
    with pytest.raises(T.UserError) as e:
        T.train(T.load_config(tiny_args(data_dir, tmp_path / 'out', '--max_iters=1')))
    assert '\n' not in str(e.value)
    return str(e.value)


def copy_data(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_missing_dataset_says_which_prepare_command(tmp_path):
    msg = T.load_config(['--dataset=shakespeare_char', f'--data_dir={tmp_path / "none"}'])
    with pytest.raises(T.UserError, match=r'run python data/shakespeare_char/prepare.py'):
        T.train(msg)


def test_malformed_meta(char_data, tmp_path):
    d = copy_data(char_data, tmp_path / 'd')
    pickle.dump({'vocab_size': 'many'}, open(d / 'meta.pkl', 'wb'))
    assert 'malformed' in data_error(d, tmp_path)
    (d / 'meta.pkl').write_bytes(b'not a pickle')
    assert 'unreadable' in data_error(d, tmp_path)


def test_bin_not_whole_tokens_or_too_short(char_data, tmp_path):
    d = copy_data(char_data, tmp_path / 'd')
    with open(d / 'train.bin', 'ab') as f:
        f.write(b'\x01')
    assert 'not whole uint16 tokens' in data_error(d, tmp_path)
    (d / 'train.bin').write_bytes(b'\x00\x00' * 10)
    assert 'fewer than one block' in data_error(d, tmp_path)


def test_bad_jsonl_line_names_file_and_line(char_data, tmp_path):
    d = tmp_path / 'rec'
    d.mkdir()
    shutil.copy(char_data / 'meta.pkl', d / 'meta.pkl')
    (d / 'train.jsonl').write_text(json.dumps({'prompt': 'a', 'completion': 'b'}) + '\n{"prompt": \n')
    (d / 'val.jsonl').write_text(json.dumps({'prompt': 'a', 'completion': 'b'}) + '\n')
    msg = data_error(d, tmp_path)
    assert 'train.jsonl line 2' in msg
    (d / 'train.jsonl').write_text(json.dumps({'prompt': 'a'}) + '\n')
    assert 'record 1 needs string fields' in data_error(d, tmp_path)


# --- checkpoints and out_dir ----------------------------------------------------

@pytest.fixture(scope='module')
def trained(char_data, tmp_path_factory):
    out = tmp_path_factory.mktemp('trained')
    T.train(T.load_config(tiny_args(char_data, out, '--max_iters=2', '--eval_interval=2')))
    return out


def resume_error(char_data, out_dir, *extra):
    with pytest.raises(T.UserError) as e:
        T.train(T.load_config(tiny_args(char_data, out_dir, '--max_iters=4', '--init_from=resume', *extra)))
    assert '\n' not in str(e.value)
    return str(e.value)


def test_missing_checkpoint(char_data, tmp_path):
    assert 'no checkpoint at' in resume_error(char_data, tmp_path)


@pytest.mark.parametrize('damage', ['truncate', 'garbage', 'empty'])
def test_truncated_or_corrupt_checkpoint(char_data, trained, tmp_path, damage):
    out = copy_data(trained, tmp_path / 'o')
    data = (out / 'ckpt.pt').read_bytes()
    (out / 'ckpt.pt').write_bytes({'truncate': data[:len(data) // 2], 'garbage': os.urandom(1000), 'empty': b''}[damage])
    assert 'unreadable' in resume_error(char_data, out)


def test_checkpoint_of_another_idea_or_shape_or_vocabulary(char_data, trained, tmp_path):
    assert "'gpt' model but the config asks for model='reasoning_tokens'" in resume_error(
        char_data, trained, '--model=reasoning_tokens')
    assert 'n_layer=2 (config 3)' in resume_error(char_data, trained, '--n_layer=3')
    other = tmp_path / 'other'
    from conftest import write_char_dataset
    write_char_dataset(other, 'xyz' * 5000)
    assert "differs from dataset" in resume_error(other, trained)


def test_checkpoint_cannot_run_code(trained, tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ('echo pwned',))
    torch.save({'model': {}, 'model_args': {}, 'idea': 'gpt', 'meta': Evil()}, tmp_path / 'ckpt.pt')
    with pytest.raises(T.UserError, match='unreadable'):
        T.load_checkpoint(str(tmp_path / 'ckpt.pt'))


def test_interrupted_save_keeps_the_good_checkpoint(trained, tmp_path, monkeypatch):
    out = copy_data(trained, tmp_path / 'o')
    before = (out / 'ckpt.pt').read_bytes()

    def dies(obj, f, *a, **k):
        f.write(b'half a checkpoint')
        raise KeyboardInterrupt
    monkeypatch.setattr(torch, 'save', dies)
    with pytest.raises(KeyboardInterrupt):
        T.save_checkpoint({'x': 1}, str(out / 'ckpt.pt'))
    assert (out / 'ckpt.pt').read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason='root can write anywhere; the file-path case below still runs')
def test_unwritable_out_dir_permissions(char_data, tmp_path):
    ro = tmp_path / 'ro'
    ro.mkdir(mode=0o500)
    assert 'not writable' in data_error(char_data, ro / 'sub')


def test_out_dir_that_cannot_be_made_fails_at_start(char_data, tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    with pytest.raises(T.UserError, match='not writable'):
        T.train(T.load_config(tiny_args(char_data, blocker / 'out', '--max_iters=1')))


# --- GSM8K answer extraction, fuzzed -----------------------------------------------

gsm8k = load_script('data/gsm8k/prepare.py', 'prepare_gsm8k')


@settings(max_examples=300, deadline=None)
@given(st.integers(-10**9, 10**9), st.booleans())
def test_fuzz_gsm8k_answer_with_commas(n, commas):
    text = f"{n:,}" if commas else str(n)
    assert gsm8k.parse_answer(f"Some steps <<1+1=2>>2\n#### {text}") == str(n)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_gsm8k_answer_never_crashes(text):
    got = gsm8k.parse_answer(text)
    assert got is None or isinstance(got, str)
    if '####' not in text:
        assert got is None


def test_special_token_ids_come_from_the_dataset():
    msg = config_error('--model=pause', '--pause_id=3')
    assert "unknown config key pause_id; it comes from the dataset's meta.pkl" in msg
