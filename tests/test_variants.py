import math

import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig

from nlp_course.bert import BertForMaskedLM
from nlp_course.variants import (
    AlbertMaskedLM,
    DisentangledSelfAttention,
    count_parameters,
    distillation_loss,
    hidden_cosine_loss,
    seed_albert_local_heads,
)


def test_distillation_loss_equals_torch_kldiv_plus_ce():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(20, 30, generator=g, dtype=torch.float64), torch.randn(20, 30, generator=g, dtype=torch.float64)
    y = torch.randint(0, 30, (20,), generator=g)
    T, a = 3.0, 0.7
    kl = torch.nn.KLDivLoss(reduction="batchmean", log_target=True)(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1))
    ref = a * T**2 * kl + (1 - a) * F.cross_entropy(s, y)
    torch.testing.assert_close(distillation_loss(s, t, y, T, a), ref)
    assert distillation_loss(t, t, None, T, 1.0).abs() < 1e-12  # identical logits: no soft loss
    with pytest.raises(ValueError, match="same shape"):
        distillation_loss(s, t[:, :5], y)
    with pytest.raises(ValueError, match="labels"):
        distillation_loss(s, t, None, alpha=0.5)


def test_hidden_cosine_loss_equals_torch_cosine_embedding_loss():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(12, 8, generator=g, dtype=torch.float64), torch.randn(12, 8, generator=g, dtype=torch.float64)
    ref = torch.nn.CosineEmbeddingLoss()(s, t, torch.ones(12, dtype=torch.float64))
    torch.testing.assert_close(hidden_cosine_loss(s, t), ref)
    assert hidden_cosine_loss(t, 3 * t).abs() < 1e-12  # same direction: no loss, whatever the norm
    with pytest.raises(ValueError, match="same shape"):
        hidden_cosine_loss(s, t[:, :4])


def test_albert_factorisation_and_sharing_save_parameters():
    V, H, L = 5000, 128, 6
    albert = AlbertMaskedLM(V, 32, H, L, 4, 4 * H, 64)
    bert = BertForMaskedLM(BertConfig(vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=4,
                                      intermediate_size=4 * H, max_position_embeddings=64))
    assert count_parameters(albert) < count_parameters(bert) / 3
    # depth does not add parameters when the layer is shared
    assert count_parameters(AlbertMaskedLM(V, 32, H, 12, 4, 4 * H, 64)) == count_parameters(albert)
    ids = torch.randint(0, V, (2, 10))
    out = albert(ids, labels=ids)
    assert out.logits.shape == (2, 10, V) and out.loss.item() > 0
    out.loss.backward()
    assert albert.layer.linear1.weight.grad is not None


def test_seeded_albert_heads_attend_to_the_previous_and_next_token():
    torch.manual_seed(0)
    albert = AlbertMaskedLM(300, 32, 64, 2, 4, 128, 48, dropout=0.0).eval()  # head size 16 < E
    x = torch.randint(5, 300, (4, 48))

    def first_layer_attention(model):  # (B, H, T, T) of the shared layer's first application
        with torch.no_grad():
            h = model.up(model.norm(model.word(x) + model.pos(torch.arange(48))))  # (B, T, H)
            return model.layer.self_attn(h, h, h, need_weights=True)[1]

    i = torch.arange(1, 47)
    plain = first_layer_attention(albert)
    seeded = first_layer_attention(seed_albert_local_heads(albert))
    assert seeded[:, 0, i, i - 1].mean() > 0.8 and seeded[:, 1, i, i + 1].mean() > 0.8  # previous / next token
    assert plain[:, 0, i, i - 1].mean() < 0.1  # standard init: about uniform (1/48)
    assert albert(x).logits.shape == (4, 48, 300)
    with pytest.raises(ValueError, match="embedding_size"):
        seed_albert_local_heads(AlbertMaskedLM(300, 16, 64, 2, 2, 128, 48))  # head size 32 > E = 16


def test_disentangled_attention_without_positions_is_scaled_dot_product():
    torch.manual_seed(0)
    att = DisentangledSelfAttention(16, 2, max_relative=4).double()
    with torch.no_grad():
        for lin in (att.pos_q, att.pos_k):
            lin.weight.zero_()
            lin.bias.zero_()
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    q, k, v = att.qkv(x).split(16, -1)
    q, k, v = (t.view(3, 7, 2, 8).transpose(1, 2) for t in (q, k, v))
    ref = F.scaled_dot_product_attention(q, k, v, scale=1 / math.sqrt(3 * 8))
    torch.testing.assert_close(att(x), att.out(ref.transpose(1, 2).reshape(3, 7, 16)))


def test_disentangled_attention_depends_only_on_relative_position():
    torch.manual_seed(1)
    att = DisentangledSelfAttention(8, 2, max_relative=16).double()
    idx = att.relative_index(6)
    assert idx[2, 0] - idx[0, 0] == 2 and idx.min() >= 0 and idx.max() < 32
    x = torch.randn(1, 6, 8, dtype=torch.float64)
    _, w = att(x, return_weights=True)
    torch.testing.assert_close(w.sum(-1), torch.ones(1, 2, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match="divisible"):
        DisentangledSelfAttention(10, 3)
