"""BLEU, TER and the 13a tokenizer vs sacrebleu on random (hypothesis) and edge-case inputs."""

import random

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from sacrebleu.metrics import BLEU
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from nlp_course.metrics import (
    bleu_from_stats,
    corpus_bleu,
    corpus_ter,
    sentence_bleu,
    sentence_ter,
    tokenize_13a,
)

VOCAB = ["the", "The", "cat", "sat", "on", "mat", "a", "dog", "ran", ",", ".", "3.5", "1,000",
         "-", "well-known", "&amp;", "(", ")", "\"", "it's", "кошка", "ёж"]
words = st.lists(st.sampled_from(VOCAB), max_size=14).map(" ".join)
refs_st = st.lists(words, min_size=1, max_size=3)
SMOOTH = ["none", "floor", "add-k", "exp"]
EXACT = dict(rel=1e-12, abs=1e-12)  # measured: identical floats on every example


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
       | st.lists(st.sampled_from(VOCAB + ["<skipped>", "-\n", "\n", "&quot;", "&lt;", "x", "9"]),
                  max_size=12).map("".join))
def test_tokenize_13a_matches_sacrebleu(line):
    assert tokenize_13a(line) == Tokenizer13a()(line).split()


@settings(max_examples=150, deadline=None)
@given(words, refs_st, st.sampled_from(SMOOTH), st.booleans(), st.booleans())
def test_sentence_bleu(hyp, refs, smooth, effective, lowercase):
    want = sacrebleu.sentence_bleu(hyp, refs, smooth_method=smooth, lowercase=lowercase,
                                   use_effective_order=effective)
    got = sentence_bleu(hyp, refs, smooth_method=smooth, effective_order=effective,
                        lowercase=lowercase)
    assert got.score == pytest.approx(want.score, **EXACT)
    assert got.precisions == pytest.approx(want.precisions, **EXACT)
    assert (got.bp, got.sys_len, got.ref_len) == pytest.approx((want.bp, want.sys_len, want.ref_len))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(words, min_size=n, max_size=n),
    st.lists(st.lists(words | st.none(), min_size=n, max_size=n), min_size=1, max_size=3))),
    st.sampled_from(SMOOTH), st.booleans())
def test_corpus_bleu_multi_reference(data, smooth, effective):
    hyps, streams = data
    # every segment needs at least one reference: sacrebleu crashes otherwise (we raise)
    streams = [list(streams[0])] + [list(s) for s in streams[1:]]
    streams[0] = [r if r is not None else "the cat" for r in streams[0]]
    want = sacrebleu.corpus_bleu(hyps, streams, smooth_method=smooth,
                                 use_effective_order=effective).score
    got = corpus_bleu(hyps, streams, smooth_method=smooth, effective_order=effective).score
    assert got == pytest.approx(want, **EXACT)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=4, max_size=4),
       st.lists(st.integers(0, 10), min_size=4, max_size=4), st.integers(0, 40), st.integers(0, 40),
       st.sampled_from(SMOOTH), st.none() | st.floats(0.01, 2.0), st.booleans())
def test_bleu_from_stats(total, extra, sys_len, ref_len, smooth, value, effective):
    total = sorted(total, reverse=True)  # fewer n-grams at higher orders
    correct = [min(t, e) for t, e in zip(total, extra)]
    want = BLEU.compute_bleu(list(correct), list(total), sys_len, ref_len, smooth, value,
                             effective).score
    got = bleu_from_stats(correct, total, sys_len, ref_len, smooth, value, effective).score
    assert got == pytest.approx(want, **EXACT)


@pytest.mark.parametrize("smooth", SMOOTH)
@pytest.mark.parametrize("hyp, refs", [
    ("", ["the cat sat on the mat"]),  # empty hypothesis: BP = 0
    ("dogs bark loudly", ["the cat sat on the mat"]),  # no overlap at all
    ("the cat", ["the cat sat on the mat"]),  # shorter than 4-grams
    ("the cat sat on the mat", ["the cat sat on the mat"]),  # perfect
    ("the the the the the the the", ["the cat is on the mat"]),  # Papineni's clipping example
    ("the cat is on the mat", ["there is a cat on the mat", "a cat is on the mat", ""]),
    ("Hello, world!", [""]),  # empty reference
])
def test_bleu_edge_cases(hyp, refs, smooth):
    for effective in (False, True):
        want = sacrebleu.sentence_bleu(hyp, refs, smooth_method=smooth,
                                       use_effective_order=effective).score
        assert sentence_bleu(hyp, refs, smooth_method=smooth,
                             effective_order=effective).score == pytest.approx(want, **EXACT)


