"""grpo.py: advantages, the three token averagings checked by hand with clipping active,
the k3 KL, rewards on real GSM8K solutions and malformed outputs, rollout masks, batched
sampling of prompts of different lengths against one prompt at a time, a whole tiny run;
data/arith/prepare.py. Tiny and fast."""

import json
import math

import pytest
import torch

import grpo
import think
import train as T
from conftest import SHARED, load_script, run_script, tiny_args
from model import GPT, GPTConfig

arith = load_script('data/arith/prepare.py', 'prepare_arith')


# -----------------------------------------------------------------------------
# advantages

def test_group_advantages_by_hand():
    r = torch.tensor([1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0])
    # group 1: mean 0.25, unbiased std 0.5; group 2: all equal
    a = grpo.group_advantages(r, 4, 'group')
    assert torch.allclose(a[:4], torch.tensor([0.75, -0.25, -0.25, -0.25]) / (0.5 + 1e-4))
    assert torch.equal(a[4:], torch.zeros(4))
    assert torch.allclose(grpo.group_advantages(r, 4, 'none'), torch.tensor([0.75, -0.25, -0.25, -0.25, 0, 0, 0, 0]))
    b = grpo.group_advantages(r, 4, 'batch')
    assert torch.allclose(b, grpo.group_advantages(r, 4, 'none') / (r.std() + 1e-4))


def test_all_equal_group_has_zero_advantage_and_no_nan():
    for scale in grpo.SCALES:
        a = grpo.group_advantages(torch.ones(6), 3, scale)
        assert torch.equal(a, torch.zeros(6)), scale
    with pytest.raises(ValueError):
        grpo.group_advantages(torch.ones(4), 2, 'std')


# -----------------------------------------------------------------------------
# the loss, by hand

# two completions, of 2 and 3 tokens (padded to 3); advantages +1 and -1; ratios pi/pi_old as
# they are at a later inner update (mu > 1), some outside [0.8, 1.2]
RATIOS = torch.tensor([[1.5, 0.9, 1.0], [0.5, 1.1, 1.0]])
MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
ADV = torch.tensor([1.0, -1.0])
# -min(r A, clip(r) A): row 1 (A=+1): -min(1.5, 1.2) = -1.2 (clipped), -0.9;
# row 2 (A=-1): -min(-0.5, -0.8) = 0.8 (clipped), 1.1, 1.0
TOKEN_LOSS = [[-1.2, -0.9], [0.8, 1.1, 1.0]]
BY_HAND = {'grpo': ((-1.2 - 0.9) / 2 + (0.8 + 1.1 + 1.0) / 3) / 2,
           'dapo': (-1.2 - 0.9 + 0.8 + 1.1 + 1.0) / 5,
           'dr_grpo': (-1.2 - 0.9 + 0.8 + 1.1 + 1.0) / (2 * 3)}


@pytest.mark.parametrize('loss_type', grpo.LOSS_TYPES)
def test_loss_by_hand_with_clipping(loss_type):
    old = torch.log(torch.tensor([[0.5, 0.4, 0.3], [0.6, 0.2, 0.1]]))
    logp = (old + RATIOS.log()).requires_grad_()
    loss, stats = grpo.grpo_loss(logp, old, None, ADV, MASK, 0.2, 0.2, 0.0, loss_type)
    assert loss.item() == pytest.approx(BY_HAND[loss_type], abs=1e-6)
    assert stats['clip_frac'] == pytest.approx(2 / 5) and stats['kl'] == 0
    loss.backward()
    # clipped tokens and padding give no gradient; the others do
    assert logp.grad[0, 0] == 0 and logp.grad[1, 0] == 0 and logp.grad[0, 2] == 0
    assert (logp.grad[0, 1] != 0) and (logp.grad[1, 1:] != 0).all()


def test_k3_kl_by_hand_and_guarded():
    logp = torch.log(torch.tensor([[0.5, 0.25]]))
    ref = torch.log(torch.tensor([[0.25, 0.5]]))
    mask = torch.ones(1, 2)
    loss, stats = grpo.grpo_loss(logp, logp, ref, torch.zeros(1), mask, beta=0.1, loss_type='dapo')
    # pi_ref/pi = 0.5 and 2: (0.5 - ln 0.5 - 1 + 2 - ln 2 - 1) / 2
    kl = (0.5 - math.log(0.5) - 1 + 2 - math.log(2) - 1) / 2
    assert stats['kl'] == pytest.approx(kl) and loss.item() == pytest.approx(0.1 * kl)
    far = grpo.grpo_loss(torch.tensor([[-1000.0]]), torch.tensor([[-1000.0]]), torch.tensor([[0.0]]),
                         torch.ones(1), mask[:, :1], beta=0.1)[0]
    assert torch.isfinite(far)


