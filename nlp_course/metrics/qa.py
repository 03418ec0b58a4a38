"""Extractive QA metrics: SQuAD-normalised exact match and token F1. Taught in notebook 10.

Normalisation follows the official SQuAD v1.1 evaluation script (Rajpurkar et al. 2016):
lower-case, drop punctuation, drop the articles a/an/the, collapse whitespace. With several
gold answers a prediction takes the best score over them.
"""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower, strip punctuation, strip articles, collapse whitespace."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _golds(gold) -> list[str]:
    golds = [gold] if isinstance(gold, str) else list(gold)
    if not golds:
        raise ValueError("gold is empty: expected at least one reference answer")
    return golds


def exact_match(prediction: str, gold) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0."""
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in _golds(gold)))


def _f1(pred: str, gold: str) -> float:
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    if not p or not g:  # official script: both empty -> 1, one empty -> 0
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, gold) -> float:
    """Bag-of-tokens F1 between the normalised prediction and the best gold answer."""
    return max(_f1(prediction, g) for g in _golds(gold))
