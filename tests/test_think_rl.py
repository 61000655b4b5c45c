"""think.py's <think_i> tokens trained by RL: the group baseline on hand-made rewards, the
policy-gradient terms by hand at the rollout temperature, one step's loss by hand (groups,
penalty, entropy bonus, text NLL), toy tasks its step learns (and unlearns with the advantage
negated), the teacher never seeing a think token, the budget, positions that count text only,
and the whole loop from a train.py run through sample.py. Tiny and fast."""

import json
import math

import pytest
import torch
from torch.nn import functional as F

import think
import think_answers
import vocab
import configurator as C
import train as T
from conftest import ROOT, assert_greedy, load_script, run_script
from model import GPT, GPTConfig

TEXT_VOCAB = 3  # text ids 0, 1, 2; think ids 3, 4


def tiny_think(max_think=2, seed=0, **kw):
    torch.manual_seed(seed)
    args = dict(block_size=16, vocab_size=TEXT_VOCAB + 2, n_layer=2, n_head=2, n_embd=16, bias=False, n_think=2,
                think_id=TEXT_VOCAB, max_think=max_think)
    cfg = think.ThinkConfig(**{**args, **kw})
    return think.ThinkGPT(cfg).eval()


def thinks_first(model, boost=50.0):
    """Make the model want to think above all (its head pushes the think logits up)."""
    head = model.head
    model.head = lambda x: head(x) + boost * model.think_mask(x.device)


# -----------------------------------------------------------------------------
# rewards and advantages


def test_group_baseline_removes_the_credit_for_easy_prefixes():
    # prefix 0 is easy: every rollout scores -0.1 and thinks; prefix 1 is hard: -2 and no thinking.
    # The raw reward favours the thinking rollouts only because their text was easy.
    reward = torch.tensor([-0.1, -0.1, -0.1, -2.0, -2.0, -2.0])
    assert think.advantages(reward, 3, 'none').tolist() == reward.tolist()
    assert think.advantages(reward, 3, 'mean').abs().max() < 1e-6
    logp = torch.zeros(6, 1, requires_grad=True)  # d loss / d log p(rollout) = -advantage / N
    think.policy_loss(logp, think.advantages(reward, 3, 'none')).backward()
    assert logp.grad[:3].sum() < logp.grad[3:].sum()  # descent pushes them down less: thinking looks better
    logp.grad = None
    think.policy_loss(logp, think.advantages(reward, 3, 'mean')).backward()
    assert logp.grad.abs().max() < 1e-6  # no credit at all


def test_advantages_by_hand():
    reward = torch.tensor([1.0, 2.0, 3.0, -1.0, -1.0, 5.0])
    mean = think.advantages(reward, 3, 'mean')
    assert torch.allclose(mean, torch.tensor([-1.0, 0.0, 1.0, -2.0, -2.0, 4.0]))
    std = think.advantages(reward, 3, 'mean_std')  # unbiased std: 1 and sqrt(12), + eps 1e-4
    s1, s2 = 1 + 1e-4, 12 ** 0.5 + 1e-4
    assert torch.allclose(std, torch.tensor([-1 / s1, 0.0, 1 / s1, -2 / s2, -2 / s2, 4 / s2]), atol=1e-6)


def test_next_text_reward_is_the_mean_text_log_probability():
    text_logp = torch.tensor([[0.0, -1.0, 0.0, -3.0], [-0.5, 0.0, 0.0, -0.5]])
    assert torch.allclose(think.next_text_reward(text_logp, 2), torch.tensor([-2.0, -0.5]))


# -----------------------------------------------------------------------------
# the policy-gradient loss, by hand

P, K, H = think.PROMPT, think.THINK, think.TEXT


def hand_terms(model, tokens, kinds, forced_text, temperature):
    """policy_terms by hand, per row: the log-probability of each choice under softmax(logits / T)
    with the budget (forced text: log P(any text token) at TEXT), that distribution's entropy,
    and log p(text token) under the text softmax at T = 1; 0 on PROMPT and PAD."""
    logits = model(tokens)[0].detach().double()
    V, max_think = model.config.vocab_size, model.config.max_think
    rows = []
    for b in range(tokens.size(0)):
        action, entropy, text, run = [], [], [], 0
        for t in range(1, tokens.size(1)):
            kind, token, l = kinds[b, t].item(), tokens[b, t].item(), logits[b, t - 1].tolist()
            allowed = range(V) if run < max_think else range(TEXT_VOCAB)
            log_z = math.log(sum(math.exp(l[i] / temperature) for i in allowed))
            a = e = x = 0.0
            if kind in (K, H):
                if kind == H and forced_text:  # the choice was to stop thinking
                    a = math.log(sum(math.exp(l[i] / temperature) for i in range(TEXT_VOCAB))) - log_z
                else:
                    a = l[token] / temperature - log_z
                e = -sum(math.exp(l[i] / temperature - log_z) * (l[i] / temperature - log_z) for i in allowed)
            if kind == H:
                x = l[token] - math.log(sum(math.exp(l[i]) for i in range(TEXT_VOCAB)))
            action.append(a)
            entropy.append(e)
            text.append(x)
            run = run + 1 if kind == K else 0
        rows.append((action, entropy, text))
    return rows


