"""sample.py shows the thinking: each idea's explain() against a naive reference (reasoning
slots masked = the same weights without slots; Quiet-STaR's base and mixed heads; Coconut's
latents read by the head), the windows over long samples, the colors (ANSI asserted, plain
under NO_COLOR), the HTML page, the latest run; and train.py's cost estimate."""

import os
import subprocess
import sys
import time

import pytest
import torch

import coconut
import configurator as C
import quietstar as Q
import train as T
import vocab
from conftest import ROOT, load_script, run_script, tiny_args
from model import GPT, GPTConfig, build_model

S = load_script('sample.py', 'sample_script')
V = 12
SHAPE = dict(block_size=16, vocab_size=V, n_layer=2, n_head=2, n_embd=16, bias=False, dropout=0.0)


def reasoning(k, **kw):
    torch.manual_seed(0)
    return build_model('reasoning_tokens', dict(SHAPE, n_reasoning=k, **kw)).eval()


def test_reasoning_explain_without_slots_is_the_same_weights_as_a_gpt():
    model = reasoning(2, slot_embedding=False)
    gpt = GPT(GPTConfig(**SHAPE)).eval()
    gpt.load_state_dict(model.state_dict())
    idx = torch.randint(V, (3, 10))
    out = model.explain(idx)
    # masking every r slot out of attention leaves the g slots the text alone: the GPT
    assert torch.allclose(out['base_logits'], gpt(idx)[0], atol=1e-5)
    assert torch.allclose(out['logits'], model(idx)[0], atol=1e-5)
    assert not torch.allclose(out['logits'], out['base_logits'], atol=1e-3)  # the slots do change it
    # the slots' reading: the output head on each r slot of group t
    h = model.blocks(model.stream(idx)).view(3, 10, 3, -1)
    assert torch.equal(out['thoughts'], model.head(h[:, :, 1:]).argmax(-1)) and out['thoughts'].shape == (3, 10, 2)
    assert 'base_logits' not in reasoning(0).explain(idx)  # K=0 has nothing to compare


def test_reasoning_explain_first_prediction_gains_nothing():
    # g_1 predicts x_2 before any r slot exists: its gain is exactly zero; later ones are not
    model = reasoning(1)
    with torch.no_grad():
        model.transformer.wse.weight.normal_(0, 1.0)
    out = model.explain(torch.randint(V, (2, 8)))
    assert torch.equal(out['logits'][:, 0], out['base_logits'][:, 0])
    assert not torch.allclose(out['logits'][:, 1:], out['base_logits'][:, 1:], atol=1e-4)


def qs_tiny(**kw):
    torch.manual_seed(0)
    args = dict(SHAPE, vocab_size=V + 2, block_size=32, thought_len=3, n_true=2, thoughts_per_position=2, start_id=V,
                end_id=V + 1, thought_temperature=0.0)
    return Q.QuietSTaRGPT(Q.QuietSTaRConfig(**{**args, **kw})).eval()


def test_quietstar_explain_mixes_base_and_post():
    model = qs_tiny()
    idx = torch.randint(V, (2, 9))
    out = model.explain(idx)
    assert torch.equal(out['logits'], out['base_logits'])  # the mixing head starts at w = 0: no gain
    with torch.no_grad():
        model.mix[2].weight.normal_(0, 0.5)
        model.mix[2].bias.fill_(0.3)
    out = model.explain(idx)
    assert torch.allclose(out['logits'], model(idx)[0], atol=1e-5)  # greedy thoughts: forward's mixed logits
    h_base = model.blocks(model.embed(idx))
    assert torch.allclose(out['base_logits'], model.text_only(model.head(h_base)), atol=1e-5)
    assert not torch.allclose(out['logits'], out['base_logits'], atol=1e-3)
    assert out['thoughts'].shape == (2, 9, 3) and out['thoughts'].max() < V  # never a marker


def test_coconut_explain_reads_each_latent_input():
    torch.manual_seed(0)
    bot, latent, eot = V, V + 1, V + 2
    model = coconut.CoconutGPT(coconut.CoconutConfig(**dict(SHAPE, vocab_size=V + 3, block_size=32), bot_id=bot,
                                                     latent_id=latent, eot_id=eot)).eval()
    idx = torch.tensor([[3, 5, bot, latent, latent, eot, 4]])
    out = model.explain(idx)
    top = out['logits'].topk(3, dim=-1).indices
    assert torch.equal(out['thoughts'][0, 3], top[0, 2]) and torch.equal(out['thoughts'][0, 4], top[0, 3])
    assert (out['thoughts'][0, [0, 1, 2, 5, 6]] == -1).all()  # only latents have one


