"""data/hops: every record's answer is f^k(a) read back from its own prompt, chains hold the
intermediate nodes, splits never share a record; and with K reasoning slots the records'
targets stay on their text tokens (the g-slot loss is the cross-entropy of the completion)."""

import pickle

import pytest
import torch
import torch.nn.functional as F

import train as T
import vocab
from conftest import load_script
from model import build_model

H = load_script('data/hops/prepare.py', 'prepare_hops')


def read_permutation(prompt, n):
    """f from a prompt's array or edges, by the task's own text."""
    shown = prompt[:prompt.index('?')]
    names = H.SYMBOLS[:n]
    if '>' in shown:
        pairs = dict(edge.split('>') for edge in shown.split())
        return {names.index(x): names.index(y) for x, y in pairs.items()}
    return {i: names.index(ch) for i, ch in enumerate(shown)}


@pytest.mark.parametrize('form', H.FORMS)
def test_records_answer_f_to_the_k(tmp_path, form):
    H.main(['--n=6', '--k=1,2,3', f'--form={form}', '--chain_share=0.5', '--test_chain_share=0',
            '--train_size=300', '--val_size=50', '--test_size=50', f'--out_dir={tmp_path}'])
    splits = {s: vocab.read_jsonl(tmp_path / f'{s}.jsonl') for s in ('train', 'val', 'test')}
    keys, chains = set(), 0
    for split, rows in splits.items():
        for r in rows:
            f = read_permutation(r['prompt'], 6)
            assert sorted(f) == sorted(f.values()) == list(range(6))  # a permutation
            a, k = H.SYMBOLS.index(r['prompt'][-3]), int(r['prompt'][-2])
            node, path = a, []
            for _ in range(k):
                node = f[node]
                path.append(H.SYMBOLS[node])
            assert r['answer'] == path[-1] and r['k'] == k and vocab.parse_answer(r['completion']) == r['answer']
            middle = r['completion'][:r['completion'].index('=')]
            assert middle in ('', ''.join(path[:-1]))
            chains += bool(middle) or k == 1
            if split == 'test':
                assert middle == ''  # --test_chain_share=0
            key = (r['prompt'][:r['prompt'].index('?')] if form == 'array' else tuple(sorted(f.items())), a, k)
            assert key not in keys
            keys.add(key)
    assert 0.3 < chains / 350 < 0.8  # about half of train+val written with the chain (k=1 has none to write)
    meta = pickle.load(open(tmp_path / 'meta.pkl', 'rb'))
    assert meta['task'] == 'hops' and meta['k'] == [1, 2, 3] and meta['vocab_size'] == len(H.ALPHABET)


def test_chain_markers_are_the_ids_quietstar_adds(tmp_path):
    # pre-training with chains as thoughts, then Quiet-STaR on direct records: one vocabulary
    H.main(['--n=6', '--k=3', '--chain_share=1', '--chain_markers', '--train_size=40', '--val_size=5', '--test_size=5',
            f'--out_dir={tmp_path / "mix"}'])
    H.main(['--n=6', '--k=3', '--train_size=40', '--val_size=5', '--test_size=5', f'--out_dir={tmp_path / "direct"}'])
    mix = pickle.load(open(tmp_path / 'mix' / 'meta.pkl', 'rb'))
    r = vocab.read_jsonl(tmp_path / 'mix' / 'train.jsonl')[0]
    # the thought after '=': Quiet-STaR's thought at '=' predicts the answer, from these positions
    assert r['completion'] == f"={vocab.START_THOUGHT}{''.join(r['path'][1:-1])}{vocab.END_THOUGHT}{r['answer']}\n"
    ids = vocab.Tokenizer(mix).encode(r['completion'])
    assert ids[1] == len(H.ALPHABET) and ids[4] == len(H.ALPHABET) + 1 and len(ids) == 7  # one id per marker
    import configurator as C
    direct = pickle.load(open(tmp_path / 'direct' / 'meta.pkl', 'rb'))
    config = C.load_config(['--model=quietstar', f'--data_dir={tmp_path / "direct"}'])
    grown = C.idea_meta(config, direct)  # the idea adds its markers at the same ids
    assert grown['special_tokens'] == mix['special_tokens'] and grown['vocab_size'] == mix['vocab_size']
    T.check_extends(mix, grown)  # so a Quiet-STaR run can start from a model pre-trained on the mix


