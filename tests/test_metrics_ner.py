"""NER span extraction and entity P/R/F1 vs seqeval (default conlleval mode)."""

import pytest
import seqeval.metrics as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics.sequence_labeling import get_entities

from nlp_course.metrics import ner

tag = st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])


@settings(max_examples=200, deadline=None)
@given(st.lists(tag, min_size=1, max_size=15))
def test_spans_match_seqeval(tags):
    assert ner.bio_spans(tags) == get_entities(tags)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_prf_match_seqeval(data):
    lens = data.draw(st.lists(st.integers(1, 8), min_size=1, max_size=5))
    y_true = [data.draw(st.lists(tag, min_size=n, max_size=n)) for n in lens]
    y_pred = [data.draw(st.lists(tag, min_size=n, max_size=n)) for n in lens]
    p, r, f = ner.entity_prf(y_true, y_pred)
    assert p == pytest.approx(sm.precision_score(y_true, y_pred, zero_division=0))
    assert r == pytest.approx(sm.recall_score(y_true, y_pred, zero_division=0))
    assert f == pytest.approx(sm.f1_score(y_true, y_pred, zero_division=0))
    expected = sum(set(get_entities(t)) == set(get_entities(q)) for t, q in zip(y_true, y_pred)) / len(lens)
    assert ner.sentence_exact_match(y_true, y_pred) == pytest.approx(expected)


def test_bad_input():
    with pytest.raises(ValueError, match="empty"):
        ner.entity_prf([], [])
    with pytest.raises(ValueError, match="tags"):
        ner.entity_prf([["O"]], [["O", "O"]])
    with pytest.raises(ValueError, match="not BIO"):
        ner.bio_spans(["X-PER"])
