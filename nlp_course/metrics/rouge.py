"""ROUGE-N and ROUGE-L F-measures (Lin 2004), equal to Google's ``rouge-score``. Taught in notebook 10.

Tokenisation matches rouge-score's default: lower-case, every non-alphanumeric character becomes a
space (no stemming). ROUGE-N counts clipped n-gram overlap; ROUGE-L uses the longest common
subsequence. Each returns (precision, recall, f1); an empty side gives 0.
"""

from __future__ import annotations

import re
from collections import Counter


def tokenize(text: str) -> list[str]:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def _prf(overlap: int, n_pred: int, n_ref: int):
    p = overlap / n_pred if n_pred else 0.0
    r = overlap / n_ref if n_ref else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def rouge_n(reference: str, prediction: str, n: int = 1):
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    def grams(toks):
        return Counter(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))
    ref, pred = grams(tokenize(reference)), grams(tokenize(prediction))
    return _prf(sum((ref & pred).values()), sum(pred.values()), sum(ref.values()))


def lcs_length(a: list, b: list) -> int:
    """Longest common subsequence length by dynamic programming, O(len(a) * len(b))."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(reference: str, prediction: str):
    ref, pred = tokenize(reference), tokenize(prediction)
    return _prf(lcs_length(ref, pred), len(pred), len(ref))