def test_inner_updates_clip_a_real_policy():
    """mu = 3 updates on one batch: the first has ratio 1 (nothing clipped), later ones move
    the ratio, and the loss is still the hand formula of the ratios they reach."""
    torch.manual_seed(0)
    logits = torch.zeros(4, 3, 5, requires_grad=True)  # a policy: free logits per position
    tokens = torch.randint(5, (4, 3))
    mask = torch.tensor([[1.0, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 1]])
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    logp_of = lambda: torch.log_softmax(logits, -1).gather(-1, tokens[..., None])[..., 0]
    old = logp_of().detach()
    opt = torch.optim.SGD([logits], lr=5.0)
    clip_fracs = []
    for _ in range(3):
        logp = logp_of()
        loss, stats = grpo.grpo_loss(logp, old, None, adv, mask, 0.2, 0.2, 0.0, 'grpo')
        r = (logp - old).exp().detach()
        by_hand = [sum(-min(r[i, t] * adv[i], min(max(r[i, t], 0.8), 1.2) * adv[i]) for t in range(3) if mask[i, t])
                   / mask[i].sum() for i in range(4)]
        assert loss.item() == pytest.approx(float(sum(by_hand) / 4), abs=1e-5)
        clip_fracs.append(stats['clip_frac'])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert clip_fracs[0] == 0 and clip_fracs[-1] > 0


def test_kl_is_zero_when_policy_is_reference():
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=32, vocab_size=11, n_layer=2, n_head=2, n_embd=32)).eval()
    reference = GPT(model.config).eval()
    reference.load_state_dict(model.state_dict())
    seq, valid, mask = grpo.sample(model, [[1, 2, 3], [4, 5]], 6, end_id=10)
    logp = grpo.completion_logprobs(model, seq, valid, 3)
    ref = grpo.completion_logprobs(reference, seq, valid, 3)
    loss, stats = grpo.grpo_loss(logp, logp.detach(), ref, torch.zeros(2), mask, beta=0.5)
    assert stats['kl'] == 0 and loss.item() == 0


# -----------------------------------------------------------------------------
# rewards

def gsm8k_records(n=40):
    path = SHARED / 'data' / 'gsm8k' / 'train.jsonl'
    if not path.exists():
        pytest.skip('no local GSM8K sample (../shared/data/gsm8k)')
    return [json.loads(line) for line in path.read_text().splitlines()[:n]]


def test_rewards_on_real_gsm8k_solutions():
    for rec in gsm8k_records():
        parsed = grpo.gsm8k.parse_record(rec)
        # the reference solution itself, and the three renderings of data/gsm8k/prepare.py
        assert grpo.accuracy_reward('', rec['answer'], parsed) == 1.0
        assert grpo.format_reward('', rec['answer'], parsed) == 0.0
        for style in ('answer', 'cot', 'think'):
            _, completion = grpo.gsm8k.render(parsed, style)
            assert grpo.accuracy_reward('', completion, parsed) == 1.0
            assert grpo.format_reward('', completion, parsed) == float(style == 'think')
        wrong = grpo.gsm8k.render({**parsed, 'answer': str(int(float(parsed['answer'])) + 1)}, 'think')[1]
        assert grpo.accuracy_reward('', wrong, parsed) == 0.0 and grpo.format_reward('', wrong, parsed) == 1.0


@pytest.mark.parametrize('completion, answer, accuracy, fmt', [
    ('#### 1,234\n', '1234', 1, 0),                                  # commas
    ('<think>\n1000+234=1234\n</think>\n#### 1,234', '1234', 1, 1),
    ('<think>x</think> so it is $1,234.50 in total', '1234.5', 1, 1),  # after </think>, decimals
    ('<think>7-12</think>\n#### -5', '-5.0', 1, 1),                  # negatives
    ('<think>a</think><answer>3.50</answer>', '3.5', 1, 1),          # answer tags
    ('the answer is 1234', '1234', 0, 0),                            # no tags, no marker
    ('<think>a</think>\n#### none\n', '5', 0, 0),                     # no number
    ('<think>a</think>\n', '5', 0, 0),                               # no answer at all
    ('<think>a</think><think>b</think>\n#### 5', '5', 1, 0),          # two think blocks
    ('</think>a<think>\n#### 5', '5', 1, 0),                         # tags out of order
    ('#### 5 <think>a</think>', '5', 1, 0),                          # answer before the block
    ('<think>a\n#### 5', '5', 1, 0),                                 # unclosed
    ('<think>a</think>\n#### 6', '5', 0, 1),                         # wrong, well formed
])
def test_rewards_on_malformed_outputs(completion, answer, accuracy, fmt):
    record = {'answer': answer}
    assert grpo.accuracy_reward('', completion, record) == accuracy
    assert grpo.format_reward('', completion, record) == fmt


