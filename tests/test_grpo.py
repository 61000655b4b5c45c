"""grpo.py: advantages, the three token averagings checked by hand with clipping active
(epsilon_low != epsilon_high too), the k3 KL in its direction, rewards on real GSM8K solutions
and malformed outputs, rollout masks, batched sampling of prompts of different lengths against
one prompt at a time, log-probs at the sampling temperature; what grpo_step hands the loss
(each completion scored against its own prompt, old and reference log-probs of the policy that
sampled, dr_grpo's constant), a toy task it learns (and unlearns with the advantages negated);
a whole tiny run; data/arith/prepare.py. Tiny and fast."""

import inspect
import json
import math

import pytest
import torch

import grpo
import plot
import vocab
import configurator as C
import model as M
import train as T
from conftest import SHARED, load_script, run_script, tiny_args
from model import GPT, GPTConfig, completion_logprobs

gsm8k = load_script('data/gsm8k/prepare.py', 'prepare_gsm8k')
arith = load_script('data/arith/prepare.py', 'prepare_arith')


# -----------------------------------------------------------------------------
# advantages

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
    assert stats['clip_frac'] == pytest.approx(2 / 5) and stats['kl'] == 0  # beta = 0: no KL computed
    loss.backward()
    # clipped tokens and padding give no gradient; the others do
    assert logp.grad[0, 0] == 0 and logp.grad[1, 0] == 0 and logp.grad[0, 2] == 0
    assert (logp.grad[0, 1] != 0) and (logp.grad[1, 1:] != 0).all()


def test_k3_kl_by_hand_and_guarded():
    """k3 = pi_ref/pi - log(pi_ref/pi) - 1, in that direction (its mean under pi estimates
    KL(pi || pi_ref)): values where the direction matters, and its gradient 1 - pi_ref/pi."""
    logp = torch.log(torch.tensor([[0.5, 0.2]])).requires_grad_()
    ref = torch.log(torch.tensor([[0.1, 0.6]]))
    mask = torch.ones(1, 2)
    loss, stats = grpo.grpo_loss(logp, logp.detach(), ref, torch.zeros(1), mask, beta=0.1, loss_type='dapo')
    # pi_ref/pi = 0.2 and 3: (0.2 - ln 0.2 - 1 + 3 - ln 3 - 1) / 2 = (0.80944 + 0.90139) / 2 = 0.85541
    kl = (0.2 - math.log(0.2) - 1 + 3 - math.log(3) - 1) / 2
    assert kl == pytest.approx(0.855413, abs=1e-6)
    # the other direction, pi/pi_ref - log(pi/pi_ref) - 1, is (2.39056 + 0.43195) / 2 = 1.41125
    assert stats['kl'] == pytest.approx(kl, abs=1e-6) and loss.item() == pytest.approx(0.1 * kl, abs=1e-6)
    loss.backward()
    # d/dlogp (beta/2) * (e^(ref - logp) - (ref - logp) - 1) = (beta/2) * (1 - pi_ref/pi): 0.05 * 0.8, 0.05 * (1 - 3)
    assert logp.grad[0].tolist() == pytest.approx([0.04, -0.1], abs=1e-6)
    far = grpo.grpo_loss(torch.tensor([[-1000.0]]), torch.tensor([[-1000.0]]), torch.tensor([[0.0]]),
                         torch.ones(1), mask[:, :1], beta=0.1)[0]
    assert torch.isfinite(far)


