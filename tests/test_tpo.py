"""tpo.py: the DPO loss by hand, what the judge sees, the pairs, the log-probs DPO is given,
and a toy on which TPO with the exact-answer judge learns (and unlearns with the pairs swapped)."""

import math

import pytest
import torch

import tpo
import vocab
from model import GPT, GPTConfig, completion_logprobs, sample_batch
from vocab import Tokenizer


def test_dpo_loss_by_hand():
    """margin = beta * ((pi_w - ref_w) - (pi_l - ref_l)); loss = -log sigmoid(margin). Each
    term's sign matters: a chosen completion the policy likes more than the reference lowers
    the loss, a rejected one raises it."""
    pw = torch.tensor([-1.0, -2.0], requires_grad=True)
    pl = torch.tensor([-3.0, -1.0], requires_grad=True)
    rw, rl = torch.tensor([-2.0, -2.0]), torch.tensor([-2.0, -2.0])
    loss, accuracy, margin = tpo.dpo_loss(pw, pl, rw, rl, beta=0.5)
    margins = [0.5 * ((-1 + 2) - (-3 + 2)), 0.5 * ((-2 + 2) - (-1 + 2))]  # 1.0, -0.5
    by_hand = sum(-math.log(1 / (1 + math.exp(-m))) for m in margins) / 2
    assert loss.item() == pytest.approx(by_hand, abs=1e-6)
    assert accuracy.item() == 0.5 and margin.item() == pytest.approx(0.25)
    loss.backward()
    assert (pw.grad < 0).all() and (pl.grad > 0).all()  # descent raises chosen, lowers rejected
    swapped, _, _ = tpo.dpo_loss(pl.detach(), pw.detach(), rl, rw, beta=0.5)
    assert swapped.item() == pytest.approx(sum(-math.log(1 / (1 + math.exp(m))) for m in margins) / 2, abs=1e-6)


@pytest.mark.parametrize('completion, thought, response', [
    ('<think>\n1+2=3\n</think>\n#### 3', '<think>\n1+2=3\n</think>', '\n#### 3'),
    ('#### 3', '', '#### 3'),  # a direct model: all response
    ('<think>\n1+2=3\n#### 3', '<think>\n1+2=3\n#### 3', ''),  # never closed: nothing to judge
    ('<think>a</think>b</think>c', '<think>a</think>', 'b</think>c'),  # the first close ends the thought
    ('1+2=3\n</think>\n#### 3', '1+2=3\n</think>', '\n#### 3'),  # the prompt opened <think>
])
def test_split_thought(completion, thought, response):
    assert tpo.split_thought(completion) == (thought, response)


def test_the_judge_never_sees_the_thought():
    """A judge that would reward a planted token: planted in the wrong completion's thought, it
    must not change which completion is chosen."""
    seen = []

    def judge(prompts, responses):
        seen.extend(responses)
        return [r.count('X') + (vocab.final_answer(r) == '3') for r in responses]
    prompts = ['Q'] * 2
    right, wrong = '<think>\n1+2=3\n</think>\n#### 3', '<think>\nX X X X\n</think>\n#### 4'
    pairs, ties = tpo.preference_pairs(tpo.judge_completions(judge, prompts, [wrong, right]), 2)
    assert pairs == [(1, 0)] and ties == 0
    assert not any('X' in r or vocab.THINK_OPEN in r for r in seen)


def test_exact_judge_reads_the_final_answer():
    judge = tpo.exact_judge([{'prompt': 'p', 'answer': '1,000'}, {'prompt': 'q', 'answer': 7}])
    assert judge(['p', 'p', 'q', 'q', 'q'], ['\n#### 1000', '#### 100', '#### 7.0', '', ' 7 then 8']) == [1, 0, 1, 0, 1]


