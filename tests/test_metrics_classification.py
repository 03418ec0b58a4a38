"""Classification metrics vs scikit-learn on random and edge-case inputs."""

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp_course.metrics import classification as cm

labels_st = st.lists(st.integers(0, 3), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_prf_matches_sklearn(data):
    y_true = data.draw(labels_st)
    y_pred = data.draw(st.lists(st.integers(0, 3), min_size=len(y_true), max_size=len(y_true)))
    assert cm.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    np.testing.assert_array_equal(cm.confusion_matrix(y_true, y_pred), skm.confusion_matrix(y_true, y_pred))
    for average in ("micro", "macro", "weighted"):
        ours = cm.precision_recall_f1(y_true, y_pred, average=average)
        ref = skm.precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)[:3]
        np.testing.assert_allclose(ours, ref, atol=1e-12)
    ours = cm.precision_recall_f1(y_true, y_pred, average=None)
    ref = skm.precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)[:3]
    np.testing.assert_allclose(np.array(ours), np.array(ref), atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_binary_matches_sklearn(data):
    y_true = data.draw(st.lists(st.integers(0, 1), min_size=1, max_size=40))
    y_pred = data.draw(st.lists(st.integers(0, 1), min_size=len(y_true), max_size=len(y_true)))
    ours = cm.precision_recall_f1(y_true, y_pred, average="binary")
    ref = skm.precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0)[:3]
    np.testing.assert_allclose(ours, ref, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_roc_matches_sklearn_with_ties(data):
    n = data.draw(st.integers(2, 40))
    y = data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda v: 0 < sum(v) < len(v)))
    s = data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))  # few values -> many ties
    s = np.asarray(s, dtype=float) / 4
    assert cm.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, thr = cm.roc_curve(y, s)
    rf, rt, rthr = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, rf)
    np.testing.assert_allclose(tpr, rt)
    np.testing.assert_allclose(thr[1:], rthr[1:])


def test_bad_input():
    with pytest.raises(ValueError, match="empty"):
        cm.accuracy([], [])
    with pytest.raises(ValueError, match="length"):
        cm.accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="not in labels"):
        cm.confusion_matrix([0, 2], [0, 1], labels=[0, 1])
    with pytest.raises(ValueError, match="average"):
        cm.precision_recall_f1([0], [0], average="samples")
    with pytest.raises(ValueError, match="two classes"):
        cm.precision_recall_f1([0, 1, 2], [0, 1, 2], average="binary")
    with pytest.raises(ValueError, match="both positive and negative"):
        cm.roc_auc([1, 1], [0.2, 0.3])


def test_degenerate_all_negative_predictions():
    # no predicted positives: precision 0/0 -> 0, like sklearn zero_division=0
    assert cm.precision_recall_f1([1, 0], [0, 0]) == (0.0, 0.0, 0.0)
