"""Bad input gets one clear line before any work; faults lose nothing."""

import importlib
import json
import os
import pickle
import shutil
import string
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st

import configurator as C
import train as T
from conftest import load_script, run_script, tiny_args


def config_error(*args):
    with pytest.raises(T.UserError) as e:
        C.load_config(list(args))
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
    ('--beta1=2', 'beta1 must be in [0, 1)'),  # AdamW's own ValueError, later, was a traceback
    ('--beta2=1.0', 'beta2 must be in [0, 1)'),
])
def test_bad_values_are_named(arg, words):
    assert words in config_error(arg)


def test_idea_keys_are_known_for_that_idea():
    c = C.load_config(['--model=reasoning_tokens', '--n_reasoning=3'])
    assert c['n_reasoning'] == 3
    assert 'n_reasoning must be >= 0' in config_error('--model=reasoning_tokens', '--n_reasoning=-1')


def test_broken_or_missing_config_file(tmp_path):
    (tmp_path / 'bad.py').write_text("batch_size = = 3\n")
    assert 'does not run' in config_error(str(tmp_path / 'bad.py'))
    assert 'not found' in config_error(str(tmp_path / 'nope.py'))
    assert 'is a directory' in config_error(str(tmp_path))


def test_cli_errors_are_one_line_without_traceback():
    r = run_script('train.py', '--n_layers=4')
    assert r.returncode == 1
    assert r.stderr.strip().startswith('error: unknown config key n_layers') and 'Traceback' not in r.stderr
    assert r.stderr.strip().count('\n') == 0


keys = st.sampled_from(sorted(C.known_keys('gpt')) + ['n_layers', 'lr', 'vocab_size', ''])
values = st.one_of(st.integers(-10, 10**6), st.floats(allow_nan=True), st.booleans(),
                   st.text(string.printable, max_size=12))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(keys, values), max_size=4))
def test_fuzz_config_parsing_accepts_or_says_why(pairs):
    args = [f'--{k}={v!r}' if isinstance(v, str) else f'--{k}={v}' for k, v in pairs]
    try:
        c = C.load_config(args)
    except T.UserError as e:
        assert str(e) and '\n' not in str(e)
        return
    for k, v in c.items():  # what it accepts has the default's type
        default = C.known_keys(c['model'])[k]
        assert type(v) is type(default) or (isinstance(default, float) and isinstance(v, float))


# --- data ------------------------------------------------------------------

def data_error(data_dir, tmp_path):
    with pytest.raises(T.UserError) as e:
        T.train(C.load_config(tiny_args(data_dir, tmp_path / 'out', '--max_iters=1')))
    assert '\n' not in str(e.value)
    return str(e.value)