def test_held_out_measures_by_hand(monkeypatch):
    """Greedy accuracy, thought tokens (tags included), and the share of right answers that
    think whose thought is exactly the record's steps; None for a model that never thinks."""
    records = [{'prompt': f'p{i}', 'answer': a, 'steps': ['1+2=3', '3*2=6'], 'ids': [0]} for i, a in enumerate((6, 6, 6, 5))]
    texts = ['<think>\n1+2=3\n3*2=6\n</think>\n#### 6', '<think>\n1+2=4\n4*2=6\n</think>\n#### 6',
             '#### 6', '<think>\n</think>\n#### 6']
    monkeypatch.setattr(tpo, 'sample_texts', lambda *a, **kw: (texts, [0] * 4))
    tok = Tokenizer({'tokenizer': 'char', 'vocab_size': 20, 'stoi': {c: i for i, c in enumerate('\n #0123456789+*=')},
                     'itos': {}, 'special_tokens': {vocab.THINK_OPEN: 17, vocab.THINK_CLOSE: 18}})
    out = tpo.evaluate(None, tok, records, {'max_new_tokens': 8}, 19)
    assert out['eval_greedy'] == 0.75
    assert out['eval_thought_tokens'] == (15 + 15 + 0 + 3) / 4
    assert out['eval_steps_right_when_right'] == 0.5  # of the two right answers that think
    monkeypatch.setattr(tpo, 'sample_texts', lambda *a, **kw: (['#### 6'] * 4, [0] * 4))
    assert tpo.evaluate(None, tok, records, {'max_new_tokens': 8}, 19)['eval_steps_right_when_right'] is None


def test_pairs_are_best_against_worst_and_ties_are_counted():
    scores = [0, 1, 1, 0,  2, 2, 2, 2,  0.5, -1, 3, -1]
    pairs, ties = tpo.preference_pairs(scores, 4)
    assert pairs == [(1, 0), (10, 9)] and ties == 1  # the first best and the first worst


def tiny_gpt(vocab_size, seed=0, block_size=24):
    torch.manual_seed(seed)
    return GPT(GPTConfig(block_size=block_size, vocab_size=vocab_size, n_layer=1, n_head=1, n_embd=16,
                         bias=False)).eval()


def test_sequence_logprobs_sum_the_completion_tokens_of_unpadded_rows():
    """DPO's log-prob of a completion: its tokens' log-probs summed, each row as if alone (left
    padding and the tokens after the end do not count)."""
    model = tiny_gpt(9)
    prompts, completions = [[1, 2, 3], [4]], [[5, 6, 8], [7, 8]]
    seq, valid, mask = tpo.pad_completions(model, prompts, completions)
    got = tpo.sequence_logprobs(model, seq, valid, mask)
    for i, (p, comp) in enumerate(zip(prompts, completions)):
        logits, _ = model(torch.tensor([p + comp]))
        logp = torch.log_softmax(logits[0, len(p) - 1:-1], -1).gather(-1, torch.tensor(comp)[:, None]).sum()
        assert got[i].item() == pytest.approx(logp.item(), abs=1e-4)
    # and on sample_batch's own rows (padding after the end), as tpo_iteration uses them
    seq, valid, mask = sample_batch(model, prompts * 3, 6, 1.0, 0, 8)
    naive = (completion_logprobs(model, seq, valid, seq.size(1) - mask.size(1)) * mask).sum(1)
    assert torch.allclose(tpo.sequence_logprobs(model, seq, valid, mask), naive)


