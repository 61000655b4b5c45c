"""The shared GPT: causality, KV cache == recompute, resize_vocab, Hugging Face parity."""

import pytest
import torch

from conftest import assert_greedy
from model import GPT, GPTConfig, KVCache, build_model, lm_loss


def tiny(**kw):
    torch.manual_seed(0)
    args = dict(block_size=16, vocab_size=23, n_layer=2, n_head=2, n_embd=16, dropout=0.0, bias=True)
    args.update(kw)
    return GPT(GPTConfig(**args)).eval()


def test_causal_logits_never_see_the_future():
    model = tiny()
    x = torch.randint(0, 23, (2, 12))
    logits, _ = model(x)
    for t in range(11):
        y = x.clone()
        y[:, t + 1:] = torch.randint(0, 23, y[:, t + 1:].shape)
        assert (y[:, t + 1:] != x[:, t + 1:]).any()
        logits2, _ = model(y)
        torch.testing.assert_close(logits[:, :t + 1], logits2[:, :t + 1])
        assert not torch.allclose(logits[:, t + 1:], logits2[:, t + 1:])


def naive_next_logits(model, temperature=1.0, top_k=None):
    """The next-token logits as nanoGPT computes them: the whole (cropped) context recomputed,
    then temperature and top-k."""
    def next_logits(idx):
        logits = model(idx[:, -model.config.block_size:])[0][:, -1] / temperature
        if top_k is not None:
            v, _ = torch.topk(logits, top_k)
            logits[logits < v[:, [-1]]] = -float('inf')
        return logits
    return next_logits


@pytest.mark.parametrize('prompt_len,n_new', [(1, 10), (5, 30), (16, 8)])
def test_cached_generate_equals_recompute_greedy(prompt_len, n_new):
    # (5, 30) and (16, 8) run past block_size=16, where the context is cropped
    model = tiny()
    x = torch.randint(0, 23, (3, prompt_len))
    out = model.generate(x, n_new, temperature=0)
    assert out.shape == (3, prompt_len + n_new) and torch.equal(out[:, :prompt_len], x)
    assert_greedy(out, prompt_len, naive_next_logits(model))


def test_cached_generate_equals_recompute_sampling(monkeypatch):
    # every draw is from the distribution that a full recompute gives for the same context
    # (temperature and top-k applied), compared with a tolerance: the draws themselves come from
    # floats of two code paths, so equal tokens under one seed would hang on a boundary case
    model = tiny()
    x = torch.randint(0, 23, (2, 3))
    drawn, real = [], torch.multinomial
    monkeypatch.setattr(torch, 'multinomial', lambda probs, *a, **k: drawn.append(probs) or real(probs, *a, **k))
    out = model.generate(x, 20, temperature=0.9, top_k=5)
    assert len(drawn) == 20
    reference = naive_next_logits(model, temperature=0.9, top_k=5)
    for t, probs in enumerate(drawn):
        with torch.no_grad():
            want = torch.softmax(reference(out[:, :3 + t]), -1)
        torch.testing.assert_close(probs, want, atol=1e-5, rtol=1e-4)
        assert ((probs > 0).sum(-1) == 5).all()  # top-k kept 5
        assert (want.gather(1, out[:, 3 + t:4 + t]) > 0).all()  # each draw is a token the reference allows


def test_cache_chunks_equal_full_forward():
    # prefill 5, then a chunk of 4 (the cached causal mask), then 1
    model = tiny()
    x = torch.randint(0, 23, (2, 10))
    full = model.head(model.blocks(model.embed(x)))
    cache = model.new_cache(2)
    parts = []
    for a, b in [(0, 5), (5, 9), (9, 10)]:
        pos = torch.arange(a, b)
        parts.append(model.head(model.blocks(model.embed(x[:, a:b], pos), cache=cache)))
    torch.testing.assert_close(torch.cat(parts, 1), full)
    assert cache.pos == 10


def test_explicit_mask_equals_causal():
    model = tiny()
    x = torch.randint(0, 23, (2, 9))
    mask = torch.ones(9, 9, dtype=torch.bool).tril()
    torch.testing.assert_close(model.head(model.blocks(model.embed(x), mask=mask)), model(x)[0])


def test_cache_overflow_is_an_error():
    cache = KVCache(1, 1, 1, 4, 2, 'cpu', torch.float32)
    cache.update(0, torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2))
    cache.advance(3)
    with pytest.raises(ValueError, match='overflow'):
        cache.update(0, torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))


def test_loss_ignores_minus_one():
    logits = torch.randn(1, 4, 7)
    targets = torch.tensor([[1, -1, 3, -1]])
    expected = (torch.nn.functional.cross_entropy(logits[0, [0, 2]], torch.tensor([1, 3])))
    torch.testing.assert_close(lm_loss(logits, targets), expected)