@pytest.mark.parametrize('forced_text', [True, False])
@pytest.mark.parametrize('temperature', [1.0, 0.5, 2.0])
def test_policy_loss_equals_a_hand_computed_value(temperature, forced_text):
    """The rollouts were sampled from softmax(logits / T): the choices' log-probabilities and
    entropy are those of that distribution (the text term stays the model's, at T = 1)."""
    model = tiny_think(max_think=1)
    tokens = torch.tensor([[0, 1, 3, 2, 4, 0], [1, 1, 2, 4, 0, 0]])
    kinds = torch.tensor([[P, P, K, H, K, H], [P, P, H, K, H, think.PAD]])
    terms = think.policy_terms(model, tokens, kinds, forced_text=forced_text, temperature=temperature)
    adv = torch.tensor([0.5, -2.0])
    loss = think.policy_loss(terms['action'], adv)

    hand = hand_terms(model, tokens, kinds, forced_text, temperature)
    expected = sum(-adv[b].item() * sum(hand[b][0]) / 2 for b in range(2))
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    for b, (action, entropy, text) in enumerate(hand):
        assert terms['action'][b].tolist() == pytest.approx(action, abs=1e-5)
        assert terms['entropy'][b].tolist() == pytest.approx(entropy, abs=1e-5)
        assert terms['text'][b].tolist() == pytest.approx(text, abs=1e-5)
    if forced_text:  # after a think token the budget of one is used up: speaking is certain, log p = 0
        assert terms['action'][0, 2].item() == pytest.approx(0.0, abs=1e-6)
    # and the text term is the text softmax at the text tokens only
    logits = model(tokens)[0].detach()
    text = F.log_softmax(logits[0, 2, :TEXT_VOCAB], -1)[2].item()
    assert terms['text'][0, 2].item() == pytest.approx(text, abs=1e-5) and terms['text'][0, 1].item() == 0
    if temperature != 1.0:  # the temperature changes the answer: T = 1 is another policy
        plain = think.policy_terms(model, tokens, kinds, forced_text=forced_text)
        assert not torch.allclose(plain['action'], terms['action'], atol=1e-3)
    with pytest.raises(ValueError, match='temperature'):
        think.policy_terms(model, tokens, kinds, forced_text, temperature=0.0)


def test_policy_loss_gradient_reaches_the_think_rows():
    model = tiny_think()
    tokens = torch.tensor([[0, 1, 3, 2]])
    kinds = torch.tensor([[P, P, K, H]])
    terms = think.policy_terms(model, tokens, kinds, forced_text=True)
    think.policy_loss(terms['action'], torch.tensor([1.0])).backward()
    assert model.lm_head.weight.grad[3].abs().sum() > 0


# -----------------------------------------------------------------------------
# one RL step: the loss by hand, and learning on a toy task

RL = dict(group_size=3, reward='next_text', rollout_temperature=1.0, think_penalty=0.0, baseline='mean',
          entropy_weight=0.0, lm_weight=0.0, sft_weight=0.0, grad_clip=1.0, think_slot=0, teacher_chain=0)


