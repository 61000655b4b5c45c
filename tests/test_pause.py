"""vocab.py, pause.py and score.py: the special-token registry, names read inside text, rendering (colors, NO_COLOR,
unknown ids, HTML), the registry through a checkpoint and sample.py, pause fine-tuning and
pause pre-training losses checked by hand, fine-tuning from a checkpoint, answer scoring.
Tiny and fast."""

import io
import json
import pickle

import pytest
import torch
from torch.nn import functional as F

import pause
import score
import vocab
import configurator as C
import train as T
from conftest import run_script, tiny_args, write_char_dataset, shakespeare_text
from model import GPT, GPTConfig, insert_tokens, lm_loss, random_slots



def char_meta(chars):
    """A character vocabulary in the order given: char_meta('ab&') has a=0, b=1, &=2."""
    chars = list(chars)
    return {'vocab_size': len(chars), 'tokenizer': 'char', 'stoi': {c: i for i, c in enumerate(chars)},
            'itos': dict(enumerate(chars)), 'special_tokens': {}}


def run(data_dir, out_dir, *extra):
    return T.train(C.load_config(tiny_args(data_dir, out_dir, *extra)))


def write_records(data_dir, meta, rows):
    data_dir.mkdir(parents=True, exist_ok=True)
    for split in ('train', 'val'):
        (data_dir / f'{split}.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
    (data_dir / 'meta.pkl').write_bytes(pickle.dumps(meta))
    return data_dir


# -----------------------------------------------------------------------------
# the registry


def test_add_special_tokens_appends_keeps_ids_and_is_idempotent():
    base = char_meta('abc')
    m1 = vocab.add_special_tokens(base, ['<pause>', '<bot>'])
    assert m1['special_tokens'] == {'<pause>': 3, '<bot>': 4} and m1['vocab_size'] == 5
    assert base['special_tokens'] == {} and base['vocab_size'] == 3  # the input is not changed
    m2 = vocab.add_special_tokens(m1, ['<pause>', *vocab.think_token_names(2)])
    assert m2['special_tokens'] == {'<pause>': 3, '<bot>': 4, '<think0>': 5, '<think1>': 6}
    assert m2['vocab_size'] == 7 and m2['stoi'] == base['stoi']
    assert vocab.add_special_tokens(m2, ['<think1>', '<bot>']) == m2
    assert vocab.special_id(m2, '<think1>') == 6
    for bad in ('pause', '<a<b>', '<>', 7):
        with pytest.raises(ValueError):
            vocab.add_special_tokens(base, [bad])
    with pytest.raises(T.UserError, match='<latent>'):
        vocab.special_id(m2, '<latent>')


def test_think_names_and_ids_in_number_order():
    assert vocab.think_token_names(3) == ['<think0>', '<think1>', '<think2>']
    names = ['<think10>', '<think2>', '<pause>', '<think0>']  # added out of number order
    meta = vocab.add_special_tokens(char_meta('ab'), names)
    assert vocab.think_ids(meta) == [meta['special_tokens'][n] for n in ('<think0>', '<think2>', '<think10>')]
    assert [vocab.token_kind(n) for n in ('<think7>', '<pause>', '<startofthought>', '<latent>', '</think>', '<x>')] \
        == ['think', 'pause', 'thought', 'latent', 'tags', 'special']


# -----------------------------------------------------------------------------
# names inside text


def test_char_tokenizer_reads_special_names():
    meta = vocab.add_special_tokens(char_meta('abc'), ['<pause>', '<think1>', '<think12>'])
    tok = T.Tokenizer(meta)
    p, t1, t12 = (meta['special_tokens'][n] for n in ('<pause>', '<think1>', '<think12>'))
    assert tok.encode('ab<pause><pause>') == [0, 1, p, p]
    assert tok.encode('<think12>c<think1>') == [t12, 2, t1]
    assert tok.encode('') == [] and tok.encode('cab') == [2, 0, 1]
    with pytest.raises(T.UserError, match=r"'<>psu'"):
        tok.encode('a<paus>')  # not a name: its characters are unknown, all listed as before
    with pytest.raises(T.UserError, match=r"'x'"):
        tok.encode('<pause>x')
    assert tok.decode_text([0, 1, 2]) == 'abc'
    with pytest.raises(KeyError):
        tok.decode_text([p])  # base tokens only; vocab.render shows names
    # without special tokens nothing changes
    assert T.Tokenizer(char_meta('abc')).encode('cab') == [2, 0, 1]


def test_r50k_tokenizer_reads_special_names():
    pytest.importorskip('tiktoken')
    try:
        tok = T.Tokenizer(vocab.add_special_tokens({'vocab_size': 50257, 'tokenizer': 'r50k_base'}, ['<pause>']))
    except Exception as e:
        pytest.skip(f'tiktoken cannot load r50k_base: {e}')
    plain = T.Tokenizer({'vocab_size': 50257, 'tokenizer': 'r50k_base'})
    assert tok.special == {'<pause>': 50257}
    assert tok.encode('Hello<pause><pause> world') == plain.encode('Hello') + [50257, 50257] + plain.encode(' world')
    assert tok.encode('a<|endoftext|>') == plain.encode('a<|endoftext|>') and 50256 in tok.encode('<|endoftext|>')
    assert plain.encode('<pause>') != [50257]  # only a vocabulary that has it reads the name
    assert tok.decode_text(tok.encode('Hello world')) == 'Hello world'


# -----------------------------------------------------------------------------
# rendering

RENDER_NAMES = ['<pause>', '<think3>', '<startofthought>', '<endofthought>', '<think>', '</think>', '<latent>']


@pytest.fixture
def render_meta():
    return vocab.add_special_tokens(char_meta('ab&'), RENDER_NAMES)


def render_ids(meta):
    s = meta['special_tokens']
    return [0, 1, s['<think3>'], s['<pause>'], s['<startofthought>'], 0, s['<endofthought>'], 1, 999, -1,
            s['<latent>'], 2]


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_render_plain_shows_every_token(render_meta):
    assert vocab.render(render_ids(render_meta), render_meta, mode='plain') == \
        'ab<think3><pause><startofthought>a<endofthought>b<unk:999><unk:-1><latent>&'


def test_render_ansi_colors_by_kind(render_meta):
    out = vocab.render(render_ids(render_meta), render_meta, mode='ansi')
    R = vocab.ANSI_RESET
    assert out.startswith('ab')  # text outside a thought is not colored
    assert f'\033[36m<think3>{R}' in out  # numbered think tokens cyan
    assert f'\033[2m<pause>{R}' in out  # pauses dim
    assert f'\033[35m<startofthought>{R}\033[35ma{R}\033[35m<endofthought>{R}b' in out  # a thought, inside too
    assert f'\033[1;31m<unk:999>{R}' in out and f'<unk:-1>{R}' in out  # unknown ids loud
    assert f'\033[32m<latent>{R}&' in out
    # without the color codes it is the plain text
    import re
    assert re.sub(r'\033\[[0-9;]*m', '', out) == vocab.render(render_ids(render_meta), render_meta, mode='plain')


def test_render_auto_follows_terminal_and_no_color(render_meta, monkeypatch):
    ids = render_ids(render_meta)
    ansi, plain = (vocab.render(ids, render_meta, mode=m) for m in ('ansi', 'plain'))
    monkeypatch.delenv('NO_COLOR', raising=False)
    assert vocab.render(ids, render_meta, stream=Terminal()) == ansi
    assert vocab.render(ids, render_meta, stream=io.StringIO()) == plain  # not a terminal
    monkeypatch.setenv('NO_COLOR', '1')
    assert vocab.render(ids, render_meta, stream=Terminal()) == plain
    monkeypatch.setenv('NO_COLOR', '')  # empty counts as unset (no-color.org)
    assert vocab.render(ids, render_meta, stream=Terminal()) == ansi


def test_render_html_escapes_and_spans(render_meta):
    s = render_meta['special_tokens']
    out = vocab.render([2, s['<think3>'], 0, s['<think>'], 1, s['</think>'], 999], render_meta, mode='html')
    assert out.startswith('&amp;<span class="think-think"')
    assert '>&lt;think3&gt;</span>a' in out
    assert 'class="think-tags"' in out and out.count('think-tags') == 3  # <think>, b inside, </think>
    assert 'class="think-unknown"' in out and '&lt;unk:999&gt;' in out
    with pytest.raises(ValueError):
        vocab.render([0], render_meta, mode='rainbow')


def test_render_accepts_a_tokenizer_and_tensors(render_meta):
    tok = T.Tokenizer(render_meta)
    assert vocab.render(torch.tensor([0, render_meta['special_tokens']['<pause>'], 1]), tok, mode='plain') == 'a<pause>b'


# -----------------------------------------------------------------------------
# the registry through a checkpoint, and sample.py

NAMES = ['<pause>', *vocab.think_token_names(4), '<bot>', '<latent>', '<eot>']


@pytest.fixture(scope='module')
def special_run(tmp_path_factory):
    """A tiny model trained on records whose vocabulary has special tokens and n_pause=3."""
    tmp = tmp_path_factory.mktemp('special')
    meta = vocab.with_pauses(vocab.add_special_tokens(char_meta('abc=\n'), NAMES), 3)
    rows = [{'prompt': 'ab' + vocab.pause_text(3), 'completion': f'={c}\n'} for c in 'abcab']
    data = write_records(tmp / 'data', meta, rows)
    run(data, tmp / 'out', '--max_iters=2', '--eval_interval=2')
    return meta, tmp / 'out'


def test_registry_round_trips_through_a_checkpoint(special_run):
    meta, out = special_run
    ckpt = T.load_checkpoint(str(out / 'ckpt.pt'))
    assert ckpt['meta']['special_tokens'] == meta['special_tokens'] == {n: 5 + k for k, n in enumerate(NAMES)}
    assert ckpt['meta']['n_pause'] == 3
    model = T.model_from_checkpoint(ckpt)
    assert model.config.vocab_size == ckpt['meta']['vocab_size'] == 5 + len(NAMES)
    assert vocab.think_ids(ckpt['meta']) == [6, 7, 8, 9]
    assert vocab.pause_ids(ckpt['meta']) == [5, 5, 5] and vocab.pause_ids(ckpt['meta'], 1) == [5]
    ids = T.Tokenizer(ckpt['meta']).encode('a<think2><bot><latent><eot>b')
    assert ids == [0, 8, 10, 11, 12, 1]
    assert vocab.render(ids, ckpt['meta'], mode='plain') == 'a<think2><bot><latent><eot>b'


def test_sample_appends_the_checkpoints_pauses(special_run):
    _, out = special_run
    common = ['sample.py', f'--out_dir={out}', '--num_samples=1', '--max_new_tokens=0']
    r = run_script(*common, '--start=ab', env={'NO_COLOR': '1'})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split('\n')[0] == 'ab<pause><pause><pause>'
    r = run_script(*common, '--start=a<think1>b', '--n_pause=0')
    assert r.returncode == 0 and r.stdout.split('\n')[0] == 'a<think1>b'
    r = run_script(*common, '--start=xyz')
    assert r.returncode == 1 and r.stderr.strip().count('\n') == 0 and 'xyz' in r.stderr


# -----------------------------------------------------------------------------
# pause fine-tuning: the data


def test_pause_finetuning_has_no_loss_until_the_last_pause():
    meta = vocab.with_pauses(char_meta('ab=T\n'), 3)
    tok = T.Tokenizer(meta)
    P = vocab.special_id(meta, '<pause>')
    prompt, completion = tok.encode('ab' + vocab.pause_text(3)), tok.encode('=T\n')
    a, b, eq, t, nl = (meta['stoi'][c] for c in 'ab=T\n')
    assert prompt == [a, b, P, P, P]
    x, y = T.records_batch([(prompt + completion, len(prompt))], block_size=16)
    assert x.tolist() == [[a, b, P, P, P, eq, t]]
    # inputs a b P P P = T: nothing is trained until the last pause, which predicts '='
    assert y.tolist() == [[-1, -1, -1, -1, eq, t, nl]]


def test_pause_records_adds_pauses_to_any_records(tmp_path):
    rows = [{'prompt': 'ab', 'completion': 'a\n', 'answer': 'a'}]
    src = write_records(tmp_path / 'src', char_meta('ab\n'), rows)
    meta = vocab.pause_records(str(src), str(tmp_path / 'out'), 2)
    got = T.read_jsonl(str(tmp_path / 'out' / 'train.jsonl'))
    assert got == [{'prompt': 'ab<pause><pause>', 'completion': 'a\n', 'answer': 'a'}]
    assert meta['n_pause'] == 2 and meta['special_tokens'] == {'<pause>': 3}
    assert pickle.loads((tmp_path / 'out' / 'meta.pkl').read_bytes()) == meta


# -----------------------------------------------------------------------------
# pause pre-training: the idea


def test_insert_pauses_by_hand():
    P = 99
    idx = torch.tensor([[10, 11, 12, 13, 14]])
    targets = torch.tensor([[11, 12, 13, 14, 15]])
    is_pause = torch.tensor([[False, False, True, True, False]])
    stream, tgt = insert_tokens(idx, targets, is_pause, torch.full_like(idx, P))
    assert stream.tolist() == [[10, 11, P, P, 12]]
    # 10 -> 11; 11 is followed by a pause: no loss; the first pause too; the last pause predicts 12;
    # 12, the last slot, predicts the next text token 13
    assert tgt.tolist() == [[11, -1, -1, 12, 13]]
    # two rows, each with its own slots; masked targets stay masked
    idx = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    targets = torch.tensor([[2, -1, 4, 9], [6, 7, 8, 9]])
    is_pause = torch.tensor([[False, True, False, False], [False, False, False, True]])
    stream, tgt = insert_tokens(idx, targets, is_pause, torch.full_like(idx, P))
    assert stream.tolist() == [[1, P, 2, 3], [5, 6, 7, P]]
    assert tgt.tolist() == [[-1, 2, -1, 4], [6, 7, -1, 8]]


def test_random_pause_slots_count_and_never_first():
    g = torch.Generator().manual_seed(0)
    slots = random_slots(64, 10, 3, generator=g)
    assert slots.sum(1).tolist() == [3] * 64 and not slots[:, 0].any()
    assert slots[:, 1:].any(0).all()  # every other slot is used by some row


def pause_model(fraction, seed=0, **kw):
    torch.manual_seed(seed)
    config = pause.PauseConfig(block_size=16, vocab_size=12, n_layer=2, n_head=2, n_embd=16, dropout=0.0,
                               pause_fraction=fraction, pause_id=11, **kw)
    return pause.PauseGPT(config)


def test_pause_model_loss_by_hand(monkeypatch):
    model = pause_model(0.25)
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(0, 11, (2, 8), generator=g)
    targets = torch.randint(0, 11, (2, 8), generator=g)
    targets[0, 3] = 11  # a pause as a target is never trained
    is_pause = torch.zeros(2, 8, dtype=torch.bool)
    is_pause[0, [2, 5]] = True
    is_pause[1, [6, 7]] = True
    monkeypatch.setattr(pause, 'random_slots', lambda B, T, k, device=None: is_pause)
    model.train()
    logits, loss = model(idx, targets)
    # the same by hand: the stream through the plain GPT steps, cross-entropy on the kept targets
    P, x, t = 11, idx.tolist(), targets.tolist()
    stream = torch.tensor([[x[0][0], x[0][1], P, x[0][2], x[0][3], P, x[0][4], x[0][5]],
                           [*x[1][:6], P, P]])
    # text before a pause: no loss; a pause before text predicts that text; t[0][3] is a pause
    want = torch.tensor([[t[0][0], -1, t[0][1], t[0][2], -1, -1, t[0][4], t[0][5]],
                         [*t[1][:5], -1, -1, t[1][5]]])
    full = GPT.forward(model, stream)[0]
    assert torch.allclose(logits, full[~is_pause].view(2, 6, -1), atol=1e-6)
    expect = F.cross_entropy(full.reshape(-1, 12), want.reshape(-1), ignore_index=-1)
    assert torch.allclose(loss, expect, atol=1e-6)


def test_pause_model_eval_and_zero_fraction_are_the_gpt():
    idx = torch.randint(0, 11, (2, 8))
    targets = torch.randint(0, 11, (2, 8))
    targets[1, 2] = 11
    masked = targets.masked_fill(targets == 11, -1)
    for model in (pause_model(0.25).eval(), pause_model(0.0).train()):
        logits, loss = model(idx, targets)
        ref_logits = GPT.forward(model, idx)[0]
        assert torch.equal(logits, ref_logits)  # no pauses: the GPT's own forward, bitwise the same
        assert torch.allclose(loss, lm_loss(ref_logits, masked))
    # the state dicts are the GPT's: a pause checkpoint loads into a GPT
    gpt = GPT(GPTConfig(block_size=16, vocab_size=12, n_layer=2, n_head=2, n_embd=16))
    gpt.load_state_dict(pause_model(0.1).state_dict())


def test_pause_config_checks():
    with pytest.raises(ValueError, match='pause_id'):
        pause.PauseConfig(vocab_size=12, pause_id=-1)
    with pytest.raises(ValueError, match='pause_fraction'):
        pause.PauseConfig(vocab_size=12, pause_id=3, pause_fraction=1.0)
    with pytest.raises(ValueError, match='not in the vocabulary'):
        pause.PauseGPT(pause.PauseConfig(vocab_size=12, pause_id=12, n_layer=1, n_head=1, n_embd=8, block_size=8))


# -----------------------------------------------------------------------------
# pause pre-training end to end, then fine-tuning from its checkpoint


@pytest.fixture(scope='module')
def pause_pretrained(tmp_path_factory):
    """A char stream with <pause> in its vocabulary, and a tiny 'pause' model trained on it."""
    tmp = tmp_path_factory.mktemp('pausept')
    data = write_char_dataset(tmp / 'stream', shakespeare_text(20_000))
    vocab.main(['add_tokens', str(data), '<pause>'])
    meta = pickle.loads((data / 'meta.pkl').read_bytes())
    run(data, tmp / 'pt', '--model=pause', '--pause_fraction=0.25', '--max_iters=4', '--eval_interval=4')
    return meta, tmp


def test_pause_pretraining_runs_in_train(pause_pretrained):
    meta, tmp = pause_pretrained
    ckpt = T.load_checkpoint(str(tmp / 'pt' / 'ckpt.pt'))
    assert ckpt['idea'] == 'pause' and ckpt['model_args']['pause_id'] == meta['special_tokens']['<pause>']
    rows = [json.loads(line) for line in open(tmp / 'pt' / 'log.jsonl')]
    assert all(r['loss'] > 0 for r in rows if 'loss' in r) and rows[-1]['val_loss'] > 0


def test_pause_pretraining_refuses_records(tmp_path):
    data = write_records(tmp_path / 'records', vocab.add_special_tokens(char_meta('ab'), ['<pause>']),
                         [{'prompt': 'ab', 'completion': 'ba'}])
    with pytest.raises(vocab.UserError, match='token streams only.*--stream'):
        run(data, tmp_path / 'out', '--model=pause', '--max_iters=1')


def test_finetune_from_another_run_grows_the_vocabulary(pause_pretrained, tmp_path):
    meta, tmp = pause_pretrained
    chars = list(meta['stoi'])
    ft_meta = vocab.with_pauses(vocab.add_special_tokens(meta, ['<think0>']), 2)
    rows = [{'prompt': 'First' + vocab.pause_text(2), 'completion': ' Citizen:\n'}] * 4
    data = write_records(tmp_path / 'ft', ft_meta, rows)
    argv = tiny_args(data, tmp_path / 'out', '--max_iters=2', '--eval_interval=2', f'--init_from={tmp / "pt"}')
    src = T.load_checkpoint(str(tmp / 'pt' / 'ckpt.pt'))
    model, new_params = T.init_from_run(C.load_config(argv), ft_meta)
    assert new_params == []  # a 'pause' model's weights fit a 'gpt' exactly
    old, new = src['model']['lm_head.weight'], model.lm_head.weight.detach()
    assert new.shape[0] == old.shape[0] + 1 and torch.equal(new[:old.shape[0]], old)
    assert torch.equal(model.state_dict()['transformer.h.1.mlp.c_fc.weight'], src['model']['transformer.h.1.mlp.c_fc.weight'])
    T.train(C.load_config(argv))
    done = T.load_checkpoint(str(tmp_path / 'out' / 'ckpt.pt'))
    assert done['idea'] == 'gpt' and done['iter_num'] == 2 and done['meta'] == ft_meta
    # refused: another base vocabulary, another shape, a path that is no run
    other = write_records(tmp_path / 'other', vocab.add_special_tokens(char_meta(chars[:-1]), ['<pause>']), rows)
    with pytest.raises(T.UserError, match='vocabularies differ'):
        T.init_from_run(C.load_config(tiny_args(other, tmp_path / 'o2', f'--init_from={tmp / "pt"}')),
                        vocab.add_special_tokens(char_meta(chars[:-1]), ['<pause>']))
    with pytest.raises(T.UserError, match='n_embd=32'):
        T.init_from_run(C.load_config(tiny_args(data, tmp_path / 'o3', '--n_embd=64', f'--init_from={tmp / "pt"}')), ft_meta)
    with pytest.raises(T.UserError, match='is no run'):
        T.train(C.load_config(tiny_args(data, tmp_path / 'o4', f'--init_from={tmp_path / "nothing"}')))


# -----------------------------------------------------------------------------
# answers


def test_parse_answer():
    assert vocab.parse_answer('191-318+=True\n') == 'True'
    assert vocab.parse_answer('False\n=True') == 'False'  # the first line only
    assert vocab.parse_answer(' True') == 'True' and vocab.parse_answer('') == ''
    assert vocab.parse_answer('x #### 72', marker='####') == '72'


def test_greedy_completions_batch_like_one_by_one():
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=16, vocab_size=12, n_layer=1, n_head=2, n_embd=16)).eval()
    prompts = [[1, 2, 3], [4, 5, 6], [7, 8], [1, 2, 3, 4, 5]]
    got = score.greedy_completions(model, prompts, 4, batch_size=2)
    for p, c in zip(prompts, got):
        assert c == model.generate(torch.tensor([p]), 4, temperature=0)[0, len(p):].tolist()


