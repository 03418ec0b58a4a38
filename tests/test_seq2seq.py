"""Seq2seq transformer = torch.nn.Transformer (pre-norm) given the same weights; decoding invariants."""

import pytest
import torch

from nlp_course.seq2seq import (
    CharVocab,
    Seq2SeqTransformer,
    beam_search,
    date_pairs,
    exact_match,
    greedy_decode,
)


def _model(seed=0):
    torch.manual_seed(seed)
    pairs = date_pairs(200, seed=0)
    vocab = CharVocab([s for s, _ in pairs] + [t for _, t in pairs])
    return Seq2SeqTransformer(len(vocab), d_model=16, nhead=2, num_layers=2, dim_feedforward=32).eval(), vocab, pairs


def test_date_pairs():
    pairs = date_pairs(50, seed=3)
    assert pairs == date_pairs(50, seed=3)
    for src, tgt in pairs:
        y, m, d = tgt.split("-")
        assert y in src and (str(int(d)) in src)


def test_vocab_roundtrip_and_errors():
    vocab = CharVocab(["ab"])
    assert vocab.decode(vocab.encode("ba", bos=True)) == "ba"
    batch = vocab.batch(["a", "abab"])
    assert batch.shape == (2, 5) and batch[0, 2] == CharVocab.PAD
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocab.encode("abc")


def test_matches_torch_transformer():
    model, vocab, pairs = _model()
    ref = torch.nn.Transformer(16, 2, 2, 2, 32, dropout=0.0, batch_first=True, norm_first=True).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(std=0.3)
    sd = {}
    for k, v in ref.state_dict().items():
        k = (k.replace("encoder.layers.", "encoder_layers.").replace("decoder.layers.", "decoder_layers.")
             .replace("encoder.norm.", "encoder_norm.").replace("decoder.norm.", "decoder_norm."))
        sd[k] = v
    missing = model.load_state_dict(sd, strict=False)
    assert sorted(missing.missing_keys) == ["embed.weight", "lm_head.weight"] and not missing.unexpected_keys
    src = vocab.batch([s for s, _ in pairs[:4]])
    tgt = vocab.batch([t for _, t in pairs[:4]], bos=True)[:, :-1]
    pad = src == CharVocab.PAD
    with torch.no_grad():
        ours = model(src, tgt)
        T = tgt.shape[1]
        out = ref(model._embed(src), model._embed(tgt), tgt_mask=ref.generate_square_subsequent_mask(T),
                  src_key_padding_mask=pad, memory_key_padding_mask=pad, tgt_is_causal=True)
        expected = model.lm_head(out)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)


def test_beam_width_one_is_greedy_and_scores_are_log_probs():
    model, vocab, pairs = _model(1)
    src = vocab.batch([pairs[0][0]])
    greedy = greedy_decode(model, src, max_len=8)[0].tolist()
    beams = beam_search(model, src, beam_size=1, max_len=8, alpha=0.0)
    assert beams[0][0] == greedy[: len(beams[0][0])]
    beams = beam_search(model, src, beam_size=3, max_len=8, alpha=0.0)
    scores = [s for _, s in beams]
    assert scores == sorted(scores, reverse=True)
    ids, score = beams[0]
    with torch.no_grad():
        inp = torch.tensor([[CharVocab.BOS] + ids[:-1]])
        logp = model(src, inp).log_softmax(-1)[0]
    torch.testing.assert_close(torch.tensor(score), logp[torch.arange(len(ids)), ids].sum(), rtol=1e-5, atol=1e-5)


def test_exact_match_range_and_bad_input():
    model, vocab, pairs = _model()
    assert 0.0 <= exact_match(model, vocab, pairs[:8]) <= 1.0
    with pytest.raises(ValueError, match=r"\(1, S\)"):
        beam_search(model, vocab.batch(["1", "2"]))
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, vocab.batch(["1"]), beam_size=0)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.ones(1, 200, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))