def test_loss_by_hand_with_asymmetric_clipping():
    """epsilon_low 0.1, epsilon_high 0.3: the ratio is clipped to [0.9, 1.3], ratios on both
    sides of both bounds, for a positive and a negative advantage."""
    ratios = torch.tensor([[1.5, 1.25, 0.85], [0.5, 0.8, 1.4]])
    old = torch.log(torch.tensor([[0.3, 0.2, 0.4], [0.6, 0.5, 0.1]]))
    logp = (old + ratios.log()).requires_grad_()
    adv = torch.tensor([2.0, -1.0])
    loss, stats = grpo.grpo_loss(logp, old, None, adv, torch.ones(2, 3), epsilon_low=0.1, epsilon_high=0.3,
                                 beta=0.0, loss_type='dapo')
    # -min(r A, clip(r, 0.9, 1.3) A):
    # A = +2: r 1.5 -> -min(3.0, 2.6) = -2.6 (clipped above); r 1.25 -> -2.5 (inside: with the
    #         epsilons swapped, [0.7, 1.1], it would be clipped to -2.2); r 0.85 -> -min(1.7, 1.8) = -1.7
    # A = -1: r 0.5 -> -min(-0.5, -0.9) = 0.9 (clipped below); r 0.8 -> 0.9 (clipped below: with
    #         the epsilons swapped it would be 0.8); r 1.4 -> -min(-1.4, -1.3) = 1.4 (not clipped)
    assert loss.item() == pytest.approx((-2.6 - 2.5 - 1.7 + 0.9 + 0.9 + 1.4) / 6, abs=1e-6)
    assert loss.item() == pytest.approx(-0.6, abs=1e-6)
    assert stats['clip_frac'] == pytest.approx(3 / 6) and stats['ratio'] == pytest.approx(6.3 / 6)
    loss.backward()
    # d/dlogp of -r A / 6 is -r A / 6 where not clipped, 0 where clipped
    by_hand = [[0.0, -1.25 * 2 / 6, -0.85 * 2 / 6], [0.0, 0.0, 1.4 / 6]]
    assert torch.allclose(logp.grad, torch.tensor(by_hand), atol=1e-6)


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
        loss, stats = grpo.grpo_loss(logp, old, None, adv, mask, 0.1, 0.3, 0.0, 'grpo')
        r = (logp - old).exp().detach()
        by_hand = [sum(-min(r[i, t] * adv[i], min(max(r[i, t], 0.9), 1.3) * adv[i]) for t in range(3) if mask[i, t])
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
    seq, valid, mask = M.sample_batch(model, [[1, 2, 3], [4, 5]], 6, end_id=10)
    logp = completion_logprobs(model, seq, valid, 3)
    ref = completion_logprobs(reference, seq, valid, 3)
    loss, stats = grpo.grpo_loss(logp, logp.detach(), ref, torch.zeros(2), mask, beta=0.5)
    # exactly: the same weights through the same code path give bitwise the same log-probs
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
        parsed = gsm8k.parse_record(rec)
        # the reference solution itself, and the three renderings of data/gsm8k/prepare.py
        assert grpo.accuracy_reward('', rec['answer'], parsed) == 1.0
        assert grpo.format_reward('', rec['answer'], parsed) == 0.0
        for style in ('answer', 'cot', 'think'):
            _, completion = gsm8k.render(parsed, style)
            assert grpo.accuracy_reward('', completion, parsed) == 1.0
            assert grpo.format_reward('', completion, parsed) == float(style == 'think')
        wrong = gsm8k.render({**parsed, 'answer': str(int(float(parsed['answer'])) + 1)}, 'think')[1]
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
    assert M.completion_mask(tokens, 9).tolist() == [[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]]


def test_batched_greedy_equals_one_prompt_at_a_time():
    model = tiny_gpt()
    seq, valid, mask = M.sample_batch(model, PROMPTS, 10, temperature=0)
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
    seq, valid, mask = M.sample_batch(model, PROMPTS, 12, temperature=1.0, end_id=12)
    P = max(map(len, PROMPTS))
    logp = completion_logprobs(model, seq, valid, P)
    for i, p in enumerate(PROMPTS):
        row = seq[i, P - len(p):][None]
        logits, _ = model(row)
        alone = torch.log_softmax(logits[0, len(p) - 1:-1], -1).gather(-1, row[0, len(p):, None])[:, 0]
        assert torch.allclose(logp[i], alone, atol=1e-5)


def naive_logprobs(model, prompt, completion, temperature):
    """log_softmax(logits / T) at each completion token, from a forward of the row alone, by hand."""
    row = torch.tensor([list(prompt) + list(completion)])
    logits, _ = model(row)
    out = []
    for t, token in enumerate(completion):
        z = logits[0, len(prompt) - 1 + t].double() / temperature
        out.append((z[token] - z.exp().sum().log()).item())
    return torch.tensor(out)


@pytest.mark.parametrize('temperature', [0.5, 1.0, 2.0])
def test_logprobs_are_those_of_the_sampling_temperature(temperature):
    """sample() draws from softmax(logits / T): completion_logprobs at T gives the log-probs of
    that distribution at the sampled tokens, not those of T = 1."""
    model = tiny_gpt()
    torch.manual_seed(2)
    seq, valid, mask = M.sample_batch(model, PROMPTS, 8, temperature=temperature, end_id=12)
    P = max(map(len, PROMPTS))
    logp = completion_logprobs(model, seq, valid, P, temperature)
    plain = completion_logprobs(model, seq, valid, P)
    for i, p in enumerate(PROMPTS):
        expected = naive_logprobs(model, p, seq[i, P:].tolist(), temperature).float()
        assert torch.allclose(logp[i], expected, atol=1e-5)
    assert torch.allclose(logp, plain, atol=1e-5) == (temperature == 1.0)
    with pytest.raises(ValueError, match='temperature'):
        completion_logprobs(model, seq, valid, P, 0.0)


def test_tokens_after_end_of_text_are_masked():
    model = tiny_gpt(vocab_size=4)  # 4 tokens: end-of-text (3) comes up early and often
    torch.manual_seed(0)
    prompts = [[0, 1], [2]] * 8
    seq, valid, mask = M.sample_batch(model, prompts, 30, temperature=1.0, end_id=3)
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
    with pytest.raises(ValueError, match='block_size'):
        M.sample_batch(tiny_gpt(), [[1] * 30], 20)


# -----------------------------------------------------------------------------
# grpo_step: what reaches the loss, and learning on a toy task

# a character vocabulary a, b, c, d and <|endoftext|>; a prompt is one character
TOY_CHARS = 'abcd'
TOY_META = {'tokenizer': 'char', 'vocab_size': 5, 'stoi': {ch: i for i, ch in enumerate(TOY_CHARS)},
            'itos': dict(enumerate(TOY_CHARS)), 'special_tokens': {vocab.END_OF_TEXT: 4}}
TOY_TOK = T.Tokenizer(TOY_META)
TOY_END = vocab.end_of_text_id(TOY_TOK)
# prompt 'a' is answered by writing c's, prompt 'b' by writing d's
TOY_RECORDS = [{'prompt': 'a', 'answer': 'c', 'ids': TOY_TOK.encode('a')},
               {'prompt': 'b', 'answer': 'd', 'ids': TOY_TOK.encode('b')}]
TOY_WEIGHTS = {'accuracy': 1.0, 'format': 0.0}


def toy_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(block_size=16, vocab_size=5, n_layer=1, n_head=1, n_embd=16, bias=False)).eval()