def test_windows_cover_long_samples():
    torch.manual_seed(0)
    model = reasoning(1)  # block_size 16
    ids = torch.randint(V, (2, 40))
    info = S.explain(model, ids)
    assert info['top'].shape == (2, 40, 5) and info['gain'].shape == (2, 40) and info['thoughts'].shape == (2, 40, 1)
    first = model.explain(ids[:, :16])
    logp = torch.log_softmax(first['logits'], -1) - torch.log_softmax(first['base_logits'], -1)
    assert torch.allclose(info['gain'][:, :15], logp[:, :15].gather(-1, ids[:, 1:16, None]).squeeze(-1), atol=1e-5)
    # a later window: positions 24..31 come from the window that starts at 16
    later = model.explain(ids[:, 16:32])
    p = torch.log_softmax(later['logits'], -1).exp().topk(5, -1).indices
    assert torch.equal(info['top'][:, 24:32], p[:, 8:16])
    assert torch.isnan(info['gain'][:, -1]).all() and not torch.isnan(info['gain'][:, :-1]).any()
    # a window's last kept position is scored on the token after the window, not on itself
    for t, (s, out) in ((15, (0, first)), (31, (16, later))):
        lp = torch.log_softmax(out['logits'], -1) - torch.log_softmax(out['base_logits'], -1)
        assert torch.allclose(info['gain'][:, t], lp[:, t - s].gather(-1, ids[:, t + 1, None]).squeeze(-1), atol=1e-5)
    assert torch.isnan(S.explain(GPT(GPTConfig(**SHAPE)).eval(), ids)['gain']).all()  # a GPT has no gain


def test_gain_levels():
    assert S.gain_level(float('nan')) == (0, 0) and S.gain_level(0.05) == (1, 0)
    assert S.gain_level(0.3) == (1, 1) and S.gain_level(-0.7) == (-1, 2) and S.gain_level(5.0) == (1, 4)
    assert S.tint('a', 1.5, 'ansi') == '\033[48;5;34ma\033[0m' and S.tint('a', -0.2, 'ansi') == '\033[48;5;52ma\033[0m'
    assert S.tint('a', 1.5, 'plain') == 'a' and S.tint('\n', 3.0, 'ansi') == '\n'


@pytest.fixture(scope='module')
def rt_run(char_data, tmp_path_factory):
    out = tmp_path_factory.mktemp('sample') / 'out-rt'
    T.train(C.load_config(tiny_args(char_data, out, '--model=reasoning_tokens', '--n_reasoning=1', '--max_iters=30',
                                    '--eval_interval=30', '--learning_rate=1e-2')))
    ckpt = T.load_checkpoint(str(out / 'ckpt.pt'))  # slots that differ from g, so that they matter
    torch.manual_seed(0)
    ckpt['model']['transformer.wse.weight'].normal_(0, 1.0)
    T.save_checkpoint(ckpt, str(out / 'ckpt.pt'))
    return out


def test_reasoning_run_samples_in_color_and_plain(rt_run, tmp_path):
    common = ['sample.py', f'--out_dir={rt_run}', '--num_samples=2', '--max_new_tokens=40', '--start=First']
    page = tmp_path / 'page.html'
    r = run_script(*common, '--show_thoughts', f'--html={page}', env={'FORCE_COLOR': '1'})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('colors: magenta thoughts; token background: thinking gain')
    assert '\033[48;5;' in r.stdout  # tinted tokens
    assert r.stdout.count('\033[35m[') >= 80  # a slot reading after every generated token (and the last prompt one)
    html = page.read_text()
    assert html.count('class="tip"') == 80 and 'thinking gain' in html and 'background:rgba(' in html
    assert not any(s in html for s in ('http', '<script', '<link', '@import', 'src='))  # self-contained
    r = run_script(*common, env={'NO_COLOR': '1', 'FORCE_COLOR': '1'})
    assert r.returncode == 0 and '\033' not in r.stdout and r.stdout.startswith('First')