def copy_data(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_missing_dataset_says_which_prepare_command(tmp_path):
    msg = C.load_config(['--dataset=shakespeare_char', f'--data_dir={tmp_path / "none"}'])
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
    T.train(C.load_config(tiny_args(char_data, out, '--max_iters=2', '--eval_interval=2')))
    return out


def resume_error(char_data, out_dir, *extra):
    with pytest.raises(T.UserError) as e:
        T.train(C.load_config(tiny_args(char_data, out_dir, '--max_iters=4', '--init_from=resume', *extra)))
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
        T.train(C.load_config(tiny_args(char_data, blocker / 'out', '--max_iters=1')))


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


# --- bad input to every script: one line, exit code 1 --------------------------------

ROOT = Path(__file__).resolve().parents[1]
PREPARE = ('shakespeare_char', 'shakespeare', 'gsm8k', 'openwebtext', 'addition', 'arith', 'prosqa', '3sum')


def script_main(name):
    """A script's main(argv), as `python NAME.py ARGV` calls it (data/X/prepare.py: 'prepare/X')."""
    if name.startswith('prepare/'):
        return load_script(f'data/{name[8:]}/prepare.py', f'prepare_{name[8:]}').main
    return importlib.import_module(name).main


def cli_error(main, argv, capsys):
    """main(argv) must end as bad input does: exit code 1 and one line `error: ...` on stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(argv)
    code, err = e.value.code, capsys.readouterr().err
    if isinstance(code, str):  # SystemExit('error: ...'): the interpreter prints it and exits 1
        code, err = 1, err + code + '\n'
    assert code == 1 and 'Traceback' not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), err
    return lines[0]


@pytest.fixture(scope='module')
def files(char_data, trained, tmp_path_factory):
    """Bad inputs on disk, and good ones beside them, by name: argv templates say {name}."""
    d = tmp_path_factory.mktemp('bad')
    (d / 'adir').mkdir()
    (d / 'afile').write_text('a file where a directory goes\n')
    (d / 'binary.txt').write_bytes(b'\xff\xfe\x00 not text')
    (d / 'notjson.json').write_text('accuracy: 0.5\n')
    eval_row = {'iter': 0, 'train_loss': 1.0, 'val_loss': 1.0}
    (d / 'badlog.jsonl').write_text(json.dumps(eval_row) + '\n\n{"iter": 1, "val_loss": \n')
    (d / 'trainonly.jsonl').write_text(json.dumps({'iter': 0, 'loss': 1.0}) + '\n')
    (d / 'two.txt').write_text('First Citizen:\nSpeak.\n')
    (d / 'gsm.jsonl').write_text(json.dumps({'question': 'How many?', 'answer': 'Two. #### 2'}) + '\n')
    for name, rows in (('rec', [{'prompt': 'ROMEO:', 'completion': ' Ay', 'answer': 'Ay'}]), ('listrec', [[1, 2]])):
        (d / name).mkdir()
        shutil.copy(char_data / 'meta.pkl', d / name / 'meta.pkl')
        for split in ('train', 'val', 'test'):
            (d / name / f'{split}.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
    return {'root': str(ROOT), 'data': str(char_data), 'trained': str(trained), 'tmp': str(d),
            **{p.name.split('.')[0]: str(p) for p in d.iterdir()}}


BAD_INPUT = [
    # --device: checked by train.pick_device before any work, in every script that takes it
    ('train', ['{root}/config/cpu.py', '--device=nonsense'], "device 'nonsense' is not a device name"),
    ('train', ['{root}/config/cpu.py', '--device=mps'], 'MPS (Apple GPU) is not available'),
    ('train', ['{root}/config/cpu.py', '--device=cuda:7'], 'CUDA is not available'),
    ('train', ['{root}/config/cpu.py', '--device=meta'], "device 'meta' is not supported"),
    ('sample', ['--out_dir={trained}', '--device=cuda'], 'CUDA is not available'),
    ('grpo', ['--init_from={trained}', '--device=cuda'], 'CUDA is not available'),
    ('score', ['{trained}', '{tmp}/rec/test.jsonl', '--device=cuda'], 'CUDA is not available'),
    ('think', ['--model=think', '--device=cuda'], 'CUDA is not available'),
    ('coconut', ['curriculum', '--model=coconut', '--device=cuda'], 'CUDA is not available'),
    # sample.py's numbers (top_k -3 was torch's "selected index k out of range")
    ('sample', ['--out_dir={trained}', '--top_k=-3'], '--top_k must be >= 0'),
    ('sample', ['--out_dir={trained}', '--temperature=-1'], '--temperature must be >= 0'),
    ('sample', ['--out_dir={trained}', '--temperature=nan'], '--temperature must be >= 0 and finite'),
    ('sample', ['--out_dir={trained}', '--num_samples=0'], '--num_samples must be > 0'),
    ('sample', ['--out_dir={trained}', '--max_new_tokens=-1'], '--max_new_tokens must be >= 0'),
    ('sample', ['--out_dir={trained}', '--n_pause=-1'], '--n_pause must be >= 0'),
    ('sample', ['--out_dir={trained}', '--start=FILE:{adir}'], 'start file {adir} is a directory'),
    ('sample', ['--out_dir={trained}', '--start=FILE:{binary}'], 'is not UTF-8 text'),
    # plot.py: logs and results that are not what it reads, figures it cannot write
    ('plot', ['{badlog}', '--table'], '{badlog} line 3 is not valid JSON'),
    ('plot', ['{trainonly}', '--table'], "no rows with 'val_loss'"),
    ('plot', ['{tmp}/missing.jsonl', '--table'], 'no log at'),
    ('plot', ['{trained}', '--ylim=abc'], '--ylim=abc must be two numbers'),
    ('plot', ['{notjson}', '--bars'], 'is not JSON'),
    ('plot', ['{trained}', '--out={afile}/curves.png'], 'cannot write the figure'),
    ('plot', ['{trained}', '--out={tmp}/curves.xyz'], 'cannot write the figure {tmp}/curves.xyz'),  # no such format
    # score.py's and vocab.py's
    ('score', ['{trained}', '{adir}'], 'cannot read {adir}: Is a directory'),
    ('score', ['{trained}', '{tmp}/rec/test.jsonl', '--batch_size=0'], 'need --batch_size > 0'),
    ('score', ['{trained}', '{tmp}/rec/test.jsonl', '--limit=-1'], '--limit >= 0'),
    ('score', ['{trained}', '{tmp}/rec/test.jsonl', '--marker='], 'non-empty --marker'),
    ('score', ['{trained}', '{tmp}/rec/test.jsonl', '--filler=-1'], '--filler >= 0'),
    ('score', ['{trained}', '{tmp}/rec/test.jsonl', '--filler=2'], '--filler needs prompts that end in filler dots'),
    ('vocab', ['add_tokens', '{rec}', '--n_think=-2'], '--n_think must be >= 0'),
    ('vocab', ['pause_records', '{listrec}', '{tmp}/paused', '--n_pause=1'], 'record 1 needs a string field prompt'),
    ('vocab', ['pause_records', '{rec}', '{afile}', '--n_pause=1'], 'is not writable'),
    # the ideas' figures and tables (plot.py --figure)
    ('plot', ['{trainonly}', '--figure=think_rl'], "no rows with 'val_nll_think'"),
    ('plot', ['{tmp}/missing.jsonl', '--figure=think_rl'], 'cannot read'),
    ('plot', ['{trainonly}', '--figure=coconut'], "no rows with 'stage'"),
    ('plot', ['{adir}', '--figure=coconut'], 'Is a directory'),
    ('plot', ['{badlog}', '--figure=quietstar'], 'line 3 is not valid JSON'),
    ('plot', ['{trainonly}', '--figure=grpo'], "no rows with 'eval_greedy'"),
    ('plot', ['{badlog}', '--figure=grpo'], 'line 3 is not valid JSON'),
    ('plot', ['{badlog}', '--figure=grpo', '--window=0'], '--window must be >= 1'),
    # coconut.py's
    ('coconut', ['curriculum', '--model=coconut', '--data_dir={listrec}'], 'train.jsonl record 1 needs a string prompt'),
    ('coconut', ['eval', '{trained}', '{tmp}/rec/test.jsonl', '--limit=-1'], '--limit >= 0'),
    # quietstar.py's
    ('quietstar', ['eval', '{trained}', '--batch_size=0'], '--batches and --batch_size must be > 0'),
    ('quietstar', ['answers', '{trained}', '{tmp}/rec/test.jsonl'], "has no task records whose completion holds '='"),
    # grpo.py's
    ('grpo', ['--init_from={trained}', '--beta1=1'], 'beta1 must be in [0, 1)'),
    # bench.py's, before its minutes of timing
    ('bench', ['--steps=0'], 'need --steps >= 1'),
    ('bench', ['--n_head=5'], 'must be divisible by n_head'),
    ('bench', ['--reasoning=a'], '--reasoning=a must be comma-separated integers'),
    ('bench', ['--reference={binary}'], 'must be a Python file'),
    ('bench', ['--block_size=0'], 'block_size must be positive'),
    ('bench', ['quietstar', '--T=0'], 'need --T >= 1'),
    ('bench', ['quietstar', '--T=1000'], "longer than the bench model's block_size"),
    ('bench', ['quietstar', '--thought_len=-1'], '--thought_len >= 0'),
    # data/*/prepare.py: an out_dir that cannot be made (a file of that name)
    ('prepare/shakespeare_char', ['--input={two}', '--out_dir={afile}'], 'out_dir {afile} is not writable'),
    ('prepare/shakespeare', ['--input={two}', '--out_dir={afile}'], 'out_dir {afile} is not writable'),
    ('prepare/gsm8k', ['--train={gsm}', '--val_size=0', '--out_dir={afile}'], 'out_dir {afile} is not writable'),
    ('prepare/openwebtext', ['--input', '{two}', '--out_dir={afile}'], 'out_dir {afile} is not writable'),
    ('prepare/addition', ['--digits=2', '--train_size=8', '--val_size=2', '--test_size=2', '--out_dir={afile}'],
     'is not writable'),
    ('prepare/arith', ['--train_size=2', '--val_size=2', '--out_dir={afile}'], 'is not writable'),
    ('prepare/prosqa', ['--train_size=2', '--val_size=2', '--test_size=2', '--out_dir={afile}'], 'is not writable'),
    ('prepare/3sum', ['--train_size=2', '--val_size=2', '--test_size=2', '--out_dir={afile}'], 'is not writable'),
]


@pytest.mark.parametrize('script,argv,words', BAD_INPUT, ids=[f"{s}-{' '.join(a)}" for s, a, _ in BAD_INPUT])
def test_bad_input_to_a_script_is_one_line(script, argv, words, files, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)  # a machine without CUDA, even on one with
    monkeypatch.setattr(torch.backends.mps, 'is_available', lambda: False)
    line = cli_error(script_main(script), [a.format(**files) for a in argv], capsys)
    assert words.format(**files) in line


@pytest.mark.parametrize('script,argv,words', [
    ('train.py', ['config/cpu.py', '--device=cuda'], 'CUDA is not available'),
    ('sample.py', ['--out_dir={trained}', '--top_k=-3'], '--top_k must be >= 0'),
    ('plot.py', ['{badlog}', '--table'], '{badlog} line 3 is not valid JSON'),
])
def test_bad_input_on_the_command_line(script, argv, words, files):
    r = run_script(script, *[a.format(**files) for a in argv], env={'CUDA_VISIBLE_DEVICES': ''})
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
    assert r.stderr.strip().count('\n') == 0 and r.stderr.startswith('error: ')
    assert words.format(**files) in r.stderr


def test_device_names_are_checked_against_the_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    with pytest.raises(T.UserError, match=r"'cuda:7': this machine has 1 CUDA device\(s\), cuda:0 to cuda:0"):
        C.pick_device('cuda:7')
    assert C.pick_device('cuda:0') == 'cuda:0' and C.pick_device('cpu:0') == 'cpu' and C.pick_device('cpu') == 'cpu'
    with pytest.raises(T.UserError, match='not a device name'):
        C.pick_device('')


def test_top_k_beyond_the_vocabulary_keeps_every_token(files, capsys):
    script_main('sample')(['--out_dir={trained}'.format(**files), '--top_k=100000', '--max_new_tokens=3',
                           '--num_samples=1', '--start=F', '--device=cpu'])
    assert capsys.readouterr().out.startswith('F')


def test_unreadable_jsonl_data_and_logs(char_data, trained, tmp_path):
    (tmp_path / 'binary.jsonl').write_bytes(b'\xff\xfe{}\n')
    with pytest.raises(T.UserError, match='is not UTF-8 text'):
        T.read_jsonl(str(tmp_path / 'binary.jsonl'))
    d = copy_data(char_data, tmp_path / 'd')
    (d / 'train.bin').unlink()
    (d / 'train.bin').mkdir()
    assert 'train.bin is a directory' in data_error(d, tmp_path)
    out = copy_data(trained, tmp_path / 'o')
    (out / 'log.jsonl').write_text('{"iter": 0}\n[1, 2]\n')  # resuming rewrites the log: not one train.py never wrote
    assert 'not train.py' in resume_error(char_data, out)


def test_argparse_usage_errors_name_the_problem_without_a_traceback(files, capsys):
    """Missing or unknown subcommands and options stay argparse's: usage, then one error line, exit code 2."""
    for script, argv, words in [('vocab', [], 'required: command'), ('coconut', ['bogus'], "invalid choice: 'bogus'"),
                                ('quietstar', ['eval'], 'required: out_dirs'), ('sample', ['--bogus'], '--bogus'),
                                ('plot', [], 'required: runs'), ('plot', ['x', '--figure=nope'], "invalid choice: 'nope'"),
                                ('score', ['{trained}', '{tmp}/rec/test.jsonl', '--extra'], '--extra')]:
        with pytest.raises(SystemExit) as e:
            script_main(script)([a.format(**files) for a in argv])
        err = capsys.readouterr().err
        assert e.value.code == 2 and 'Traceback' not in err and words in err.strip().splitlines()[-1]
