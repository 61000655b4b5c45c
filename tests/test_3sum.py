"""data/3sum/prepare.py: True instances hold a zero-sum triple and False ones none (checked by
brute force), False ones are near misses, the three formats decode to the same instance, the
no-filler arm is the filler arm without its dots, the files train.py reads; and the accuracy
evaluation on a tiny model (mechanics only)."""

import json
import pickle
import subprocess
import sys
from itertools import combinations
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import score
import vocab
import configurator as C
import train as T
from conftest import ROOT, load_script, tiny_args

S = load_script('data/3sum/prepare.py', 'prepare_3sum')



def brute_force_true(tuples):
    """Some i < j < k whose tuples sum to 0 mod 10 in every coordinate (no shortcuts)."""
    return any(all((a + b + c) % 10 == 0 for a, b, c in zip(*triple)) for triple in combinations(tuples, 3))


def prepare(out_dir, *args):
    S.main([f'--out_dir={out_dir}', '--train_size=40', '--val_size=10', '--test_size=10', *map(str, args)])
    rows = {split: T.read_jsonl(str(out_dir / f'{split}.jsonl')) for split in ('train', 'val', 'test')
            if (out_dir / f'{split}.jsonl').exists()}
    return rows, pickle.loads((out_dir / 'meta.pkl').read_bytes())


# -----------------------------------------------------------------------------
# instances


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(3, 9), d=st.integers(2, 4))
def test_true_instances_hold_a_zero_triple_false_ones_none(seed, n, d):
    instances = S.make_split(seed, 'train', 12, n, d)
    for k, tuples in enumerate(instances):
        assert len(tuples) == n and all(len(t) == d and all(0 <= x < 10 for x in t) for t in tuples)
        assert brute_force_true(tuples) == (k % 2 == 0)  # exactly half True, alternating
        assert bool(S.zero_triples(tuples)) == brute_force_true(tuples)


def test_one_digit_tuples_and_impossible_requests(monkeypatch):
    for tuples in S.make_split(0, 'val', 20, 5, 1):
        assert all(len(t) == 1 for t in tuples)
    assert [brute_force_true(t) for t in S.make_split(0, 'val', 20, 5, 1)] == [True, False] * 10
    # 30 one-digit tuples nearly always hold a zero triple: a False one is not found, and said so
    monkeypatch.setattr(S, 'MAX_TRIES', 50)
    with pytest.raises(ValueError, match='no False instance'):
        S.make_split(0, 'train', 2, 30, 1)


def test_false_instances_are_near_misses():
    # with 6 digits per tuple, a random triple's sum is nonzero in ~5.4 coordinates; a near miss
    # (1-3 of the triple's digits re-drawn) leaves some triple nonzero in 3 coordinates or fewer
    def fewest_nonzero(tuples):
        return min(sum((a + b + c) % 10 != 0 for a, b, c in zip(*tr)) for tr in combinations(tuples, 3))
    false = S.make_split(3, 'train', 400, 5, 6)[1::2]
    counts = [fewest_nonzero(t) for t in false]
    assert all(1 <= c <= 3 for c in counts)
    # re-draws: 1 digit with probability 3/4 (a re-drawn digit can land back on 0: then it is
    # redrawn whole), so most near misses are one coordinate off
    assert 0.6 < counts.count(1) / len(counts) < 0.95


def test_splits_are_fixed_by_seed_and_independent_of_other_sizes():
    a = S.make_split(5, 'test', 10, 6, 3)
    assert a == S.make_split(5, 'test', 10, 6, 3) and a[:4] == S.make_split(5, 'test', 4, 6, 3)
    assert a != S.make_split(6, 'test', 10, 6, 3) and a != S.make_split(5, 'val', 10, 6, 3)


# -----------------------------------------------------------------------------
# formats


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(3, 8), d=st.integers(1, 4), n_pause=st.integers(0, 3),
       loss=st.sampled_from(['input', 'answer']), test=st.booleans(), tokens=st.sampled_from(['tuple', 'digit']))