def toy_config(**kw):
    return {**grpo.DEFAULTS, 'group_size': 4, 'max_new_tokens': 4, **kw}


def use_reward(monkeypatch, fn):
    """grpo_step scores with fn as its 'accuracy' reward (format weighted 0); returns the calls."""
    calls = []

    def reward(prompt, completion, record):
        calls.append((prompt, completion, record))
        return fn(prompt, completion, record)
    monkeypatch.setitem(grpo.REWARDS, 'accuracy', reward)
    monkeypatch.setitem(grpo.REWARDS, 'format', lambda *a: 0.0)
    return calls


def spy(monkeypatch, name):
    """Wrap grpo.<name>: returns the list of ({argument name: value}, result) of its calls,
    tensors cloned."""
    calls, fn = [], getattr(grpo, name)
    signature = inspect.signature(fn)
    copy = lambda x: x.detach().clone() if torch.is_tensor(x) else x

    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        out = fn(*args, **kwargs)
        calls.append(({k: copy(v) for k, v in bound.arguments.items()}, out))
        return out
    monkeypatch.setattr(grpo, name, wrapper)
    return calls


def by_hand_advantages(rewards, G, eps=1e-4):
    out = []
    for g in range(0, len(rewards), G):
        r = rewards[g:g + G]
        mean = sum(r) / G
        std = math.sqrt(sum((x - mean) ** 2 for x in r) / (G - 1))
        out += [(x - mean) / (std + eps) for x in r]
    return out


