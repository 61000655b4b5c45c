"""testtime.py: the vote's tie rule and normalisation, Marco-o1's confidence on a hand-made
distribution, budget forcing replacing exactly the closing tag and stopping at the maximum,
MCTS concentrating its visits on the rewarded branch, and every method equal to plain sampling
when its budget is 1."""

import json
import random

import pytest
import torch

import configurator as C
import testtime as TT
import train as T
import vocab
from conftest import load_script, tiny_args
from model import sample_batch


def test_vote_ties_go_to_the_first_answer_and_answers_are_normalised():
    assert TT.vote(['3', '4', '4', '3']) == '3' and TT.vote(['4', '3', '3', '4']) == '4'
    assert TT.vote([None, '7', None]) == '7' and TT.vote([None, None]) is None
    answers = [vocab.final_answer(t) for t in ('#### 1,000', '<think>x</think> 1000.0', '#### 999')]
    assert answers == ['1000', '1000', '999'] and TT.vote(answers[::-1]) == '1000'  # two votes beat one


def test_confidence_renormalises_over_the_top_five():
    p = torch.tensor([[0.4, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05]])
    logits = p.log() + 3.0  # any shift: a softmax of these is p
    top5 = 0.4 + 0.2 + 0.1 + 0.1 + 0.1
    assert TT.confidence(logits, torch.tensor([1]))[0].item() == pytest.approx(0.2 / top5)
    assert TT.confidence(logits, torch.tensor([6]))[0].item() == pytest.approx(0.05 / top5)  # outside the top 5
    assert TT.confidence(logits, torch.tensor([0]))[0].item() > TT.confidence(logits, torch.tensor([2]))[0].item()


IDS = {'open': 10, 'close': 11, 'end': 12}


def scripted(chooser, wanted, V=13):
    """Run a Chooser on logits whose argmax is each token of `wanted` in turn (greedy)."""
    out = []
    for token in wanted:
        logits = torch.full((1, V), -5.0)
        logits[0, token] = 5.0
        out.append(int(chooser(logits)[0, 0]))
    return out


def test_budget_forcing_replaces_only_the_closing_tag_and_stops_at_the_maximum():
    # the model wants to close after one thought token: below min_think=3, </think> becomes
    # 'Wait' (two tokens, 7 8), then the model goes on; its second </think> is allowed
    model_wants = [10, 1, 11, 2, 11, 5, 12]
    got = scripted(TT.Chooser(1, IDS, 0.0, min_think=3, wait=[7, 8]), model_wants)
    assert got == [10, 1, 7, 8, 11, 5, 12]  # the Wait's second token was forced over the model's 2
    # at min_think=1 nothing is replaced; without a <think> nothing is counted or forced
    assert scripted(TT.Chooser(1, IDS, 0.0, min_think=1, wait=[7, 8]), model_wants) == model_wants
    assert scripted(TT.Chooser(1, IDS, 0.0, min_think=5, wait=[7]), [1, 11, 3]) == [1, 11, 3]
    # max_think=2: after two thinking tokens </think> is forced, whatever the model wants
    long = [10, 1, 2, 3, 4, 11, 5, 12]
    chooser = TT.Chooser(1, IDS, 0.0, max_think=2)
    assert scripted(chooser, long) == [10, 1, 2, 11, 4, 11, 5, 12] and chooser.forced == [1]
    # reflection: the first </think> becomes the reflection, the second closes
    assert scripted(TT.Chooser(1, IDS, 0.0, reflect=[6, 7]), [10, 1, 11, 3, 11, 5]) == [10, 1, 6, 7, 11, 5]