def test_quietstar_run_shows_thoughts_and_gain(char_data, tmp_path):
    out = tmp_path / 'qs'
    T.train(C.load_config(tiny_args(char_data, out, '--model=quietstar', '--thought_len=2', '--n_true=2',
                                    '--max_iters=1', '--eval_interval=1')))
    r = run_script('sample.py', f'--out_dir={out}', '--num_samples=1', '--max_new_tokens=5', '--start=First',
                   '--show_thoughts', env={'FORCE_COLOR': '1'})
    assert r.returncode == 0, r.stderr
    legend = r.stdout.split('\n')[0]
    assert 'magenta thoughts' in legend and 'mixed prediction' in legend
    assert r.stdout.count(vocab.ANSI['thought'] + vocab.START_THOUGHT) == 5  # one thought before each new token
    assert vocab.ANSI['thought'] + '[' not in r.stdout  # and no second, teacher-forced one after it


def test_a_thought_holding_end_of_text_does_not_end_the_sample():
    meta = vocab.add_special_tokens({'vocab_size': 4, 'tokenizer': 'char', 'stoi': {c: i for i, c in enumerate('abcd')},
                                     'itos': dict(enumerate('abcd')), 'special_tokens': {}},
                                    [vocab.START_THOUGHT, vocab.END_THOUGHT, vocab.END_OF_TEXT])
    tok = vocab.Tokenizer(meta)
    sot, eot, end = (tok.special[n] for n in (vocab.START_THOUGHT, vocab.END_THOUGHT, vocab.END_OF_TEXT))
    row = [0, 1, sot, 2, end, eot, 3, sot, 1, 2, eot, 0, end, 1]
    text, before = S.display_row(row, 2, tok, end, True)
    assert text == [0, 1, 3, 0, end] and before == [[], [], [sot, 2, end, eot], [sot, 1, 2, eot], []]


def test_bpe_characters_split_over_tokens_stay_whole():
    try:
        tok = vocab.Tokenizer({'vocab_size': 50257, 'tokenizer': 'r50k_base', 'special_tokens': {}})
    except vocab.UserError as e:
        pytest.skip(f'no GPT-2 BPE here: {e}')
    text = 'na\u00efve caf\u00e9 \u2014 \u6771\u4eac'
    ids = tok.encode(text)
    n = len(ids)
    assert any(not S.complete_text(tok, [i]) for i in ids)  # some token holds part of a character
    info = {'gain': torch.full((1, n), 0.7), 'thoughts': None, 'join': ' ', 'top': torch.zeros(1, n, 5, dtype=torch.long),
            'probs': torch.zeros(1, n, 5)}
    pieces = S.row_pieces(0, ids, [[] for _ in ids], 1, info, tok, False, False)
    assert S.paint_pieces(pieces, tok, 'plain') == text and '\ufffd' not in S.paint_pieces(pieces, tok, 'html')


def test_latest_run_and_its_errors(tmp_path):
    for name in ('out-a', 'out-b', 'out-c/stage1'):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / 'ckpt.pt').write_bytes(b'')
    now = time.time()
    os.utime(tmp_path / 'out-a' / 'ckpt.pt', (now, now))
    os.utime(tmp_path / 'out-b' / 'ckpt.pt', (now - 100, now - 100))
    os.utime(tmp_path / 'out-c' / 'stage1' / 'ckpt.pt', (now - 50, now - 50))
    assert S.latest_run(str(tmp_path)) == str(tmp_path / 'out-a')
    os.utime(tmp_path / 'out-c' / 'stage1' / 'ckpt.pt', (now + 10, now + 10))
    assert S.latest_run(str(tmp_path)) == str(tmp_path / 'out-c' / 'stage1')
    empty = tmp_path / 'empty'
    empty.mkdir()
    r = subprocess.run([sys.executable, str(ROOT / 'sample.py')], cwd=empty, capture_output=True, text=True)
    assert r.returncode == 1 and 'no trained run here' in r.stderr and 'python train.py' in r.stderr
    assert r.stderr.strip().count('\n') == 0


def test_bare_sample_samples_the_latest_run(rt_run):
    r = subprocess.run([sys.executable, str(ROOT / 'sample.py'), '--num_samples=1', '--max_new_tokens=3'],
                       cwd=rt_run.parent, capture_output=True, text=True, env={**os.environ, 'NO_COLOR': '1'})
    assert r.returncode == 0, r.stderr
    assert 'sampling out-rt, the latest run' in r.stderr
    r = run_script('sample.py', f'--out_dir={rt_run.parent / "nothing"}')
    assert r.returncode == 1 and 'no checkpoint at' in r.stderr