def test_grpo_step_scores_each_completion_against_its_own_prompt(monkeypatch):
    """Completion i is sampled from the prompt of the record it is scored against (group i // G),
    and the loss gets the group advantages of those rewards, by hand, with their sign."""
    calls = use_reward(monkeypatch, lambda p, completion, r: float(completion.count('a')))
    samples, losses = spy(monkeypatch, 'sample_batch'), spy(monkeypatch, 'grpo_loss')
    policy, reference = toy_gpt(), toy_gpt()
    records = TOY_RECORDS + [{'prompt': 'c', 'answer': 'a', 'ids': TOY_TOK.encode('c')}]
    G = 4
    torch.manual_seed(0)
    grpo.grpo_step(policy, reference, torch.optim.SGD(policy.parameters(), lr=0.0), records, TOY_TOK,
                   toy_config(group_size=G, max_new_tokens=6), TOY_END, TOY_WEIGHTS)
    (args, (seq, valid, mask)), = samples
    prompts = args['prompts']
    assert len(prompts) == len(calls) == 3 * G
    for i, (prompt, completion, record) in enumerate(calls):
        assert record is records[i // G] and prompt == record['prompt']
        assert prompts[i] == record['ids']  # sampled from this very prompt
        n_prompt = seq.size(1) - mask.size(1)
        assert seq[i, n_prompt - 1].item() == record['ids'][-1]
        assert completion == vocab.completion_texts(TOY_TOK, seq[i:i + 1, n_prompt:].tolist(), mask[i:i + 1].sum(1).tolist(), TOY_END)[0]
    rewards = [float(c.count('a')) for _, c, _ in calls]
    adv = losses[0][0]['advantages']
    assert adv.abs().sum() > 0  # not all groups equal: the check below means something
    assert adv.tolist() == pytest.approx(by_hand_advantages(rewards, G), abs=1e-5)


def test_grpo_step_logprobs_are_the_sampling_policy_and_the_reference(monkeypatch):
    """At temperature 0.7, mu = 3: every update gets the same old log-probs, those of the policy
    that sampled (before any update) at 0.7, and the reference's at 0.7 (another model here);
    the first update's new log-probs equal the old ones (ratio 1), later ones have moved."""
    use_reward(monkeypatch, lambda p, completion, r: float(completion.count('a')))
    samples, losses = spy(monkeypatch, 'sample_batch'), spy(monkeypatch, 'grpo_loss')
    policy, reference = toy_gpt(seed=0), toy_gpt(seed=1)
    before = toy_gpt(seed=0)  # the policy as it sampled
    T_ = 0.7
    c = toy_config(temperature=T_, mu=3, beta=0.1, max_new_tokens=5)
    torch.manual_seed(0)
    grpo.grpo_step(policy, reference, torch.optim.AdamW(policy.parameters(), lr=0.05), TOY_RECORDS, TOY_TOK, c,
                   TOY_END, TOY_WEIGHTS)
    (_, (seq, valid, mask)), = samples
    n_prompt = seq.size(1) - mask.size(1)
    assert len(losses) == 3
    for i in range(seq.size(0)):
        n = int(mask[i].sum())
        prompt, completion = seq[i, :n_prompt][valid[i, :n_prompt]].tolist(), seq[i, n_prompt:n_prompt + n].tolist()
        old_i, ref_i = naive_logprobs(before, prompt, completion, T_), naive_logprobs(reference, prompt, completion, T_)
        assert not torch.allclose(old_i, naive_logprobs(before, prompt, completion, 1.0), atol=1e-3)
        for args, _ in losses:
            old, ref = args['old_logp'], args['ref_logp']
            assert torch.allclose(old[i, :n], old_i.float(), atol=1e-5)  # the sampling policy, at every update
            assert torch.allclose(ref[i, :n], ref_i.float(), atol=1e-5)  # the reference, not the policy
    first, last = losses[0][0], losses[-1][0]
    m = first['mask'].bool()
    assert torch.allclose(first['logp'][m], first['old_logp'][m], atol=1e-6)  # ratio 1 at the first update
    assert (last['logp'][m] - last['old_logp'][m]).abs().max() > 1e-2  # the policy has moved since the rollouts
    assert losses[-1][1][1]['ratio'] != pytest.approx(1.0, abs=1e-4)


def test_grpo_step_dr_grpo_divides_by_max_new_tokens(monkeypatch):
    """Completions that all end early (<|endoftext|> made likely): dr_grpo's sum is divided by
    N * max_new_tokens, not N * the longest completion. With mu = 1 the ratio is 1, so the loss
    is -sum_i A_i * tokens_i / (N * max_new_tokens), by hand."""
    calls = use_reward(monkeypatch, lambda p, completion, r: float(len(completion)))
    samples = spy(monkeypatch, 'sample_batch')
    policy, reference = toy_gpt(), toy_gpt()
    head = policy.head
    policy.head = lambda x: head(x) + 1.5 * (torch.arange(5) == TOY_END)  # ends early and often
    M, G = 12, 4
    c = toy_config(group_size=G, max_new_tokens=M, mu=1, beta=0.0, loss_type='dr_grpo')
    torch.manual_seed(0)
    row = grpo.grpo_step(policy, reference, torch.optim.SGD(policy.parameters(), lr=0.0), TOY_RECORDS, TOY_TOK, c,
                         TOY_END, TOY_WEIGHTS)
    (_, (seq, valid, mask)), = samples
    assert mask.size(1) < M and (mask[:, -1] == 0).any()  # sampling stopped early: padding matters
    tokens = [len(completion) + 1 for _, completion, _ in calls]  # all ended: the text and <|endoftext|>
    assert tokens == mask.sum(1).tolist()
    adv = by_hand_advantages([float(len(completion)) for _, completion, _ in calls], G)
    N = len(calls)
    expected = -sum(a * n for a, n in zip(adv, tokens)) / (N * M)
    assert abs(expected) > 1e-2  # dividing by N * mask.size(1) instead would give another number
    assert row['loss'] == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize('loss_type', grpo.LOSS_TYPES)
def test_grpo_step_drops_rows_of_zero_advantage_and_keeps_the_averages(monkeypatch, loss_type):
    """Prompt 'a' scores every completion 1 (an equal group: advantage 0), prompt 'b' by its
    a's. Only b's rows reach the loss, and with beta = 0 the loss and the gradient are those of
    the whole batch, dropped rows included, by grpo_loss on all rows (normalised by the rows and
    tokens of the whole batch)."""
    use_reward(monkeypatch, lambda p, completion, r: 1.0 if p == 'a' else float(completion.count('a')))
    samples, losses = spy(monkeypatch, 'sample_batch'), spy(monkeypatch, 'grpo_loss')
    policy, reference = toy_gpt(), toy_gpt()
    G = 6
    c = toy_config(group_size=G, max_new_tokens=6, mu=1, beta=0.0, loss_type=loss_type)
    torch.manual_seed(0)
    row = grpo.grpo_step(policy, reference, torch.optim.SGD(policy.parameters(), lr=0.0), TOY_RECORDS, TOY_TOK, c,
                         TOY_END, TOY_WEIGHTS)
    (_, (seq, valid, mask)), = samples
    (args, _), = losses
    adv = args['advantages']
    assert row['dropped_rows'] == G and adv.size(0) == args['logp'].size(0) == G and (adv != 0).all()
    n_prompt = seq.size(1) - mask.size(1)
    pad = lambda t: torch.nn.functional.pad(t, (0, 6 - t.size(1)))
    logp = pad(completion_logprobs(policy, seq, valid, n_prompt))
    all_adv = torch.cat([torch.zeros(G), adv])
    whole, _ = grpo.grpo_loss(logp, logp.detach(), None, all_adv, pad(mask), beta=0.0, loss_type=loss_type)
    assert row['loss'] == pytest.approx(whole.item(), abs=1e-6)
    whole.backward()
    expected = [p.grad.clone() for p in policy.parameters()]
    assert sum(g.abs().sum() for g in expected) > 1e-3  # (at ratio 1 the grpo loss is 0, its gradient is not)
    policy.zero_grad()
    logp = pad(completion_logprobs(policy, seq[G:], valid[G:], n_prompt))
    kept, _ = grpo.grpo_loss(logp, logp.detach(), None, adv, pad(mask)[G:], beta=0.0, loss_type=loss_type,
                             n_rows=2 * G, n_tokens=mask.sum())
    assert kept.item() == pytest.approx(whole.item(), abs=1e-6)
    kept.backward()
    for p, g in zip(policy.parameters(), expected):
        assert torch.allclose(p.grad, g, atol=1e-6)


def test_grpo_step_with_every_group_equal_updates_nothing(monkeypatch):
    use_reward(monkeypatch, lambda p, completion, r: 1.0)
    losses = spy(monkeypatch, 'grpo_loss')
    policy, reference = toy_gpt(), toy_gpt()
    before = [p.clone() for p in policy.parameters()]
    row = grpo.grpo_step(policy, reference, torch.optim.AdamW(policy.parameters(), lr=0.1), TOY_RECORDS, TOY_TOK,
                         toy_config(), TOY_END, TOY_WEIGHTS)
    assert not losses and row['dropped_rows'] == 8 and row['equal_groups'] == 1.0
    assert all(torch.equal(p, b) for p, b in zip(policy.parameters(), before))


def test_grpo_step_stats_are_means_over_the_inner_updates(monkeypatch):
    """clip_frac, kl and ratio in the log row average every update's (the first has ratio 1 and
    nothing clipped, so the last alone would tell another story)."""
    use_reward(monkeypatch, lambda p, completion, r: float(completion.count('a')))
    losses = spy(monkeypatch, 'grpo_loss')
    policy, reference = toy_gpt(seed=0), toy_gpt(seed=1)
    torch.manual_seed(0)
    row = grpo.grpo_step(policy, reference, torch.optim.AdamW(policy.parameters(), lr=0.2), TOY_RECORDS, TOY_TOK,
                         toy_config(mu=3, beta=0.1, max_new_tokens=5), TOY_END, TOY_WEIGHTS)
    stats = [out[1] for _, out in losses]
    assert len(stats) == 3 and stats[0]['clip_frac'] == 0 and stats[-1]['clip_frac'] > 0
    for key in ('clip_frac', 'kl', 'ratio'):
        assert row[key] == pytest.approx(sum(s[key] for s in stats) / 3)


def test_held_out_scores_by_hand():
    """Two held-out prompts, answers 5 and 7; greedy says 5 (well formed) and 9; the k = 4
    samples say (3, 5, 3, none) and (8, 7, 1, 2): sampled 2/8, pass@4 2/2, majority@4 0/2 (3
    wins the first; the second is a four-way tie that goes to the first seen, 8). Samples
    (7, 7, 1, 2) for the second make its majority right."""
    greedy = ['<think>\n</think>\n#### 5', '#### 9']
    samples = ['#### 3', '#### 5', '#### 3', 'no answer', '#### 8', '#### 7', '#### 1', '#### 2']
    records = [{'answer': '5'}, {'answer': '7'}]
    assert grpo.held_out_scores(greedy, samples, records, 4) == {
        'eval_greedy': 0.5, 'eval_sampled': 2 / 8, 'eval_pass': 1.0, 'eval_majority': 0.0, 'eval_format': 0.5}
    samples[4:] = ['#### 7', '#### 7', '#### 1', '#### 2']
    out = grpo.held_out_scores(greedy, samples, records, 4)
    assert out['eval_majority'] == 0.5 and out['eval_sampled'] == 3 / 8 and out['eval_pass'] == 1.0


def test_grpo_step_refuses_greedy_rollouts():
    policy = toy_gpt()
    with pytest.raises(T.UserError, match='temperature'):
        grpo.grpo_step(policy, policy, torch.optim.SGD(policy.parameters(), lr=0.0), TOY_RECORDS, TOY_TOK,
                       toy_config(temperature=0.0), TOY_END, TOY_WEIGHTS)


def toy_learning(monkeypatch, steps=30, negate=False):
    """grpo_step on the toy task (reward: the share of the record's answer character among 4
    completion tokens); returns the mean reward per step. negate: the advantages' sign flipped."""
    use_reward(monkeypatch, lambda p, completion, r: completion.count(r['answer']) / 4)
    if negate:
        advantages = grpo.group_advantages
        monkeypatch.setattr(grpo, 'group_advantages', lambda *a, **kw: -advantages(*a, **kw))
    policy, reference = toy_gpt(), toy_gpt()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-2, weight_decay=0.0)
    c = toy_config(group_size=8, temperature=1.0, mu=2, beta=0.04)
    torch.manual_seed(0)
    return [grpo.grpo_step(policy, reference, optimizer, TOY_RECORDS * 2, TOY_TOK, c, TOY_END, TOY_WEIGHTS)['reward']
            for _ in range(steps)]


