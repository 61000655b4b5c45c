"""Tests for reasoning_tokens.py: layout, causality, where gradient flows, K=0 == GPT,
generation, the loss (and the stream-shift bug that fakes a gain), FLOPs. Tiny and fast."""

import math

import pytest
import torch
from torch.nn import functional as F

from conftest import assert_greedy
from model import GPT, GPTConfig, lm_loss
from reasoning_tokens import ReasoningTokensConfig, ReasoningTokensGPT

V, BS = 20, 16
TINY = dict(block_size=BS, vocab_size=V, n_layer=2, n_head=2, n_embd=32, dropout=0.0)



def make(K, seed=0, cls=ReasoningTokensGPT, **kw):
    torch.manual_seed(seed)
    model = cls(ReasoningTokensConfig(n_reasoning=K, **{**TINY, **kw}))
    if 'wse' in model.transformer:  # zero at init; make the slots differ so slot bugs show
        torch.nn.init.normal_(model.transformer.wse.weight, std=0.5)
    return model


def tokens(B, T, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(V, (B, T), generator=g)


def spec_logits(model, idx):
    """Logits of every slot (B, T, S, V), the stream built straight from the spec (not with
    model.stream): group t = g_t r_t^1..r_t^K, each wte(x_t) + wpe(t or stream index) + wse(k)."""
    c, tr = model.config, model.transformer
    S = c.n_reasoning + 1
    rows = []
    for t in range(idx.size(1)):
        for k in range(S):
            v = tr.wte.weight[idx[:, t]] + tr.wpe.weight[t if c.group_positions else t * S + k]
            if 'wse' in tr:
                v = v + tr.wse.weight[k]
            rows.append(v)
    x = torch.stack(rows, dim=1)
    return model.head(model.blocks(x)).view(idx.size(0), idx.size(1), S, -1)


class StreamShiftGPT(ReasoningTokensGPT):
    """The classic bug, on purpose: next-token targets over the interleaved stream. g_t is then
    trained to predict r_t^1, a copy of x_t that sits in its own input."""

    def forward(self, idx, targets=None):
        logits = self.head(self.blocks(self.stream(idx)))  # (B, T*S, V)
        loss = None
        if targets is not None:
            s = idx.repeat_interleave(self.S, dim=1)
            loss = lm_loss(logits, torch.cat([s[:, 1:], targets[:, -1:]], dim=1))
        return logits[:, ::self.S], loss


def loss_is_g_slot_ce(model, idx, targets):
    """The check: the loss is the cross-entropy of g-slot logits against x_{t+1}."""
    _, loss = model(idx, targets)
    want = F.cross_entropy(spec_logits(model, idx)[:, :, 0].reshape(-1, V), targets.reshape(-1), ignore_index=-1)
    return torch.allclose(loss, want, atol=1e-5)


def train_on_random_tokens(model, steps=40):
    """Mean training loss of the last 10 of `steps` AdamW steps on fresh uniform random tokens.
    Nothing is predictable: the best loss is log(V). Only a leak can go far below it."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    losses = []
    for step in range(steps):
        x = tokens(8, BS + 1, seed=100 + step)
        _, loss = model(x[:, :-1], x[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return sum(losses[-10:]) / 10


# --- config and layout ------------------------------------------------------------------

def test_config_rejects_negative_k():
    with pytest.raises(ValueError):
        ReasoningTokensConfig(n_reasoning=-1, **TINY)


@pytest.mark.parametrize('K,gp', [(1, True), (3, True), (2, False)])
def test_logits_are_the_g_slots_of_the_spec_stream(K, gp):
    model = make(K, group_positions=gp)
    idx = tokens(2, BS)
    logits, _ = model(idx)
    assert logits.shape == (2, BS, V)
    assert torch.allclose(logits, spec_logits(model, idx)[:, :, 0], atol=1e-5)


def test_stream_positions_need_block_size_times_slots_rows():
    model = make(3, group_positions=False)
    assert model.transformer.wpe.weight.shape == (BS * 4, 32)
    model(tokens(1, BS))  # the full block fits


# --- causality and gradient flow --------------------------------------------------------

@pytest.mark.parametrize('K,gp', [(1, True), (3, True), (1, False), (3, False)])
def test_causal_in_text_positions(K, gp):
    model = make(K, group_positions=gp)
    idx = tokens(2, BS)
    logits, _ = model(idx)
    for t in (0, 5, BS - 2):
        changed = idx.clone()
        changed[:, t + 1:] = (changed[:, t + 1:] + 1) % V  # every later token differs
        logits2, _ = model(changed)
        assert torch.allclose(logits[:, :t + 1], logits2[:, :t + 1], atol=1e-6)
        assert not torch.allclose(logits[:, t + 1:], logits2[:, t + 1:], atol=1e-4)


@pytest.mark.parametrize('K', [1, 3])
def test_r_slots_get_gradient_only_from_later_g_slots(K):
    model = make(K)
    S, T, t = K + 1, 8, 3
    idx, y = tokens(1, T), tokens(1, T, seed=2)
    seen = {}

    def keep_stream_input(module, inp, out):  # transformer.drop's output is the stream input
        out.retain_grad()
        seen['x'] = out
    model.transformer.drop.register_forward_hook(keep_stream_input)

    def grad_from_target_at(p):  # the loss term of x_{p+1} alone
        targets = torch.full_like(idx, -1)
        targets[0, p] = y[0, p]
        model.zero_grad()
        _, loss = model(idx, targets)
        loss.backward()
        assert seen['x'].shape == (1, T * S, 32)
        return seen['x'].grad[0]

    g = grad_from_target_at(t)  # predicted at g_t
    r_t = slice(t * S + 1, (t + 1) * S)
    assert g[t * S].abs().sum() > 0  # g_t itself does get gradient
    assert torch.equal(g[r_t], torch.zeros_like(g[r_t]))  # r_t exactly none
    assert torch.equal(g[(t + 1) * S:], torch.zeros_like(g[(t + 1) * S:]))  # nor anything later
    g = grad_from_target_at(t + 1)  # x_{t+2}, predicted at g_{t+1}, which attends to r_t
    assert (g[r_t].abs().sum(dim=-1) > 0).all()


# --- K = 0 is the GPT; generation --------------------------------------------------------

@pytest.mark.parametrize('gp', [True, False])
def test_k0_is_exactly_gpt(gp):
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(**TINY))
    model = make(0, seed=1, group_positions=gp)
    sd, msd = gpt.state_dict(), model.state_dict()
    assert list(sd) == list(msd)
    assert all(sd[k].shape == msd[k].shape for k in sd)
    model.load_state_dict(sd)
    idx, y = tokens(2, BS), tokens(2, BS, seed=2)
    (a, la), (b, lb) = gpt(idx, y), model(idx, y)
    assert torch.allclose(a, b, atol=1e-6) and torch.allclose(la, lb, atol=1e-6)
    gpt.eval(), model.eval()
    out = model.generate(idx[:, :4], 20, temperature=0)
    assert_greedy(out, 4, lambda prefix: gpt(prefix[:, -BS:])[0][:, -1])
    assert model.flops_per_token() == gpt.flops_per_token()


@pytest.mark.parametrize('K,gp', [(1, True), (3, True), (3, False)])
def test_generate_greedy_equals_recomputation(K, gp):
    model = make(K, group_positions=gp).eval()
    prompt = tokens(2, 5)
    out = model.generate(prompt, 2 * BS, temperature=0)  # goes past block_size
    assert out.shape == (2, 5 + 2 * BS) and torch.equal(out[:, :5], prompt)
    assert_greedy(out, 5, lambda prefix: model(prefix[:, -BS:])[0][:, -1])


@pytest.mark.parametrize('K', [1, 3])
def test_cached_logits_equal_forward(K):
    model = make(K).eval()
    idx = tokens(2, 10)
    full, _ = model(idx)
    cache = model.new_cache(2)
    assert cache.max_len == BS * (K + 1)
    with torch.no_grad():
        a = model.next_token_logits(idx[:, :7], cache, 7)
        b = model.next_token_logits(idx[:, :8], cache, 1)
        c = model.next_token_logits(idx[:, :10], cache, 2)
    for got, t in ((a, 6), (b, 7), (c, 9)):
        assert torch.allclose(got, full[:, t], atol=1e-5)


# --- the loss, and the stream-shift bug -------------------------------------------------

@pytest.mark.parametrize('K', [1, 3])
def test_loss_is_g_slot_cross_entropy(K):
    model = make(K)
    idx, y = tokens(2, BS), tokens(2, BS, seed=2)
    y[0, :3] = -1  # ignored targets
    assert loss_is_g_slot_ce(model.train(), idx, y)
    assert loss_is_g_slot_ce(model.eval(), idx, y)
    # the check tells the stream-shift bug apart
    assert not loss_is_g_slot_ce(make(K, cls=StreamShiftGPT), idx, y)


def test_random_tokens_stay_near_log_v():
    """A copy is learnt in a few dozen steps; if the loss could see one, it would fall far
    below log(V) on random tokens. The right loss cannot."""
    assert train_on_random_tokens(make(1)) > 0.9 * math.log(V)
    # and the check catches the bug: g_t learns to copy x_t, the loss falls toward log(V)/2
    assert train_on_random_tokens(make(1, cls=StreamShiftGPT)) < 0.75 * math.log(V)


def test_reasoning_loss_in_training_only():
    K = 2
    model = make(K, reasoning_loss=True)
    idx, y = tokens(2, BS), tokens(2, BS, seed=2)
    y[1, -4:] = -1
    per_slot = [F.cross_entropy(s.reshape(-1, V), y.reshape(-1), ignore_index=-1)
                for s in spec_logits(model, idx).unbind(2)]
    _, train_loss = model.train()(idx, y)
    _, eval_loss = model.eval()(idx, y)
    # each slot has the same targets, so the mean over all slots = mean of per-slot means
    assert torch.allclose(train_loss, torch.stack(per_slot).mean(), atol=1e-5)
    assert torch.allclose(eval_loss, per_slot[0], atol=1e-5)
    assert not torch.allclose(train_loss, eval_loss, atol=1e-3)


# --- cost ---------------------------------------------------------------------------------

def test_flops_per_text_token():
    f0, f1, f3 = (make(K).flops_per_token() for K in (0, 1, 3))
    assert 2.0 < f1 / f0 < 2.5  # twice the slots, each attending over a twice longer stream
    assert 4.0 < f3 / f0 < 6.0
    m = make(1)
    c = m.config
    assert f1 == 2 * (6 * m.get_num_params() + 12 * c.n_layer * c.n_embd * BS * 2)
    assert m.get_num_params() == make(0).get_num_params() + 2 * 32  # the slot embedding counts
