"""BART's five noising functions: how a denoising seq2seq model is pretrained.

Taught in notebook 08 (BERT vs BART/mBART; seeds 000 and 003).

BERT corrupts tokens in place and predicts them with an encoder; BART (Lewis et al. 2020,
"BART: Denoising Sequence-to-Sequence Pre-training") corrupts the *document* and asks a
decoder to write the original back, so the corruption may change the length:

- ``token_masking``: replace random tokens by ``<mask>`` (BERT-style, length kept);
- ``token_deletion``: drop random tokens (the model must find *where* something is missing);
- ``text_infilling``: replace spans with lengths ~ Poisson(3) by ONE ``<mask>`` each (0-length
  spans insert a mask) -- the model must also infer how many tokens are missing; BART's best;
- ``sentence_permutation``: shuffle the sentences of a document;
- ``document_rotation``: rotate the document to start at a random token.

mBART (Liu et al. 2020) is BART pretrained on many languages with text infilling + sentence
permutation, plus a language-id token. All functions take and return lists of tokens (strings
or ids) and a ``random.Random`` so a notebook can show the same corruption every run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from nlp_course.utils import check_number, check_positive

MASK = "<mask>"


def _check_p(p: float, name: str = "p") -> None:
    check_number(name, p, 0.0, 1.0)


def _rng(rng: random.Random | None) -> random.Random:
    return rng if rng is not None else random.Random(0)


def token_masking(tokens: Sequence, p: float = 0.15, mask=MASK, rng: random.Random | None = None) -> list:
    """Replace each token by ``mask`` with probability ``p`` (length unchanged)."""
    _check_p(p)
    r = _rng(rng)
    return [mask if r.random() < p else t for t in tokens]


def token_deletion(tokens: Sequence, p: float = 0.15, rng: random.Random | None = None) -> list:
    """Delete each token with probability ``p``."""
    _check_p(p)
    r = _rng(rng)
    return [t for t in tokens if r.random() >= p]


def _poisson(lam: float, r: random.Random) -> int:
    """Knuth's sampler: fine for the small lambda BART uses (3)."""
    limit, k, prod = math.exp(-lam), 0, r.random()
    while prod > limit:
        k += 1
        prod *= r.random()
    return k


def text_infilling(tokens: Sequence, mask_ratio: float = 0.3, poisson_lambda: float = 3.0, mask=MASK,
                   rng: random.Random | None = None) -> list:
    """Replace spans (lengths ~ Poisson(lambda)) covering ~``mask_ratio`` of tokens by one ``mask`` each."""
    _check_p(mask_ratio, "mask_ratio")
    check_positive("poisson_lambda", poisson_lambda)
    r = _rng(rng)
    out, budget = list(tokens), round(mask_ratio * len(tokens))
    masked = 0
    guard = 0
    while masked < budget and guard < 10 * len(tokens) + 10:
        guard += 1
        span = min(_poisson(poisson_lambda, r), budget - masked)
        start = r.randrange(len(out) + 1)
        if any(t == mask for t in out[max(0, start - 1) : start + span + 1]):
            continue  # keep spans apart so each mask stands for one span
        out[start : start + span] = [mask]
        masked += span
    return out


def sentence_permutation(sentences: Sequence[Sequence], rng: random.Random | None = None) -> list:
    """Shuffle the order of sentences (each a token list); returns the flat token list."""
    order = list(range(len(sentences)))
    _rng(rng).shuffle(order)
    return [t for i in order for t in sentences[i]]


def document_rotation(tokens: Sequence, rng: random.Random | None = None) -> list:
    """Rotate so the document starts at a uniformly chosen token."""
    if not tokens:
        return []
    k = _rng(rng).randrange(len(tokens))
    return list(tokens[k:]) + list(tokens[:k])
