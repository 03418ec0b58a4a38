"""EncoderLayer/DecoderLayer equal torch.nn.TransformerEncoderLayer/DecoderLayer given the same weights."""

import pytest
import torch

from nlp_course.transformer import DecoderLayer, EncoderLayer

D = torch.float64
TORCH_ACT = {"relu": "relu", "gelu": "gelu", "gelu_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh")}


def _randomize(module):
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(std=0.5)


def _enc_pair(norm_first, activation, eps=1e-5, bias=True):
    ref = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, activation=TORCH_ACT[activation],
                                           layer_norm_eps=eps, batch_first=True, norm_first=norm_first,
                                           bias=bias, dtype=D).eval()
    _randomize(ref)
    ours = EncoderLayer(16, 4, 32, dropout=0.1, activation=activation, layer_norm_eps=eps,
                        norm_first=norm_first, bias=bias).to(D).eval()
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def _inputs():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 6, 16, generator=g, dtype=D)
    pad = torch.zeros(3, 6, dtype=torch.bool)
    pad[1, 4:] = True
    pad[2, 5:] = True
    return x, pad


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu_tanh"])
@pytest.mark.parametrize("masks", ["none", "padding", "causal", "float"])
def test_encoder_layer_matches_torch(norm_first, activation, masks):
    ours, ref = _enc_pair(norm_first, activation)
    x, pad = _inputs()
    kw = {"none": {}, "padding": {"src_key_padding_mask": pad},
          "causal": {"src_mask": torch.ones(6, 6, dtype=torch.bool).triu(1)},
          "float": {"src_mask": torch.randn(6, 6, dtype=D)}}[masks]
    out = ours(x, **kw)
    expected = ref(x, **kw)
    keep = ~pad if masks == "padding" else torch.ones(3, 6, dtype=torch.bool)
    torch.testing.assert_close(out[keep], expected[keep], rtol=0, atol=1e-6)


def test_encoder_layer_bert_configuration():
    """BERT: post-norm, exact GELU, eps 1e-12, padding mask; weights returned per head."""
    ours, ref = _enc_pair(False, "gelu", eps=1e-12)
    x, pad = _inputs()
    out, w = ours(x, src_key_padding_mask=pad, need_weights=True)
    torch.testing.assert_close(out[~pad], ref(x, src_key_padding_mask=pad)[~pad], rtol=0, atol=1e-6)
    assert w.shape == (3, 4, 6, 6)
    assert torch.all(w[1, :, :, 4:] == 0)
    torch.testing.assert_close(ours(x, src_key_padding_mask=pad), out)
    ref_w = ref.self_attn(x, x, x, key_padding_mask=pad, need_weights=True, average_attn_weights=False)[1]
    torch.testing.assert_close(w, ref_w, rtol=0, atol=1e-6)


def test_encoder_layer_no_bias_float32_and_train_mode():
    ours, ref = _enc_pair(True, "relu", bias=False)
    x, _ = _inputs()
    torch.testing.assert_close(ours.float()(x.float()), ref.float()(x.float()), rtol=1e-5, atol=1e-5)
    ours.train()
    torch.manual_seed(0)
    a = ours(x.float())
    assert not torch.allclose(a, ours.eval()(x.float()))


def _dec_pair(norm_first, activation="relu"):
    ref = torch.nn.TransformerDecoderLayer(16, 4, 32, dropout=0.1, activation=TORCH_ACT[activation],
                                           batch_first=True, norm_first=norm_first, dtype=D).eval()
    _randomize(ref)
    ours = DecoderLayer(16, 4, 32, dropout=0.1, activation=activation, norm_first=norm_first).to(D).eval()
    ours.load_state_dict(ref.state_dict())
    return ours, ref


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_decoder_layer_matches_torch(norm_first, activation):
    ours, ref = _dec_pair(norm_first, activation)
    g = torch.Generator().manual_seed(2)
    tgt = torch.randn(2, 5, 16, generator=g, dtype=D)
    mem = torch.randn(2, 7, 16, generator=g, dtype=D)
    causal = torch.ones(5, 5, dtype=torch.bool).triu(1)
    tpad = torch.tensor([[False] * 5, [False] * 4 + [True]])
    mpad = torch.tensor([[False] * 7, [False] * 5 + [True] * 2])
    kw = dict(tgt_mask=causal, tgt_key_padding_mask=tpad, memory_key_padding_mask=mpad)
    expected = ref(tgt, mem, **kw)
    torch.testing.assert_close(ours(tgt, mem, **kw), expected, rtol=0, atol=1e-6)
    # the causal flag alone builds the same mask
    torch.testing.assert_close(ours(tgt, mem, tgt_is_causal=True, tgt_key_padding_mask=tpad,
                                    memory_key_padding_mask=mpad), expected, rtol=0, atol=1e-6)
    mm = torch.randn(5, 7, generator=g, dtype=D)
    torch.testing.assert_close(ours(tgt, mem, memory_mask=mm), ref(tgt, mem, memory_mask=mm), rtol=0, atol=1e-6)
    out, w = ours(tgt, mem, need_weights=True)
    assert w.shape == (2, 4, 5, 7)
    torch.testing.assert_close(out, ref(tgt, mem), rtol=0, atol=1e-6)