def test_answer_accuracy_scores_the_answer_field(special_run, tmp_path, monkeypatch):
    meta, out = special_run
    rows = [{'prompt': 'ab=', 'completion': f'{c}\n', 'answer': c} for c in 'aab']
    split = tmp_path / 'test.jsonl'
    split.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    tok = T.Tokenizer(meta)
    # a model that always answers 'a' then a newline
    monkeypatch.setattr(score, 'greedy_completions', lambda model, prompts, n, *a: [tok.encode('a\nb')] * len(prompts))
    r = score.answer_accuracy(str(out), str(split))
    assert (r['correct'], r['n'], r['by_answer'], r['unparsed']) == (2, 3, {'a': 1.0, 'b': 0.0}, 0)
    # a chain of thought before the marker, and special tokens in it
    monkeypatch.setattr(score, 'greedy_completions', lambda model, prompts, n, *a: [tok.encode('a<think1>=b\n')] * len(prompts))
    r = score.answer_accuracy(str(out), str(split))
    assert r['accuracy'] == pytest.approx(1 / 3) and r['predictions'] == ['b'] * 3
    # open answers (more distinct ones than a few classes): accuracy only, no per-answer table
    rows = [{'prompt': 'ab=', 'completion': 'a\n', 'answer': 'a' * k} for k in range(1, 13)]
    split.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    monkeypatch.setattr(score, 'greedy_completions', lambda model, prompts, n, *a: [tok.encode('a\n')] * len(prompts))
    r = score.answer_accuracy(str(out), str(split))
    assert (r['correct'], r['n']) == (1, 12) and 'by_answer' not in r and 'unparsed' not in r
    split.write_text(json.dumps({'prompt': 'ab', 'completion': 'a'}) + '\n')
    with pytest.raises(T.UserError, match='answer'):
        score.answer_accuracy(str(out), str(split))


