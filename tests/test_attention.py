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


# ---- masks --------------------------------------------------------------------------------------
from nlp_course.masks import (  # noqa: E402
    attention_cost,
    bigbird_mask,
    causal_mask,
    longformer_mask,
    padding_mask,
    sliding_window_mask,
)


def test_causal_mask_matches_torch_is_causal():
    q, k, v = _qkv(L=4, S=6)
    torch.testing.assert_close(F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(4, 6)),
                               F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert torch.equal(causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))


def test_padding_mask():
    m = padding_mask([3, 1, 0], max_len=4)
    assert m.tolist() == [[True, True, True, False], [True, False, False, False], [False] * 4]
    with pytest.raises(ValueError, match="max_len"):
        padding_mask([5], max_len=4)


def test_sparse_patterns():
    T, w = 16, 2
    sw = sliding_window_mask(T, w)
    assert sw.sum() == sum(min(T - 1, i + w) - max(0, i - w) + 1 for i in range(T))
    assert torch.equal(sw, sw.T)
    csw = sliding_window_mask(T, w, causal=True)
    assert torch.equal(csw, sw & causal_mask(T))
    lf = longformer_mask(T, w, global_tokens=[0, 7])
    assert lf[0].all() and lf[:, 7].all() and not lf[3, 12]
    bb = bigbird_mask(T, w, global_tokens=[0], num_random=3, seed=1)
    assert (bb & ~longformer_mask(T, w, [0])).any() and torch.equal(bb, bigbird_mask(T, w, [0], 3, seed=1))
    assert (bb.sum(1) <= lf.sum(1).max() + 3).all()
    full, sparse = attention_cost(torch.ones(T, T, dtype=torch.bool), 8), attention_cost(sw, 8)
    assert full["flops"] == 4 * T * T * 8 and sparse["nnz"] < full["nnz"]


def test_mask_bad_input():
    with pytest.raises(ValueError, match="window"):
        sliding_window_mask(8, 0)
    with pytest.raises(ValueError, match="global_tokens"):
        longformer_mask(8, 1, global_tokens=[9])
    with pytest.raises(ValueError, match="num_random"):
        bigbird_mask(8, 1, num_random=-1)
    with pytest.raises(ValueError, match="seq_len"):
        causal_mask(0)


# ---- positional encodings -----------------------------------------------------------------------
from nlp_course.positional import (  # noqa: E402
    LearnedPositionalEmbedding,
    apply_rope,
    rope_cos_sin,
    sinusoidal_encoding,
    sinusoidal_shift,
)


def test_sinusoidal_formula_and_relative_rotation():
    pe = sinusoidal_encoding(50, 16, dtype=D)
    import numpy as np

    p, i = np.arange(50)[:, None], np.arange(8)[None, :]
    ang = p / 10000 ** (2 * i / 16)
    np.testing.assert_allclose(pe[:, 0::2].numpy(), np.sin(ang), atol=1e-12)
    np.testing.assert_allclose(pe[:, 1::2].numpy(), np.cos(ang), atol=1e-12)
    # PE[p + k] = PE[p] @ R_k for one fixed block rotation R_k (angle k * w_i per (sin, cos) pair), whatever p
    k = 5
    w = 1 / 10000 ** (2 * torch.arange(8, dtype=D) / 16)  # (8,) frequencies
    c, s = torch.cos(k * w), torch.sin(k * w)
    rot = torch.zeros(16, 16, dtype=D)
    rot[0::2, 0::2], rot[0::2, 1::2] = torch.diag(c), torch.diag(-s)  # sin(a+b) = sin a cos b + cos a sin b
    rot[1::2, 0::2], rot[1::2, 1::2] = torch.diag(s), torch.diag(c)  # cos(a+b) = cos a cos b - sin a sin b
    torch.testing.assert_close(pe[:-k] @ rot, pe[k:], atol=1e-12, rtol=0)
    torch.testing.assert_close(sinusoidal_shift(k, 16, dtype=D), rot.T, atol=1e-12, rtol=0)  # column form
    torch.testing.assert_close(pe[k:-k] @ sinusoidal_shift(-k, 16, dtype=D).T, pe[:-2 * k], atol=1e-12, rtol=0)


def test_rope_matches_hf_llama_and_is_relative():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 3, 10, 8, generator=g, dtype=D), torch.randn(2, 3, 10, 8, generator=g, dtype=D)
    cos, sin = rope_cos_sin(10, 8, dtype=D)
    hq, hk = apply_rotary_pos_emb(q, k, cos[None], sin[None])
    torch.testing.assert_close(apply_rope(q, cos, sin), hq)
    torch.testing.assert_close(apply_rope(k, cos, sin), hk)
    # <R_m q, R_n k> depends only on m - n
    qv, kv = q[0, 0, 0], k[0, 0, 0]
    c, s = rope_cos_sin(40, 8, dtype=D)

    def score(m, n):
        return apply_rope(qv[None], c[m:m + 1], s[m:m + 1]) @ apply_rope(kv[None], c[n:n + 1], s[n:n + 1]).T

    torch.testing.assert_close(score(7, 3), score(30, 26))
    with pytest.raises(ValueError, match="dim"):
        rope_cos_sin(4, 7)


def test_learned_positions_cannot_extrapolate():
    emb = LearnedPositionalEmbedding(8, 4)
    assert emb(torch.zeros(2, 8, 4)).shape == (2, 8, 4)
    with pytest.raises(ValueError, match="max_len"):
        emb(torch.zeros(1, 9, 4))
