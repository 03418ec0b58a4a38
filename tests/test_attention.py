"""Parity of nlp_course.attention with torch's scaled_dot_product_attention and MultiheadAttention."""

import pytest
import torch
import torch.nn.functional as F

from nlp_course.attention import (
    MultiHeadAttention,
    attention_weights,
    scaled_dot_product_attention,
    self_attention,
)

D = torch.float64


def _qkv(seed=0, B=2, H=3, L=4, S=6, E=5, Ev=7):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, H, L, E, generator=g, dtype=D), torch.randn(B, H, S, E, generator=g, dtype=D),
            torch.randn(B, H, S, Ev, generator=g, dtype=D))


@pytest.mark.parametrize("kind", ["none", "bool", "bool_bcast", "float", "causal", "dead_row"])
def test_sdpa_matches_torch(kind):
    q, k, v = _qkv()
    kw, ours = {}, {}
    if kind == "bool":
        m = torch.rand(2, 3, 4, 6, generator=torch.Generator().manual_seed(1)) > 0.3
        m[..., 0] = True
        kw, ours = {"attn_mask": m}, {"mask": m}
    elif kind == "bool_bcast":
        m = torch.tensor([True, True, False, True, False, True])[None, None, None, :]  # (1, 1, 1, S)
        kw, ours = {"attn_mask": m}, {"mask": m}
    elif kind == "float":
        m = torch.randn(4, 6, dtype=D) * 3
        kw, ours = {"attn_mask": m}, {"mask": m}
    elif kind == "causal":
        kw, ours = {"is_causal": True}, {"is_causal": True}
    elif kind == "dead_row":
        m = torch.ones(4, 6, dtype=torch.bool)
        m[2] = False  # a query that may attend to nothing
        kw, ours = {"attn_mask": m}, {"mask": m}
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, **ours),
                               F.scaled_dot_product_attention(q, k, v, **kw), rtol=0, atol=1e-12)


def test_sdpa_extreme_scores_and_causal_rectangular():
    q, k, v = _qkv(L=3, S=5)
    q = q * 1e3  # saturated softmax must stay finite
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v), F.scaled_dot_product_attention(q, k, v))
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, is_causal=True),
                               F.scaled_dot_product_attention(q, k, v, is_causal=True))
    w = attention_weights(q, k)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 3, dtype=D))


def test_sdpa_dropout():
    q, k, v = _qkv()
    assert torch.equal(scaled_dot_product_attention(q, k, v, dropout_p=1.0), torch.zeros(2, 3, 4, 7, dtype=D))
    torch.manual_seed(0)
    a = scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert not torch.allclose(a, scaled_dot_product_attention(q, k, v))


def test_sdpa_bad_input():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="head dim"):
        scaled_dot_product_attention(q, k[..., :4], v)
    with pytest.raises(ValueError, match="same length"):
        scaled_dot_product_attention(q, k, v[..., :5, :])
    with pytest.raises(ValueError, match="mask"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(4, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="not both"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(4, 6, dtype=torch.bool), is_causal=True)
    with pytest.raises(TypeError, match="mask"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(4, 6, dtype=torch.int64))
    with pytest.raises(ValueError, match="dropout_p"):
        scaled_dot_product_attention(q, k, v, dropout_p=1.5)


def test_self_attention_worked_example():
    X = [[1.0, 2.0], [2.0, 1.0], [1.0, 0.0]]
    W_q, W_k, W_v = torch.eye(2), [[1.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]
    out = self_attention(X, W_q, W_k, W_v)
    Xt = torch.tensor(X, dtype=D)
    ref = F.scaled_dot_product_attention((Xt @ torch.eye(2, dtype=D))[None], (Xt @ torch.tensor(W_k, dtype=D))[None],
                                         (Xt @ torch.tensor(W_v, dtype=D))[None])[0]
    torch.testing.assert_close(out, ref)
    expected = torch.tensor([[1.3048, 1.6569], [1.1413, 1.7679], [1.0000, 1.5035]], dtype=D)  # the notes
    torch.testing.assert_close(out.round(decimals=4), expected)
    with pytest.raises(ValueError, match="W_k"):
        self_attention(X, W_q, [[1.0, 1.0, 0.0]], W_v)


def _pair(E=8, H=2, bias=True, dropout=0.0):
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(E, H, dropout=dropout, bias=bias, batch_first=True, dtype=D).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_()  # non-zero biases too
    ours = MultiHeadAttention(E, H, dropout=dropout, bias=bias).to(D).eval()
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def test_mha_state_dict_names():
    ours, ref = _pair()
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours_nb, ref_nb = _pair(bias=False)
    assert list(ours_nb.state_dict()) == list(ref_nb.state_dict())


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("masks", ["none", "padding", "attn_bool", "attn_float", "both", "per_head", "causal"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_matches_torch(bias, masks, need_weights):
    ours, ref = _pair(bias=bias)
    g = torch.Generator().manual_seed(3)
    B, T, S, E, H = 3, 5, 7, 8, 2
    q = torch.randn(B, T, E, generator=g, dtype=D)
    kv = torch.randn(B, S, E, generator=g, dtype=D)
    k, v = (q, q) if masks == "causal" else (kv, kv + 0.5)
    S = k.shape[1]
    pad = torch.zeros(B, S, dtype=torch.bool)
    pad[1, -2:] = True
    pad[2, -1:] = True
    am_bool = torch.rand(T, S, generator=g) > 0.7
    am_bool[:, 0] = False
    kw = {
        "none": {}, "padding": {"key_padding_mask": pad}, "attn_bool": {"attn_mask": am_bool},
        "attn_float": {"attn_mask": torch.randn(T, S, generator=g, dtype=D)},
        "both": {"attn_mask": am_bool, "key_padding_mask": pad},
        "per_head": {"attn_mask": torch.randn(B * H, T, S, generator=g, dtype=D)},
        "causal": {"attn_mask": torch.ones(T, T, dtype=torch.bool).triu(1), "is_causal": True},
    }[masks]
    out, w = ours(q, k, v, need_weights=need_weights, **kw)
    ref_out, ref_w = ref(q, k, v, need_weights=True, average_attn_weights=False, **kw)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-6)
    if need_weights:
        torch.testing.assert_close(w, ref_w, rtol=0, atol=1e-6)
    else:
        assert w is None
    if masks == "causal":  # is_causal alone builds the same mask
        torch.testing.assert_close(ours(q, q, q, is_causal=True)[0], ref_out, rtol=0, atol=1e-6)


def test_mha_float32_and_grad():
    ours, ref = _pair()
    ours, ref = ours.float(), ref.float()
    x = torch.randn(2, 6, 8, requires_grad=True)
    out, _ = ours(x, x, x)
    torch.testing.assert_close(out, ref(x, x, x)[0], rtol=1e-5, atol=1e-5)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_mha_dropout_train_mode():
    ours, _ = _pair(dropout=0.5)
    x = torch.randn(2, 4, 8, dtype=D)
    ours.train()
    torch.manual_seed(0)
    a = ours(x, x, x)[0]
    ours.eval()
    assert not torch.allclose(a, ours(x, x, x)[0])


def test_mha_bad_input():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    ours, _ = _pair()
    x = torch.randn(2, 4, 8, dtype=D)
    with pytest.raises(ValueError, match="query"):
        ours(x[..., :6], x, x)
    with pytest.raises(ValueError, match="attn_mask"):
        ours(x, x, x, attn_mask=torch.zeros(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="key_padding_mask"):
        ours(x, x, x, key_padding_mask=torch.zeros(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="length mismatch"):
        ours(x, x, x[:, :3])