def test_likelihood_judge_prefers_what_its_model_would_write():
    """The judge scores a response by its judge model's mean log-prob: after a few steps of
    training that model to answer 'a', it ranks '#### a'-like responses first; an empty one last."""
    chars = '#\n ab'
    meta = {'tokenizer': 'char', 'vocab_size': 5, 'stoi': {c: i for i, c in enumerate(chars)},
            'itos': dict(enumerate(chars)), 'special_tokens': {vocab.END_OF_TEXT: 5}}
    meta['vocab_size'] = 6
    tok = Tokenizer(meta)
    model = tiny_gpt(6)
    target = tok.encode('b#### a\n') + [5]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-2)
    for _ in range(60):
        _, loss = model(torch.tensor([target[:-1]]), torch.tensor([target[1:]]))
        loss.backward()
        opt.step()
        opt.zero_grad()
    judge = tpo.likelihood_judge(model.eval(), tok, 5)
    good, bad, empty = judge(['b', 'b', 'b'], ['\n#### a\n', '#### b', ''])
    assert good > bad > empty == float('-inf')
    # a response longer than the judge's block (24) is cut to it, beside a short one
    long, short = judge(['b', 'b'], ['#### ' + 'a' * 40, '#### a'])
    assert math.isfinite(long) and short == pytest.approx(good, abs=1e-4)


# a toy with the exact-answer judge: prompt 'a' is answered 1, 'b' 2; the prompt opens <think>,
# a completion thinks (any tokens), closes </think>, and its response's first number is its answer
TOY_CHARS = 'ab12'
TOY_META = {'tokenizer': 'char', 'vocab_size': 7, 'stoi': {ch: i for i, ch in enumerate(TOY_CHARS)},
            'itos': dict(enumerate(TOY_CHARS)),
            'special_tokens': {vocab.THINK_OPEN: 4, vocab.THINK_CLOSE: 5, vocab.END_OF_TEXT: 6}}
TOY_TOK = Tokenizer(TOY_META)
TOY_RECORDS = [{'prompt': p + vocab.THINK_OPEN, 'answer': a, 'ids': TOY_TOK.encode(p + vocab.THINK_OPEN)}
               for p, a in (('a', 1), ('b', 2))]


def toy_learning(monkeypatch, iterations=30, swap=False):
    """tpo_iteration on the toy (the exact judge, 16 samples of each prompt, 4 copies of each);
    returns the sampled accuracy per iteration. swap: every pair's chosen and rejected swapped."""
    if swap:
        pairs = tpo.preference_pairs
        monkeypatch.setattr(tpo, 'preference_pairs', lambda *a: ([(l, w) for w, l in pairs(*a)[0]], pairs(*a)[1]))
    policy = tiny_gpt(7)
    c = {**tpo.DEFAULTS, 'samples': 16, 'max_new_tokens': 4, 'beta': 2.0, 'batch_size': 8, 'epochs': 4}
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    accuracy = []
    for _ in range(iterations):
        optimizer = torch.optim.AdamW(policy.parameters(), lr=3e-3, weight_decay=0.0)
        row = tpo.tpo_iteration(policy, optimizer, TOY_RECORDS * 4, TOY_TOK, tpo.exact_judge(TOY_RECORDS), c, 6, g)
        accuracy.append(row['sample_accuracy'])
    return accuracy


def test_tpo_learns_a_toy_with_the_exact_judge(monkeypatch):
    """Sampled accuracy rises from about a fifth (a right digit first after the prompt's
    <think>, or after a </think>) to most samples in 30 iterations; with every pair swapped it
    falls to about nothing. The judge reads what follows </think> only."""
    acc = toy_learning(monkeypatch)
    start, end = sum(acc[:3]) / 3, sum(acc[-5:]) / 5
    assert start < 0.3 and end > 0.7, acc
    monkeypatch.undo()
    acc = toy_learning(monkeypatch, swap=True)
    assert sum(acc[-5:]) / 5 < 0.05, acc


def test_config_errors():
    with pytest.raises(vocab.UserError, match='init_from is required'):
        tpo.load_config([])
    with pytest.raises(vocab.UserError, match='judge_from'):
        tpo.load_config(['--init_from=x', '--judge=likelihood'])
    with pytest.raises(vocab.UserError, match='samples must be >= 2'):
        tpo.load_config(['--init_from=x', '--samples=1'])
    with pytest.raises(vocab.UserError, match='judge must be one of'):
        tpo.load_config(['--init_from=x', '--judge=gpt4'])
