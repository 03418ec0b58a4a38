"""NER metrics: BIO span extraction and entity-level precision/recall/F1. Taught in notebook 10.

An entity counts as correct only if its type and both boundaries match exactly (CoNLL-2003,
Tjong Kim Sang & De Meulder 2003). Spans follow the conlleval convention used by seqeval's
default mode: an ``I-X`` after ``O`` or after another type starts a new entity.
"""

from __future__ import annotations


def _split(tag: str):
    if not isinstance(tag, str):
        raise TypeError(f"tags must be str, got {type(tag).__name__}")
    if tag == "O":
        return "O", ""
    if len(tag) < 3 or tag[0] not in "BI" or tag[1] != "-":
        raise ValueError(f"tag {tag!r} is not BIO: expected 'O', 'B-TYPE' or 'I-TYPE'")
    return tag[0], tag[2:]


def bio_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """Entities as (type, start, end) with ``end`` inclusive, in order of appearance."""
    spans, start, kind = [], None, ""
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, typ = _split(tag)
        begins = prefix == "B" or (prefix == "I" and (start is None or typ != kind))
        if start is not None and (prefix != "I" or typ != kind):
            spans.append((kind, start, i - 1))
            start = None
        if begins:
            start, kind = i, typ
    return spans


def _check(y_true, y_pred):
    if len(y_true) == 0:
        raise ValueError("y_true is empty: expected at least one sentence")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred differ in number of sentences: {len(y_true)} != {len(y_pred)}")
    for i, (t, p) in enumerate(zip(y_true, y_pred)):
        if len(t) != len(p):
            raise ValueError(f"sentence {i}: y_true has {len(t)} tags but y_pred has {len(p)}")


def entity_prf(y_true: list[list[str]], y_pred: list[list[str]]) -> tuple[float, float, float]:
    """Micro-averaged entity precision, recall, F1 over sentences (0/0 -> 0, like seqeval)."""
    _check(y_true, y_pred)
    gold = {(i, *s) for i, tags in enumerate(y_true) for s in bio_spans(tags)}
    pred = {(i, *s) for i, tags in enumerate(y_pred) for s in bio_spans(tags)}
    tp = len(gold & pred)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(gold) if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def sentence_exact_match(y_true: list[list[str]], y_pred: list[list[str]]) -> float:
    """Fraction of sentences whose predicted entity set equals the gold set."""
    _check(y_true, y_pred)
    return sum(set(bio_spans(t)) == set(bio_spans(p)) for t, p in zip(y_true, y_pred)) / len(y_true)