def test_bleu_perfect_is_100_and_clipping():
    assert sentence_bleu("the cat sat on the mat", ["the cat sat on the mat"]).score == pytest.approx(100)
    s = sentence_bleu("the the the the the the the", ["the cat is on the mat"], smooth_method="none")
    assert s.counts[0] == 2 and s.totals[0] == 7  # clipped unigram precision 2/7


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d", "A", "e,"]), max_size=14).map(" ".join),
       st.lists(st.lists(st.sampled_from(["a", "b", "c", "d", "a", "x"]), max_size=14)
                .map(" ".join), min_size=1, max_size=3), st.booleans())
def test_sentence_ter(hyp, refs, case_sensitive):
    want = sacrebleu.sentence_ter(hyp, refs, case_sensitive=case_sensitive)
    got = sentence_ter(hyp, refs, case_sensitive=case_sensitive)
    assert (got.score, got.num_edits, got.ref_length) == pytest.approx(
        (want.score, want.num_edits, want.ref_length), **EXACT)


@pytest.mark.parametrize("hyp, refs", [
    ("", ["the cat sat"]),  # empty hypothesis: all insertions
    ("the cat sat", [""]),  # empty reference: score 100 (sacrebleu's convention)
    ("", [""]),
    ("on the mat sat the cat", ["the cat sat on the mat"]),  # block shifts
    ("dogs bark", ["the cat sat on the mat"]),
    ("The Cat", ["the cat", "a cat sat"]),
])
def test_ter_edge_cases(hyp, refs):
    want = sacrebleu.sentence_ter(hyp, refs)
    got = sentence_ter(hyp, refs)
    assert (got.score, got.num_edits) == pytest.approx((want.score, want.num_edits), **EXACT)


def test_ter_long_sentences_use_the_beam_and_corpus_pooling():
    rng = random.Random(0)
    vocab = "a b c d e f g h".split()
    hyps, refs = [], []
    for n in (8, 35, 45):  # > 25 words: the diagonal beam restricts the edit distance
        h = [rng.choice(vocab) for _ in range(n)]
        r = h[5:] + h[:5]  # a rotated block plus noise
        r[n // 2] = "z"
        hyps.append(" ".join(h))
        refs.append(" ".join(r[: n - 3]))
    want = sacrebleu.corpus_ter(hyps, [refs])
    got = corpus_ter(hyps, [refs])
    assert (got.score, got.num_edits, got.ref_length) == pytest.approx(
        (want.score, want.num_edits, want.ref_length), **EXACT)
    assert got.num_edits < sum(len(r.split()) for r in refs)  # shifts made it cheaper


def test_bad_input():
    with pytest.raises(ValueError, match="smooth_method"):
        sentence_bleu("a", ["a"], smooth_method="laplace")
    with pytest.raises(ValueError, match="max_order"):
        sentence_bleu("a", ["a"], max_order=0)
    with pytest.raises(ValueError, match="smooth_value"):
        sentence_bleu("a", ["a"], smooth_method="floor", smooth_value=-1)
    with pytest.raises(ValueError, match=r"references\[0\] has 1 segments"):
        corpus_bleu(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="no reference"):
        corpus_ter(["a"], [[None]])
    with pytest.raises(TypeError, match="hypotheses"):
        corpus_bleu("a b", [["a b"]])
    with pytest.raises(TypeError, match="references"):
        sentence_ter("a", "a")
    with pytest.raises(TypeError, match="hypothesis"):
        sentence_bleu(None, ["a"])
    with pytest.raises(TypeError, match="line"):
        tokenize_13a(3)