def test_grpo_step_learns_a_toy_task(monkeypatch):
    """The reward rises from chance (~0.2: 1 of 5 tokens) to near 1 in 30 steps, each prompt
    learning its own answer; with the advantages negated it falls to ~0 instead."""
    rewards = toy_learning(monkeypatch)
    start, end = sum(rewards[:3]) / 3, sum(rewards[-5:]) / 5
    assert start < 0.35 and end > 0.8 and end > start + 0.4
    monkeypatch.undo()
    rewards = toy_learning(monkeypatch, negate=True)
    assert sum(rewards[-5:]) / 5 < min(0.1, rewards[0])


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
        assert r['completion'].endswith(vocab.END_OF_TEXT) and a['prompt'] == r['prompt']
        text = r['completion'][:-len(vocab.END_OF_TEXT)]
        assert grpo.accuracy_reward(r['prompt'], text, r) == 1 and grpo.format_reward(r['prompt'], text, r) == 1
        text = a['completion'][:-len(vocab.END_OF_TEXT)]
        assert grpo.accuracy_reward(a['prompt'], text, a) == 1 and grpo.format_reward(a['prompt'], text, a) == 0
    val = {r['question'] for r in T.read_jsonl(str(arith_data / 'think' / 'val.jsonl'))}
    assert not val & {r['question'] for r in think_rows}
    metas = [T.load_meta(str(arith_data / s), 'arith') for s in ('think', 'answer')]
    assert {k: v for k, v in metas[0].items() if k != 'style'} == {k: v for k, v in metas[1].items() if k != 'style'}
    tok = T.Tokenizer(metas[0])
    assert len(tok.encode(vocab.THINK_OPEN + vocab.END_OF_TEXT)) == 2


