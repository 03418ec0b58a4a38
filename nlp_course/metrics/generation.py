"""Generation metrics: perplexity, distinct-n, repeated n-gram rate.

Taught in notebook 10 (and used by notebook 11 to measure the "cycling" of diffusion samples).

- Perplexity is ``exp`` of the mean negative log-likelihood per token (nats). It is only
  comparable between models that share a tokenizer: more, shorter tokens make each one easier.
- distinct-n (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural
  Conversation Models"): unique n-grams / all n-grams over the whole set of texts.
- Repeated n-gram rate: within each text, the fraction of n-grams that already occurred
  earlier in the same text (Welleck et al. 2019 call its complement "uniqueness"); pooled
  over texts. A looping generator scores high, fluent text scores near 0.

Texts are split on whitespace when given as strings; pass token lists to control tokenization.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def _as_token_lists(texts) -> list[list[str]]:
    """Accept one string, a list of strings (texts) or a list of token lists."""
    if isinstance(texts, str):
        return [texts.split()]
    if not isinstance(texts, Sequence) or isinstance(texts, bytes):
        raise TypeError(f"texts must be a str, a list of str or a list of token lists, got {type(texts).__name__}")
    out = []
    for i, t in enumerate(texts):
        if isinstance(t, str):
            out.append(t.split())
        elif isinstance(t, Sequence):
            out.append([str(tok) for tok in t])
        else:
            raise TypeError(f"texts[{i}] must be a str or a token list, got {type(t).__name__}")
    return out


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """All contiguous n-grams of ``tokens`` in order."""
    _check_n(n)
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts, n: int) -> float:
    """Unique n-grams divided by total n-grams over all ``texts`` (0.0 when there are none)."""
    _check_n(n)
    grams = [g for toks in _as_token_lists(texts) for g in ngrams(toks, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repeated_ngram_rate(texts, n: int) -> float:
    """Fraction of n-grams that repeat an earlier n-gram of the same text (0.0 when none exist)."""
    _check_n(n)
    repeats = total = 0
    for toks in _as_token_lists(texts):
        grams = ngrams(toks, n)
        total += len(grams)
        repeats += len(grams) - len(set(grams))
    return repeats / total if total else 0.0


def perplexity(mean_nll: float) -> float:
    """``exp(mean_nll)``, where ``mean_nll`` is the mean negative log-likelihood per token in nats.

    Beyond float64 (``mean_nll`` above ~709.78) the answer is ``inf``, as ``torch.exp`` gives.
    """
    if isinstance(mean_nll, torch.Tensor):
        if mean_nll.numel() != 1:
            raise ValueError(f"mean_nll must be a scalar, got shape {tuple(mean_nll.shape)}")
        mean_nll = float(mean_nll)
    if isinstance(mean_nll, bool) or not isinstance(mean_nll, (int, float)):
        raise TypeError(f"mean_nll must be a float, got {type(mean_nll).__name__}")
    if not math.isfinite(mean_nll) or mean_nll < 0:
        raise ValueError(f"mean_nll must be a finite non-negative number of nats, got {mean_nll}")
    try:
        return math.exp(mean_nll)
    except OverflowError:  # mean_nll > ~709.78: beyond float64, as torch.exp gives
        return math.inf


def perplexity_from_log_probs(log_probs, mask=None) -> float:
    """Perplexity from per-token log-probabilities (natural log), optionally masked.

    ``log_probs`` is a tensor or list of shape (N,) or (B, T); ``mask`` (same shape, 1 = count)
    excludes padding. Equals ``exp(F.cross_entropy(logits, targets))`` when the log-probs are
    ``log_softmax(logits)`` gathered at the targets.
    """
    lp = torch.as_tensor(log_probs, dtype=torch.float64)
    if lp.numel() == 0:
        raise ValueError("log_probs is empty")
    if (lp > 1e-9).any():
        raise ValueError("log_probs must be <= 0 (natural-log probabilities)")
    if mask is None:
        return perplexity(float(-lp.mean()))
    m = torch.as_tensor(mask, dtype=torch.float64)
    if m.shape != lp.shape:
        raise ValueError(f"mask shape {tuple(m.shape)} must equal log_probs shape {tuple(lp.shape)}")
    if m.sum() == 0:
        raise ValueError("mask selects no tokens")
    return perplexity(float(-(lp * m).sum() / m.sum()))
