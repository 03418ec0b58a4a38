"""Classification metrics: accuracy, precision/recall/F1, confusion matrix, ROC curve and AUC.

Taught in notebook 10. Each function equals its scikit-learn twin (``sklearn.metrics``), which the
tests check on random and edge-case inputs.

- Precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = their harmonic mean. Averages:
  ``binary`` (the positive class), ``micro`` (pool counts; equals accuracy for single-label),
  ``macro`` (mean over classes), ``weighted`` (mean weighted by support), ``None`` (per class).
  A 0/0 ratio is 0 (sklearn's ``zero_division=0``).
- ROC-AUC is the probability that a random positive scores above a random negative, ties count
  one half (Fawcett 2006, "An introduction to ROC analysis").
"""

from __future__ import annotations

import numpy as np

AVERAGES = ("binary", "micro", "macro", "weighted", None)


def _check_pair(y_true, y_pred, name_pred: str = "y_pred"):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1:
        raise ValueError(f"y_true and {name_pred} must be 1-D, got shapes {y_true.shape} and {y_pred.shape}")
    if len(y_true) == 0:
        raise ValueError("y_true is empty: expected at least one sample")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and {name_pred} differ in length: {len(y_true)} != {len(y_pred)}")
    return y_true, y_pred


def _labels(y_true, y_pred, labels):
    present = np.unique(np.concatenate([y_true, y_pred]))
    if labels is None:
        return present
    labels = np.asarray(labels)
    if len(labels) == 0:
        raise ValueError("labels is empty: expected at least one label")
    missing = set(present.tolist()) - set(labels.tolist())
    if missing:
        raise ValueError(f"labels {sorted(missing)} occur in y_true/y_pred but not in labels={labels.tolist()}")
    return labels


def accuracy(y_true, y_pred) -> float:
    """Fraction of samples where the prediction equals the truth."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true, y_pred, labels=None) -> np.ndarray:
    """C[i, j] = number of samples of true class labels[i] predicted as labels[j]."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    labels = _labels(y_true, y_pred, labels)
    index = {lab: i for i, lab in enumerate(labels.tolist())}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        cm[index[t], index[p]] += 1
    return cm


def _div(num, den):
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def precision_recall_f1(y_true, y_pred, average="binary", pos_label=1, labels=None):
    """Return (precision, recall, f1) as floats, or arrays per label when ``average=None``."""
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    y_true, y_pred = _check_pair(y_true, y_pred)
    if average == "binary":
        present = set(np.unique(np.concatenate([y_true, y_pred])).tolist())
        if len(present - {pos_label}) > 1:
            raise ValueError(f"average='binary' needs two classes, got {sorted(present)}; pick another average")
        y_true = np.where(y_true == pos_label, pos_label, -1 if pos_label != -1 else -2)
        y_pred = np.where(y_pred == pos_label, pos_label, -1 if pos_label != -1 else -2)
        tp = np.array([np.sum((y_true == pos_label) & (y_pred == pos_label))])
        fp = np.array([np.sum((y_true != pos_label) & (y_pred == pos_label))])
        fn = np.array([np.sum((y_true == pos_label) & (y_pred != pos_label))])
    else:
        labels = _labels(y_true, y_pred, labels)
        tp = np.array([np.sum((y_true == c) & (y_pred == c)) for c in labels])
        fp = np.array([np.sum((y_true != c) & (y_pred == c)) for c in labels])
        fn = np.array([np.sum((y_true == c) & (y_pred != c)) for c in labels])
    if average == "micro":
        tp, fp, fn = tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True)
    p, r = _div(tp, tp + fp), _div(tp, tp + fn)
    f = _div(2 * tp, 2 * tp + fp + fn)
    if average is None:
        return p, r, f
    if average in ("binary", "micro"):
        return float(p[0]), float(r[0]), float(f[0])
    if average == "macro":
        return float(p.mean()), float(r.mean()), float(f.mean())
    support = tp + fn
    if support.sum() == 0:
        return 0.0, 0.0, 0.0
    w = support / support.sum()
    return float(p @ w), float(r @ w), float(f @ w)


def roc_curve(y_true, scores, pos_label=1):
    """(fpr, tpr, thresholds) at every distinct score, highest first; thresholds[0] = +inf."""
    y_true, scores = _check_pair(y_true, scores, "scores")
    if scores.dtype.kind not in "biuf":
        raise TypeError(f"scores must be real numbers, got dtype {scores.dtype}")
    if not np.isfinite(scores).all():  # scikit-learn refuses them too ("Input contains NaN")
        bad = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise ValueError(f"scores must be finite, got {scores[bad]} at index {bad}")
    pos = y_true == pos_label
    if pos.all() or not pos.any():
        raise ValueError("roc_curve needs both positive and negative samples in y_true")
    order = np.argsort(-scores.astype(float), kind="mergesort")
    s, p = scores[order].astype(float), pos[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    tps, fps = np.cumsum(p)[last], np.cumsum(~p)[last]
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    thresholds = np.r_[np.inf, s[last]]
    return fps / fps[-1], tps / tps[-1], thresholds


def roc_auc(y_true, scores, pos_label=1) -> float:
    """Area under the ROC curve (trapezoids; ties between classes count one half)."""
    fpr, tpr, _ = roc_curve(y_true, scores, pos_label)
    return float(np.trapezoid(tpr, fpr)) if hasattr(np, "trapezoid") else float(np.trapz(tpr, fpr))