def test_a_cold_start_has_the_tags_in_exactly_n_train_records(tmp_path):
    """--style=answer --think_examples=N: the first N train records as think writes them, the
    rest and every val record answers only; the problems as the answer style's."""
    arith.prepare(str(tmp_path / 'cold'), 'answer', train_size=50, val_size=10, think_examples=7)
    arith.prepare(str(tmp_path / 'think'), 'think', train_size=50, val_size=10)
    cold, think = (T.read_jsonl(str(tmp_path / d / 'train.jsonl')) for d in ('cold', 'think'))
    assert [r['completion'] for r in cold[:7]] == [r['completion'] for r in think[:7]]
    assert not any(vocab.THINK_OPEN in r['completion'] for r in cold[7:])
    assert [r['prompt'] for r in cold] == [r['prompt'] for r in think]
    assert not any(vocab.THINK_OPEN in r['completion'] for r in T.read_jsonl(str(tmp_path / 'cold' / 'val.jsonl')))


def test_extra_chars_join_the_vocabulary_and_no_record(tmp_path):
    """--extra_chars: testtime.py's strings can be encoded; the records are the same problems."""
    arith.prepare(str(tmp_path / 'plain'), 'think', train_size=20, val_size=5)
    arith.prepare(str(tmp_path / 'extra'), 'think', train_size=20, val_size=5, extra_chars='Wait!')
    plain, extra = (T.load_meta(str(tmp_path / d), 'arith') for d in ('plain', 'extra'))
    assert set('Wait!') <= set(extra['stoi']) and not set('Wait!') <= set(plain['stoi'])
    assert set(extra['stoi']) - set(plain['stoi']) <= set('Wait!')
    with pytest.raises(vocab.UserError, match='not in the vocabulary'):
        T.Tokenizer(plain).encode('Wait!')
    tok = T.Tokenizer(extra)
    assert vocab.render(tok.encode('Wait!'), tok, mode='plain') == 'Wait!'
    for split in ('train', 'val'):
        assert (tmp_path / 'plain' / f'{split}.jsonl').read_text() == (tmp_path / 'extra' / f'{split}.jsonl').read_text()


