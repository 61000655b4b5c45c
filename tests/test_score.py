"""score.py on reasoning chains: the final answer of a chain, and each step's accuracy with the
earlier steps given, checked against a scripted model whose every output is known."""

import random

import pytest
import torch

import score
import vocab
from conftest import load_script

A = load_script('data/arith/prepare.py', 'prepare_arith')


def records(n=6):
    rng = random.Random(0)
    return [A.with_text(A.make_problem(rng, steps=2, question='short', max_operand=99, max_multiplier=9), 'think')
            for _ in range(n)]


class Scripted:
    """generate() continues each prefix with the record's own next line, except that step 2 of
    the records in `wrong` is written with its result off by one."""
    def __init__(self, tok, records, wrong):
        self.tok, self.records, self.wrong = tok, records, wrong

    def generate(self, x, max_new_tokens, temperature=0):
        rows = []
        for ids in x.tolist():
            text = vocab.render(ids, self.tok, mode='plain')
            n, r = next((n, r) for n, r in enumerate(self.records) if text.startswith(r['prompt']))
            done = text[len(r['prompt']):]
            k = done.count('\n') - 1  # the <think> line, then one line per step given
            line = r['steps'][k]
            if k == 1 and n in self.wrong:
                lhs, result = line.split('=')
                line = f"{lhs}={int(result) + 1}"
            out = self.tok.encode(line + '\n')[:max_new_tokens]
            rows.append(ids + out + [0] * (max_new_tokens - len(out)))
        return torch.tensor(rows)


def test_step_prefixes_stop_before_each_step():
    r = records(1)[0]
    first, second = score.step_prefixes(r, 1)
    assert first == r['prompt'] + vocab.THINK_OPEN + '\n'
    assert second == first + r['steps'][0] + '\n'
    with pytest.raises(vocab.UserError, match="record 1's step 2"):
        score.step_prefixes({**r, 'steps': [r['steps'][0], '1+1=3']}, 1)


def test_step_accuracy_counts_each_step_with_the_earlier_ones_given():
    rows = records(6)
    tok = vocab.Tokenizer(A.make_meta({'train': rows}, 'think'))
    model = Scripted(tok, rows, wrong={0, 3, 4})
    assert score.step_accuracy(model, tok, rows, batch_size=4) == [1.0, 0.5]
    assert score.step_accuracy(Scripted(tok, rows, wrong=set()), tok, rows) == [1.0, 1.0]


def test_a_chain_is_scored_by_its_final_answer():
    r = records(1)[0]
    text = r['completion'].replace(vocab.END_OF_TEXT, '')
    assert score.predicted_answer(text, r, '=') == r['answer']
    assert score.predicted_answer(text.replace('#### ', '#### 1'), r, '=') != r['answer']
    plain = {'prompt': '1+1=', 'completion': '2\n', 'answer': '2'}
    assert score.predicted_answer('2\nmore', plain, '=') == '2'


# -----------------------------------------------------------------------------
# teacher-forced accuracy and filler truncation


class Planted(torch.nn.Module):
    """A model whose prediction at position t of a sequence of length L is planted[L][t]."""
    def __init__(self, tok, planted):
        super().__init__()
        self.tok, self.planted = tok, planted

    def forward(self, x):
        pred = torch.tensor([self.tok.encode(self.planted[x.size(1)])] * x.size(0))
        return torch.nn.functional.one_hot(pred, len(self.tok.stoi)).float(), None


def test_forced_accuracy_counts_body_and_answer_tokens_by_hand():
    chars = 'q.-=abcx\n'
    tok = vocab.Tokenizer({'vocab_size': len(chars), 'tokenizer': 'char', 'stoi': {c: i for i, c in enumerate(chars)},
                           'itos': dict(enumerate(chars)), 'special_tokens': {}})
    rows = [{'prompt': 'q', 'completion': 'a.-=b\n'},   # body a . - : right wrong right; answer b, newline right
            {'prompt': 'q', 'completion': 'bb=a\n'},    # body b b: right wrong; answer a right, newline wrong
            {'prompt': 'qq=', 'completion': 'a\n'},     # no body; answer a, newline right
            {'prompt': 'c', 'completion': 'xx=a\n'}]    # the same length as the second: the same planted row
    # the marker is mispredicted in the first row ('x' for '='): it is not scored, so the answer stays right;
    # the last position predicts past the end: unused
    planted = {7: 'ax-xb\nx', 6: 'bc=aax', 5: 'q=a\nx'}
    # the fourth row: x x predicted b c (both wrong), a right, the newline predicted a (wrong)
    for batch_size in (1, 2):  # the two rows of length 6 in two batches, then in one
        got = score.forced_accuracy(Planted(tok, planted), tok, rows, batch_size=batch_size)
        assert got == pytest.approx({'body': 3 / 7, 'body_punctuation': 1 / 2, 'body_other': 2 / 5, 'answer': 2 / 4})


def test_keep_filler_keeps_the_first_dots_before_the_marker():
    assert score.keep_filler('ab:.....=', 2) == 'ab:..='
    assert score.keep_filler('ab:.....=', 0) == 'ab:='
    assert score.keep_filler('ab:.....=', 9) == 'ab:.....='
    assert score.keep_filler('ab:=', 3) == 'ab:='
    assert score.keep_filler('a.b:...', 1) == 'a.b:.'  # no marker at the end: the trailing dots


def test_chosen_answers_pick_the_likeliest_answer_after_the_prompt():
    chars = 'q=ab'
    tok = vocab.Tokenizer({'vocab_size': len(chars), 'tokenizer': 'char', 'stoi': {c: i for i, c in enumerate(chars)},
                           'itos': dict(enumerate(chars)), 'special_tokens': {}})
    rows = [{'prompt': 'q=', 'completion': 'a', 'answer': 'a'}, {'prompt': 'qq=', 'completion': 'b', 'answer': 'b'},
            {'prompt': 'q=', 'completion': 'b', 'answer': 'b'}]
    # the position after '=' (1 in rows of 3, 2 in rows of 4) predicts the planted letter
    assert score.chosen_answers(Planted(tok, {3: 'qaq', 4: 'qqbq'}), tok, rows) == ['a', 'b', 'a']
    assert score.chosen_answers(Planted(tok, {3: 'qbq', 4: 'qqaq'}), tok, rows, batch_size=1) == ['b', 'a', 'b']
    with pytest.raises(vocab.UserError, match='a few answers'):
        score.chosen_answers(None, tok, [{'prompt': 'q', 'answer': str(i)} for i in range(11)])
