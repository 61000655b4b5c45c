"""quietstar.py: the parallel thought passes equal thinking at each position with an ordinary
causal forward (logits, losses, gradients), causality, the zero-initialised mixing head is the
base model, REINFORCE by hand, markers never sampled, generation, fine-tuning from a train.py
checkpoint, sample.py --show_thoughts. Tiny and fast."""

import json
import shutil

import pytest
import torch
from torch.nn import functional as F

import bench
import quietstar as Q
import vocab
import configurator as C
import train as T
from conftest import ROOT, assert_greedy, read_log, run_script, tiny_args
from model import GPT, lm_loss


V = 12  # 10 text tokens, then <startofthought> = 10, <endofthought> = 11


def tiny(seed=0, **kw):
    torch.manual_seed(seed)
    args = dict(block_size=32, vocab_size=V, n_layer=2, n_head=2, n_embd=16, bias=False, thought_len=3, n_true=3,
                thoughts_per_position=2, start_id=10, end_id=11, clamp_rewards=False)
    model = Q.QuietSTaRGPT(Q.QuietSTaRConfig(**{**args, **kw}))
    return model


def random_mixing(model):
    """A trained-looking mixing head, so w != 0 and the thoughts matter."""
    with torch.no_grad():
        model.mix[-1].weight.normal_(0, 0.5)
        model.mix[-1].bias.fill_(0.3)
    return model


def gumbel(model, B, T, seed=1):
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(model.config.thought_len, B, T, V, generator=g)
    return -torch.log(-torch.log(u))


def serial_reference(model, idx, targets, noise):
    """Think at each position by itself: the whole sequence x<=i, <start>, thought, <end>, true
    tokens through an ordinary causal forward (no mask, no cache). Returns (logits of sample 0,
    loss, mixed next-token NLL, policy loss), computed with plain loops."""
    c = model.config
    B, T = idx.shape
    S, n, A = c.thoughts_per_position, c.thought_len, c.n_true

    def causal(seq, pos):
        return model.blocks(model.embed(seq[None], torch.tensor(pos).clamp(max=c.block_size - 1)))[0]

    h_text = [causal(idx[b], list(range(T))) for b in range(B)]
    nlls, next_nlls, rewards, logps = [], [], {}, {}
    logits0 = torch.zeros(B, T, V)
    for s in range(S):
        for b in range(B):
            for i in range(T):
                seq, pos, logp = list(idx[b, :i + 1]) + [c.start_id], list(range(i + 2)), torch.zeros(())
                for k in range(2, n + 2):
                    h = causal(torch.stack([torch.as_tensor(t) for t in seq]), pos)[-1]
                    lg = model.head(h)
                    lg[[c.start_id, c.end_id]] = -float('inf')
                    lg = lg / c.thought_temperature
                    tok = int((lg + noise[k - 2, s * B + b, i]).argmax())
                    logp = logp + F.log_softmax(lg, -1)[tok]
                    seq.append(tok)
                    pos.append(i + k)
                J = min(A, T - i)  # true tokens that exist after position i
                seq += [c.end_id] + [int(idx[b, i + j]) for j in range(1, J)]
                pos += [i + n + 2 + j for j in range(J)]
                h = causal(torch.stack([torch.as_tensor(t) for t in seq]), pos)
                reward = 0.0
                for j in range(J):
                    _, mixed, _ = model.mixed_logits(h_text[b][i + j], h[i + n + 2 + j])
                    nll = F.cross_entropy(mixed[None], targets[b, i + j][None])
                    nlls.append(nll)
                    reward = reward - nll.detach()
                    if j == 0:
                        next_nlls.append(nll)
                        if s == 0:
                            logits0[b, i] = mixed.detach()
                rewards[s, b, i], logps[s, b, i] = reward, logp
    policy = 0.0
    for (s, b, i), r in rewards.items():
        adv = r - sum(rewards[t, b, i] for t in range(S)) / S
        if c.clamp_rewards:
            adv = max(adv, 0.0)
        policy = policy - adv * logps[s, b, i]
    policy = policy / len(rewards)
    mixed_nll = sum(nlls) / len(nlls)
    base_nll = sum(F.cross_entropy(model.text_only(model.head(h_text[b][i])), targets[b, i])
                   for b in range(B) for i in range(T)) / (B * T)
    loss = (1 - c.base_nll_weight) * mixed_nll + c.base_nll_weight * base_nll + c.policy_weight * policy
    return logits0, loss, (sum(next_nlls) / len(next_nlls)).item(), policy.item()