def test_tiny_run_end_to_end(arith_data, tmp_path, monkeypatch):
    """train.py on the records, then grpo.py: the log has every quantity, the checkpoint
    loads as train.py's and sample.py generates from it. Every step gets a frozen reference,
    another model than the policy, that stays the starting checkpoint."""
    sft = tmp_path / 'sft'
    T.train(C.load_config(tiny_args(arith_data / 'think', sft, '--block_size=128', '--max_iters=2',
                                     '--eval_interval=2')))
    out = tmp_path / 'grpo'
    args = [f'--init_from={sft}', f'--data_dir={arith_data / "think"}', f'--out_dir={out}', '--max_iters=2',
            '--eval_interval=1', '--eval_prompts=3', '--eval_samples=2', '--batch_size=2', '--group_size=3',
            '--max_new_tokens=12', '--progress=lines', '--mu=2', '--loss_type=dr_grpo']
    steps, grpo_step = [], grpo.grpo_step

    def spy_step(policy, reference, *rest):
        steps.append((policy, reference, {k: v.clone() for k, v in reference.state_dict().items()}))
        return grpo_step(policy, reference, *rest)
    monkeypatch.setattr(grpo, 'grpo_step', spy_step)
    grpo.run(grpo.load_config(args))
    start = T.model_from_checkpoint(T.load_checkpoint(str(sft / 'ckpt.pt'))).state_dict()
    assert len(steps) == 2
    for policy, reference, state in steps:
        assert reference is not policy and not any(p.requires_grad for p in reference.parameters())
        assert all(torch.equal(state[k], start[k]) for k in start)
    rows = T.read_jsonl(str(out / 'log.jsonl'))
    evals = [r for r in rows if 'eval_greedy' in r]
    steps = [r for r in rows if 'loss' in r]
    assert [r['iter'] for r in evals] == [0, 1, 2] and [r['iter'] for r in steps] == [0, 1]
    for key in ('reward', 'accuracy', 'format', 'length', 'kl', 'clip_frac', 'equal_groups', 'dropped_rows', 'flops'):
        assert all(math.isfinite(r[key]) for r in steps), key
    for key in ('eval_majority', 'eval_sampled', 'eval_pass', 'eval_format', 'eval_length'):
        assert key in evals[0]
    ckpt = T.load_checkpoint(str(out / 'ckpt.pt'))
    assert ckpt['iter_num'] == 2 and ckpt['idea'] == 'gpt'
    result = run_script('sample.py', f'--out_dir={out}', '--start=Question: ', '--num_samples=1',
                        '--max_new_tokens=5', '--device=cpu', env={'OMP_NUM_THREADS': '1'})
    assert result.returncode == 0, result.stderr
    plot.main([str(out / 'log.jsonl'), '--figure=grpo', '--labels=tiny', f'--out={tmp_path / "grpo.png"}'])
    assert (tmp_path / 'grpo.png').stat().st_size > 0


