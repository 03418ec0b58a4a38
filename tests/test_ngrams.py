"""NGramLM: proper distributions (hypothesis), hand-computed counts, NLTK's Lidstone twin, errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.lm import Lidstone
from nltk.lm.preprocessing import padded_everygram_pipeline

from nlp_course.ngrams import EOS, UNK, NGramLM, tokenize

TOY = ["the cat sat on the mat", "the dog sat on the log", "a cat saw a dog"]
WORDS = st.sampled_from(["the", "cat", "dog", "sat", "on", "mat", "zebra", "<s>", "a", "log"])


@pytest.fixture(scope="module")
def wiki(wiki12):
    lines = [tokenize(line) for a in wiki12[:6] for line in a.split("\n")]
    return [s for s in lines if s]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("smoothing", ["add-k", "kneser-ney"])
def test_sums_to_one_on_wikipedia(wiki, n, smoothing):
    lm = NGramLM(n, smoothing, k=0.1).fit(wiki[:300])
    assert lm.vocab[-2:] == [UNK, EOS]
    for ctx in ([], ["the"], ["of", "the"], ["zzz", "qqq", "the"], wiki[300][:3]):
        d = lm.distribution(ctx)
        assert d.shape == (len(lm.vocab),) and (d > 0).all()
        assert math.isclose(d.sum(), 1.0, rel_tol=1e-9)
        assert math.isclose(lm.prob(lm.vocab[0], ctx), d[0], rel_tol=1e-12)


@pytest.mark.parametrize("smoothing", ["add-k", "kneser-ney"])
def test_vectorised_distribution_equals_prob(wiki, smoothing):
    lm = NGramLM(3, smoothing, k=0.3, min_count=2).fit(wiki[:300])
    for ctx in ([], ["the"], ["of", "the"], ["zzz", "the"], ["<s>"], wiki[300][:4]):
        d = lm.distribution(ctx)
        words = lm.vocab[::13] + [UNK, EOS, "never-seen-word"]
        np.testing.assert_allclose(d[[lm.index[lm._known(w)] for w in words]],
                                   [lm.prob(w, ctx) for w in words], rtol=1e-12, atol=0)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 4), smoothing=st.sampled_from(["add-k", "kneser-ney"]),
       k=st.floats(0.001, 5), context=st.lists(WORDS, max_size=5))
def test_distribution_property(n, smoothing, k, context):
    lm = NGramLM(n, smoothing, k=k).fit(TOY)
    probs = [lm.prob(w, context) for w in lm.vocab]
    assert math.isclose(sum(probs), 1.0, rel_tol=1e-9) and min(probs) > 0


def test_add_one_by_hand():
    lm = NGramLM(2, "add-k", k=1.0).fit(TOY)
    v = len(lm.vocab)  # 9 words + <unk> + </s>
    assert v == 11
    # "the" is followed by cat, mat, dog, log (4 times); "cat" once
    assert math.isclose(lm.prob("cat", ["the"]), (1 + 1) / (4 + v))
    assert math.isclose(lm.prob("zebra", ["the"]), 1 / (4 + v))  # scored as <unk>
    assert math.isclose(lm.prob("the", []), (2 + 1) / (3 + v))  # 2 of 3 sentences start "the"


def test_add_k_matches_nltk_lidstone(wiki):
    train, test = wiki[:200], wiki[200:230]
    ours = NGramLM(3, "add-k", k=0.5).fit(train)
    grams, vocab = padded_everygram_pipeline(3, train)
    ref = Lidstone(0.5, 3)
    ref.fit(grams, vocab)
    # NLTK's vocabulary also holds <s>, ours does not (it is never predicted): compare counts
    assert len(ref.vocab) == len(ours.vocab) + 1
    for s in test[:10]:
        for i, w in enumerate(s):
            ctx = (["<s>", "<s>"] + s)[i:i + 2]
            mine = ours.prob(w, ctx)
            c = ref.counts[ctx][w] if w in ours.index else ref.counts[ctx]["<UNK>"]
            total = ref.counts[ctx].N()
            assert math.isclose(mine, (c + 0.5) / (total + 0.5 * len(ours.vocab)))


def test_kneser_ney_continuation_counts():
    # "francisco" is frequent but only ever follows "san": its unigram continuation prob is low
    sents = ["san francisco is big"] * 5 + ["the glasses are big", "my glasses", "his glasses"]
    lm = NGramLM(2, "kneser-ney").fit(sents)
    assert lm.prob("francisco", ["zzz"]) < lm.prob("glasses", ["zzz"])
    assert lm.counts[0][()]["francisco"] > lm.counts[0][()]["glasses"]


def test_kneser_ney_beats_add_k_on_held_out(wiki):
    train, test = wiki[:-60], wiki[-60:]
    kn = NGramLM(3, "kneser-ney").fit(train).perplexity(test)
    addk = NGramLM(3, "add-k", k=0.01).fit(train).perplexity(test)
    assert kn < addk


def test_perplexity_matches_log_probs():
    lm = NGramLM(2, "kneser-ney").fit(TOY)
    sent = ["the", "cat", "sat"]
    ctxs = [["<s>"], ["the"], ["cat"], ["sat"]]
    logp = sum(math.log(lm.prob(w, c)) for w, c in zip([*sent, EOS], ctxs))
    assert math.isclose(lm.perplexity([sent]), math.exp(-logp / 4))


def test_complete_and_sample():
    lm = NGramLM(3, "kneser-ney").fit(TOY * 3)
    top = lm.complete("the cat s", k=3)
    assert top[0][0] == "sat" and all(w.startswith("s") for w, _ in top)
    assert lm.complete("on the ", k=2)[0][0] in {"mat", "log"}
    words = lm.sample("the", max_words=10, seed=0)
    assert words == lm.sample("the", max_words=10, seed=0) and UNK not in words
    assert set(words) <= set(lm.vocab)
    assert np.isclose(sum(p for _, p in lm.complete("the ", k=100)), 1.0)


def test_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        NGramLM(0)
    with pytest.raises(ValueError, match="smoothing"):
        NGramLM(2, "witten-bell")
    with pytest.raises(ValueError, match="k must"):
        NGramLM(2, "add-k", k=0)
    with pytest.raises(ValueError, match="empty"):
        NGramLM(2).fit([])
    with pytest.raises(ValueError, match="empty"):
        NGramLM(2).fit([[], ""])
    with pytest.raises(TypeError, match="not one str"):
        NGramLM(2).fit("the cat sat")
    with pytest.raises(RuntimeError, match="fit"):
        NGramLM(2).prob("cat", ["the"])
    with pytest.raises(ValueError, match="k must"):
        NGramLM(2).fit(TOY).complete("the", k=0)