def test_samples_stop_at_end_of_text():
    import sample
    meta = {'vocab_size': 3, 'tokenizer': 'char', 'stoi': {'a': 0, 'b': 1, '\n': 2}, 'itos': {0: 'a', 1: 'b', 2: '\n'},
            'special_tokens': {}}
    assert vocab.end_of_text_id(T.Tokenizer(meta)) is None  # a character vocabulary without it
    meta = vocab.add_special_tokens(meta, [vocab.END_OF_TEXT])
    end = vocab.end_of_text_id(T.Tokenizer(meta))
    assert end == 3 == vocab.special_id(meta, vocab.END_OF_TEXT)
    # the start may hold an end of text; the sample stops at the first one after the start
    assert sample.cut_at_end([0, end, 1, 0, end, 1, end], 2, end) == [0, end, 1, 0, end]
    assert sample.cut_at_end([0, 1, 1], 1, end) == [0, 1, 1]
    assert sample.cut_at_end([0, 1, 1], 1, None) == [0, 1, 1]
    try:
        bpe = T.Tokenizer({'vocab_size': 50257, 'tokenizer': 'r50k_base', 'special_tokens': {}})
    except T.UserError:
        pytest.skip('no GPT-2 BPE here')
    assert vocab.end_of_text_id(bpe) == 50256  # GPT-2's own end of text, a base token