def test_score_weights_the_rewards():
    records = [{'answer': '5'}] * 3
    completions = ['<think>a</think>\n#### 5', '#### 5', '<think>a</think>\n#### 4']
    total, parts = grpo.score([''] * 3, completions, records, {'accuracy': 1.0, 'format': 0.5})
    assert total.tolist() == [1.5, 1.0, 0.5]
    assert parts['accuracy'].tolist() == [1, 1, 0] and parts['format'].tolist() == [1, 0, 1]


# -----------------------------------------------------------------------------
# rollouts

def tiny_gpt(vocab_size=13, seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(block_size=40, vocab_size=vocab_size, n_layer=2, n_head=2, n_embd=32, bias=False)).eval()


PROMPTS = [[1, 2, 3, 4, 5, 6, 7], [3], [8, 9, 1, 2], [5, 5, 5, 5, 5, 5, 5]]


def test_completion_mask():
    tokens = torch.tensor([[3, 9, 4, 9], [9, 1, 1, 1], [1, 2, 3, 4]])
    assert grpo.completion_mask(tokens, 9).tolist() == [[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]]


def test_batched_greedy_equals_one_prompt_at_a_time():
    model = tiny_gpt()
    seq, valid, mask = grpo.sample(model, PROMPTS, 10, temperature=0)
    P = max(map(len, PROMPTS))
    for i, p in enumerate(PROMPTS):
        alone = model.generate(torch.tensor([p]), 10, temperature=0)[0, len(p):]
        assert seq[i, P:].tolist() == alone.tolist()
        assert valid[i].tolist() == [False] * (P - len(p)) + [True] * (len(p) + 10)


def test_batched_logprobs_equal_unpadded_forward():
    """Sampled rows of different prompt lengths: the log-probs of the padded batch equal an
    ordinary forward of each row alone, without padding."""
    model = tiny_gpt()
    torch.manual_seed(1)
    seq, valid, mask = grpo.sample(model, PROMPTS, 12, temperature=1.0, end_id=12)
    P = max(map(len, PROMPTS))
    logp = grpo.completion_logprobs(model, seq, valid, P)
    for i, p in enumerate(PROMPTS):
        row = seq[i, P - len(p):][None]
        logits, _ = model(row)
        alone = torch.log_softmax(logits[0, len(p) - 1:-1], -1).gather(-1, row[0, len(p):, None])[:, 0]
        assert torch.allclose(logp[i], alone, atol=1e-5)


def test_tokens_after_end_of_text_are_masked():
    model = tiny_gpt(vocab_size=4)  # 4 tokens: end-of-text (3) comes up early and often
    torch.manual_seed(0)
    prompts = [[0, 1], [2]] * 8
    seq, valid, mask = grpo.sample(model, prompts, 30, temperature=1.0, end_id=3)
    tokens = seq[:, 2:]
    assert mask.shape == tokens.shape
    ended = 0
    for row, m in zip(tokens.tolist(), mask.tolist()):
        if 3 in row:
            end = row.index(3)
            ended += 1
            assert m == [1.0] * (end + 1) + [0.0] * (len(row) - end - 1)  # the end token counts
        else:
            assert m == [1.0] * len(row)
    assert ended == len(prompts) and tokens.size(1) < 30  # all ended, so sampling stopped early


def test_sample_refuses_to_overflow_the_context():
    with pytest.raises(T.UserError, match='block_size'):
        grpo.sample(tiny_gpt(), [[1] * 30], 20)


# -----------------------------------------------------------------------------
# data/arith and a whole tiny run

@pytest.fixture(scope='module')
def arith_data(tmp_path_factory):
    out = tmp_path_factory.mktemp('arith')
    arith.prepare(str(out / 'think'), 'think', train_size=200, val_size=20)
    arith.prepare(str(out / 'answer'), 'answer', train_size=200, val_size=20)
    return out


