import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp_course.metrics import (
    distinct_n,
    perplexity,
    perplexity_from_log_probs,
    repeated_ngram_rate,
)


@pytest.mark.parametrize("shape", [(50,), (4, 13)])
def test_perplexity_equals_exp_of_torch_cross_entropy(shape):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(*shape, 37, generator=g, dtype=torch.float64) * 3
    targets = torch.randint(0, 37, shape, generator=g)
    ref = math.exp(F.cross_entropy(logits.reshape(-1, 37), targets.reshape(-1)).item())
    lp = logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    assert perplexity_from_log_probs(lp) == pytest.approx(ref, rel=1e-12)
    nll = F.cross_entropy(logits.reshape(-1, 37), targets.reshape(-1))
    assert perplexity(nll) == pytest.approx(ref, rel=1e-12)


def test_masked_perplexity_matches_ignore_index():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 9, 11, generator=g, dtype=torch.float64)
    targets = torch.randint(0, 11, (3, 9), generator=g)
    mask = torch.ones(3, 9)
    mask[0, 5:] = 0
    mask[2, 2:] = 0
    ignored = targets.masked_fill(mask == 0, -100)
    ref = math.exp(F.cross_entropy(logits.transpose(1, 2), ignored, ignore_index=-100).item())
    lp = logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    assert perplexity_from_log_probs(lp, mask) == pytest.approx(ref, rel=1e-12)


def test_uniform_model_has_perplexity_vocab_size():
    assert perplexity(math.log(50)) == pytest.approx(50)


def test_distinct_and_repeats_by_hand_counts():
    texts = ["a b a b a b", "c d e"]
    # bigrams: (a b) x3, (b a) x2 | (c d), (d e) -> 7 total, 4 unique
    assert distinct_n(texts, 2) == pytest.approx(4 / 7)
    # repeats inside text 1: 5 bigrams, 2 unique -> 3 repeats; text 2: none
    assert repeated_ngram_rate(texts, 2) == pytest.approx(3 / 7)
    assert distinct_n([["x", "y"], ["x", "y"]], 1) == pytest.approx(2 / 4)
    assert repeated_ngram_rate("the the the the", 1) == pytest.approx(3 / 4)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcde"), max_size=12), min_size=1, max_size=5), st.integers(1, 3))
def test_rates_are_fractions_and_consistent(token_lists, n):
    d, r = distinct_n(token_lists, n), repeated_ngram_rate(token_lists, n)
    assert 0.0 <= d <= 1.0 and 0.0 <= r <= 1.0
    if len(token_lists) == 1 and any(len(t) >= n for t in token_lists):
        assert d + r == pytest.approx(1.0)  # one text: unique share + repeated share = 1


def test_degenerate_and_bad_input():
    assert distinct_n(["a"], 2) == 0.0 and repeated_ngram_rate([""], 1) == 0.0
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n must be"):
            distinct_n(["a b"], bad)
    with pytest.raises(TypeError, match="texts"):
        distinct_n(42, 1)
    with pytest.raises(ValueError, match="mean_nll"):
        perplexity(-0.5)
    with pytest.raises(ValueError, match="log_probs"):
        perplexity_from_log_probs([0.5, -1.0])
    with pytest.raises(ValueError, match="empty"):
        perplexity_from_log_probs([])
    with pytest.raises(ValueError, match="mask"):
        perplexity_from_log_probs([-1.0, -2.0], [1.0])