def test_formats_decode_to_the_same_instance(seed, n, d, n_pause, loss, test, tokens):
    width = 1 if tokens == 'tuple' else d  # tokens per tuple
    for tuples in S.make_split(seed, 'val', 2, n, d):
        answer = 'True' if brute_force_true(tuples) else 'False'
        texts = {}
        for fmt in S.FORMATS:
            rec = S.record(tuples, fmt, loss, n_pause, test, tokens)
            texts[fmt] = text = rec['prompt'] + rec['completion']
            assert S.parse(text, d, tokens) == (tuples, fmt, answer)
            assert rec['answer'] == answer and rec['tuples'] == [''.join(map(str, t)) for t in tuples]
            assert text.count('<pause>') == n_pause and text.endswith(f'={answer}\n')
            assert set(text.replace('<pause>', '')) <= set(S.alphabet(d, tokens))
        # the input: one symbol per tuple, the tuple read as a number; or its d digits
        inp = texts['immediate'].replace('<pause>', '').split(':')[0]
        if tokens == 'tuple':
            assert [ord(ch) - 0x4E00 for ch in inp] == [int(''.join(map(str, t))) for t in tuples]
        else:
            assert inp == ''.join(str(x) for t in tuples for x in t)

        def read(chunk):
            return S.from_symbol(chunk, d) if tokens == 'tuple' else tuple(map(int, chunk))
        # the chain of thought, step by step, from the spec: per pair the completing tuple and a mark
        cot = texts['cot'].replace('<pause>', '').split(':')[1].split('=')[0]
        steps = [cot[s:s + width + 1] for s in range(0, len(cot), width + 1)]
        assert len(steps) == comb(n, 2) and len(cot) == (width + 1) * comb(n, 2)
        for (i, j), step in zip(combinations(range(n), 2), steps):
            need = tuple((-a - b) % 10 for a, b in zip(tuples[i], tuples[j]))
            assert read(step[:-1]) == need
            assert step[-1] == ('+' if need in tuples[j + 1:] else '-')
        assert ('+' in cot) == (answer == 'True')
        # filler: n^2 dots, as the paper; without the dots: immediate
        assert texts['filler'].count('.') == n * n
        assert texts['filler'].replace('.', '') == texts['immediate']


def test_layouts_put_the_loss_where_they_say():
    tuples = [(1, 2), (3, 4), (6, 4)]  # 1+3+6 = 10, 2+4+4 = 10: True
    t = {v: chr(0x4E00 + v) for v in (12, 34, 64, 65)}  # the tuple symbols
    inp = t[12] + t[34] + t[64] + ':'
    # pairs (0,1), (0,2), (1,2) need 64 (there, after 34: '+'), 34 (not after 64), 12 (not after 64)
    cot = t[64] + '+' + t[34] + '-' + t[12] + '-'
    assert S.layout(tuples, 'cot') == (inp, cot + '=True\n')
    assert S.layout(tuples, 'filler') == (inp, '.........=True\n')
    assert S.layout(tuples, 'immediate', n_pause=2) == (inp + '<pause><pause>', '=True\n')
    assert S.layout(tuples, 'cot', loss='answer') == (inp + cot + '=', 'True\n')
    # test layout: the filler is given up to '='; a chain of thought is the model's to write
    assert S.layout(tuples, 'filler', test=True) == (inp + '.........=', 'True\n')
    assert S.layout(tuples, 'cot', test=True) == (inp, cot + '=True\n')
    assert S.layout([(1, 2), (3, 4), (6, 5)], 'immediate', test=True) == (t[12] + t[34] + t[65] + ':=', 'False\n')
    with pytest.raises(ValueError):
        S.parse(t[12] + t[34] + ':=Maybe\n', 2)
    with pytest.raises(ValueError, match='no tuple of 2 digits'):
        S.parse(chr(0x4E00 + 100) + ':=True\n', 2)
    assert S.layout(tuples, 'cot', tokens='digit') == ('123464:', '64+34-12-=True\n')
    with pytest.raises(ValueError, match='no run of 2-digit tuples'):
        S.parse('12345:=True\n', 2, 'digit')


# -----------------------------------------------------------------------------
# files