OFFICIAL = dict(base_nll_weight=0.5, marker_scale=100.0, mix_layers=3, mix_bound='none')


@pytest.mark.parametrize('clamp,thought_len,recipe', [(False, 3, {}), (True, 3, {}), (False, 0, {}), (True, 3, OFFICIAL)])
def test_parallel_thoughts_equal_thinking_one_position_at_a_time(clamp, thought_len, recipe):
    model = random_mixing(tiny(clamp_rewards=clamp, thought_len=thought_len, policy_weight=0.7,
                               thought_temperature=0.8, **recipe)).train()
    B, T_ = 2, 7  # T + thought_len + n_true <= block_size: no clamped positions
    idx = torch.randint(10, (B, T_), generator=torch.Generator().manual_seed(3))
    y = torch.randint(10, (B, T_), generator=torch.Generator().manual_seed(4))
    noise = gumbel(model, 2 * B, T_)
    logits, loss = model(idx, y, noise=noise)
    loss.backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    stats = dict(model.stats)
    model.zero_grad()
    ref_logits, ref_loss, ref_next_nll, ref_policy = serial_reference(model, idx, y, noise)
    ref_loss.backward()
    assert torch.allclose(logits, ref_logits, atol=1e-5)
    assert loss.item() == pytest.approx(ref_loss.item(), abs=1e-5)
    assert stats['mixed_nll'] == pytest.approx(ref_next_nll, abs=1e-5)
    assert stats['policy_loss'] == pytest.approx(ref_policy, abs=1e-5)
    # the thoughts differ, so the test covers REINFORCE; <start><end> alone has nothing to reinforce
    assert (stats['policy_loss'] != 0) == (thought_len > 0)
    for k, p in model.named_parameters():  # gradients flow through every pass the same way
        assert torch.allclose(grads[k], p.grad, atol=1e-5), k
    with torch.no_grad():  # no gradients: the preallocated KVCache path gives the same numbers
        logits_ng, loss_ng = model(idx, y, noise=noise)
    assert torch.allclose(logits_ng, logits, atol=1e-5) and loss_ng.item() == pytest.approx(loss.item(), abs=1e-5)


def test_logits_depend_only_on_the_past_and_the_own_thought():
    model = random_mixing(tiny())
    B, T_ = 2, 10
    idx = torch.randint(10, (B, T_))
    for mode in ('train', 'eval'):
        getattr(model, mode)()
        S = model.config.thoughts_per_position if mode == 'train' else 1
        noise = gumbel(model, S * B, T_)
        y = torch.randint(10, (B, T_))
        base, _ = model(idx, y, noise=noise)
        for t in range(T_ - 1):
            changed = idx.clone()
            changed[:, t + 1:] = torch.randint(10, (B, T_ - t - 1))
            logits, _ = model(changed, y, noise=noise)
            assert torch.allclose(logits[:, :t + 1], base[:, :t + 1], atol=1e-6), (mode, t)
            assert not torch.allclose(logits[:, t + 1:], base[:, t + 1:])
        # another thought at t changes the prediction at t and nowhere else
        t, other = 4, noise.clone()
        other[:, :, t] = gumbel(model, S * B, T_, seed=9)[:, :, t]
        logits, _ = model(idx, y, noise=other)
        assert not torch.allclose(logits[:, t], base[:, t])
        keep = [i for i in range(T_) if i != t]
        assert torch.allclose(logits[:, keep], base[:, keep], atol=1e-6)


