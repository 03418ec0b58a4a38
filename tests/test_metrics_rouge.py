"""ROUGE-1/2/L vs rouge-score on random texts."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from nlp_course.metrics import rouge

words = st.lists(st.sampled_from(["the", "cat", "Sat", "on", "mat", "a", "dog,", "ran!", "7"]), max_size=12)
scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])


@settings(max_examples=200, deadline=None)
@given(words, words)
def test_match_rouge_score(ref, pred):
    ref, pred = " ".join(ref), " ".join(pred)
    want = scorer.score(ref, pred)
    for ours, key in ((rouge.rouge_n(ref, pred, 1), "rouge1"), (rouge.rouge_n(ref, pred, 2), "rouge2"),
                      (rouge.rouge_l(ref, pred), "rougeL")):
        assert ours == pytest.approx(tuple(want[key]))


def test_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        rouge.rouge_n("a", "a", 0)
    with pytest.raises(TypeError, match="str"):
        rouge.rouge_l(None, "a")