def test_exclude_draws_none_of_another_datasets_records(tmp_path):
    # n=4, k=2: 4! * 4 = 96 records; the first set takes 60, the second must find the other 36
    H.main(['--n=4', '--k=2', '--form=edges', '--train_size=50', '--val_size=5', '--test_size=5', f'--out_dir={tmp_path / "a"}'])
    H.main(['--n=4', '--k=2', '--train_size=20', '--val_size=2', '--test_size=2', f'--exclude={tmp_path / "a"}',
            '--seed=1', f'--out_dir={tmp_path / "b"}'])
    a = {H.record_key(r) for s in ('train', 'val', 'test') for r in vocab.read_jsonl(tmp_path / 'a' / f'{s}.jsonl')}
    b = [H.record_key(r) for s in ('train', 'val', 'test') for r in vocab.read_jsonl(tmp_path / 'b' / f'{s}.jsonl')]
    assert len(a) == 60 and len(set(b)) == 24 and not a & set(b)
    for r in vocab.read_jsonl(tmp_path / 'b' / 'train.jsonl'):  # the key read back is the record's own
        f, start, k = H.record_key(r)
        assert k == 2 and H.SYMBOLS[H.hops(f, start, 2)[-1]] == r['answer']
    with pytest.raises(SystemExit):  # 36 left, 3/4 of them is 27
        H.main(['--n=4', '--k=2', '--train_size=30', '--val_size=2', '--test_size=2', f'--exclude={tmp_path / "a"}',
                f'--out_dir={tmp_path / "c"}'])


def test_baselines_by_hand():
    rows = [{'answer': 'a', 'path': ['a', 'b', 'a']}, {'answer': 'c', 'path': ['b', 'c']}, {'answer': 'a', 'path': ['c', 'd', 'a']}]
    assert H.baselines(rows) == {'majority answer': 2 / 3, 'copy the start': 1 / 3, 'one hop f(a)': 1 / 3}


def test_chain_think_writes_the_nodes_as_the_think_tokens_of_a_grown_vocabulary(tmp_path):
    """--chain_think --chain_stride=2 at k=4: the completion is <think_i>=answer with i = f^2(a),
    in the vocabulary a direct dataset grown by n think tokens has (think.py's side arm reads it)."""
    H.main(['--n=6', '--k=4', '--chain_share=1', '--chain_think', '--chain_stride=2', '--train_size=40',
            '--val_size=5', '--test_size=5', f'--out_dir={tmp_path / "think"}'])
    H.main(['--n=6', '--k=4', '--train_size=40', '--val_size=5', '--test_size=5', f'--out_dir={tmp_path / "direct"}'])
    vocab.main(['add_tokens', str(tmp_path / 'direct'), '--n_think=6'])
    meta = pickle.load(open(tmp_path / 'think' / 'meta.pkl', 'rb'))
    assert meta['special_tokens'] == pickle.load(open(tmp_path / 'direct' / 'meta.pkl', 'rb'))['special_tokens']
    tok = vocab.Tokenizer(meta)
    for r in vocab.read_jsonl(tmp_path / 'think' / 'train.jsonl'):
        f = read_permutation(r['prompt'], 6)
        a = H.SYMBOLS.index(r['prompt'][-3])
        middle = f[f[a]]
        assert r['completion'] == f"<think{middle}>={r['answer']}\n" and r['path'][2] == H.SYMBOLS[middle]
        ids = tok.encode(r['completion'])
        assert len(ids) == 4 and ids[0] == meta['special_tokens']['<think0>'] + middle
    with pytest.raises(SystemExit):
        H.main(['--chain_think', '--chain_markers', f'--out_dir={tmp_path / "both"}'])
    assert not (tmp_path / 'both').exists()


def test_bad_knobs_are_one_line_errors(tmp_path, capsys):
    for args, says in ((['--n=1'], '--n must be'), (['--k=0'], 'hop counts'), (['--chain_share=2'], 'in [0, 1]'),
                       (['--n=3', '--k=1'], 'distinct records')):
        with pytest.raises(SystemExit):
            H.main(args + [f'--out_dir={tmp_path}'])
        err = capsys.readouterr().err
        assert says in err and err.strip().count('\n') == 0
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize('k_slots', [0, 1, 3])
def test_reasoning_slots_keep_the_targets_on_the_text(tmp_path, k_slots):
    H.main(['--n=5', '--k=2', '--chain_share=1', '--train_size=200', '--val_size=20', '--test_size=0',
            f'--out_dir={tmp_path}'])
    meta = pickle.load(open(tmp_path / 'meta.pkl', 'rb'))
    tok = vocab.Tokenizer(meta)
    data = T.Dataset(str(tmp_path), 'hops', 16, tok)
    x, y = data.batch('train', 8, seed=0)
    records = [data.splits['train'][i] for i in torch.randint(len(data.splits['train']), (8,),
                                                              generator=torch.Generator().manual_seed(0)).tolist()]
    for b, (ids, n_prompt) in enumerate(records):  # the targets are exactly the completion, in place
        targets = y[b][y[b] != -1].tolist()
        assert tok.decode_text(targets) == tok.decode_text(ids[n_prompt:]) and x[b, n_prompt - 1] == ids[n_prompt - 1]
    torch.manual_seed(0)
    model = build_model('reasoning_tokens', dict(block_size=16, vocab_size=meta['vocab_size'], n_layer=2, n_head=2,
                                                 n_embd=16, bias=False, dropout=0.0, n_reasoning=k_slots)).eval()
    with torch.no_grad():
        logits, loss = model(x, y)
        # naive: the whole stream, then the g slot of every group, scored on the text's own targets
        S = k_slots + 1
        h = model.blocks(model.stream(x)).view(x.size(0), x.size(1), S, -1)[:, :, 0]
        naive = F.cross_entropy(model.head(h).flatten(0, 1), y.flatten(), ignore_index=-1)
    assert torch.allclose(loss, naive, atol=1e-5) and torch.allclose(logits, model.head(h), atol=1e-5)