def test_zero_initialised_mixing_is_the_base_model():
    model = tiny().eval()
    gpt = GPT(model.config)
    missing, _ = gpt.load_state_dict(model.state_dict(), strict=False)
    idx, y = torch.randint(10, (3, 12)), torch.randint(10, (3, 12))
    logits, loss = model(idx, y)
    assert float(model.stats['mix_weight']) == 0.0  # tanh(0 + 0): exactly 0 by construction
    want = gpt(idx)[0]  # another code path (no cache, no thought passes): equal within tolerance
    torch.testing.assert_close(logits[..., :10], want[..., :10], atol=1e-5, rtol=1e-5)
    assert torch.isinf(logits[..., 10:]).all()  # the markers are never text
    assert loss.item() == pytest.approx(lm_loss(want[..., :10], y).item(), abs=1e-5)
    assert float(model.stats['base_nll']) == pytest.approx(float(model.stats['mixed_nll']), abs=1e-6)
    # w = 0 adds exactly nothing: base + 0 * (post - base) is bitwise base for finite logits
    h_base, h_post = torch.randn(2, 5, 16), torch.randn(2, 5, 16)
    base, mixed, w = model.mixed_logits(h_base, h_post)
    assert (w == 0).all() and torch.equal(base, mixed)
    # in training too (n_true tokens, two thoughts): every reward is the same, so no policy gradient
    model.train()
    logits, loss = model(idx, y)
    torch.testing.assert_close(logits[..., :10], want[..., :10], atol=1e-5, rtol=1e-5)
    assert float(model.stats['policy_loss']) == pytest.approx(0, abs=1e-6)


def test_mix_weight_is_logged_where_predictions_have_targets():
    model = random_mixing(tiny(thought_temperature=0.0)).eval()  # greedy thoughts: the same in both calls
    with torch.no_grad():  # a bias that makes w negative at some positions and positive at others
        model.mix[-1].bias.fill_(0.0)
    idx, y = torch.randint(10, (2, 12)), torch.randint(10, (2, 12))
    y[:, 6:] = -1  # no targets in the second half
    with torch.no_grad():
        model(idx, y)
        h_base, h_post, _, _ = model.think(idx, 1)
        w = model.mixed_logits(h_base, h_post[:, :, 0])[2].squeeze(-1)
    used = w[:, :6]
    assert (used < 0).any() and (used > 0).any()
    assert float(model.stats['mix_weight']) == pytest.approx(used.mean().item(), abs=1e-6)
    assert float(model.stats['mix_weight']) != pytest.approx(w.mean().item(), abs=1e-4)  # not over every position
    assert float(model.stats['mix_weight_negative']) == pytest.approx((used < 0).float().mean().item())


def test_eval_loss_is_the_mixed_next_token_nll():
    model = random_mixing(tiny()).eval()
    idx, y = torch.randint(10, (3, 12)), torch.randint(10, (3, 12))
    y[0, :4] = -1  # a prompt: no targets there
    logits, loss = model(idx, y)
    assert loss.item() == pytest.approx(lm_loss(logits, y).item(), abs=1e-6)  # what val_loss compares
    assert float(model.stats['mixed_nll']) == pytest.approx(loss.item(), abs=1e-6)
    assert float(model.stats['base_nll']) != pytest.approx(loss.item(), abs=1e-3)


def test_base_nll_weight_trains_the_base_path_only_at_one():
    # b = 1 and no REINFORCE: the loss is the base NLL, so the mixing head gets no gradient
    # (the serial reference above checks b = 0.5 against a hand-computed base NLL)
    idx, y = torch.randint(10, (2, 8)), torch.randint(10, (2, 8))
    model = random_mixing(tiny(base_nll_weight=1.0, policy_weight=0.0)).train()
    _, loss = model(idx, y)
    loss.backward()
    assert loss.item() == pytest.approx(float(model.stats['base_nll']), abs=1e-6)
    assert all(p.grad is None or not p.grad.any() for p in model.mix.parameters())
    assert model.transformer.wte.weight.grad.abs().sum() > 0
    model = random_mixing(tiny(base_nll_weight=0.0, policy_weight=0.0)).train()
    model(idx, y)[1].backward()
    assert model.mix[-1].weight.grad.abs().sum() > 0