def test_a_step_on_gsm8k_records(tmp_path):
    """data/gsm8k/prepare.py's records end with <|endoftext|> (a special token of the character
    vocabulary), so grpo.py runs on them: a tiny model trained a few steps, one GRPO step."""
    path = SHARED / 'data' / 'gsm8k' / 'train.jsonl'
    if path.exists():
        with open(path, encoding='utf-8') as f:
            records = [json.loads(next(f)) for _ in range(12)]
    else:
        records = [{'question': f'What is {i} + {i}?', 'answer': f'{i} + {i} = <<{i}+{i}={2 * i}>>{2 * i}\n#### {2 * i}'}
                   for i in range(12)]
    (tmp_path / 'raw.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in records))
    data = tmp_path / 'gsm8k'
    gsm8k.prepare([f'--train={tmp_path / "raw.jsonl"}', '--val_size=4', '--style=think', f'--out_dir={data}'])
    assert all(r['completion'].endswith(vocab.END_OF_TEXT) for r in T.read_jsonl(str(data / 'train.jsonl')))
    sft, out = tmp_path / 'sft', tmp_path / 'grpo'
    T.train(C.load_config(tiny_args(data, sft, '--block_size=1024', '--max_iters=2', '--eval_interval=2')))
    grpo.run(grpo.load_config([f'--init_from={sft}', f'--data_dir={data}', '--dataset=gsm8k', f'--out_dir={out}',
                               '--max_iters=1', '--eval_interval=1', '--eval_prompts=2', '--eval_samples=2',
                               '--batch_size=2', '--group_size=2', '--max_new_tokens=8', '--progress=lines']))
    rows = T.read_jsonl(str(out / 'log.jsonl'))
    assert [r['iter'] for r in rows] == [0, 0, 1] and 'reward' in rows[1]


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


def test_figure_table_groups_seeds(tmp_path, capsys):
    """plot.py --figure=grpo: runs that share a label are one arm; the table gives each score at
    the last evaluation as mean +- sd over them, in percent; a log of one evaluation (a start or
    a supervised control) is a row of its own."""
    def log(name, scores, steps=True):
        rows = [{'iter': it, 'eval_greedy': g, 'eval_sampled': s, 'eval_pass': p, 'eval_majority': m}
                for it, (g, s, p, m) in scores]
        if steps:
            rows += [{'iter': it, 'loss': 0.0, 'format': 1.0, 'accuracy': 0.5, 'kl': 0.0} for it in range(2)]
        path = tmp_path / f'{name}.jsonl'
        path.write_text(''.join(json.dumps(r) + '\n' for r in rows))
        return str(path)
    runs = [log('a', [(0, (0.4, 0.2, 0.6, 0.3)), (2, (0.5, 0.3, 0.7, 0.4))]),
            log('b', [(0, (0.4, 0.2, 0.6, 0.3)), (2, (0.7, 0.1, 0.9, 0.2))]),
            log('sft', [(0, (0.45, 0.25, 0.65, 0.35))], steps=False)]
    plot.main([*runs, '--figure=grpo', '--labels=grpo,grpo,sft', f'--out={tmp_path / "g.png"}'])
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == '| grpo | 2 | 2 | 60.0 +- 14.1 | 20.0 +- 14.1 | 80.0 +- 14.1 | 30.0 +- 14.1 |'
    assert lines[3] == '| sft | 1 | 0 | 45.0 | 25.0 | 65.0 | 35.0 |'
    assert (tmp_path / 'g.png').stat().st_size > 0
