"""
Tests of data/*/prepare.py on tiny local inputs: every output decodes back to its input.

Scripts run as subprocesses (the CLI, exit codes, error lines) or are imported from their
files (functions). Each test writes only under tmp_path.
"""

import importlib.util
import json
import math
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest

import vocab
from conftest import ROOT, SHARED, run_script, shakespeare_text


def script(name):
    return ROOT / 'data' / name / 'prepare.py'


def load(name):
    spec = importlib.util.spec_from_file_location(f'prepare_{name}', script(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name, *args, cwd=ROOT):
    return subprocess.run([sys.executable, str(script(name)), *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def assert_one_line_error(result, *words):
    assert result.returncode == 1, result.stderr
    assert 'Traceback' not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def read_bin(path):
    return np.memmap(path, dtype=np.uint16, mode='r').tolist()


def read_meta(path):
    with open(path, 'rb') as f:
        return pickle.load(f)


@pytest.fixture
def text():
    """A few thousand characters of tiny Shakespeare (inline text where shared/ is absent)."""
    return shakespeare_text(3000)


@pytest.fixture
def input_txt(tmp_path, text):
    path = tmp_path / 'input.txt'
    path.write_text(text, encoding='utf-8')
    return path


@pytest.fixture(scope='module')
def enc():
    tiktoken = pytest.importorskip('tiktoken')
    try:
        return tiktoken.get_encoding('r50k_base')
    except Exception as e:
        pytest.skip(f'tiktoken cannot load r50k_base: {e}')

# -----------------------------------------------------------------------------
# shakespeare_char


def test_char_roundtrip(tmp_path, input_txt, text):
    out = tmp_path / 'out'
    result = run('shakespeare_char', f'--input={input_txt}', f'--out_dir={out}')
    assert result.returncode == 0, result.stderr
    meta = read_meta(out / 'meta.pkl')
    chars = sorted(set(text))
    assert meta['tokenizer'] == 'char' and meta['special_tokens'] == {}
    assert meta['vocab_size'] == len(chars)
    assert list(meta['stoi']) == chars and list(meta['stoi'].values()) == list(range(len(chars)))
    assert meta['itos'] == {i: c for c, i in meta['stoi'].items()}
    train, val = read_bin(out / 'train.bin'), read_bin(out / 'val.bin')
    n_train = int(len(text) * 0.9)
    assert (len(train), len(val)) == (n_train, len(text) - n_train)
    decode = lambda ids: ''.join(meta['itos'][i] for i in ids)
    assert decode(train) == text[:n_train] and decode(val) == text[n_train:]
    assert f'train has {n_train:,} tokens' in result.stdout


def test_char_writes_beside_the_script_from_any_cwd(tmp_path, text):
    # a copy of the repository's layout (vocab.py, data/shakespeare_char/prepare.py) with
    # input.txt beside the script, run from elsewhere without flags
    data_dir = tmp_path / 'data' / 'shakespeare_char'
    data_dir.mkdir(parents=True)
    shutil.copy(ROOT / 'vocab.py', tmp_path / 'vocab.py')
    shutil.copy(script('shakespeare_char'), data_dir / 'prepare.py')
    (data_dir / 'input.txt').write_text(text, encoding='utf-8')
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, str(data_dir / 'prepare.py')], cwd=elsewhere,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in data_dir.iterdir()) == ['input.txt', 'meta.pkl', 'prepare.py', 'train.bin', 'val.bin']
    assert list(elsewhere.iterdir()) == []


def test_char_missing_input_is_one_line(tmp_path):
    missing = tmp_path / 'nope.txt'
    assert_one_line_error(run('shakespeare_char', f'--input={missing}', f'--out_dir={tmp_path}'), str(missing))
    assert list(tmp_path.iterdir()) == []


def test_char_non_utf8_input_is_one_line(tmp_path):
    latin1 = tmp_path / 'latin1.txt'
    latin1.write_bytes('caf\u00e9\n'.encode('latin-1'))
    assert_one_line_error(run('shakespeare_char', f'--input={latin1}', f'--out_dir={tmp_path}'), str(latin1), 'UTF-8')


def test_char_failed_download_says_how_to_copy(tmp_path):
    mod = load('shakespeare_char')
    mod.DATA_URL = 'http://127.0.0.1:9/input.txt'  # nothing listens there: fails at once, online or not
    with pytest.raises(vocab.UserError) as e:
        mod.get_text(None, str(tmp_path))
    message = str(e.value)
    assert '\n' not in message and 'cp ' in message and 'input.txt' in message
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_leaves_nothing_when_interrupted(tmp_path):
    mod = load('shakespeare_char')
    path = tmp_path / 'train.bin'

    def write_then_fail(f):
        f.write(b'half')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mod.write_atomic(str(path), write_then_fail)
    assert list(tmp_path.iterdir()) == []

# -----------------------------------------------------------------------------
# shakespeare (GPT-2 BPE)


def test_bpe_roundtrip_from_own_dir(tmp_path, input_txt, text, enc):
    out = tmp_path / 'out'
    result = run('shakespeare', f'--input={input_txt}', f'--out_dir={out}', cwd=script('shakespeare').parent)
    assert result.returncode == 0, result.stderr
    meta = read_meta(out / 'meta.pkl')
    assert meta == {'vocab_size': 50257, 'tokenizer': 'r50k_base', 'special_tokens': {}}
    train, val = read_bin(out / 'train.bin'), read_bin(out / 'val.bin')
    n_train = int(len(text) * 0.9)
    assert train == enc.encode_ordinary(text[:n_train]) and val == enc.encode_ordinary(text[n_train:])
    assert enc.decode(train) + enc.decode(val) == text


def test_bpe_missing_input_is_one_line(tmp_path):
    missing = tmp_path / 'nope.txt'
    assert_one_line_error(run('shakespeare', f'--input={missing}', f'--out_dir={tmp_path}'), str(missing))

# -----------------------------------------------------------------------------
# openwebtext (local files, same path as the HF dataset after loading)

DOCS = ['Hello world.', 'Two lines\nof text.', '', 'Ünïcödé ✓ 日本語 — “quotes”', '  leading and trailing  ',
        'tabs\tand\r\nwindows newlines'] + [f'document number {i}.' for i in range(14)]


def write_jsonl(path, records):
    path.write_text(''.join(json.dumps(r) + '\n' for r in records), encoding='utf-8')


def decode_docs(path, enc):
    """The documents of a .bin: split on <|endoftext|>, which ends every document."""
    ids = read_bin(path)
    assert ids[-1] == enc.eot_token
    docs = enc.decode(ids).split('<|endoftext|>')
    assert docs[-1] == '' and len(docs) - 1 == ids.count(enc.eot_token)
    return docs[:-1]


def test_owt_roundtrip(tmp_path, enc):
    write_jsonl(tmp_path / 'docs.jsonl', [{'text': d, 'id': i} for i, d in enumerate(DOCS)])
    (tmp_path / 'one.txt').write_text('A whole file\n\nis one document.\n', encoding='utf-8')
    out = tmp_path / 'out'
    load('openwebtext').main([f"--input={tmp_path / 'docs.jsonl'}", f"--input={tmp_path / '*.txt'}",
                              '--val_fraction=0.2', '--num_proc=2', f'--out_dir={out}'])
    docs = DOCS + ['A whole file\n\nis one document.\n']
    train, val = decode_docs(out / 'train.bin', enc), decode_docs(out / 'val.bin', enc)
    assert len(val) == math.ceil(0.2 * len(docs))
    assert sorted(train + val) == sorted(docs)
    assert read_meta(out / 'meta.pkl') == {'vocab_size': 50257, 'tokenizer': 'r50k_base', 'special_tokens': {}}
    assert not list(out.glob('*.tmp'))


def test_owt_max_docs_and_seeded_split(tmp_path, enc):
    write_jsonl(tmp_path / 'a.jsonl', [{'text': d} for d in DOCS[:10]])
    write_jsonl(tmp_path / 'b.jsonl', [{'text': d} for d in DOCS[10:]])
    mod = load('openwebtext')
    out = tmp_path / 'out'
    mod.main(['--input', str(tmp_path / '*.jsonl'), '--max_docs=12', '--val_fraction=0.25',
              '--num_proc=1', f'--out_dir={out}'])
    train, val = decode_docs(out / 'train.bin', enc), decode_docs(out / 'val.bin', enc)
    assert sorted(train + val) == sorted(DOCS[:12])  # the first 12 documents, across both files in order
    assert len(val) == 3
    # same seed, same split and order; another seed, another split
    dset = mod.load_documents(mod.expand_inputs([str(tmp_path / '*.jsonl')]), None, None, 1)
    split = lambda seed: {k: v['text'] for k, v in mod.split_documents(dset, 0.25, seed).items()}
    assert split(2357) == split(2357) != split(1)


def test_owt_bad_jsonl_line_names_file_and_line(tmp_path):
    bad = tmp_path / 'bad.jsonl'
    bad.write_text('{"text": "fine"}\n\n{"text": oops}\n', encoding='utf-8')
    mod = load('openwebtext')
    with pytest.raises(vocab.UserError) as e:
        mod.read_local_docs([str(bad)])
    assert str(bad) in str(e.value) and 'line 3' in str(e.value)
    no_text = tmp_path / 'no_text.jsonl'
    no_text.write_text('{"body": "x"}\n', encoding='utf-8')
    with pytest.raises(vocab.UserError, match='line 1'):
        mod.read_local_docs([str(no_text)])
    latin1 = tmp_path / 'latin1.jsonl'
    latin1.write_bytes('{"text": "ok"}\n{"text": "caf\u00e9"}\n'.encode('latin-1'))
    with pytest.raises(vocab.UserError, match='line 2'):
        mod.read_local_docs([str(latin1)])


def test_owt_missing_input_is_one_line(tmp_path):
    missing = tmp_path / 'nope.jsonl'
    assert_one_line_error(run('openwebtext', '--input', missing, f'--out_dir={tmp_path}'), str(missing))

# -----------------------------------------------------------------------------
# gsm8k

GSM8K_TRAIN = SHARED / 'data' / 'gsm8k' / 'train.jsonl'
gsm8k = load('gsm8k')

TRICKY = {
    'question': '  A shop sold 1,234 pens at $0.50 each, then refunded 2. What is the net? ',
    'answer': 'Sales: 1,234 * 0.5 = $<<1234*0.5=617>>617.\n\nRefunds: 2 * 0.5 = <<2*0.5=1>>1 and <<617-1=616>>616 left.'
              '\n#### 616.00',
}


@pytest.mark.parametrize('text, expected', [
    ('So 48 + 24 = 72.\n#### 72', '72'),
    ('#### 1,234', '1234'),
    ('#### 1,000,000', '1000000'),
    ('#### -5', '-5'),
    ('#### \u22125', '-5'),
    ('#### 3.50', '3.5'),
    ('#### 7.0', '7'),
    ('#### 0.0', '0'),
    ('#### -0', '0'),
    ('#### +12', '12'),
    ('#### 100', '100'),  # not 1E+2
    ('#### .5', '0.5'),
    ('#### $1,234.50 dollars', '1234.5'),
    ('#### 1\n#### 2', '2'),  # the last one counts
    ('The answer is 72', None),
    ('#### ', None),
    ('#### seventy-two', None),
])
def test_parse_answer(text, expected):
    assert gsm8k.parse_answer(text) == expected


def test_parse_record_tricky():
    assert gsm8k.parse_record(TRICKY) == {
        'question': 'A shop sold 1,234 pens at $0.50 each, then refunded 2. What is the net?',
        'steps': ['Sales: 1,234 * 0.5 = $617.', 'Refunds: 2 * 0.5 = 1 and 616 left.'],
        'equations': ['1234*0.5=617', '2*0.5=1', '617-1=616'],
        'answer': '616',
    }


@pytest.mark.parametrize('rec', [
    {'question': 'How many?', 'answer': 'It is 5.'},             # no ####
    {'question': 'How many?', 'answer': 'It is 5.\n#### five'},  # no number
    {'question': 'How many?'},
    {'question': '', 'answer': '#### 5'},
    {'answer': '#### 5'},
    {'question': 'How many?', 'answer': 5},
    ['How many?', '#### 5'],
])
def test_parse_record_rejects_malformed(rec):
    with pytest.raises(ValueError):
        gsm8k.parse_record(rec)


def test_render_styles_exactly():
    rec = gsm8k.parse_record(TRICKY)
    prompt = 'Question: A shop sold 1,234 pens at $0.50 each, then refunded 2. What is the net?\nAnswer: '
    steps = 'Sales: 1,234 * 0.5 = $617.\nRefunds: 2 * 0.5 = 1 and 616 left.\n'
    assert gsm8k.render(rec, 'answer') == (prompt, '#### 616\n')
    assert gsm8k.render(rec, 'cot') == (prompt, steps + '#### 616\n')
    assert gsm8k.render(rec, 'think') == (prompt, '<think>\n' + steps + '</think>\n#### 616\n')
    no_steps = dict(rec, steps=[])
    assert gsm8k.render(no_steps, 'think')[1] == '<think>\n</think>\n#### 616\n'
    with pytest.raises(ValueError):
        gsm8k.render(rec, 'essay')


@pytest.fixture(scope='module')
def real_records():
    if not GSM8K_TRAIN.exists():
        pytest.skip(f'{GSM8K_TRAIN} is absent')
    with open(GSM8K_TRAIN, encoding='utf-8') as f:
        return [json.loads(line) for line in f]


def test_parse_record_real_first(real_records):
    rec = gsm8k.parse_record(real_records[0])
    assert rec['steps'] == ['Natalia sold 48/2 = 24 clips in May.',
                            'Natalia sold 48+24 = 72 clips altogether in April and May.']
    assert rec['equations'] == ['48/2=24', '48+24=72'] and rec['answer'] == '72'
    assert gsm8k.render(rec, 'cot')[1] == '\n'.join(rec['steps']) + '\n#### 72\n'


def test_parse_record_all_real(real_records):
    for raw in real_records:
        rec = gsm8k.parse_record(raw)
        assert rec['answer'] == raw['answer'].split('####')[1].strip().replace(',', '')
        assert len(rec['equations']) == raw['answer'].count('<<')
        assert all(step and '<<' not in step and '####' not in step for step in rec['steps'])
        for style in gsm8k.STYLES:
            prompt, completion = gsm8k.render(rec, style)
            assert prompt.startswith('Question: ') and completion.endswith(f"#### {rec['answer']}\n")
            assert gsm8k.parse_answer(completion) == rec['answer']  # a reward can read back what we wrote


def read_jsonl(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(line) for line in f]


@pytest.fixture
def gsm8k_files(tmp_path):
    """A small train and test JSONL: real records if shared/ has them, hand-made otherwise."""
    if GSM8K_TRAIN.exists():
        with open(GSM8K_TRAIN, encoding='utf-8') as f:
            records = [json.loads(next(f)) for _ in range(40)]
    else:
        records = [{'question': f'What is {i} + {i}?', 'answer': f'{i} + {i} = <<{i}+{i}={2 * i}>>{2 * i}\n#### {2 * i:,}'}
                   for i in range(995, 1035)]
    write_jsonl(tmp_path / 'train.jsonl', records[:30])
    write_jsonl(tmp_path / 'test.jsonl', records[30:])
    return tmp_path / 'train.jsonl', tmp_path / 'test.jsonl', records


def test_gsm8k_cli_local(tmp_path, gsm8k_files):
    train_in, test_in, records = gsm8k_files
    out = tmp_path / 'out'
    result = run('gsm8k', f'--train={train_in}', f'--test={test_in}', '--val_size=5', '--style=think', f'--out_dir={out}')
    assert result.returncode == 0, result.stderr
    splits = {name: read_jsonl(out / f'{name}.jsonl') for name in ('train', 'val', 'test')}
    assert [len(rows) for rows in splits.values()] == [25, 5, 10]
    questions = lambda rows: [r['question'] for r in rows]
    expected = [gsm8k.parse_record(r)['question'] for r in records]
    assert sorted(questions(splits['train'] + splits['val'])) == sorted(expected[:30])
    assert questions(splits['test']) == expected[30:]
    for row in splits['train'] + splits['val'] + splits['test']:
        assert set(row) == {'question', 'steps', 'equations', 'answer', 'prompt', 'completion'}
        prompt, completion = gsm8k.render(row, 'think')
        assert (row['prompt'], row['completion']) == (prompt, completion + '<|endoftext|>')
    meta = read_meta(out / 'meta.pkl')
    all_text = ''.join(r['prompt'] + r['completion'] for rows in splits.values() for r in rows)
    for name in ('<think>', '</think>', '<|endoftext|>'):
        all_text = all_text.replace(name, '')
    n = len(meta['stoi'])
    assert meta['tokenizer'] == 'char' and meta['style'] == 'think'
    assert meta['special_tokens'] == {'<think>': n, '</think>': n + 1, '<|endoftext|>': n + 2}
    assert list(meta['stoi']) == sorted(set(all_text)) and meta['vocab_size'] == n + 3
    assert meta['itos'] == {i: c for c, i in meta['stoi'].items()}
    tok = vocab.Tokenizer(meta)  # the completion's last token is the one a sampler stops at
    assert tok.encode(splits['train'][0]['completion'])[-1] == vocab.end_of_text_id(tok) == n + 2

    # again without a test source, other style and tokenizer: no test.jsonl; same seed, same val
    result = run('gsm8k', f'--train={train_in}', '--val_size=5', '--tokenizer=r50k_base', f'--out_dir={out}')
    assert result.returncode == 0, result.stderr
    assert not (out / 'test.jsonl').exists()
    assert questions(read_jsonl(out / 'val.jsonl')) == questions(splits['val'])
    assert read_meta(out / 'meta.pkl') == {'vocab_size': 50257, 'tokenizer': 'r50k_base', 'special_tokens': {},
                                           'style': 'cot'}


def test_gsm8k_bad_json_line_names_file_and_line(tmp_path):
    bad = tmp_path / 'train.jsonl'
    bad.write_text('{"question": "q?", "answer": "#### 1"}\n\n{"question": "q?", "answer": \n',
                   encoding='utf-8')
    assert_one_line_error(run('gsm8k', f'--train={bad}', '--val_size=0', f'--out_dir={tmp_path}'),
                          str(bad), 'line 3')


def test_gsm8k_malformed_record_names_file_and_line(tmp_path):
    bad = tmp_path / 'train.jsonl'
    write_jsonl(bad, [{'question': 'q?', 'answer': '#### 1'}, {'question': 'q?', 'answer': 'no final line'}])
    assert_one_line_error(run('gsm8k', f'--train={bad}', '--val_size=0', f'--out_dir={tmp_path}'),
                          str(bad), 'line 2', '####')


def test_gsm8k_missing_file_is_one_line(tmp_path):
    missing = tmp_path / 'nope.jsonl'
    assert_one_line_error(run('gsm8k', f'--train={missing}', f'--out_dir={tmp_path}'), str(missing))


def test_hold_out_is_seeded_and_keeps_order():
    records = list(range(50))
    train, val = gsm8k.hold_out(records, 10, seed=1)
    assert len(val) == 10 and sorted(train + val) == records
    assert train == sorted(train) and val == sorted(val)
    assert gsm8k.hold_out(records, 10, seed=1) == (train, val)
    assert gsm8k.hold_out(records, 10, seed=2)[1] != val


@pytest.mark.parametrize('script', sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'data').glob('*/prepare.py')))
def test_data_scripts_and_the_vocabulary_import_no_torch(script):
    probe = ("import runpy, sys\nsys.argv = [sys.argv[1], '-h']\ntry:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
             "except SystemExit:\n    pass\nimport vocab\nprint('torch' in sys.modules)")
    r = run_script('-c', probe, script)
    assert r.returncode == 0 and r.stdout.strip().endswith('False'), r.stderr + r.stdout