def test_arith_records_are_right_and_rewarded(arith_data):
    think_rows = T.read_jsonl(str(arith_data / 'think' / 'train.jsonl'))
    answer_rows = T.read_jsonl(str(arith_data / 'answer' / 'train.jsonl'))
    for r, a in zip(think_rows, answer_rows):
        (lhs1, x), (lhs2, y) = (eq.split('=') for eq in r['steps'])
        assert eval(lhs1) == int(x) and eval(lhs2) == int(y) == int(r['answer'])  # noqa: S307 (our own digits)
        assert lhs1.split('+')[0].split('-')[0].split('*')[0] in r['question'] and lhs2.startswith(x)
        assert r['completion'].endswith(think.END_OF_TEXT) and a['prompt'] == r['prompt']
        text = r['completion'][:-len(think.END_OF_TEXT)]
        assert grpo.accuracy_reward(r['prompt'], text, r) == 1 and grpo.format_reward(r['prompt'], text, r) == 1
        text = a['completion'][:-len(think.END_OF_TEXT)]
        assert grpo.accuracy_reward(a['prompt'], text, a) == 1 and grpo.format_reward(a['prompt'], text, a) == 0
    val = {r['question'] for r in T.read_jsonl(str(arith_data / 'think' / 'val.jsonl'))}
    assert not val & {r['question'] for r in think_rows}
    metas = [T.load_meta(str(arith_data / s), 'arith') for s in ('think', 'answer')]
    assert {k: v for k, v in metas[0].items() if k != 'style'} == {k: v for k, v in metas[1].items() if k != 'style'}
    tok = T.Tokenizer(metas[0])
    assert len(tok.encode(think.THINK_OPEN + think.END_OF_TEXT)) == 2


def test_tiny_run_end_to_end(arith_data, tmp_path):
    """train.py on the records, then grpo.py: the log has every quantity, the checkpoint
    loads as train.py's and sample.py generates from it."""
    sft = tmp_path / 'sft'
    T.train(T.load_config(tiny_args(arith_data / 'think', sft, '--block_size=128', '--max_iters=2',
                                     '--eval_interval=2')))
    out = tmp_path / 'grpo'
    args = [f'--init_from={sft}', f'--data_dir={arith_data / "think"}', f'--out_dir={out}', '--max_iters=2',
            '--eval_interval=1', '--eval_prompts=3', '--eval_samples=2', '--batch_size=2', '--group_size=3',
            '--max_new_tokens=12', '--progress=lines', '--mu=2', '--loss_type=dr_grpo']
    grpo.run(grpo.load_config(args))
    rows = T.read_jsonl(str(out / 'log.jsonl'))
    evals = [r for r in rows if 'eval_greedy' in r]
    steps = [r for r in rows if 'loss' in r]
    assert [r['iter'] for r in evals] == [0, 1, 2] and [r['iter'] for r in steps] == [0, 1]
    for key in ('reward', 'accuracy', 'format', 'length', 'kl', 'clip_frac', 'equal_groups'):
        assert all(math.isfinite(r[key]) for r in steps), key
    for key in ('eval_majority', 'eval_sampled', 'eval_format', 'eval_length'):
        assert key in evals[0]
    ckpt = T.load_checkpoint(str(out / 'ckpt.pt'))
    assert ckpt['iter_num'] == 2 and ckpt['idea'] == 'gpt'
    result = run_script('sample.py', f'--out_dir={out}', '--start=Question: ', '--num_samples=1',
                        '--max_new_tokens=5', '--device=cpu', env={'OMP_NUM_THREADS': '1'})
    assert result.returncode == 0, result.stderr
    grpo.main(['plot', str(out / 'log.jsonl'), '--labels=tiny', f'--out={tmp_path / "grpo.png"}'])
    assert (tmp_path / 'grpo.png').stat().st_size > 0


def test_config_errors(tmp_path):
    with pytest.raises(T.UserError, match='did you mean group_size'):
        grpo.load_config(['--init_from=x', '--group_sizes=4'])
    with pytest.raises(T.UserError, match='group_size must be >= 2'):
        grpo.load_config(['--init_from=x', '--group_size=1'])
    with pytest.raises(T.UserError, match='loss_type'):
        grpo.load_config(['--init_from=x', '--loss_type=ppo'])
    with pytest.raises(T.UserError, match='must be float'):
        grpo.load_config(['--init_from=x', '--beta=high'])
    with pytest.raises(T.UserError, match='init_from is required'):
        grpo.load_config([])
    with pytest.raises(T.UserError, match='no checkpoint'):
        grpo.run(grpo.load_config([f'--init_from={tmp_path / "nothing"}', f'--out_dir={tmp_path}']))