def test_prepare_writes_what_train_reads(tmp_path):
    rows, meta = prepare(tmp_path / 'f', '--n=5', '--mix=filler')
    assert meta['tokenizer'] == 'char' and meta['special_tokens'] == {'<pause>': len(S.alphabet(2))}
    assert list(meta['stoi']) == S.alphabet(2) and meta['vocab_size'] == len(S.STRUCTURE) + 100 + 1
    assert (meta['n'], meta['d'], meta['mix'], meta['loss'], meta['n_pause']) == (5, 2, 'filler', 'input', 0)
    assert [len(rows[s]) for s in ('train', 'val', 'test')] == [40, 10, 10]
    for split, recs in rows.items():
        assert [r['answer'] for r in recs] == ['True', 'False'] * (len(recs) // 2)
        for r in recs:
            assert S.parse(r['prompt'] + r['completion'], 2)[1] == r['format']
    fmts = [r['format'] for r in rows['train']]
    assert set(fmts) == {'cot', 'filler'} and 10 < fmts.count('cot') < 30
    assert {r['format'] for r in rows['test']} == {'filler'} and all(r['prompt'].endswith('=') for r in rows['test'])
    data = T.Dataset(str(tmp_path / 'f'), '3sum', 128, T.Tokenizer(meta))
    assert data.kind == 'records' and len(data.splits['train']) == 40


def test_nofiller_arm_is_the_filler_arm_without_dots(tmp_path):
    filler, _ = prepare(tmp_path / 'f', '--n=4', '--mix=filler', '--seed=3')
    plain, meta = prepare(tmp_path / 'p', '--n=4', '--mix=nofiller', '--seed=3')
    assert meta['mix'] == 'nofiller'
    for split in ('train', 'val', 'test'):
        for a, b in zip(filler[split], plain[split], strict=True):
            assert a['tuples'] == b['tuples'] and a['answer'] == b['answer']
            assert (a['prompt'].replace('.', ''), a['completion'].replace('.', '')) == (b['prompt'], b['completion'])
            assert b['format'] == {'filler': 'immediate', 'cot': 'cot'}[a['format']]


def test_val_like_test_holds_the_tested_format_only(tmp_path):
    mixed, _ = prepare(tmp_path / 'a', '--n=4', '--mix=filler')
    like, _ = prepare(tmp_path / 'b', '--n=4', '--mix=filler', '--val_like_test')
    assert {r['format'] for r in mixed['val']} == {'cot', 'filler'} and {r['format'] for r in like['val']} == {'filler'}
    assert [r['tuples'] for r in like['val']] == [r['tuples'] for r in mixed['val']]
    assert like['train'] == mixed['train'] and like['test'] == mixed['test']
    assert all(not r['prompt'].endswith('=') for r in like['val'])  # the training layout: loss on the dots too
    aligned, _ = prepare(tmp_path / 'c', '--n=4', '--mix=filler', '--n_dots=12')  # the chain's length, n(n-1)
    for r, a in zip(mixed['test'] + mixed['train'], aligned['test'] + aligned['train']):
        if r['format'] == 'filler':
            assert (r['prompt'] + r['completion']).count('.') == 16 and (a['prompt'] + a['completion']).count('.') == 12
            assert (r['prompt'] + r['completion']).replace('.', '') == (a['prompt'] + a['completion']).replace('.', '')
        else:
            assert r == a


def test_pauses_after_the_input(tmp_path):
    rows, meta = prepare(tmp_path / 'p', '--n=4', '--mix=immediate', '--n_pause=3')
    assert meta['n_pause'] == 3 and vocab.pause_ids(meta) == [meta['special_tokens']['<pause>']] * 3
    assert all(r['prompt'].endswith(':<pause><pause><pause>') and r['completion'][0] == '=' for r in rows['train'])
    assert all(r['prompt'].endswith('<pause><pause><pause>=') for r in rows['test'])
    ids = T.Tokenizer(meta).encode(rows['train'][0]['prompt'])
    assert ids[-3:] == vocab.pause_ids(meta) and len(ids) == 4 + 1 + 3  # 4 tuple tokens, ':', the pauses


def test_stream_mode_writes_token_streams(tmp_path):
    out = tmp_path / 's'
    prepare(out, '--n=4', '--mix=filler')  # records first: the stream run removes them
    rows, meta = prepare(out, '--n=4', '--mix=cot', '--stream', '--n_pause=1')
    assert sorted(p.name for p in out.iterdir()) == ['meta.pkl', 'test.jsonl', 'train.bin', 'val.bin']
    tok = T.Tokenizer(meta)
    text = vocab.render(np.fromfile(out / 'train.bin', dtype=np.uint16).tolist(), tok, mode='plain')
    lines = text.split('\n')
    assert lines[-1] == '' and len(lines) == 41
    assert [S.parse(line + '\n', 2)[1:] for line in lines[:-1]] == [('cot', a) for a in ['True', 'False'] * 20]
    assert all(line.count('<pause>') == 1 for line in lines[:-1])
    assert T.Dataset(str(out), '3sum', 32, tok).kind == 'stream'
    prepare(out, '--n=4')  # and back to records: the streams go
    assert not (out / 'train.bin').exists()


def test_bad_arguments_are_one_line_errors(tmp_path, monkeypatch):
    r = subprocess.run([sys.executable, str(ROOT / 'data' / '3sum' / 'prepare.py'), f'--out_dir={tmp_path}', '--n=2'],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and 'Traceback' not in r.stderr
    assert r.stderr.strip() == 'error: --n must be at least 3 and --d at least 1 (got n=2, d=2)'
    for args, words in [(['--d=0'], '--d at least 1'), (['--n_pause=-1'], '--n_pause must be >= 0'),
                        (['--val_size=0'], '--val_size >= 1'), (['--n=30', '--d=1'], 'no False instance')]:
        monkeypatch.setattr(S, 'MAX_TRIES', 50)
        with pytest.raises(SystemExit) as e:
            S.main([f'--out_dir={tmp_path}', '--train_size=2', *args])
        assert str(e.value).startswith('error: ') and words in str(e.value) and '\n' not in str(e.value)
    assert not list(tmp_path.iterdir())  # nothing written


# -----------------------------------------------------------------------------
# accuracy: mechanics on a tiny model


def test_accuracy_on_a_tiny_model(tmp_path):
    prepare(tmp_path / 'data', '--n=4', '--mix=filler', '--test_size=6')
    T.train(C.load_config(tiny_args(tmp_path / 'data', tmp_path / 'out', '--block_size=48', '--max_iters=3',
                                    '--eval_interval=3')))
    r = score.answer_accuracy(str(tmp_path / 'out'), str(tmp_path / 'data' / 'test.jsonl'), limit=5, batch_size=2)
    assert r['n'] == 5 and len(r['predictions']) == 5 and 0 <= r['accuracy'] <= 1
    assert r['correct'] == sum(p == a for p, a in zip(r['predictions'], ['True', 'False'] * 3))
    assert set(r['by_answer']) == {'True', 'False'}
    # the command line says the same
    out = subprocess.run([sys.executable, 'score.py', str(tmp_path / 'out'),
                          str(tmp_path / 'data' / 'test.jsonl'), '--limit=5', '--json'],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {k: v for k, v in r.items() if k != 'predictions'}


def test_a_short_run_learns_an_easy_setting(tmp_path):
    """Three one-digit tuples with the chain of thought: a short run learns each pair's completing
    digit and answers from it, well above the 50% of a constant answer (test set half True)."""
    prepare(tmp_path / 'data', '--n=3', '--d=1', '--mix=cot', '--train_size=20000', '--test_size=200')
    T.train(C.load_config(tiny_args(tmp_path / 'data', tmp_path / 'out', '--n_embd=64', '--batch_size=32',
                                    '--learning_rate=3e-3', '--max_iters=1500', '--eval_interval=1500')))
    r = score.answer_accuracy(str(tmp_path / 'out'), str(tmp_path / 'data' / 'test.jsonl'))
    assert r['n'] == 200 and r['accuracy'] >= 0.8, r['by_answer']