def test_a_chooser_resumes_a_partial_thought():
    """A prompt that ends inside <think> (an MCTS node) is continued as the thought it is: its
    thinking tokens count towards min_think and max_think, and a reflection already written is
    not written again."""
    chooser = TT.Chooser(1, IDS, 0.0, min_think=3, wait=[7]).resume([[0, 10, 1, 2]])
    assert scripted(chooser, [11, 11, 5]) == [7, 11, 5]  # 2 thought tokens + Wait = 3: then it may close
    chooser = TT.Chooser(1, IDS, 0.0, max_think=2).resume([[0, 10, 1, 2]])
    assert scripted(chooser, [3, 5]) == [11, 5]  # already at the maximum: closed at once
    assert scripted(TT.Chooser(1, IDS, 0.0, reflect=[6, 7]).resume([[10, 1]]), [11, 5]) == [6, 7]
    assert scripted(TT.Chooser(1, IDS, 0.0, reflect=[6, 7]).resume([[10, 1, 6, 7, 2]]), [11, 5]) == [11, 5]
    assert scripted(TT.Chooser(1, IDS, 0.0, reflect=[6, 7]).resume([[10, 1, 11, 5]]), [11, 5]) == [11, 5]
    # a reflection cut off midway (a mini-step ends anywhere) is finished first, then not written again
    chooser = TT.Chooser(1, IDS, 0.0, reflect=[6, 7, 8]).resume([[10, 1, 6]])
    assert scripted(chooser, [2, 2, 11, 5]) == [7, 8, 11, 5]
    # thinking tokens count across thoughts, as force() counts them
    chooser = TT.Chooser(1, IDS, 0.0, max_think=3).resume([[10, 1, 2, 11, 10]])
    assert scripted(chooser, [3, 4, 5]) == [3, 11, 5]


def test_an_mcts_action_ends_at_the_end_of_text():
    """A step runs to a newline, but a completion that ends first ends the action there: the
    node holds no token after <|endoftext|>."""
    class Ends(ToySampler):
        def sample(self, prompts, max_new=None, end_id=None, temperature=None):
            comps = [[1, 12, 2, 2] if end_id == 9 else [2, 12] for _ in prompts]
            return comps, [[0.5] * len(c) for c in comps], [[0.0] * len(c) for c in comps]
    best, root = TT.mcts(Ends(0), [0], simulations=1, branching=2, action='step')
    assert [ch.prefix for ch in root.children] == [[1, 12], [1, 12]] and all(ch.done for ch in root.children)
    assert best == [1, 12]


class ToySampler:
    """Continuations of tokens 1 or 2 (the rows of one call alternate their first token, so
    every expansion offers both; the rest at random), then the end."""
    max_new = 6
    ids = {'end': 12}

    class tok:
        @staticmethod
        def encode(text):
            return [9]

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def sample(self, prompts, max_new=None, end_id=None, temperature=None):
        comps, n, offset = [], min(max_new or self.max_new, 2), self.rng.randrange(2)
        for b in range(len(prompts)):
            row = [1 + (b + offset) % 2] + [self.rng.choice([1, 2]) for _ in range(n - 1)]
            comps.append(row + ([12] if (max_new or self.max_new) > 2 else []))
        return comps, [[0.5] * len(c) for c in comps], [[0.0] * len(c) for c in comps]


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_mcts_visits_concentrate_on_the_rewarded_branch(seed):
    def reward(completion, conf):  # the branch whose first token is 1
        return float(completion[0] == 1)
    best, root = TT.mcts(ToySampler(seed), [0], simulations=30, branching=2, action='ministep', ministep=1,
                         reward=reward)
    visits = {1: 0, 2: 0}
    for child in root.children:
        visits[child.prefix[0]] += child.visits
    assert best[0] == 1 and visits[1] > 3 * visits[2]
    # with the reward flipped the search goes the other way
    best, root = TT.mcts(ToySampler(seed), [0], 30, 2, 'ministep', 1, reward=lambda c, _: float(c[0] == 2))
    assert best[0] == 2


class TightSampler(ToySampler):
    """Steps of 1 to 3 tokens; a call whose longest prompt plus its new tokens exceeds the
    block (prompt [0] + max_new) fails, as model.sample_batch does."""
    def sample(self, prompts, max_new=None, end_id=None, temperature=None):
        new = max_new or self.max_new
        assert max(map(len, prompts)) + new <= 1 + self.max_new, 'past the block'
        comps = [[self.rng.choice([1, 2]) for _ in range(self.rng.randint(1, 3) if end_id else new)] for _ in prompts]
        return comps, [[0.5] * len(c) for c in comps], [[0.0] * len(c) for c in comps]


@pytest.mark.parametrize('seed', range(5))
def test_mcts_rollouts_stay_inside_the_block(seed):
    """Children of different lengths are rolled out each with the tokens left to it: no call
    runs past the block, and every completion is max_new long (the toy never ends early)."""
    best, root = TT.mcts(TightSampler(seed), [0], simulations=6, branching=3, action='step')
    assert len(best) == TightSampler.max_new
    assert {len(ch.best[1]) for ch in root.children} == {TightSampler.max_new}

