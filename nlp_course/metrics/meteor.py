"""METEOR (Banerjee & Lavie 2005; Lavie & Agarwal 2007). Taught in notebook 10.

Words are aligned one-to-one in stages: first identical words, then words with the same Porter
stem (NLTK's ``PorterStemmer``). Within a stage the largest number of matches is taken and, among
such alignments, the one with the FEWEST CHUNKS (runs of matches adjacent in both sentences),
given the matches of earlier stages. Fewest chunks is NP-hard in general (it contains minimum
common string partition), so the search is a beam over hypothesis positions: exact on sentences
(checked against brute force), and on long repetitive text (a looping generator's 300 words)
it tries only the continuation and the positions that start the longest runs, so its cost is
O(words * beam * width), well under a second instead of minutes. Then, with ``m`` matches,
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

import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from nltk.stem.porter import PorterStemmer

from nlp_course.utils import check_number

_STEMMER = PorterStemmer()
_BEAM = 64
_WIDTH = 8


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


def _runs(hyp_keys: list, free_ref: list, fixed: dict[int, int]) -> list[dict[int, int]]:
    """``runs[i][j]``: how many words match one to one from hypothesis ``i`` and reference ``j`` on
    (the length of the chunk that matching ``i -> j`` could start); one pass from the end."""
    where: dict = {}
    for j, k in enumerate(free_ref):
        if k is not None:
            where.setdefault(k, []).append(j)
    runs: list[dict[int, int]] = [{} for _ in range(len(hyp_keys) + 1)]
    for i in range(len(hyp_keys) - 1, -1, -1):
        key = hyp_keys[i]
        if key is not None and i not in fixed:
            nxt = runs[i + 1]
            runs[i] = {j: 1 + nxt.get(j + 1, 0) for j in where.get(key, ())}
    return runs


def _bits(x: int):
    """Positions of the set bits of ``x``, lowest first."""
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low


def _candidates(by_run: list[int], free: int, cont: int, width: int) -> list[int]:
    """Reference positions to try for one word: all free ones if at most ``width``; else the
    continuation ``cont`` of the previous match, the free ones among the first ``4 * width`` in
    ``by_run`` (longest runs first), topped up with the leftmost free ones: O(width) work."""
    if free.bit_count() <= width:
        return list(_bits(free))
    out = [cont] if cont >= 0 and free >> cont & 1 else []
    for j in by_run[: 4 * width]:
        if free >> j & 1 and j != cont:
            out.append(j)
            if len(out) >= width:
                return out
    for j in _bits(free):
        if j not in out:
            out.append(j)
            if len(out) >= width:
                break
    return out


def _rank(next_runs: dict[int, int], item) -> tuple[int, int]:
    """Beam order: fewest chunks, then the longest run the current chunk can still grow by."""
    (prev, used), (chunks, _) = item
    j = prev + 1
    return chunks, -next_runs[j] if j in next_runs and not used >> j & 1 else 0


def _stage(hyp_keys: list, ref_keys: list, fixed: dict[int, int], beam: int = _BEAM,
           width: int = _WIDTH) -> dict:
    """Add matches between equal keys (None never matches): most matches, then fewest chunks.

    ``fixed`` maps hypothesis -> reference positions matched in earlier stages (kept as they are).
    Scanning the hypothesis left to right, a match starts a new chunk unless the previous
    hypothesis word is matched to the previous reference word. A state is (reference index of
    the previous word's match, bitmask of reference positions used); skipping a word is allowed
    only while the maximum number of matches stays reachable, and at most ``beam`` states with
    the fewest chunks are kept per position. A word with more than ``width`` free reference
    positions tries only ``width`` of them (``_candidates``: the continuation of the previous
    match, then the positions that start the longest runs), so the work is
    O(words * beam * width): exact whenever fewer states and positions compete.
    """
    taken = set(fixed.values())
    free_ref = [None if j in taken else k for j, k in enumerate(ref_keys)]
    key_mask: Counter = Counter()
    for j, k in enumerate(free_ref):
        if k is not None:
            key_mask[k] |= 1 << j
    n_ref = {k: m.bit_count() for k, m in key_mask.items()}
    n_hyp = Counter(k for i, k in enumerate(hyp_keys) if k is not None and i not in fixed)
    need = {k: min(c, n_ref.get(k, 0)) for k, c in n_hyp.items()}
    runs = _runs(hyp_keys, free_ref, fixed)
    seen: Counter = Counter()
    states = {(-2, 0): (0, None)}  # (prev, used mask) -> (chunks, linked choices (j, rest))
    for i, key in enumerate(hyp_keys):
        open_word = i not in fixed and key is not None and need[key] > 0
        if open_word:
            seen[key] += 1
            by_run = sorted(runs[i], key=lambda j: (-runs[i][j], j))  # longest runs first
        grown: dict = {}
        for (prev, used), (chunks, choice) in states.items():
            if i in fixed:
                options = [fixed[i]]
            elif not open_word:
                options = [None]
            else:
                open_ = _candidates(by_run, key_mask[key] & ~used, prev + 1, width)
                got = (used & key_mask[key]).bit_count()
                can_skip = got + min(n_hyp[key] - seen[key], n_ref[key] - got) >= need[key]
                options = [*open_, None] if can_skip else open_
            for j in options:
                if j is None:
                    state, cost = (-2, used), chunks
                else:
                    state = (j, used if i in fixed else used | 1 << j)
                    cost = chunks + (prev != j - 1)
                if state not in grown or cost < grown[state][0]:
                    grown[state] = (cost, (j, choice))
        states = dict(heapq.nsmallest(beam, grown.items(), key=partial(_rank, runs[i + 1])))
    _, choice = min(states.values(), key=lambda v: v[0])
    matched = {}
    for i in range(len(hyp_keys) - 1, -1, -1):
        j, choice = choice
        if j is not None and i not in fixed:
            matched[i] = j
    return matched


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