def test_marker_scale_reparameterises_the_markers():
    idx, y = torch.randint(10, (2, 8)), torch.randint(10, (2, 8))
    rows = random_mixing(tiny(seed=5)).train()
    scaled = tiny(seed=6, marker_scale=100.0).train()
    missing, _ = scaled.load_state_dict(rows.state_dict(), strict=False)
    assert missing == ['marker_embedding']
    scaled.copy_marker_rows()  # what fine-tuning (init_token_rows) does after loading the weights
    assert torch.allclose(100 * scaled.marker_embedding, rows.transformer.wte.weight[10:], atol=1e-7)
    noise = gumbel(rows, 4, 8)
    for m in (rows, scaled):
        torch.manual_seed(0)
        m(idx, y, noise=noise)[1].backward()
    assert torch.allclose(scaled(idx, y, noise=noise)[0], rows(idx, y, noise=noise)[0], atol=1e-5)  # same function
    # the gradient on the stored vector is 100x the one the rows got as inputs (their logits are
    # masked, so inputs are all a marker row is used for), and the scaled rows get none
    marker_grad = rows.transformer.wte.weight.grad[10:]
    assert marker_grad.abs().sum() > 0
    assert torch.allclose(scaled.marker_embedding.grad, 100 * marker_grad, rtol=1e-4, atol=1e-6)
    assert not scaled.transformer.wte.weight.grad[10:].any()
    # so one Adam step moves a marker's input vector ~100x as far
    moved = []
    for m, vector in ((rows, lambda: m.transformer.wte.weight[10:]), (scaled, lambda: 100 * m.marker_embedding)):
        before = vector().detach().clone()
        torch.optim.Adam(m.parameters(), lr=1e-3).step()
        moved.append((vector().detach() - before).abs().median().item())
    assert moved[1] / moved[0] == pytest.approx(100, rel=0.05)


@pytest.mark.parametrize('bound', ['tanh', 'none'])
def test_mixing_head_depth_and_bound(bound):
    model = tiny(mix_layers=3, mix_bound=bound)
    linear = [m for m in model.mix if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(32, 16), (16, 16), (16, 1)]
    h_base, h_post = torch.randn(2, 5, 16), torch.randn(2, 5, 16)
    assert (model.mixed_logits(h_base, h_post)[2] == 0).all()  # zero last layer: the base model
    with torch.no_grad():
        model.mix[-1].bias.fill_(2.0)
    base, mixed, w = model.mixed_logits(h_base, h_post)
    want = 2.0 if bound == 'none' else torch.tanh(torch.tensor(2.0)).item()
    assert torch.allclose(w, torch.full_like(w, want))
    post = model.text_only(model.head(h_post))
    finite = torch.isfinite(base)
    assert torch.allclose(mixed[finite], (base + want * (post - base))[finite], atol=1e-5)


def hops_records(n_records, seed=0):
    """2-hop records over 4 symbols, and a tokenizer whose 10 characters are tiny()'s text ids."""
    import random
    from conftest import load_script
    H = load_script('data/hops/prepare.py', 'prepare_hops')
    chars = 'abcd?2:=\n>'
    meta = {'tokenizer': 'char', 'vocab_size': V, 'stoi': {c: i for i, c in enumerate(chars)},
            'itos': dict(enumerate(chars)), 'special_tokens': {vocab.START_THOUGHT: 10, vocab.END_THOUGHT: 11}}
    rng = random.Random(seed)
    records = []
    for _ in range(n_records):
        f = list(range(4))
        rng.shuffle(f)
        records.append(H.record(f, rng.randrange(4), 2, 'array', False, rng))
    return records, vocab.Tokenizer(meta)