@pytest.fixture(scope='module')
def arith_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('tt')
    load_script('data/arith/prepare.py', 'prepare_arith').prepare(str(tmp / 'data'), train_size=64, val_size=8)
    T.train(C.load_config(tiny_args(tmp / 'data', tmp / 'run', '--block_size=192', '--max_iters=2',
                                    '--eval_interval=2')))
    return tmp


def sampler_of(run, **kw):
    ckpt = T.load_checkpoint(str(run / 'run' / 'ckpt.pt'))
    model, tok = T.model_from_checkpoint(ckpt).eval(), vocab.Tokenizer(ckpt['meta'])
    return TT.Sampler(model, tok, 24, **kw), model, tok


def test_methods_with_a_budget_of_one_are_plain_sampling(arith_run):
    s, model, tok = sampler_of(arith_run)
    records = vocab.read_jsonl(arith_run / 'data' / 'val.jsonl')[:4]
    prompts = [tok.encode(r['prompt']) for r in records]
    torch.manual_seed(0)
    with torch.no_grad():
        seq, _, mask = sample_batch(model, prompts, 24, 1.0, 0, s.ids['end'])
        plain = [row[:int(n)] for row, n in zip(seq[:, seq.size(1) - 24:].tolist(), mask.sum(1).tolist())]
        torch.manual_seed(0)
        ours = s.sample(prompts)[0]
        assert ours == plain  # no forcing: exactly model.sample_batch
        torch.manual_seed(0)
        pool = TT.sample_pool(s, [{**r, 'ids': p} for r, p in zip(records, prompts)], 1)
        assert [p[0][0] for p in pool] == [s.answer(c) for c in plain]  # majority@1 = best-of-1 = one sample
        assert [TT.vote([p[0][0]]) for p in pool] == [p[0][0] for p in pool]
        greedy = TT.Sampler(model, tok, 24, temperature=0.0)
        g = greedy.sample(prompts[:1])[0][0]
        assert greedy.tokens == len(g) and greedy.forward_tokens >= len(prompts[0]) + len(g)  # what was counted
        searched, _ = TT.mcts(TT.Sampler(model, tok, 24, temperature=0.0), prompts[0], 1, branching=1)
        assert searched == g  # one simulation, one branch, greedy: the greedy completion
        budget = TT.Sampler(model, tok, 24, min_think=0, max_think=None)
        torch.manual_seed(0)
        assert budget.sample(prompts)[0] == plain  # budget forcing with no budget: plain sampling


def test_the_command_line_writes_a_row_per_setting(arith_run, capsys):
    out = arith_run / 'tt.jsonl'
    TT.main([str(arith_run / 'run'), '--method=majority', '--k=1,2', '--limit=3', '--max_new_tokens=16', f'--out={out}'])
    rows = [json.loads(line) for line in open(out)]
    assert [r['k'] for r in rows] == [1, 2] and all(0 <= r['accuracy'] <= 1 for r in rows)
    assert rows[1]['tokens_per_question'] == pytest.approx(2 * rows[0]['tokens_per_question'], rel=1e-6)
    TT.main([str(arith_run / 'run'), '--method=mcts', '--simulations=1', '--branching=2', '--limit=2',
             '--max_new_tokens=12', '--action=ministep', '--ministep=4', f'--out={out}'])
    assert json.loads(open(out).readlines()[-1])['simulations'] == 1
    with pytest.raises(SystemExit):
        TT.main([str(arith_run / 'run'), '--k=0'])


def test_sample_py_votes_and_forces_the_budget(arith_run, capsys):
    import sample
    question = vocab.read_jsonl(arith_run / 'data' / 'val.jsonl')[0]['prompt']
    (arith_run / 'q.txt').write_text(question)
    sample.main([f'--out_dir={arith_run / "run"}', f'--start=FILE:{arith_run / "q.txt"}', '--majority=3',
                 '--max_new_tokens=12', '--max_think=2'])
    out = capsys.readouterr().out
    assert 'majority vote over 3 samples:' in out and out.count('---------------') == 3


def test_sample_py_votes_within_the_block(arith_run, capsys):
    """sample.py's default max_new_tokens (500) is more than the block holds: the vote's samples
    stop at the block instead of failing."""
    import sample
    question = vocab.read_jsonl(arith_run / 'data' / 'val.jsonl')[0]['prompt']
    (arith_run / 'q2.txt').write_text(question)
    sample.main([f'--out_dir={arith_run / "run"}', f'--start=FILE:{arith_run / "q2.txt"}', '--majority=2'])
    assert 'majority vote over 2 samples:' in capsys.readouterr().out
