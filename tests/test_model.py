"""GPT shape contract, KV cache equivalence, null condition, config validation."""
import pytest
import torch

from engine.model.gpt import GPT, GPTConfig


@pytest.fixture
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=20, n_layer=2, n_head=2, d_model=16, block_size=12)).eval()


def test_forward_shapes_and_loss(model):
    idx = torch.randint(3, 20, (4, 7))
    targets = torch.randint(0, 20, (4, 7))
    logits, loss = model(idx, torch.randn(4, 25), torch.ones(4, 25, dtype=torch.bool), targets)
    assert logits.shape == (4, 7, 20)
    assert loss.ndim == 0 and torch.isfinite(loss)


def _cached_and_full(model, idx, values, mask):
    """The logits of `idx` (B, T) decoded token by token with the KV cache, and in one
    forward pass (both (B, T, V)), and the cache."""
    full, _ = model(idx, values, mask)
    cache = model.new_cache(idx.shape[0], "cpu")
    steps = [model.prefill(values, mask, 1, cache)]
    steps += [model.decode_step(idx[:, t], cache) for t in range(1, idx.shape[1])]
    return torch.stack(steps, 1), full, cache


def test_kv_cache_matches_full_forward(model):
    values, mask = torch.randn(3, 25), torch.rand(3, 25) < 0.5
    mask[0] = False
    idx = torch.randint(3, 20, (3, 6))
    idx[:, 0] = 1
    cached, full, _ = _cached_and_full(model, idx, values, mask)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=1e-5)


def test_all_false_mask_is_the_null_condition(model):
    mask = torch.zeros(2, 25, dtype=torch.bool)
    emb = model.condition(torch.randn(2, 25), mask)
    torch.testing.assert_close(emb[0], model.null_cond)
    torch.testing.assert_close(emb[1], model.null_cond)


def test_masked_values_do_not_matter(model):
    mask = torch.zeros(1, 25, dtype=torch.bool)
    mask[0, :3] = True
    a, b = torch.randn(1, 25), torch.randn(1, 25)
    b[0, :3] = a[0, :3]
    torch.testing.assert_close(model.condition(a, mask), model.condition(b, mask))
    b[0, 0] += 1.0
    assert not torch.allclose(model.condition(a, mask), model.condition(b, mask))


@pytest.mark.parametrize("bad", [dict(d_model=30, n_head=4), dict(n_layer=0),
                                 dict(dropout=1.5), dict(vocab_size=-1)])
def test_config_validates(bad):
    kwargs = dict(vocab_size=20) | bad
    with pytest.raises(ValueError, match="GPTConfig"):
        GPTConfig(**kwargs)


def test_kv_cache_grows_past_its_initial_capacity():
    torch.manual_seed(1)
    model = GPT(GPTConfig(vocab_size=20, n_layer=1, n_head=2, d_model=16, block_size=100)).eval()
    values, mask = torch.randn(2, 25), torch.ones(2, 25, dtype=torch.bool)
    idx = torch.randint(3, 20, (2, 80))
    idx[:, 0] = 1
    cached, full, cache = _cached_and_full(model, idx, values, mask)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=1e-5)
    assert cache.k[0].shape[2] >= 82 and cache.length == 82