def test_answer_metrics_and_the_swap_ablation():
    records, tok = hops_records(12)
    model = random_mixing(tiny(thought_len=2)).eval()
    with torch.no_grad():  # w near 1 and tokens that stand out: the post-thought prediction counts
        model.mix[-1].bias.fill_(3.0)
        model.transformer.wte.weight.mul_(5)
    inner = torch.tensor([tok.encode(r['path'][1])[0] for r in records])  # the 2 hops' inner node
    think = model.think

    def chain_thoughts(x, n_true, noise=None, thoughts=None):
        """Thoughts that write each record's true chain at every position (unless given)."""
        if thoughts is None:
            thoughts = inner[:, None, None].expand(x.size(0), x.size(1), 2).clone()
        return think(x, n_true, noise, thoughts)
    model.think = chain_thoughts
    got = Q.answer_metrics(model, tok, records)
    assert got['thought_is_chain'] == 1.0 and got['records'] == 12
    # the mixed numbers are those of the thoughts at the answer (the token after '=')
    ids = torch.tensor([tok.encode(r['prompt'] + r['completion']) for r in records])
    at, y = ids.size(1) - 3, ids[:, -2]  # ... '=', answer, '\n': '=' is the input that predicts the answer
    h_base, h_post, _, thought = model.think(ids[:, :-1], 1)
    base, mixed, w = model.mixed_logits(h_base[:, at], h_post[:, at, 0])
    assert got['mixed_nll'] == pytest.approx(F.cross_entropy(mixed, y).item(), abs=1e-4)
    assert got['base_nll'] == pytest.approx(F.cross_entropy(base, y).item(), abs=1e-4)
    assert got['mixed_accuracy'] == pytest.approx((mixed.argmax(-1) == y).float().mean().item(), abs=1e-4)
    assert got['mix_weight'] == pytest.approx(w.mean().item(), abs=1e-4)
    # swapped: record b reads record b-1's thoughts, by hand
    _, post_swapped, _, _ = model.think(ids[:, :-1], 1, thoughts=thought.roll(1, dims=0))
    _, mixed_swapped, _ = model.mixed_logits(h_base[:, at], post_swapped[:, at, 0])
    assert got['swapped_nll'] == pytest.approx(F.cross_entropy(mixed_swapped, y).item(), abs=1e-4)
    assert (mixed_swapped - mixed)[:, :10].abs().max() > 1e-3  # the thoughts differ, so swapping them matters
    model.think = think
    # the model's own thoughts: reading them back changes nothing, and records that are all the
    # same swap nothing; with w = 0 (a fresh mixing head) nothing matters: mixed = base = swapped
    h_base, h_post, _, thought = model.think(ids[:, :-1], 1)
    assert torch.allclose(model.think(ids[:, :-1], 1, thoughts=thought)[1], h_post, atol=1e-6)
    same = Q.answer_metrics(random_mixing(tiny(thought_len=2, thought_temperature=0.0)).eval(), tok, [records[0]] * 4)
    assert same['swapped_nll'] == same['mixed_nll']
    fresh = Q.answer_metrics(tiny(thought_len=2).eval(), tok, records)
    assert fresh['mixed_nll'] == fresh['base_nll'] == fresh['swapped_nll'] and fresh['mix_weight'] == 0


def test_reinforce_loss_by_hand():
    # one position, two thoughts: rewards -1 and -3 (mean -2), advantages +1 and -1
    logp = torch.tensor([[[-0.5]], [[-2.0]]], requires_grad=True)
    reward = torch.tensor([[[-1.0]], [[-3.0]]])
    valid = torch.ones(2, 1, 1, dtype=torch.bool)
    loss = Q.reinforce_loss(logp, reward, valid, clamp=False)
    assert loss.item() == pytest.approx(-(1 * -0.5 + -1 * -2.0) / 2)  # -0.75
    loss.backward()
    assert logp.grad.flatten().tolist() == pytest.approx([-0.5, 0.5])  # the better thought is pushed up
    # clamped: the worse-than-average thought is left alone
    assert Q.reinforce_loss(logp, reward, valid, clamp=True).item() == pytest.approx(0.25)
    # a second position with no target does not count, and equal rewards teach nothing
    logp2 = torch.tensor([[[-0.5, -1.0]], [[-2.0, -1.0]]])
    reward2 = torch.tensor([[[-1.0, -2.0]], [[-3.0, -2.0]]])
    valid2 = torch.tensor([[[True, False]], [[True, False]]])
    assert Q.reinforce_loss(logp2, reward2, valid2, clamp=False).item() == pytest.approx(-0.75)
    assert Q.reinforce_loss(logp, torch.full_like(reward, -5.0), valid, clamp=False).item() == 0


