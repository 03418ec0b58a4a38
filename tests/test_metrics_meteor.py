"""METEOR: worked examples by hand, NLTK's meteor_score where alignments are unique, brute force."""


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.translate.meteor_score import _count_chunks as nltk_count_chunks
from nltk.translate.meteor_score import align_words as nltk_align
from nltk.translate.meteor_score import meteor_score as nltk_meteor

from nlp_course.metrics import align, count_chunks, meteor, meteor_details

REF = "the cat sat on the mat"


class NoWordNet:
    """NLTK's METEOR also tries WordNet synonyms; offline we give it none (exact + stem only)."""

    def synsets(self, word):
        return []


class NoStem:
    def stem(self, word):
        return word


def by_hand(m, hyp_len, ref_len, chunks, alpha=0.9, beta=3.0, gamma=0.5):
    p, r = m / hyp_len, m / ref_len
    return p * r / (alpha * p + (1 - alpha) * r) * (1 - gamma * (chunks / m) ** beta)


def test_worked_examples():
    # identical: P = R = 1, one chunk of 6 -> 1 - 0.5 / 6^3
    assert meteor(REF, [REF]) == pytest.approx(1 - 0.5 / 216)
    # same words, three blocks "on the mat" | "sat" | "the cat": penalty 0.5 * (3/6)^3 = 1/16
    d = meteor_details("on the mat sat the cat", REF)
    assert (d.matches, d.chunks) == (6, 3) and d.score == pytest.approx(15 / 16)
    # stems: cats~cat, mats~mat ("sitting" and "sat" do not share a Porter stem) -> 5 matches,
    # chunks "the cat" and "on the mat": Fmean = 5/6, penalty 0.5 * (2/5)^3 = 0.032
    d = meteor_details("the cat sitting on the mat", "the cats sat on the mats")
    assert (d.matches, d.chunks) == (5, 2) and d.score == pytest.approx(5 / 6 * (1 - 0.032))
    assert d.alignment == [(0, 0), (1, 1), (3, 3), (4, 4), (5, 5)]
    assert meteor_details("the cat sitting on the mat", "the cats sat on the mats",
                          stem=False).matches == 3
    # short hypothesis: P = 1, R = 1/3, Fmean = (1/3) / (0.9 + 0.1/3); one chunk of 2
    d = meteor_details("the cat", REF)
    assert d.fmean == pytest.approx((1 / 3) / (0.9 + 0.1 / 3))
    assert d.score == pytest.approx(d.fmean * (1 - 0.5 / 8))
    # recall weighs 9x more than precision: a long hypothesis loses less than a short one
    assert meteor(REF + " today in the sun", [REF]) > meteor("the cat sat", [REF])
    # 2005 formula 10PR / (R + 9P)
    p, r = 2 / 2, 2 / 6
    assert d.fmean == pytest.approx(10 * p * r / (r + 9 * p))


def test_degenerate_and_multi_reference():
    assert meteor("", [REF]) == 0.0
    assert meteor("dogs bark", [REF]) == 0.0
    assert meteor("the cat", [""]) == 0.0
    refs = ["a dog ran", REF]
    assert meteor("the cat sat", refs) == max(meteor("the cat sat", [r]) for r in refs)
    assert meteor(["The", "CAT"], [["the", "cat"]]) == meteor("the cat", ["the cat"])  # lower-cased


def test_fewest_chunks_beats_nltk_greedy_alignment():
    # NLTK matches each word to the last free position: "the" -> 5th word, two chunks
    nltk = nltk_meteor([REF.split()], "the cat".split(), wordnet=NoWordNet())
    assert nltk == pytest.approx(by_hand(2, 2, 6, chunks=2))
    assert meteor("the cat", [REF]) == pytest.approx(by_hand(2, 2, 6, chunks=1))


# distinct stem groups, so every alignment is unique and NLTK's greedy choice is the optimum
GROUPS = [["cat", "cats"], ["run", "runs", "running"], ["jump", "jumped"], ["mat"], ["the"],
          ["on"], ["quick", "quickly"], ["dog", "dogs"], ["eat", "eats", "eating"], ["sun"]]
unique_words = st.lists(st.integers(0, len(GROUPS) - 1), unique=True, max_size=8).flatmap(
    lambda ids: st.tuples(*[st.sampled_from(GROUPS[i]) for i in ids]).map(list))