def test_state_dict_names_match_torch():
    for ours, ref in (_enc_pair(False, "relu"), _dec_pair(False)):
        assert list(ours.state_dict()) == list(ref.state_dict())


def test_bad_input():
    with pytest.raises(ValueError, match="activation"):
        EncoderLayer(16, 4, 32, activation="swish")
    with pytest.raises(ValueError, match="divisible"):
        EncoderLayer(16, 5, 32)
    ours, _ = _enc_pair(False, "relu")
    with pytest.raises(ValueError, match="src"):
        ours(torch.randn(2, 3, 8, dtype=D))
    with pytest.raises(ValueError, match="attn_mask"):
        ours(torch.randn(2, 3, 16, dtype=D), src_mask=torch.zeros(4, 4, dtype=torch.bool))
    dec, _ = _dec_pair(False)
    with pytest.raises(ValueError, match="memory"):
        dec(torch.randn(2, 3, 16, dtype=D), torch.randn(2, 3, 12, dtype=D))


@pytest.mark.parametrize("norm_first", [False, True])
def test_xl_memory_equals_full_causal_attention_and_carries_context(norm_first):
    """One layer over [seg1; seg2] with a causal mask == seg2 attending to seg1's memory."""
    from nlp_course.transformer import forward_with_memory

    ours, _ = _enc_pair(norm_first, "relu")
    x, _ = _inputs()
    full = ours(x, src_mask=torch.ones(6, 6, dtype=torch.bool).triu(1))
    out1, mem = forward_with_memory(ours, x[:, :3], None)
    out2, _ = forward_with_memory(ours, x[:, 3:], mem)
    torch.testing.assert_close(torch.cat([out1, out2], 1), full, rtol=0, atol=1e-10)
    assert not mem.requires_grad


@pytest.mark.parametrize("norm_first", [False, True])
def test_layer_stacks_match_torch_multi_layer(norm_first):
    """Three of our layers in a row == torch.nn.TransformerEncoder/Decoder(num_layers=3)."""
    torch.manual_seed(0)
    enc_layer = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True,
                                                 norm_first=norm_first, dtype=D)
    ref_enc = torch.nn.TransformerEncoder(enc_layer, 3, enable_nested_tensor=False).eval()
    dec_layer = torch.nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, batch_first=True,
                                                 norm_first=norm_first, dtype=D)
    ref_dec = torch.nn.TransformerDecoder(dec_layer, 3).eval()
    for ref in (ref_enc, ref_dec):
        _randomize(ref)
    encs = [EncoderLayer(16, 4, 32, dropout=0.0, norm_first=norm_first).to(D).eval() for _ in range(3)]
    decs = [DecoderLayer(16, 4, 32, dropout=0.0, norm_first=norm_first).to(D).eval() for _ in range(3)]
    for ours, ref in zip(encs + decs, list(ref_enc.layers) + list(ref_dec.layers)):
        ours.load_state_dict(ref.state_dict())
    x, pad = _inputs()
    tgt = torch.randn(3, 4, 16, generator=torch.Generator().manual_seed(5), dtype=D)
    mem = x
    for layer in encs:
        mem = layer(mem, src_key_padding_mask=pad)
    expected_mem = ref_enc(x, src_key_padding_mask=pad)
    torch.testing.assert_close(mem[~pad], expected_mem[~pad], rtol=0, atol=1e-6)
    y = tgt
    for layer in decs:
        y = layer(y, mem, tgt_is_causal=True, memory_key_padding_mask=pad)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=D)
    expected = ref_dec(tgt, mem, tgt_mask=causal, memory_key_padding_mask=pad, tgt_is_causal=True)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-6)