def test_rl_loss_by_hand():
    """rl_loss at temperature 0.7 with a think penalty, an entropy bonus and the text NLL: the
    group_size rollouts of a prefix are consecutive rows (so the baseline is their own group's
    mean), and reward, advantage and loss equal the formulas computed here by hand."""
    model = tiny_think(max_think=2, seed=3)
    prompts, truth = torch.tensor([[0, 1], [2, 2]]), torch.tensor([[1, 2, 0], [0, 0, 1]])
    G, N, n_text, T_ = 3, 6, 3, 0.7
    c = {**RL, 'group_size': G, 'rollout_temperature': T_, 'think_penalty': 0.3, 'entropy_weight': 0.05,
         'lm_weight': 0.5}
    torch.manual_seed(0)
    loss, info = think.rl_loss(model, prompts, truth, c)
    tokens, kinds = info['tokens'], info['kinds']
    for i in range(N):  # row i: a rollout of prefix i // G, its text forced to that prefix's truth
        assert tokens[i, :2].tolist() == prompts[i // G].tolist()
        assert tokens[i][kinds[i] == H].tolist() == truth[i // G].tolist()
    n_think = (kinds == K).sum(1).tolist()
    assert len(set(n_think[:G])) > 1 or len(set(n_think[G:])) > 1  # the penalty changes the advantages

    hand = hand_terms(model, tokens, kinds, True, T_)
    reward = [sum(text) / n_text - 0.3 * n_think[i] / n_text for i, (_, _, text) in enumerate(hand)]
    adv = [r - sum(reward[g // G * G:g // G * G + G]) / G for g, r in enumerate(reward)]
    pg = -sum(a * sum(action) for a, (action, _, _) in zip(adv, hand)) / N
    chose = ((kinds[:, 1:] == K) | (kinds[:, 1:] == H)).sum().item()
    entropy = sum(sum(e) for _, e, _ in hand) / chose
    lm = -sum(sum(text) for _, _, text in hand) / (n_text * N)
    assert abs(pg) > 1e-3 and entropy > 0.1 and lm > 0.1  # every term matters
    assert info['reward'].tolist() == pytest.approx(reward, abs=1e-5)
    assert info['adv'].tolist() == pytest.approx(adv, abs=1e-5)
    assert info['policy_loss'].item() == pytest.approx(pg, abs=1e-5)
    assert loss.item() == pytest.approx(pg - 0.05 * entropy + 0.5 * lm, abs=1e-5)


PREFIXES = torch.tensor([[0, 1], [1, 2], [2, 0], [1, 1]])
CONTINUATIONS = torch.tensor([[2, 0, 1], [0, 0, 2], [1, 2, 2], [2, 1, 0]])


def rl_learning(monkeypatch, steps=30, lr=1e-2, advantage=None, boost=0.0, **kw):
    """rl_step on 4 fixed prefixes, 8 rollouts each: {key: its values at each step} of the log rows.
    advantage: a function of think.advantages' result that replaces it (the sign flipped, ...)."""
    model = tiny_think(max_think=2, seed=0)
    if boost:
        thinks_first(model, boost)
    if advantage is not None:
        advantages = think.advantages
        monkeypatch.setattr(think, 'advantages', lambda *a: advantage(advantages(*a)))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    c = {**RL, 'group_size': 8, **kw}
    torch.manual_seed(0)
    rows = [think.rl_step(model, optimizer, PREFIXES, CONTINUATIONS, c) for _ in range(steps)]
    monkeypatch.undo()
    return {key: [r[key] for r in rows] for key in rows[0]}


def test_rl_step_learns_to_think_less_under_a_think_penalty(monkeypatch):
    """The only pressure is a penalty of 1 per think token per text token: REINFORCE learns to stop
    thinking (from ~0.35 think tokens per text token to ~0) and the reward rises; with the
    advantage negated the policy thinks more instead."""
    rows = rl_learning(monkeypatch, think_penalty=1.0)
    rate, reward = rows['think_per_text'], rows['reward']
    assert rate[0] > 0.2 and sum(rate[-5:]) / 5 < 0.05
    assert sum(reward[-5:]) / 5 > reward[0] + 0.2
    negated = rl_learning(monkeypatch, think_penalty=1.0, advantage=lambda a: -a)['think_per_text']
    assert negated[0] == pytest.approx(rate[0]) and sum(negated[-5:]) / 5 > rate[0] + 0.3


def test_rl_step_text_loss_raises_the_likelihood_of_the_text(monkeypatch):
    """next_text with lm_weight 1: the reward, the mean log-probability of the true text after
    the thinking, rises on these prefixes (from about -1.1)."""
    reward = rl_learning(monkeypatch, lr=3e-2, lm_weight=1.0)['reward']
    assert sum(reward[-5:]) / 5 > reward[0] + 0.2


def test_rl_step_entropy_bonus_raises_the_entropy(monkeypatch):
    """No policy gradient (advantages 0), only the entropy bonus, on a model that wants to
    think: the entropy of its choices rises towards log 5."""
    entropy = rl_learning(monkeypatch, steps=20, advantage=lambda a: 0 * a, boost=3.0, entropy_weight=1.0)['entropy']
    assert sum(entropy[-5:]) / 5 > entropy[0] + 0.2


# -----------------------------------------------------------------------------
# the teacher never sees a think token


class Recorder(GPT):
    def forward(self, idx, targets=None):
        self.seen = idx.clone()
        return super().forward(idx, targets)


def test_teacher_sees_only_text_and_scores_it():
    torch.manual_seed(0)
    teacher = Recorder(GPTConfig(block_size=16, vocab_size=TEXT_VOCAB, n_layer=1, n_head=1, n_embd=8)).eval()
    tokens = torch.tensor([[0, 1, 3, 4, 2, 3, 0, 1], [1, 1, 2, 0, 0, 3, 3, 1]])
    kinds = torch.tensor([[P, P, K, K, H, K, H, think.PAD], [P, P, H, H, think.PAD, think.PAD, think.PAD, think.PAD]])
    r = think.teacher_reward(teacher, tokens, kinds, n_prompt=2)
    stripped = torch.tensor([[0, 1, 2, 0], [1, 1, 2, 0]])
    assert torch.equal(teacher.seen, stripped) and teacher.seen.max() < TEXT_VOCAB
    logp = F.log_softmax(GPT.forward(teacher, stripped)[0], -1)
    by_hand = [(logp[b, 1, stripped[b, 2]] + logp[b, 2, stripped[b, 3]]).item() / 2 for b in range(2)]
    assert r.tolist() == pytest.approx(by_hand, abs=1e-6)


def test_teacher_writes_its_chain_then_scores_the_text_after_it():
    """teacher_chain=1: the teacher first appends its own greedy token to the prompt, then scores
    the rollout's text after it (not after the bare prompt); think tokens still never reach it."""
    torch.manual_seed(1)
    teacher = Recorder(GPTConfig(block_size=16, vocab_size=TEXT_VOCAB, n_layer=1, n_head=1, n_embd=8)).eval()
    tokens = torch.tensor([[0, 1, 3, 2, 0], [2, 1, 4, 1, 1]])
    kinds = torch.tensor([[P, P, K, H, H], [P, P, K, H, H]])
    r = think.teacher_reward(teacher, tokens, kinds, n_prompt=2, n_chain=1)
    prompts = torch.tensor([[0, 1], [2, 1]])
    chain = GPT.forward(teacher, prompts)[0][:, -1].argmax(-1)
    seen = torch.cat([prompts, chain[:, None], torch.tensor([[2, 0], [1, 1]])], 1)
    assert torch.equal(teacher.seen, seen)
    logp = F.log_softmax(GPT.forward(teacher, seen)[0], -1)
    by_hand = [(logp[b, 2, seen[b, 3]] + logp[b, 3, seen[b, 4]]).item() / 2 for b in range(2)]
    assert r.tolist() == pytest.approx(by_hand, abs=1e-6)
    assert not torch.allclose(r, think.teacher_reward(teacher, tokens, kinds, n_prompt=2), atol=1e-4)


def test_slot_with_sampled_text_is_the_policys_choice_at_both():
    """The slot with text='sample': the think token comes from the think softmax, the text from
    the text softmax, both at the rollout temperature, and both are the policy's choices."""
    model = tiny_think(max_think=1, seed=2)
    prompts, truth = torch.tensor([[0, 1], [2, 2]]), torch.tensor([[0, 0], [0, 0]])
    torch.manual_seed(0)
    tokens, kinds = think.slot_rollout(model, prompts, truth, 1, temperature=0.8, text='sample')
    assert tokens.shape == (2, 5) and (tokens[:, 2] >= TEXT_VOCAB).all() and (tokens[:, 3:] < TEXT_VOCAB).all()
    assert kinds.tolist() == [[P, P, K, H, H]] * 2
    terms = think.policy_terms(model, tokens, kinds, forced_text=False, temperature=0.8, slot=True)
    logits = model(tokens)[0].detach() / 0.8
    for b in range(2):
        think_logp = F.log_softmax(logits[b, 1, TEXT_VOCAB:], -1)[tokens[b, 2] - TEXT_VOCAB]
        text_logp = [F.log_softmax(logits[b, t, :TEXT_VOCAB], -1)[tokens[b, t + 1]] for t in (2, 3)]
        assert terms['action'][b].tolist() == pytest.approx([0, think_logp.item()] + [x.item() for x in text_logp],
                                                            abs=1e-5)
    assert terms['chose'][:, 1:].all() and not terms['chose'][:, 0].any()
    forced = think.policy_terms(model, tokens, kinds, forced_text=True, temperature=0.8, slot=True)
    assert forced['chose'].sum() == 2 and (forced['action'][:, 2:] == 0).all()


# -----------------------------------------------------------------------------
# rollouts: the budget, forced text, positions


@pytest.mark.parametrize('max_think', [0, 1, 3])
def test_budget_is_enforced_in_rollouts_and_generate(max_think):
    model = tiny_think(max_think=max_think)
    thinks_first(model)
    prompts = torch.tensor([[0, 1], [2, 2]])
    tokens, kinds = think.rollout(model, prompts, 4, text='sample')
    runs = think.think_runs(kinds)
    assert runs.max() == max_think  # it wants to think, so it thinks up to the budget, never past it
    assert ((kinds == K).sum(1) == 4 * max_think).all() and ((kinds == H).sum(1) == 4).all()
    assert model.is_think(tokens).eq(kinds == K).all()
    out = model.generate(prompts, 12)
    assert think.think_runs(model.is_think(out).long() * K).max() == max_think
    # think=False: the same model never thinks
    _, kinds = think.rollout(model, prompts, 4, text='sample', think=False)
    assert (kinds != K).all()


def test_forced_rollout_writes_the_truth_and_greedy_the_argmax():
    model = tiny_think(seed=1)
    prompts, truth = torch.tensor([[0, 1], [2, 0]]), torch.tensor([[2, 2, 1], [0, 1, 0]])
    for seed in range(3):
        torch.manual_seed(seed)
        tokens, kinds = think.rollout(model, prompts, 3, truth, text='forced')
        assert torch.equal(tokens[kinds == H].view(2, 3), truth)
    tokens, kinds = think.rollout(model, prompts, 3, text='greedy', think=False)
    assert tokens.shape == (2, 5) and (kinds[:, 2:] == H).all()
    assert_greedy(tokens, 2, lambda prefix: model(prefix)[0][:, -1, :TEXT_VOCAB])  # cached = recomputed


def test_think_tokens_do_not_move_the_text():
    model = tiny_think()
    idx = torch.tensor([[0, 3, 4, 1, 3, 2]])  # 3, 4: think tokens, at the position of the text token before them
    assert model.positions(idx).tolist() == [[0, 0, 0, 1, 1, 2]]
    assert model.positions(torch.tensor([[3, 0, 1]])).tolist() == [[0, 0, 1]]  # thinking before any text: position 0
    # a greedy rollout that thinks (max_think in a row, then text) chooses each token from the
    # full forward pass's logits: its cached steps place the think tokens the same way
    thinks_first(model)
    tokens, kinds = think.rollout(model, torch.tensor([[0, 1]]), 3, temperature=0)
    assert (kinds == think.THINK).sum() == 6
    for t in range(2, tokens.size(1)):
        run = model.is_think(tokens[:, :t]).flip(1).long().cumprod(1).sum(1)
        assert tokens[0, t] == model.budget(model(tokens[:, :t])[0][:, -1], run).argmax(-1)[0]
    del model.head
    plain = torch.tensor([[0, 1, 2, 1]])
    gpt = GPT(GPTConfig(**{k: getattr(model.config, k) for k in vars(GPTConfig())}))
    gpt.load_state_dict(model.state_dict())
    assert torch.allclose(model(plain)[0], gpt.eval()(plain)[0], atol=1e-6)
    # the cached rollout computes what the full forward pass does
    torch.manual_seed(0)
    tokens, kinds = think.rollout(model, torch.tensor([[0, 1]]), 3, text='sample')
    cache = model.new_cache(1, tokens.size(1))
    step = [model.head(model.blocks(model.embed(tokens[:, :1], model.positions(tokens)[:, :1]), cache=cache))]
    for t in range(1, tokens.size(1)):
        pos = model.positions(tokens)[:, t:t + 1]
        step.append(model.head(model.blocks(model.embed(tokens[:, t:t + 1], pos), cache=cache)))
    assert torch.allclose(torch.cat(step, 1), model(tokens)[0], atol=1e-5)


def test_config_checks():
    with pytest.raises(ValueError):
        tiny_think(max_think=-1)
    base = C.load_config(['--model=think', '--block_size=16'], extra=think.RL)
    think.check_rl(base)
    for bad, words in ((dict(reward='accuracy'), 'reward must be one of'), (dict(baseline='median'), 'baseline must be'),
                       (dict(group_size=1), 'needs group_size >= 2'), (dict(think_penalty=-1.0), 'think_penalty must be'),
                       (dict(n_true=16), 'n_true must be < block_size'), (dict(model='gpt'), "model = 'think'"),
                       (dict(teacher_chain=1), "needs reward='teacher'"), (dict(teacher_chain=-1), 'teacher_chain must be')):
        with pytest.raises(T.UserError, match=words):
            think.check_rl({**base, **bad})
    assert 'group_size' not in think.ThinkConfig.__dataclass_fields__  # RL keys are not the model's
    with pytest.raises(ValueError, match='vocabulary'):
        think.ThinkGPT(think.ThinkConfig(vocab_size=4, think_id=3, n_think=2, n_layer=1, n_head=1, n_embd=8))


# -----------------------------------------------------------------------------
# the loop, end to end


@pytest.fixture(scope='module')
def addition(tmp_path_factory):
    """Tiny 2-digit addition data, plain and with 4 think tokens, and a 2-iteration train.py run on the plain one."""
    tmp = tmp_path_factory.mktemp('addition')
    prep = load_script('data/addition/prepare.py', 'prepare_addition')
    sizes = ['--digits=2', '--train_size=200', '--val_size=20', '--test_size=0']
    prep.main([*sizes, f'--out_dir={tmp / "plain"}'])
    prep.main([*sizes, '--n_think=4', f'--out_dir={tmp / "think"}'])
    T.train(C.load_config([f'--data_dir={tmp / "plain"}', f'--out_dir={tmp / "sft"}', *SHAPE]))
    return tmp


SHAPE = ['--n_layer=2', '--n_head=2', '--n_embd=16', '--block_size=16', '--bias=False', '--batch_size=4',
         '--device=cpu', '--progress=lines', '--log_interval=1', '--eval_iters=1', '--max_iters=2', '--eval_interval=2']


def rl_config(tmp, out, *extra):
    return C.load_config([str(ROOT / 'config' / 'think_rl.py'), *SHAPE, f'--data_dir={tmp / "think"}', f'--out_dir={out}',
                          f'--init_from={tmp / "sft"}', f'--teacher={tmp / "sft"}', '--n_think=4', '--group_size=2',
                          '--max_iters=3', '--eval_interval=3', *extra], extra=think.RL)


def test_addition_records():
    prep = load_script('data/addition/prepare.py', 'prepare_addition')
    r = prep.record(123, 4567 - 4000, 4, 'add', False)
    assert r == {'prompt': '0123+0567=', 'completion': '00690\n', 'answer': '00690'}
    assert prep.record(99, 99, 2, 'mul', True)['answer'] == '9801'[::-1]
    splits = prep.make_splits({'a': 25, 'b': 25}, 1, 'add', False, 0)  # half of the 100 pairs of one digit
    assert len({r['prompt'] for rows in splits.values() for r in rows}) == 50  # no pair twice
    assert prep.record(12345, 7, 6, 'mul', False, digits_b=1) == {'prompt': '012345*7=', 'completion': '0086415\n',
                                                                  'answer': '0086415'}
    assert prep.record(5, 99, 1, 'add', False, digits_b=2)['answer'] == '104'
    rows = prep.make_splits({'a': 200}, 3, 'mul', False, 0, digits_b=1)['a']
    assert all(len(r['prompt']) == 6 and int(r['prompt'][:3]) * int(r['prompt'][4]) == int(r['answer']) for r in rows)


@pytest.mark.parametrize('reward', ['next_text', 'teacher'])
def test_rl_runs_from_a_train_run_and_samples(addition, tmp_path, reward):
    model = think.train_rl(rl_config(addition, tmp_path, f'--reward={reward}', '--think_penalty=0.1'))
    rows = T.read_jsonl(str(tmp_path / 'log.jsonl'))
    train_rows = [r for r in rows if 'think_per_text' in r]
    assert [r['iter'] for r in train_rows] == [0, 1, 2]
    assert {'reward', 'adv_std', 'sft_loss', 'entropy', 'policy_loss'} <= train_rows[0].keys()
    assert [r['iter'] for r in rows if 'val_nll_think' in r] == [0, 3]
    ckpt = T.load_checkpoint(str(tmp_path / 'ckpt.pt'))
    assert ckpt['idea'] == 'think' and ckpt['model_args']['vocab_size'] == 14 + 4
    assert vocab.think_ids(ckpt['meta']) == list(range(14, 18)) and model.config.think_id == 14
    # a think model shows its think tokens by name; sample.py runs on its checkpoint
    thinks_first(model)
    out = model.generate(torch.tensor([T.Tokenizer(ckpt['meta']).encode('12+34=')]), 4)
    assert vocab.render(out[0], ckpt['meta'], mode='plain').startswith('12+34=<think')
    if reward == 'teacher':
        return
    r = run_script('sample.py', f'--out_dir={tmp_path}', '--start=12+34=', '--num_samples=2', '--max_new_tokens=6',
                   env={'NO_COLOR': '1'})
    assert r.returncode == 0, r.stderr
    assert all(s.startswith('12+34=') for s in r.stdout.split('---------------\n')[:2]) and '<unk' not in r.stdout


def test_rl_refuses_greedy_rollouts(addition, tmp_path):
    with pytest.raises(T.UserError, match='rollout_temperature must be > 0'):
        think.train_rl(rl_config(addition, tmp_path, '--rollout_temperature=0'))


def test_rl_refuses_a_wrong_think_count_and_a_teacher_with_think_tokens(addition, tmp_path):
    with pytest.raises(T.UserError, match='--n_think=3'):
        think.train_rl(rl_config(addition, tmp_path, '--n_think=3'))
    meta = T.load_meta(str(addition / 'think'), 'think')
    model = GPT(GPTConfig(block_size=16, vocab_size=meta['vocab_size'], n_layer=1, n_head=1, n_embd=8))
    T.save_checkpoint(T.checkpoint(model, torch.optim.AdamW(model.parameters()), 'gpt', meta, {}, 0), str(tmp_path / 'ckpt.pt'))
    with pytest.raises(T.UserError, match='think tokens'):
        think.load_teacher(str(tmp_path), meta)  # a teacher must not know think tokens


# -----------------------------------------------------------------------------
# reading before writing, the fixed think slot, the diagnostics


def test_random_thinks_are_inserted_around_the_text_in_order():
    model = tiny_think(random_think_fraction=0.3)
    idx = torch.tensor([[0, 1, 2, 0, 1, 2, 0, 1], [2, 2, 1, 1, 0, 0, 2, 2]])
    targets = torch.tensor([[1, 2, 0, 1, 2, 0, 1, 2], [2, 1, 1, 0, 0, 2, 2, -1]])
    g = torch.Generator().manual_seed(0)
    stream, stream_targets = model.insert_random_thinks(idx, targets, 2, g)
    thinks = model.is_think(stream)
    assert stream.shape == (2, 10) and (thinks.sum(1) == 2).all() and not thinks[:, 0].any()
    for b in range(2):
        assert stream[b][~thinks[b]].tolist() == idx[b].tolist()  # no text dropped, none moved out of order
        for t in range(10):
            if t + 1 < 10 and thinks[b, t + 1]:
                assert stream_targets[b, t] == -1  # no loss where the next token is a think token
            else:  # the target of the last text token at or before t: the next text token
                last = int((~thinks[b, :t + 1]).sum()) - 1
                assert stream_targets[b, t] == targets[b, last]


def counting_batch(B=32, T=12, g=None):
    """Rows counting up mod 3 from a random start: each token follows from the text token before it."""
    x = (torch.randint(3, (B, 1), generator=g) + torch.arange(T + 1)) % 3
    return x[:, :-1], x[:, 1:]


def reading_gap(fraction, steps=150):
    """Train on counting rows with random think tokens at `fraction` (big distinct think rows, as
    a noisy start), then return (NLL with 3 random think tokens per row) - (NLL without)."""
    model = tiny_think(random_think_fraction=fraction, seed=0).train()
    with torch.no_grad():
        model.lm_head.weight[TEXT_VOCAB:] = 3 * torch.randn(2, 16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        _, loss = model(*counting_batch(g=g))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    x, y = counting_batch(256, g=g)
    with torch.no_grad():
        masked = model(x, y)[1].item()
        thinking = model(*model.insert_random_thinks(x, y, 3, g))[1].item()
    return thinking - masked


def test_reading_before_writing_makes_random_think_tokens_harmless():
    """Supervised training with random think tokens (no loss on them) brings the text NLL with
    random thinking down to the NLL with thinking masked; the same training without them leaves
    think tokens that break the counting."""
    assert abs(reading_gap(0.25)) < 0.05
    assert reading_gap(0.0) > 0.3


def test_think_rows_grown_from_a_run_start_distinct():
    model = tiny_think(think_init_std=0.5)
    with torch.no_grad():
        model.lm_head.weight[TEXT_VOCAB:] = model.lm_head.weight[:TEXT_VOCAB].mean(0)  # resize_vocab's mean rows
    text_rows = model.lm_head.weight[:TEXT_VOCAB].clone()
    torch.manual_seed(0)
    model.init_token_rows(None, range(TEXT_VOCAB, TEXT_VOCAB + 2))
    rows = model.lm_head.weight
    assert torch.equal(rows[:TEXT_VOCAB], text_rows)
    noise = rows[TEXT_VOCAB:] - text_rows.mean(0)
    assert (rows[TEXT_VOCAB] - rows[TEXT_VOCAB + 1]).norm() > 1.0 and 0.3 < noise.std() < 0.7
    untied = tiny_think(think_init_std=0.5, tie_embeddings=False)
    with torch.no_grad():
        for w in (untied.transformer.wte.weight, untied.lm_head.weight):
            w[TEXT_VOCAB:] = w[:TEXT_VOCAB].mean(0)
    untied.init_token_rows(None, range(TEXT_VOCAB, TEXT_VOCAB + 2))
    for w in (untied.transformer.wte.weight, untied.lm_head.weight):  # inputs and logits both distinct
        assert (w[TEXT_VOCAB] - w[TEXT_VOCAB + 1]).norm() > 1.0


def planted_reader(n=4, seed=0, steps=300):
    """A model over n text symbols and n think tokens, trained by supervision only to read: after
    [prompt symbol, <think_j>] the next text is symbol j (whatever the prompt)."""
    torch.manual_seed(seed)
    model = think.ThinkGPT(think.ThinkConfig(block_size=8, vocab_size=2 * n, n_layer=1, n_head=2, n_embd=32,
                                             bias=False, n_think=n, think_id=n, max_think=1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        p, j = torch.randint(n, (64, 1)), torch.randint(n, (64, 1))
        _, loss = model(torch.cat([p, n + j], 1), torch.cat([torch.full_like(j, -1), j], 1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def bandit_accuracy(sign, steps=40, n=4, seed=0, c=None, target=1, teacher=None):
    """The fixed slot on a planted mapping: prompt symbol a, true text (a + target) mod n, which
    the reader writes after <think_{a+target}> only. Only REINFORCE changes the choice (no text
    losses); the share of prompts whose greedy think token is the planted one, before and after,
    the log rows and the model."""
    model = planted_reader(n, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    prompts = torch.arange(n)[:, None]
    truth = (prompts + target) % n
    c = c or {**RL, 'group_size': 16, 'think_slot': 1, 'rollout_temperature': 2.0}

    def planted_share():
        with torch.no_grad():
            chosen = think.slot_rollout(model, prompts, truth, 1, choose='greedy')[0][:, 1] - n
        return (chosen == truth[:, 0]).float().mean().item()

    before = planted_share()
    advantages = think.advantages
    think.advantages = lambda *a: sign * advantages(*a)
    try:
        torch.manual_seed(0)
        rows = [think.rl_step(model, optimizer, prompts, truth, c, teacher) for _ in range(steps)]
    finally:
        think.advantages = advantages
    return before, planted_share(), rows, model


def test_the_fixed_slot_bandit_learns_a_planted_mapping():
    """A reader that writes symbol j after <think_j>, whose slot starts out choosing <think_a>
    after prompt a (none right): REINFORCE on the slot learns to choose <think_{a+1}>, which makes
    the true text likely, within 40 steps (the reward rises from about -8 nats); every group
    carries signal. With the advantage's sign flipped it never picks it and the reward falls."""
    before, after, rows, _ = bandit_accuracy(+1)
    assert before == 0.0 and after >= 0.75
    assert rows[0]['groups_with_signal'] == 1.0 and rows[-1]['reward'] > rows[0]['reward'] + 5
    _, after, rows, _ = bandit_accuracy(-1)
    assert after == 0.0 and rows[-1]['reward'] < rows[0]['reward'] - 1


class PlantedTeacher(torch.nn.Module):
    """A teacher over n text symbols that is sure the next symbol is (the last one + 1) mod n."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def forward(self, idx):
        return 10.0 * F.one_hot((idx + 1) % self.n, self.n).float(), None


@pytest.mark.parametrize('chain', [0, 1])
def test_the_slot_learns_from_a_teacher_that_knows_more(chain):
    """reward='teacher' in the fixed slot: the policy writes its text after its think token and
    a teacher scores it. The reader writes j after <think_j> and starts out choosing <think_a>
    after prompt a; the teacher expects a + 1, or, writing its own chain token a + 1 first
    (teacher_chain=1), a + 2. REINFORCE (on the think choice and the text) learns to write what
    the teacher rewards, greedily, from none of the 4 prompts; with the advantage's sign flipped
    it never does, and the reward falls."""
    n = 4
    c = {**RL, 'group_size': 16, 'think_slot': 1, 'rollout_temperature': 2.0, 'reward': 'teacher',
         'teacher_chain': chain}
    prompts = torch.arange(n)[:, None]
    rewarded = (prompts + 1 + chain) % n

    def writes_rewarded(model):
        return think.think_and_answer(model, prompts, rewarded, n_slot=1, choose='greedy')['correct'].float().mean()

    assert writes_rewarded(planted_reader(n)) == 0
    _, _, rows, model = bandit_accuracy(+1, c=c, target=1 + chain, teacher=PlantedTeacher(n), steps=60)
    assert writes_rewarded(model) >= 0.75 and sum(r['reward'] for r in rows[-5:]) / 5 > rows[0]['reward'] + 5
    _, _, rows, model = bandit_accuracy(-1, c=c, target=1 + chain, teacher=PlantedTeacher(n), steps=60)
    assert writes_rewarded(model) == 0 and rows[-1]['reward'] < rows[0]['reward'] - 0.2  # the floor: -10


def test_mutual_information_by_hand():
    assert think_answers.mutual_information([0, 1, 2, 3], list('abcd')) == pytest.approx(2.0)
    assert think_answers.mutual_information([0, 0, 1, 1], list('abab')) == pytest.approx(0.0)
    # p(x, y): (0,a) 1/2, (1,a) 1/4, (1,b) 1/4
    by_hand = (0.5 * math.log2(0.5 / (0.5 * 0.75)) + 0.25 * math.log2(0.25 / (0.5 * 0.75))
               + 0.25 * math.log2(0.25 / (0.5 * 0.25)))
    assert think_answers.mutual_information([0, 0, 1, 1], list('aaab')) == pytest.approx(by_hand)


def test_think_and_answer_in_the_slot_and_masked():
    """The slot puts exactly n_slot think tokens after each prompt (random: uniform identities),
    then scores the true text: the NLL equals the full forward pass's, and 'correct' is the greedy text."""
    model = planted_reader()
    prompts, truth = torch.tensor([[0], [1], [2], [3]]), torch.tensor([[1], [2], [3], [0]])
    torch.manual_seed(0)
    out = think.think_and_answer(model, prompts, truth, n_slot=1, choose='greedy')
    chosen = out['first']
    x = torch.cat([prompts, 4 + chosen[:, None]], 1)
    logp = F.log_softmax(model.text_only(model(x)[0][:, -1]), -1)
    assert out['nll'].tolist() == pytest.approx((-logp.gather(1, truth)[:, 0]).tolist(), abs=1e-5)
    assert out['correct'].tolist() == (logp.argmax(-1) == truth[:, 0]).tolist()
    assert (out['think_rate'] == 1).all()
    plain = think.think_and_answer(model, prompts, truth, n_slot=0, choose='none')
    assert (plain['first'] == -1).all() and (plain['think_rate'] == 0).all()
    firsts = torch.cat([think.think_and_answer(model, prompts, truth, 1, 'random')['first'] for _ in range(50)])
    assert set(firsts.tolist()) == {0, 1, 2, 3}


def test_fixed_slot_run_and_its_diagnostics(addition, tmp_path):
    """think.py with think_slot=1 runs from a train.py run, logs the slot's evaluations and the
    share of groups with signal; answers scores a records file and reads the think token's
    mutual information with each node of the records' path."""
    think.train_rl(rl_config(addition, tmp_path, '--think_slot=1'))
    rows = T.read_jsonl(str(tmp_path / 'log.jsonl'))
    assert 0 <= rows[1]['groups_with_signal'] <= 1
    assert {'val_acc_think', 'val_acc_greedy', 'val_acc_random', 'val_acc_plain'} <= rows[0].keys()
    records = tmp_path / 'records.jsonl'
    rows = [{'prompt': f'1{i}+2{i}=', 'completion': f'0{3 + i // 5}{(2 * i) % 10}\n', 'path': [str(i % 2), str(i % 3)]}
            for i in range(10)]
    records.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    out = think_answers.answers(str(tmp_path), str(records))
    assert out['n'] == 10 and out['think_slot'] == 1 and out['think_rate'] == pytest.approx(1 / 4)
    assert {'acc_think', 'acc_greedy', 'acc_random', 'acc_plain', 'nll_plain'} <= out.keys()
    assert len(out['mi_bits_with_path']) == 2 and all(0 <= v <= 1.6 for v in out['mi_bits_with_path'])
    assert think_answers.answers(str(tmp_path), str(records), n_slot=0)['thought_share'] <= 1
    r = run_script('think_answers.py', tmp_path, records, '--limit=4')  # as a script, and its one-line errors
    assert r.returncode == 0 and json.loads(r.stdout)['n'] == 4, r.stderr
    r = run_script('think_answers.py', addition / 'sft', records)
    assert r.returncode != 0 and 'needs a think run' in r.stderr and 'Traceback' not in r.stderr


def test_untied_think_rows_choose_uniformly_at_first_and_leave_reading_alone():
    """untied_think: the text logits are the tied model's, the think logits start at zero (a
    uniform slot choice), and the policy gradient of a slot choice moves think_out, not the
    think tokens' embedding rows (tied, it moves them: choosing would change what they mean)."""
    tied = tiny_think(seed=4)
    untied = tiny_think(seed=4, untied_think=True)
    missing, _ = untied.load_state_dict(tied.state_dict(), strict=False)
    assert missing == ['think_out.weight']
    prompts, truth = torch.tensor([[0, 1], [2, 0]]), torch.tensor([[1], [2]])
    logits = untied(prompts)[0]
    assert torch.allclose(logits[..., :TEXT_VOCAB], tied(prompts)[0][..., :TEXT_VOCAB], atol=1e-6)
    assert (logits[..., TEXT_VOCAB:] == 0).all()
    for model in (tied, untied):
        tokens, kinds = think.slot_rollout(model, prompts, truth, 1)
        terms = think.policy_terms(model, tokens, kinds, True, slot=True)
        model.zero_grad()
        think.policy_loss(terms['action'], torch.tensor([1.0, -1.0])).backward()
        rows = model.lm_head.weight.grad[TEXT_VOCAB:]
        if model is tied:
            assert rows.abs().sum() > 0
        else:
            assert rows.abs().sum() == 0 and model.think_out.weight.grad.abs().sum() > 0


def test_the_plain_batch_can_come_from_another_dataset_of_the_same_vocabulary(addition, tmp_path, monkeypatch):
    """sft_dataset: the plain loss reads its batches from that dataset (3 records of the same
    vocabulary here; the run's own has 200), and a dataset of another vocabulary is a one-line error."""
    import shutil
    other = tmp_path / 'other'
    shutil.copytree(addition / 'think', other)
    (other / 'train.jsonl').write_text(''.join(json.dumps({'prompt': f'1{i}+11=', 'completion': f'02{i}\n'}) + '\n'
                                               for i in range(3)))
    sizes = []
    batch = T.Dataset.batch
    monkeypatch.setattr(T.Dataset, 'batch', lambda self, *a: sizes.append(len(self.splits['train'])) or batch(self, *a))
    think.train_rl(rl_config(addition, tmp_path / 'ok', f'--sft_dataset={other}'))
    assert sizes and set(sizes) == {3}  # without sft_dataset: the run's own 200
    with pytest.raises(T.UserError, match='must have the vocabulary'):
        think.train_rl(rl_config(addition, tmp_path / 'bad', f'--sft_dataset={addition / "plain"}'))
