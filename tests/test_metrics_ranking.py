"""Ranking metrics vs scikit-learn (ndcg_score, LRAP) and hand-checked recall@k."""

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp_course.metrics import ranking


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 6), st.integers(2, 8), st.integers(0, 10_000), st.integers(1, 9))
def test_ndcg_mrr_match_sklearn(q, n, seed, k):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, size=(q, n)).astype(float)  # ties on purpose
    gains = rng.integers(0, 4, size=(q, n)).astype(float)
    assert ranking.ndcg_at_k(scores, gains, k) == pytest.approx(skm.ndcg_score(gains, scores, k=k), abs=1e-12)
    one = np.zeros((q, n))
    one[np.arange(q), rng.integers(0, n, q)] = 1  # one relevant item per query
    assert ranking.mrr(scores, one) == pytest.approx(skm.label_ranking_average_precision_score(one, scores))
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    expected = np.mean([one[i, top[i]].sum() for i in range(q)])
    assert ranking.recall_at_k(scores, one, k) == pytest.approx(expected)


def test_bad_input():
    with pytest.raises(ValueError, match="k must be"):
        ranking.recall_at_k([[1.0, 0.0]], [[1, 0]], 0)
    with pytest.raises(ValueError, match="shape"):
        ranking.mrr([[1.0, 0.0]], [[1, 0, 0]])
    with pytest.raises(ValueError, match="non-empty"):
        ranking.ndcg_at_k(np.zeros((0, 2)), np.zeros((0, 2)))