def test_markers_are_never_sampled_inside_a_thought():
    model = tiny(thought_len=6, thought_temperature=1.0).eval()
    with torch.no_grad():  # make the markers by far the likeliest next tokens
        model.transformer.wte.weight[10:] = 5 * model.transformer.h[0].ln_1.weight.sign()
    idx = torch.randint(10, (4, 10))
    with torch.no_grad():
        _, _, _, thought = model.think(idx, 1)
        shown = model.generate(idx[:, :3], 4, show_thoughts=True)
    assert thought.shape == (4, 10, 6) and thought.max() < 10
    body = shown[:, 3:].view(4, 4, 6 + 3)  # per new token: <start>, 6 thought tokens, <end>, the token
    assert (body[:, :, 0] == 10).all() and (body[:, :, 7] == 11).all()
    assert body[:, :, 1:7].max() < 10 and body[:, :, 8].max() < 10


def test_generate_thinks_like_forward():
    model = random_mixing(tiny(thought_temperature=0.0)).eval()  # greedy thoughts: deterministic
    idx = torch.randint(10, (2, 5))
    out = model.generate(idx, 6, temperature=0)
    assert_greedy(out, 5, lambda prefix: model(prefix)[0][:, -1])  # one position at a time = all in parallel
    plain = out
    shown = model.generate(idx, 6, temperature=0, show_thoughts=True)
    text = shown[:, 5:].view(2, 6, 3 + 3)[:, :, -1]
    assert torch.equal(text, plain[:, 5:])  # the same code path, only shown: bitwise the same
    # the thought generate shows is the one forward thinks at that position
    with torch.no_grad():
        _, _, _, thought = model.think(plain[:, :5], 1)
    assert torch.equal(shown[:, 6:9], thought[:, -1])
    # past block_size the context is cropped and the positions are clamped: still runs
    long = model.generate(torch.randint(10, (1, 30)), 5, temperature=0)
    assert long.shape == (1, 35)


def test_serial_benchmark_path_matches_parallel():
    model = random_mixing(tiny(thought_temperature=0.0)).eval()
    idx = torch.randint(10, (1, 9))
    with torch.no_grad():
        parallel = model.think(idx, 1)[1][:, :, 0]
    assert torch.allclose(bench.think_serial(model, idx), parallel, atol=1e-5)


