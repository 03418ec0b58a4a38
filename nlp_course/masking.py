"""Masked-language-model corruption: BERT's 80/10/10 rule, static vs dynamic, whole words.

Taught in notebook 08 (question 23: "What is masked language modelling?").

Of the tokens chosen for prediction (``mlm_probability``, 15% in BERT), 80% become
``[MASK]``, 10% a random token and 10% stay unchanged, so the model cannot learn that
"only [MASK] positions matter" and the encoder keeps a useful representation of every
token. Special tokens and padding are never chosen. ``labels`` hold the original id at
chosen positions and -100 elsewhere (the ``ignore_index`` of cross-entropy).

- Static masking (original BERT): corrupt each sequence once, reuse it every epoch.
  Dynamic masking (RoBERTa, Liu et al. 2019): draw a fresh mask every time a batch is built
  (``mask_tokens`` is cheap, so the course always masks in the collator).
- Whole-word masking: choose *words* and mask all their WordPiece pieces together, so the
  model cannot cheat by completing ``##ing`` from ``play``.

Reference: Hugging Face ``DataCollatorForLanguageModeling`` (same rule, tested against
our statistics rather than its RNG stream).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def _check(input_ids, mask_token_id, vocab_size, mlm_probability):
    if not isinstance(input_ids, torch.Tensor) or input_ids.dtype != torch.long:
        raise TypeError("input_ids must be a torch.long tensor")
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
    if not 0 <= mask_token_id < vocab_size:
        raise ValueError(f"mask_token_id must be in [0, vocab_size={vocab_size}), got {mask_token_id}")


def _finish(input_ids, chosen, mask_token_id, vocab_size, generator):
    """Apply 80/10/10 to the ``chosen`` positions; return (corrupted ids, labels)."""
    labels = input_ids.masked_fill(~chosen, -100)
    corrupted = input_ids.clone()
    u = torch.rand(input_ids.shape, generator=generator)
    to_mask = chosen & (u < 0.8)
    to_random = chosen & (u >= 0.8) & (u < 0.9)
    corrupted[to_mask] = mask_token_id
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
    corrupted[to_random] = random_ids[to_random]
    return corrupted, labels


def special_tokens_mask(input_ids: torch.Tensor, special_ids: Iterable[int]) -> torch.Tensor:
    """True where ``input_ids`` holds any of ``special_ids`` ([CLS], [SEP], [PAD], ...)."""
    ids = torch.as_tensor(sorted(set(special_ids)), dtype=input_ids.dtype)
    return torch.isin(input_ids, ids)


def mask_tokens(
    input_ids: torch.Tensor,
    mask_token_id: int,
    vocab_size: int,
    special_ids: Iterable[int],
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption of ``input_ids`` (B, T): returns ``(corrupted_ids, labels)``.

    Each non-special token is chosen with probability ``mlm_probability``; chosen tokens are
    replaced by ``mask_token_id`` (80%), a uniformly random id (10%) or kept (10%).
    """
    _check(input_ids, mask_token_id, vocab_size, mlm_probability)
    special = special_tokens_mask(input_ids, special_ids)
    chosen = (torch.rand(input_ids.shape, generator=generator) < mlm_probability) & ~special
    return _finish(input_ids, chosen, mask_token_id, vocab_size, generator)


def word_ids_from_pieces(tokens: list[str]) -> list[int | None]:
    """Word index of each WordPiece token (``##`` continues the previous word; ``[X]`` -> None)."""
    out: list[int | None] = []
    word = -1
    for tok in tokens:
        if tok.startswith("[") and tok.endswith("]"):
            out.append(None)
        elif tok.startswith("##") and word >= 0:
            out.append(word)
        else:
            word += 1
            out.append(word)
    return out


def whole_word_mask(
    input_ids: torch.Tensor,
    word_ids: list[list[int | None]],
    mask_token_id: int,
    vocab_size: int,
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole-word masking: choose words with ``mlm_probability`` and corrupt all their pieces.

    ``word_ids[b][t]`` is the word index of token t of row b (None for special/padding), as
    returned by a fast tokenizer's ``encoding.word_ids()`` or ``word_ids_from_pieces``.
    """
    _check(input_ids, mask_token_id, vocab_size, mlm_probability)
    if len(word_ids) != input_ids.shape[0] or any(len(w) != input_ids.shape[1] for w in word_ids):
        raise ValueError(f"word_ids must have shape {tuple(input_ids.shape)} (one entry per token)")
    chosen = torch.zeros_like(input_ids, dtype=torch.bool)
    for b, row in enumerate(word_ids):
        n_words = max((w for w in row if w is not None), default=-1) + 1
        pick = torch.rand(n_words, generator=generator) < mlm_probability  # (n_words,)
        for t, w in enumerate(row):
            chosen[b, t] = w is not None and bool(pick[w])
    # the 80/10/10 decision is made per word too: all pieces of a word share one draw
    labels = input_ids.masked_fill(~chosen, -100)
    corrupted = input_ids.clone()
    for b, row in enumerate(word_ids):
        n_words = max((w for w in row if w is not None), default=-1) + 1
        u = torch.rand(n_words, generator=generator)
        for t, w in enumerate(row):
            if w is None or not chosen[b, t]:
                continue
            if u[w] < 0.8:
                corrupted[b, t] = mask_token_id
            elif u[w] < 0.9:
                corrupted[b, t] = int(torch.randint(vocab_size, (1,), generator=generator))
    return corrupted, labels


class StaticMasker:
    """Original BERT: corrupt the dataset once (fixed seed) and reuse the same masks every epoch."""

    def __init__(self, mask_token_id: int, vocab_size: int, special_ids: Iterable[int],
                 mlm_probability: float = 0.15, seed: int = 0):
        self.args = (mask_token_id, vocab_size, tuple(special_ids), mlm_probability)
        self.seed = seed
        self._cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, index: int, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Corruption of example ``index`` -- the same every time it is asked for."""
        if index not in self._cache:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
            self._cache[index] = mask_tokens(input_ids, *self.args, generator=g)
        return self._cache[index]
