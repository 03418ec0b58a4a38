"""Ranking metrics for retrieval: recall@k, MRR, nDCG@k. Taught in notebooks 09 and 10.

``scores`` is a (queries, candidates) array; ``relevance`` the same shape (0/1 or graded gains).
- recall@k: fraction of a query's relevant items that appear in its top k, averaged over queries.
- MRR (Voorhees 1999): mean of 1 / rank of the first relevant item. With one relevant item per
  query it equals sklearn's ``label_ranking_average_precision_score``.
- nDCG@k (Jarvelin & Kekalainen 2002): sum of gain / log2(rank + 1) over the top k, divided by the
  same sum for the ideal order; equals ``sklearn.metrics.ndcg_score`` (ties averaged like sklearn).
"""

from __future__ import annotations

import numpy as np


def _check(scores, relevance, k=None):
    scores, relevance = np.asarray(scores, dtype=float), np.asarray(relevance, dtype=float)
    if scores.ndim != 2 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty 2-D array (queries, candidates), got shape {scores.shape}")
    if scores.shape != relevance.shape:
        raise ValueError(f"scores and relevance differ in shape: {scores.shape} != {relevance.shape}")
    if (relevance < 0).any():
        raise ValueError("relevance must be non-negative")
    if k is not None and (int(k) != k or k < 1):
        raise ValueError(f"k must be an integer >= 1, got {k}")
    return scores, relevance


def recall_at_k(scores, relevance, k: int) -> float:
    """Mean over queries of |relevant in top k| / |relevant|; queries with none relevant are skipped."""
    scores, relevance = _check(scores, relevance, k)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    rel = relevance > 0
    n_rel = rel.sum(1)
    if not n_rel.any():
        raise ValueError("no query has a relevant item: recall@k is undefined")
    hit = np.take_along_axis(rel, top, axis=1).sum(1)
    return float(np.mean(hit[n_rel > 0] / n_rel[n_rel > 0]))


def mrr(scores, relevance) -> float:
    """Mean reciprocal rank of the first relevant item (0 for a query with no relevant item).

    Ties are broken pessimistically (a tied irrelevant item ranks above), as in sklearn's LRAP."""
    scores, relevance = _check(scores, relevance)
    rel = relevance > 0
    out = []
    for s, r in zip(scores, rel):
        if not r.any():
            out.append(0.0)
            continue
        best = s[r].max()
        out.append(1.0 / np.sum(s >= best))
    return float(np.mean(out))


def _dcg(gains, scores, k):
    """DCG with tied scores sharing their averaged gain (sklearn's ``ignore_ties=False``)."""
    order = np.argsort(-scores, kind="stable")
    s, g = scores[order], gains[order]
    discount = 1 / np.log2(np.arange(len(s)) + 2)
    discount[k:] = 0
    total, start = 0.0, 0
    while start < len(s):
        end = start + 1
        while end < len(s) and s[end] == s[start]:
            end += 1
        total += g[start:end].mean() * discount[start:end].sum()
        start = end
    return total


def ndcg_at_k(scores, relevance, k: int | None = None) -> float:
    """Mean over queries of DCG@k / ideal DCG@k (a query with ideal DCG 0 scores 0, like sklearn)."""
    scores, relevance = _check(scores, relevance, k)
    k = scores.shape[1] if k is None else int(k)
    vals = []
    for s, g in zip(scores, relevance):
        ideal = _dcg(np.sort(g)[::-1], np.arange(len(g), 0, -1, dtype=float), k)
        vals.append(0.0 if ideal == 0 else _dcg(g, s, k) / ideal)
    return float(np.mean(vals))
