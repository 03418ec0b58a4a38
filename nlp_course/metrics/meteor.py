"""METEOR (Banerjee & Lavie 2005; Lavie & Agarwal 2007). Taught in notebook 10.

Words are aligned one-to-one in stages: first identical words, then words with the same Porter
stem (NLTK's ``PorterStemmer``). Within a stage the largest number of matches is taken and, among
such alignments, the one with the FEWEST CHUNKS (runs of matches adjacent in both sentences),
given the matches of earlier stages; the search is exact (memoised over hypothesis positions), so
its cost grows with the number of repeated words — fine for sentences. Then, with ``m`` matches,
hypothesis length ``c`` and reference length ``r``::

    P = m / c,  R = m / r,  Fmean = P R / (alpha P + (1 - alpha) R)
    Penalty = gamma * (chunks / m) ** beta,  METEOR = Fmean * (1 - Penalty)

Defaults alpha = 0.9, beta = 3, gamma = 0.5 give the 2005 formula ``Fmean = 10 P R / (R + 9 P)``
(2007 tunes them per language). With several references the best score counts. No match -> 0.

Not included: WordNet synonyms and paraphrase tables (METEOR 1.0+), which need resources that
are not available offline. NLTK's ``meteor_score`` picks matches greedily (last free position),
not by fewest chunks, so it can report more chunks and a lower score on repeated words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from nltk.stem.porter import PorterStemmer

from nlp_course.utils import check_number

_STEMMER = PorterStemmer()
_BEAM = 256


@dataclass(frozen=True)
class MeteorScore:
    score: float
    precision: float
    recall: float
    fmean: float
    penalty: float
    matches: int
    chunks: int
    alignment: list[tuple[int, int]]  # (hypothesis index, reference index), sorted


def _tokens(text, name: str) -> list[str]:
    if isinstance(text, str):
        return text.lower().split()
    if isinstance(text, Sequence) and all(isinstance(t, str) for t in text):
        return [t.lower() for t in text]
    raise TypeError(f"{name} must be a str or a list of str tokens, got {type(text).__name__}")


def count_chunks(alignment: Sequence[tuple[int, int]]) -> int:
    """Fewest runs of matches adjacent in both sentences (alignment sorted by hypothesis index)."""
    pairs = sorted(alignment)
    return sum(1 for k, (h, r) in enumerate(pairs)
               if k == 0 or (h, r) != (pairs[k - 1][0] + 1, pairs[k - 1][1] + 1))


def _stage(hyp_keys: list, ref_keys: list, fixed: dict[int, int], beam: int = _BEAM) -> dict:
    """Add matches between equal keys (None never matches): most matches, then fewest chunks.

    ``fixed`` maps hypothesis -> reference positions matched in earlier stages (kept as they are).
    Scanning the hypothesis left to right, a match starts a new chunk unless the previous
    hypothesis word is matched to the previous reference word. A state is (reference index of
    the previous word's match, reference positions used); states that can no longer reach the
    maximum number of matches are dropped, and at most ``beam`` states with the fewest chunks
    are kept per position (exact whenever fewer compete).
    """
    taken = set(fixed.values())
    free_ref = [None if j in taken else k for j, k in enumerate(ref_keys)]
    n_ref = Counter(k for k in free_ref if k is not None)
    n_hyp = Counter(k for i, k in enumerate(hyp_keys) if k is not None and i not in fixed)
    need = {k: min(c, n_ref[k]) for k, c in n_hyp.items()}
    seen = Counter()
    states = {(-2, frozenset()): (0, ())}  # (prev, used) -> (chunks, choices)
    for i, key in enumerate(hyp_keys):
        if i in fixed:
            options = [fixed[i]]
        elif key is None or need[key] == 0:
            options = [None]
        else:
            seen[key] += 1
            options = [j for j, k in enumerate(free_ref) if k == key] + [None]
        grown = {}
        for (prev, used), (chunks, choice) in states.items():
            for j in options:
                if j is None and key in need and i not in fixed:
                    got = sum(free_ref[u] == key for u in used)
                    if got + min(n_hyp[key] - seen[key], n_ref[key] - got) < need[key]:
                        continue  # skipping word i would lose a match
                if j is not None and j in used:
                    continue
                state = (-2 if j is None else j, used if j is None or i in fixed else used | {j})
                cost = chunks + (j is not None and prev != j - 1)
                if state not in grown or cost < grown[state][0]:
                    grown[state] = (cost, (*choice, j))
        states = dict(sorted(grown.items(), key=lambda kv: kv[1][0])[:beam])
    choice = min(states.values(), key=lambda v: v[0])[1]
    return {i: j for i, j in enumerate(choice) if j is not None and i not in fixed}


def align(hypothesis, reference, stem: bool = True) -> list[tuple[int, int]]:
    """METEOR alignment: exact stage, then (optionally) Porter-stem stage."""
    hyp, ref = _tokens(hypothesis, "hypothesis"), _tokens(reference, "reference")
    matched = _stage(hyp, ref, {})
    if stem:
        used = set(matched.values())
        hyp_keys = [None if i in matched else _STEMMER.stem(w) for i, w in enumerate(hyp)]
        ref_keys = [None if j in used else _STEMMER.stem(w) for j, w in enumerate(ref)]
        matched |= _stage(hyp_keys, ref_keys, matched)
    return sorted(matched.items())


def meteor_details(hypothesis, reference, alpha: float = 0.9, beta: float = 3.0,
                   gamma: float = 0.5, stem: bool = True) -> MeteorScore:
    """METEOR of one hypothesis against one reference, with its parts."""
    alpha = check_number("alpha", alpha, 0.0, 1.0)
    beta = check_number("beta", beta, low=0.0)
    gamma = check_number("gamma", gamma, 0.0, 1.0)
    hyp, ref = _tokens(hypothesis, "hypothesis"), _tokens(reference, "reference")
    pairs = align(hyp, ref, stem)
    m = len(pairs)
    if m == 0:
        return MeteorScore(0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, [])
    p, r = m / len(hyp), m / len(ref)
    fmean = p * r / (alpha * p + (1 - alpha) * r)
    chunks = count_chunks(pairs)
    penalty = gamma * (chunks / m) ** beta
    return MeteorScore(fmean * (1 - penalty), p, r, fmean, penalty, m, chunks, pairs)


def meteor(hypothesis, references, alpha: float = 0.9, beta: float = 3.0, gamma: float = 0.5,
           stem: bool = True) -> float:
    """METEOR in [0, 1): the best score over the references (a list of str or token lists)."""
    if isinstance(references, str) or not isinstance(references, Sequence) or not references:
        raise TypeError("references must be a non-empty list of references")
    return max(meteor_details(hypothesis, ref, alpha, beta, gamma, stem).score
               for ref in references)
