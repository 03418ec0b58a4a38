import random
from collections import Counter

import pytest

from nlp_course.bart_noise import (
    MASK,
    document_rotation,
    sentence_permutation,
    text_infilling,
    token_deletion,
    token_masking,
)

DOC = [f"w{i}" for i in range(2000)]


def _is_subsequence(small, big):
    it = iter(big)
    return all(any(x == y for y in it) for x in small)


def test_token_masking_rate_and_length():
    out = token_masking(DOC, 0.2, rng=random.Random(1))
    assert len(out) == len(DOC)
    rate = sum(t == MASK for t in out) / len(DOC)
    assert abs(rate - 0.2) < 0.03
    assert all(o in (MASK, d) for o, d in zip(out, DOC))


def test_token_deletion_keeps_order():
    out = token_deletion(DOC, 0.3, rng=random.Random(2))
    assert abs(len(out) / len(DOC) - 0.7) < 0.04
    assert _is_subsequence(out, DOC)


def test_text_infilling_replaces_spans_with_single_masks():
    out = text_infilling(DOC, 0.3, rng=random.Random(3))
    kept = [t for t in out if t != MASK]
    assert _is_subsequence(kept, DOC)
    removed = len(DOC) - len(kept)
    assert abs(removed / len(DOC) - 0.3) < 0.01  # the span budget is met
    assert len(out) < len(DOC)  # spans collapse: length changes
    assert all(not (a == MASK and b == MASK) for a, b in zip(out, out[1:]))
    # mean span length = removed tokens / masks (zero-length spans insert masks) is near lambda=3
    assert 2.0 < removed / max(1, out.count(MASK)) < 4.0


def test_sentence_permutation_and_rotation_are_permutations():
    sents = [["a", "b"], ["c"], ["d", "e", "f"], ["g"]]
    out = sentence_permutation(sents, rng=random.Random(4))
    assert Counter(out) == Counter("abcdefg")
    rot = document_rotation(DOC[:10], rng=random.Random(5))
    k = DOC.index(rot[0])
    assert rot == DOC[k:10] + DOC[:k]
    assert document_rotation([]) == []


def test_deterministic_given_rng_and_bad_input():
    assert text_infilling(DOC[:50], rng=random.Random(7)) == text_infilling(DOC[:50], rng=random.Random(7))
    with pytest.raises(ValueError, match="p must"):
        token_masking(DOC, 1.5)
    with pytest.raises(ValueError, match="poisson_lambda"):
        text_infilling(DOC, 0.3, poisson_lambda=0)