@settings(max_examples=200, deadline=None)
@given(unique_words, st.lists(unique_words, min_size=1, max_size=3),
       st.sampled_from([(0.9, 3.0, 0.5), (0.81, 0.83, 0.28), (0.5, 1.0, 1.0)]))
def test_equals_nltk_when_alignment_is_unique(hyp, refs, params):
    alpha, beta, gamma = params
    want = nltk_meteor(refs, hyp, wordnet=NoWordNet(), alpha=alpha, beta=beta, gamma=gamma)
    assert meteor(hyp, refs, alpha, beta, gamma) == pytest.approx(want, rel=1e-12, abs=1e-12)


repeats = st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=6)


def brute_force_chunks(hyp, ref):
    """Fewest chunks over every maximum one-to-one exact-match alignment (full enumeration)."""
    results = []

    def extend(i, pairs, used):
        if i == len(hyp):
            results.append((len(pairs), -count_chunks(pairs) if pairs else 0))
            return
        extend(i + 1, pairs, used)  # hyp word i unmatched
        for j, w in enumerate(ref):
            if w == hyp[i] and j not in used:
                extend(i + 1, [*pairs, (i, j)], used | {j})

    extend(0, [], frozenset())
    m, neg_chunks = max(results)
    return m, -neg_chunks


@settings(max_examples=80, deadline=None)
@given(repeats, repeats)
def test_alignment_has_fewest_chunks_and_never_loses_to_nltk(hyp, ref):
    pairs = align(hyp, ref, stem=False)
    assert all(hyp[i] == ref[j] for i, j in pairs)
    assert len({i for i, _ in pairs}) == len({j for _, j in pairs}) == len(pairs)  # one-to-one
    m, chunks = brute_force_chunks(hyp, ref)
    assert len(pairs) == m and (count_chunks(pairs) if pairs else 0) == chunks
    nltk = nltk_meteor([ref], hyp, wordnet=NoWordNet(), stemmer=NoStem())
    assert meteor(hyp, [ref], stem=False) >= nltk - 1e-12


def test_many_repeated_words_stay_fast_and_valid():
    hyp = ("the " * 10 + "cat sat on the mat and the dog " * 3).split()
    ref = ("the dog and the cat " * 4 + "the " * 6).split()
    d = meteor_details(hyp, ref)  # beam search past 64 competing states
    assert d.matches == sum(min(hyp.count(w), ref.count(w)) for w in set(hyp))
    assert d.score >= nltk_meteor([ref], hyp, wordnet=NoWordNet()) - 1e-12


def test_300_repeated_words_same_matches_as_nltk_and_no_more_chunks():
    """A looping generator's output (was > 60 s; now well under a second, not timed here)."""
    hyp = ("the cat sat on the mat and " * 43).split()[:300]
    ref = ("the dog sat on the mat and the cat ran off " * 28).split()[:300]
    pairs, _, _ = nltk_align(hyp, ref, wordnet=NoWordNet())
    nltk_chunks = nltk_count_chunks(pairs)
    nltk = nltk_meteor([ref], hyp, wordnet=NoWordNet())
    assert nltk == pytest.approx(by_hand(len(pairs), 300, 300, nltk_chunks), rel=1e-12)
    d = meteor_details(hyp, ref)
    assert d.matches == len(pairs)  # the same P, R and Fmean as NLTK ...
    assert d.score == pytest.approx(by_hand(d.matches, 300, 300, d.chunks), rel=1e-12)
    assert d.chunks <= nltk_chunks and d.score >= nltk  # ... and never more chunks
    # 300 copies of one word: one chunk and the same score as NLTK
    same = meteor_details(["the"] * 300, ["the"] * 300)
    assert same.chunks == 1
    assert same.score == pytest.approx(nltk_meteor([["the"] * 300], ["the"] * 300,
                                                   wordnet=NoWordNet()), rel=1e-12)


def test_bad_input():
    with pytest.raises(TypeError, match="references"):
        meteor("a", "a")
    with pytest.raises(TypeError, match="hypothesis"):
        meteor(3, ["a"])
    with pytest.raises(ValueError, match="alpha"):
        meteor("a", ["a"], alpha=1.5)
    with pytest.raises(ValueError, match="beta"):
        meteor("a", ["a"], beta=-1)
