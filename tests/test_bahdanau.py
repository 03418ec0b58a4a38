"""Tests for nlp_course.bahdanau: additive attention by hand, masks, shapes, a tiny overfit."""

import math

import pytest
import torch

from nlp_course.bahdanau import AdditiveAttention, BahdanauSeq2Seq
from nlp_course.seq2seq import (
    CharVocab,
    beam_search,
    date_pairs,
    exact_match,
    greedy_decode,
    train_seq2seq,
)


def test_additive_score_equals_the_formula_by_hand():
    torch.manual_seed(0)
    att = AdditiveAttention(3, 4, 5).double()
    s, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 6, 4, dtype=torch.float64)
    W, U, b, v = (t.detach() for t in (att.W.weight, att.U.weight, att.U.bias, att.v.weight[0]))
    by_hand = torch.zeros(2, 6, dtype=torch.float64)
    for i in range(2):
        for j in range(6):  # e_ij = v^T tanh(W s_i + U h_ij + b)
            by_hand[i, j] = sum(v[a] * math.tanh(float(W[a] @ s[i] + U[a] @ h[i, j] + b[a])) for a in range(5))
    torch.testing.assert_close(att.scores(s, h), by_hand, rtol=0, atol=1e-12)
    context, weights = att(s, h)
    torch.testing.assert_close(weights, by_hand.softmax(-1), rtol=0, atol=1e-12)
    torch.testing.assert_close(context, torch.einsum("bs,bsd->bd", weights, h), rtol=0, atol=1e-12)


def test_weights_sum_to_one_and_skip_padding():
    torch.manual_seed(1)
    att = AdditiveAttention(3, 4, 5)
    s, h = torch.randn(2, 3), torch.randn(2, 6, 4)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    context, weights = att(s, h, pad)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2))
    assert torch.all(weights[1, 4:] == 0)
    short, _ = att(s[1:], h[1:, :4])  # the padded row equals the same row without its padding
    torch.testing.assert_close(context[1:], short)
    with pytest.raises(ValueError, match="hides every source position"):
        att(s, h, torch.ones(2, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match="pad must be"):
        att(s, h, torch.zeros(2, 5, dtype=torch.bool))


@pytest.fixture(scope="module")
def vocab_and_model():
    pairs = date_pairs(8, seed=0)
    vocab = CharVocab([s for s, _ in pairs] + [t for _, t in pairs] + ["0123456789-./ JanDecx"])
    torch.manual_seed(0)
    return pairs, vocab, BahdanauSeq2Seq(len(vocab), emb=8, hidden=16, attn_dim=16)


def test_shapes_and_padding_invariance(vocab_and_model):
    pairs, vocab, model = vocab_and_model
    model.eval()
    src = vocab.batch(["01.02.2003", "4 Jan 1999"])  # lengths 11 and 11; pad the second below
    longer = vocab.batch(["01.02.2003", "4 Jan 1999", "12 Dec 2001 x"[:13]])[:2]  # (2, 14): extra pads
    tgt = vocab.batch(["2003-02-01", "1999-01-04"], bos=True)[:, :-1]  # (2, 11)
    logits, weights = model.decode(tgt, *model.encode(src), need_weights=True)
    assert logits.shape == (2, 11, len(vocab)) and weights.shape == (2, 11, src.shape[1])
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 11))
    logits_long, weights_long = model.decode(tgt, *model.encode(longer), need_weights=True)
    torch.testing.assert_close(logits_long, logits, rtol=0, atol=1e-5)  # pads change nothing
    assert torch.all(weights_long[:, :, src.shape[1]:] == 0)


def test_overfits_eight_dates_and_works_with_the_transformer_decoders(vocab_and_model):
    pairs, vocab, model = vocab_and_model
    losses = train_seq2seq(model, vocab, pairs, steps=60, batch_size=8, lr=3e-2, seed=0)
    assert losses[-1] < 0.1 < 2.0 < losses[0]
    assert exact_match(model, vocab, pairs) == 1.0
    src, tgt = pairs[0]
    assert vocab.decode(greedy_decode(model, vocab.batch([src]), max_len=12)[0]) == tgt
    assert vocab.decode(beam_search(model, vocab.batch([src]), beam_size=3, max_len=12)[0][0]) == tgt


def test_bad_input_is_named():
    model = BahdanauSeq2Seq(10, emb=4, hidden=4, attn_dim=4)
    with pytest.raises(ValueError, match="src must be"):
        model.encode(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="at least one non-pad"):
        model.encode(torch.tensor([[3, 4], [0, 0]]))
    with pytest.raises(ValueError, match="hidden"):
        BahdanauSeq2Seq(10, hidden=0)