@pytest.mark.parametrize('prompt', ['cgdahbfe?a3:', 'a>c e>h b>g c>d d>a f>b g>f h>e ?a3:'])
def test_pointers_read_the_permutation_of_either_form(prompt):
    import reasoning_tokens as R
    f, at = R.pointers(prompt)
    assert f == {'a': 'c', 'b': 'g', 'c': 'd', 'd': 'a', 'e': 'h', 'f': 'b', 'g': 'f', 'h': 'e'}
    assert sorted(prompt[i] for i in at) == sorted(f.values())  # every image, once
    assert all(prompt[i - 1] == '>' for i in at) if '>' in prompt else at == list(range(8))


def test_probe_reads_what_is_there_and_not_what_is_not():
    import reasoning_tokens as R
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(8, (400,), generator=g)
    encoded = F.one_hot(labels, 8).float() @ torch.randn(8, 16, generator=g) + 0.1 * torch.randn(400, 16, generator=g)
    assert R.fit_probe(encoded, labels, 8) > 0.95
    assert R.fit_probe(torch.randn(400, 16, generator=g), labels, 8) < 0.3  # chance is 1/8


def test_probe_plumbing_on_a_tiny_run(tmp_path):
    import configurator as C
    import reasoning_tokens as R
    H.main(['--n=5', '--k=2', '--train_size=300', '--val_size=20', '--test_size=100', f'--out_dir={tmp_path / "hops"}'])
    out = tmp_path / 'run'
    T.train(C.load_config([f'--data_dir={tmp_path / "hops"}', f'--out_dir={out}', '--model=reasoning_tokens',
                           '--n_reasoning=2', '--n_layer=1', '--n_head=2', '--n_embd=16', '--block_size=16',
                           '--batch_size=8', '--max_iters=2', '--eval_interval=2', '--eval_iters=1',
                           '--progress=lines', '--device=cpu']))
    model = T.model_from_checkpoint(T.load_checkpoint(str(out / 'ckpt.pt'))).eval()
    tok = vocab.Tokenizer(pickle.load(open(tmp_path / 'hops' / 'meta.pkl', 'rb')))
    rows = vocab.read_jsonl(tmp_path / 'hops' / 'test.jsonl')
    ids = [tok.encode(r['prompt']) for r in rows[:4]]
    h = R.slot_states(model, ids)
    with torch.no_grad():
        manual = model.transformer.ln_f(model.blocks(model.stream(torch.tensor(ids))))
    assert h.shape == (4, len(ids[0]), 3, 16) and torch.allclose(h[:, :, 1], manual[:, 1::3])
    result = R.probe(str(out), str(tmp_path / 'hops' / 'test.jsonl'))
    assert result['records'] == 100 and result['chance'] == 0.2
    assert len(result['rows']) == 3 * 3 * 2 + 3  # (positions x targets + shown images) x slots
    assert {r['position'] for r in result['rows']} == {'start symbol', 'hop count', "':'", 'shown images f(x)'}
    # the next hop of a shown image is f(f(x)); it equals the image only at a fixed point of f
    fixed_points = sum(r['prompt'][i] == chr(ord('a') + i) for r in rows for i in range(5)) / (5 * len(rows))
    chased = [r for r in result['rows'] if r['position'] == 'shown images f(x)']
    assert [r['slot'] for r in chased] == [0, 1, 2] and chased[0]['copy_shown'] == round(fixed_points, 4)
    assert all(0 <= r['probe_accuracy'] <= 1 and 0 <= r['head_accuracy'] <= 1 for r in result['rows'])
    # the baselines need no hop: copying the start is right exactly when f^k(a) = a
    copy = sum(r['answer'] == r['path'][0] for r in rows) / len(rows)
    assert result['baselines']['answer']['copy_start'] == round(copy, 4) > 0
    fixed = sum(r['path'][1] == r['path'][0] for r in rows) / len(rows)  # f(a) = a: a fixed point
    assert result['baselines']['first hop']['copy_start'] == round(fixed, 4)
    assert set(result['baselines']['answer']) == {'majority', 'copy_start', 'probe_on_start_only'}




def test_records_longer_than_the_block_are_said(tmp_path, capsys):
    H.main(['--n=8', '--k=3', '--chain_share=1', '--train_size=50', '--val_size=10', '--test_size=0',
            f'--out_dir={tmp_path}'])
    tok = vocab.Tokenizer(pickle.load(open(tmp_path / 'meta.pkl', 'rb')))
    T.Dataset(str(tmp_path), 'hops', 16, tok)  # 17-token records: 16 inputs fit
    assert 'longer than block_size' not in capsys.readouterr().err
    T.Dataset(str(tmp_path), 'hops', 12, tok)
    assert 'note: 50 of the 50 records' in capsys.readouterr().err