def test_config_checks():
    with pytest.raises(ValueError, match='thoughts_per_position >= 2'):
        tiny(thoughts_per_position=1)
    with pytest.raises(ValueError, match='start_id and end_id'):
        tiny(start_id=-1)
    with pytest.raises(ValueError, match='vocabulary'):
        tiny(end_id=12)
    with pytest.raises(ValueError, match='differ'):
        tiny(end_id=10)
    for bad in (dict(base_nll_weight=1.5), dict(mix_layers=0), dict(mix_bound='sigmoid'), dict(marker_scale=-1.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            tiny(**bad)


# -----------------------------------------------------------------------------
# fine-tuning a train.py checkpoint


@pytest.fixture(scope='module')
def base_run(char_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('qs')
    T.train(C.load_config(tiny_args(char_data, tmp / 'base', '--max_iters=20', '--eval_interval=20',
                                    '--learning_rate=3e-3')))
    return tmp


def qs_args(tmp, out, *extra):
    """Quiet-STaR fine-tuned from the base run on the base run's own data, in one command."""
    data = T.load_checkpoint(str(tmp / 'base' / 'ckpt.pt'))['config']['data_dir']
    return tiny_args(data, tmp / out, '--model=quietstar', f'--init_from={tmp / "base"}', '--thought_len=2',
                     '--n_true=2', '--batch_size=2', '--eval_interval=3', *extra)


def test_finetune_from_a_base_run_in_one_command(base_run):
    tmp = base_run
    config = C.load_config(qs_args(tmp, 'qs'))
    src = T.load_checkpoint(str(tmp / 'base' / 'ckpt.pt'))['meta']
    meta = C.idea_meta(config, src)  # the base data has no markers: the idea adds its two
    s, e = vocab.special_id(meta, vocab.START_THOUGHT), vocab.special_id(meta, vocab.END_THOUGHT)
    assert (s, e) == (src['vocab_size'], src['vocab_size'] + 1) and meta['vocab_size'] == src['vocab_size'] + 2
    model, _ = T.init_from_run(config, meta)
    wte, dash = model.transformer.wte.weight, meta['stoi']['-']
    assert torch.equal(wte[s], wte[dash]) and torch.equal(wte[e], wte[dash])  # copied rows: exact
    official = C.load_config(qs_args(tmp, 'qs-official') + [str(ROOT / 'config' / 'quietstar_official.py')])
    assert (official['marker_scale'], official['mix_layers'], official['policy_weight']) == (100.0, 3, 1e6)
    model, missing = T.init_from_run(official, meta)
    assert 'marker_embedding' in missing  # its own vectors start from the '-' row, divided by the scale
    assert torch.allclose(100 * model.marker_embedding, model.transformer.wte.weight[[dash, dash]], atol=1e-7)
    # before any training the fine-tune is the base model: same val NLL on the same batches
    T.train(C.load_config(qs_args(tmp, 'qs0', '--max_iters=1', '--learning_rate=0', '--min_lr=0')))
    base, qs = Q.evaluate(str(tmp / 'base'), 3, 4), Q.evaluate(str(tmp / 'qs0'), 3, 4)
    assert qs['base_nll'] == pytest.approx(base['base_nll'], abs=1e-5)
    assert qs['mixed_nll'] == pytest.approx(base['base_nll'], abs=1e-5)
    T.train(C.load_config(qs_args(tmp, 'qs', '--max_iters=6', '--learning_rate=1e-2')))
    rows = read_log(tmp / 'qs')
    train_rows = [r for r in rows if 'loss' in r]
    assert len(train_rows) == 6 and all(isinstance(r['policy_loss'], float) and 'base_nll' in r for r in train_rows)
    assert [r['iter'] for r in rows if 'val_loss' in r] == [0, 3, 6]
    assert train_rows[-1]['mix_weight'] != 0  # the mixing head learned something
    ckpt = T.load_checkpoint(str(tmp / 'qs' / 'ckpt.pt'))
    assert ckpt['idea'] == 'quietstar' and ckpt['meta'] == meta


def test_new_markers_keep_the_mean_row_where_the_vocabulary_has_no_dash():
    # the hops vocabulary has no '-': the markers stay at the mean row fine-tuning gave them
    meta = {'vocab_size': 12, 'tokenizer': 'char', 'stoi': {ch: i for i, ch in enumerate('abcdefghij')},
            'itos': dict(enumerate('abcdefghij')), 'special_tokens': {vocab.START_THOUGHT: 10, vocab.END_THOUGHT: 11}}
    model = tiny()
    before = model.transformer.wte.weight.detach().clone()
    model.init_token_rows(vocab.Tokenizer(meta), [10, 11])
    assert torch.equal(model.transformer.wte.weight, before)
    meta['stoi']['-'], meta['itos'][9] = 9, '-'  # with a dash they are copies of it
    del meta['stoi']['j']
    model.init_token_rows(vocab.Tokenizer(meta), [10, 11])
    assert torch.equal(model.transformer.wte.weight[10], before[9]) and torch.equal(model.transformer.wte.weight[11], before[9])


def test_hops_pretraining_mix_then_quietstar_on_new_permutations(tmp_path):
    """config/quietstar_hops.py's pipeline, tiny: a GPT pre-trained on chains written as thoughts,
    fine-tuned into Quiet-STaR on direct records of permutations it never saw, then the
    scripts that score both (quietstar.py answers run as a script, score.py past the thought)."""
    from conftest import load_script
    H = load_script('data/hops/prepare.py', 'prepare_hops')
    mix, direct = tmp_path / 'mix', tmp_path / 'direct'
    H.main(['--n=4', '--k=2', '--chain_share=0.5', '--chain_markers', '--test_chain_share=1', '--train_size=40',
            '--val_size=4', '--test_size=8', f'--out_dir={mix}'])
    H.main(['--n=4', '--k=2', '--chain_markers', f'--exclude={mix}', '--seed=1', '--train_size=20', '--val_size=4',
            '--test_size=8', f'--out_dir={direct}'])
    small = ['--block_size=16', '--eval_interval=2', '--learning_rate=1e-2']
    T.train(C.load_config(tiny_args(mix, tmp_path / 'pre', '--max_iters=4', *small)))
    T.train(C.load_config([str(ROOT / 'config' / 'quietstar_hops.py')] + tiny_args(
        direct, tmp_path / 'qs', f'--init_from={tmp_path / "pre"}', '--max_iters=2', *small)))
    r = run_script('quietstar.py', 'answers', tmp_path / 'qs', direct / 'test.jsonl')
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got['records'] == 8 and 0 <= got['thought_is_chain'] <= 1 and 'swapped_accuracy' in got
    # a plain GPT gets its direct answer (markers masked): the base head of a Quiet-STaR model that did not move
    T.train(C.load_config([str(ROOT / 'config' / 'quietstar_hops.py')] + tiny_args(
        direct, tmp_path / 'qs0', f'--init_from={tmp_path / "pre"}', '--max_iters=1', '--learning_rate=0', '--min_lr=0',
        *small[:2])))
    plain, still = Q.answers(str(tmp_path / 'pre'), direct / 'test.jsonl'), Q.answers(str(tmp_path / 'qs0'), direct / 'test.jsonl')
    assert set(plain) == {'run', 'iter', 'records', 'base_accuracy', 'base_nll'} and still['iter'] == 1
    assert plain['base_nll'] == pytest.approx(still['base_nll'], abs=1e-3) and plain['base_accuracy'] == still['base_accuracy']
    assert still['mixed_nll'] == still['base_nll']  # w = 0 before training
    r = run_script('score.py', tmp_path / 'pre', mix / 'test.jsonl', '--json')
    assert r.returncode == 0 and json.loads(r.stdout)['n'] == 8, r.stderr
    import score
    thought = f"={vocab.START_THOUGHT}cd{vocab.END_THOUGHT}a\n"  # the written thought is not the answer
    assert score.predicted_answer(thought, {'completion': thought}, '=') == 'a'
    assert score.predicted_answer('=b\n', {'completion': thought}, '=') == 'b'


def test_an_idea_file_copied_under_a_new_name_trains(base_run, tmp_path):
    """cp quietstar.py myidea.py, then --model=myidea: no shared file names the idea."""
    shutil.copy(ROOT / 'quietstar.py', tmp_path / 'myidea.py')
    args = qs_args(base_run, 'mine', '--model=myidea', '--max_iters=2')
    r = run_script('train.py', *args, env={'PYTHONPATH': str(tmp_path)})
    assert r.returncode == 0, r.stderr
    ckpt = T.load_checkpoint(str(base_run / 'mine' / 'ckpt.pt'))
    assert ckpt['idea'] == 'myidea' and vocab.START_THOUGHT in ckpt['meta']['special_tokens']
    assert [r['iter'] for r in read_log(base_run / 'mine') if 'val_loss' in r] == [0, 2]


def test_sample_shows_thoughts(base_run):
    tmp = base_run
    out = tmp / 'qs_sample'
    T.train(C.load_config(qs_args(tmp, 'qs_sample', '--max_iters=1')))
    r = run_script('sample.py', f'--out_dir={out}', '--num_samples=1', '--max_new_tokens=4', '--start=First',
                   '--show_thoughts', env={'NO_COLOR': '1'})
    assert r.returncode == 0, r.stderr
    text = r.stdout.split('---------------')[0]
    assert text.startswith('First') and text.count('<startofthought>') == 4 and text.count('<endofthought>') == 4
    r = run_script('sample.py', f'--out_dir={out}', '--num_samples=1', '--max_new_tokens=4', '--start=First')
    assert r.returncode == 0 and '<startofthought>' not in r.stdout
    r = run_script('sample.py', f'--out_dir={tmp / "base"}', '--num_samples=1', '--max_new_tokens=4', '--show_thoughts')
    assert r.returncode == 1 and 'quietstar' in r.stderr