# -----------------------------------------------------------------------------
# train.py's estimate of the run, and the dtype rule

def test_count_evals():
    c = {'max_iters': 100, 'eval_interval': 30, 'eval_only': False}
    assert T.count_evals(c, 0, False) == 5  # 0, 30, 60, 90 and the last, 100
    assert T.count_evals(c, 30, True) == 3  # 60, 90, 100: 30's is in the checkpoint
    assert T.count_evals(c, 31, False) == 3 and T.count_evals({**c, 'max_iters': 90}, 0, False) == 4
    assert T.count_evals(c, 100, True) == 0 and T.count_evals({**c, 'eval_only': True}, 0, False) == 1


def test_announce_names_the_cpu_twin(capsys):
    c = {'eval_iters': 10, 'cpu_config': 'config/reasoning_small.py'}
    total = T.announce_cost(c, 'cpu', 2.0, 0.5, 5000, 21)
    assert total == pytest.approx(5000 * 2.0 + 21 * 20 * 0.5)
    out = capsys.readouterr().out
    assert 'about 2.8 h here' in out and 'sized for a GPU' in out and 'python train.py config/reasoning_small.py' in out
    T.announce_cost(c, 'cuda', 2.0, 0.5, 5000, 21)
    T.announce_cost(c, 'cpu', 0.01, 0.01, 100, 2)
    assert 'note' not in capsys.readouterr().out


def test_eval_only_on_a_resumed_run_evaluates(char_data, tmp_path):
    T.train(C.load_config(tiny_args(char_data, tmp_path, '--max_iters=2', '--eval_interval=2')))
    r = run_script('train.py', *tiny_args(char_data, tmp_path, '--max_iters=2', '--eval_interval=2',
                                          '--init_from=resume', '--eval_only=True'))
    assert r.returncode == 0, r.stderr
    assert 'iter 2: train loss' in r.stdout and '0 iters and 1 evaluations' in r.stdout


def test_train_prints_its_estimate_before_the_first_evaluation(char_data, tmp_path):
    r = run_script('train.py', *tiny_args(char_data, tmp_path, '--max_iters=4', '--eval_interval=2'))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split('\n')
    first_eval = next(i for i, line in enumerate(lines) if line.startswith('iter 0: train loss'))
    assert lines[first_eval - 1].startswith('timing: ') and '4 iters and 3 evaluations of 2x2 batches' in lines[first_eval - 1]
    assert any(line.startswith('measured ') and 'the rest takes about' in line for line in lines)


def test_dtype_rule(monkeypatch):
    monkeypatch.setattr(C, 'native_bf16', lambda: True)
    assert C.pick_dtype('auto', 'cpu', 384) == 'bfloat16' and C.pick_dtype('auto', 'cpu', 128) == 'float32'
    assert C.pick_dtype('float32', 'cpu', 384) == 'float32' and C.pick_dtype('auto', 'mps', 384) == 'float32'
    monkeypatch.setattr(C, 'native_bf16', lambda: False)
    assert C.pick_dtype('auto', 'cpu', 384) == 'float32'


@pytest.mark.parametrize('idea, extra, start, shown', [
    ('pause', [], 'ab<pause><pause>', vocab.ANSI['pause'] + '<pause>'),
    ('think', ['--n_think=4'], 'ab<think1>c', vocab.ANSI['think'] + '<think1>'),
    ('coconut', [], 'ab<bot><latent><latent><eot>', vocab.ANSI['latent'] + '<latent>'),
])
def test_every_idea_shows_its_special_tokens(char_data, tmp_path, idea, extra, start, shown):
    out = tmp_path / idea
    T.train(C.load_config(tiny_args(char_data, out, f'--model={idea}', '--max_iters=1', '--eval_interval=1', *extra)))
    common = ['sample.py', f'--out_dir={out}', '--num_samples=1', '--max_new_tokens=4', f'--start={start}']
    r = run_script(*common, env={'FORCE_COLOR': '1'})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('colors: ') and shown in r.stdout
    if idea == 'coconut':  # each latent followed by the head's top 3 on its input state
        assert r.stdout.count(vocab.ANSI['latent'] + '[') >= 2 and r.stdout.count('|') >= 4  # (it may write latents too)
    r = run_script(*common, env={'NO_COLOR': '1', 'FORCE_COLOR': '1'})
    assert r.returncode == 0 and '\033' not in r.stdout
    assert r.stdout.startswith('ab<bot><latent>[' if idea == 'coconut' else start)