def test_resize_vocab_keeps_old_logits_and_ties():
    model = tiny()
    x = torch.randint(0, 23, (2, 8))
    before, _ = model(x)
    model.resize_vocab(30)
    after, _ = model(x)
    assert after.shape[-1] == 30 and model.config.vocab_size == 30
    torch.testing.assert_close(after[..., :23], before)
    assert model.lm_head.weight is model.transformer.wte.weight
    new = torch.tensor([[25, 29]])
    model(new)  # the new rows are usable inputs
    with pytest.raises(ValueError):
        model.resize_vocab(10)


def test_untied_init_and_resize_keep_two_matrices():
    default = tiny(n_embd=64)
    assert default.lm_head.weight is default.transformer.wte.weight  # GPT-2: tied, N(0, 0.02)
    assert default.transformer.wpe.weight.std().item() == pytest.approx(0.02, rel=0.2)
    model = tiny(n_embd=64, tie_embeddings=False, embed_std=1.0, init_std=0.05)
    wte, wpe, head = model.transformer.wte.weight, model.transformer.wpe.weight, model.lm_head.weight
    assert wte is not head
    assert wte.std().item() == pytest.approx(1.0, rel=0.1) and wpe.std().item() == pytest.approx(1.0, rel=0.2)
    assert head.std().item() == pytest.approx(0.02, rel=0.2)  # logits start small, as with GPT-2's init
    block = model.transformer.h[0]
    assert block.attn.c_attn.weight.std().item() == pytest.approx(0.05, rel=0.1)
    assert block.mlp.c_proj.weight.std().item() == pytest.approx(0.05 / 2, rel=0.1)  # / sqrt(2 n_layer)
    x = torch.randint(0, 23, (2, 8))
    before, _ = model(x)
    model.resize_vocab(30)
    after, _ = model(x)
    torch.testing.assert_close(after[..., :23], before)
    assert model.transformer.wte.weight is not model.lm_head.weight
    assert model.transformer.wte.weight.shape == model.lm_head.weight.shape == (30, 64)
    torch.testing.assert_close(model.transformer.wte.weight[25], wte.mean(0))  # the mean input row, not the head's
    with pytest.raises(ValueError, match='tie_embeddings'):
        GPT.from_pretrained('gpt2', tie_embeddings=False)
    with pytest.raises(ValueError, match='embed_std'):
        GPTConfig(embed_std=0.0)


def test_optimizer_decays_matrices_only():
    model = tiny()
    opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.95), 'cpu')
    decay, no_decay = opt.param_groups
    assert decay['weight_decay'] == 0.1 and no_decay['weight_decay'] == 0.0
    assert all(p.dim() >= 2 for p in decay['params']) and all(p.dim() < 2 for p in no_decay['params'])
    assert sum(p.numel() for g in opt.param_groups for p in g['params']) == sum(p.numel() for p in model.parameters())


def test_mfu_arithmetic():
    model = tiny()
    N = model.get_num_params()
    c = model.config
    flops = 6 * N + 12 * c.n_layer * c.n_embd * c.block_size
    assert model.flops_per_token() == flops
    assert model.estimate_mfu(tokens_per_iter=100, dt=0.5, peak_flops=1e9) == pytest.approx(flops * 100 / 0.5 / 1e9)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match='divisible'):
        GPTConfig(n_embd=10, n_head=3)
    with pytest.raises(ValueError, match='block_size'):
        GPTConfig(block_size=0)


def test_huggingface_parity(tmp_path):
    transformers = pytest.importorskip('transformers')
    torch.manual_seed(0)
    hc = transformers.GPT2Config(vocab_size=50, n_positions=32, n_embd=32, n_layer=2, n_head=4,
                                 resid_pdrop=0, embd_pdrop=0, attn_pdrop=0)
    hf = transformers.GPT2LMHeadModel(hc).eval()
    hf.save_pretrained(tmp_path)
    ours = GPT.from_pretrained(str(tmp_path)).eval()
    x = torch.randint(0, 50, (2, 20))
    with torch.no_grad():
        expected = hf(x).logits
    torch.testing.assert_close(ours(x)[0], expected, atol=1e-5, rtol=0)


def test_build_model_from_plain_args():
    m = build_model('gpt', dict(block_size=8, vocab_size=11, n_layer=1, n_head=1, n_embd=8))
    assert isinstance(m, GPT) and m.config.vocab_size == 11
    with pytest.raises(ValueError, match='unknown model'):
        build_model('nope', {})


def test_loss_with_no_targets_is_zero_not_nan():
    loss = lm_loss(torch.randn(2, 3, 5, requires_grad=True), torch.full((2, 3), -1))
    assert loss.item() == 0.0  # exactly: a sum over no terms, divided by 1


def test_block_keep_equals_full_block_at_kept_positions():
    model = tiny()
    x = model.embed(torch.randint(0, 23, (2, 10)))
    block = model.transformer.h[0]
    keep = torch.tensor([0, 3, 4, 9])
    mask = torch.arange(10)[None, :] <= keep[:, None]
    torch.testing.assert_close(block(x, mask=mask, keep=keep), block(x)[:, keep])
