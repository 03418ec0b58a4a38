"""The BPE merge loop shared by ``BPETokenizer`` and ``WordPieceTokenizer`` training.

A faithful Python port of the loop in Hugging Face ``tokenizers``
(``tokenizers/src/models/bpe/trainer.rs``, ``BpeTrainer::do_train``), so that our merge list
equals HF's on the same words, tie-breaking included:

- every adjacent pair of symbol ids has a count (weighted by word frequency) and the set of
  words it occurs in; a max-heap is keyed on ``(count, smaller pair of ids first)``;
- a popped entry whose cached count is stale is pushed back with the fresh count (lazy heap);
- merging a pair touches only the words that contain it and updates the neighbour pairs'
  counts incrementally ("incremental pair counts"), never a full recount.

Cost per merge is proportional to the words containing the pair, which is why training on a
megabyte takes seconds, not hours. Sennrich et al. (2016), https://arxiv.org/abs/1508.07909.
Taught in notebook 03.
"""

from __future__ import annotations

import heapq
from collections import defaultdict


def merge_word(word: list[int], a: int, b: int, new: int) -> list[tuple[tuple[int, int], int]]:
    """Replace every ``a b`` in ``word`` (in place, left to right) by ``new``.

    Returns the neighbour-pair count changes ``((left, right), +1 | -1)`` exactly as HF's
    ``Word::merge`` does (the merged pair itself is not reported).
    """
    changes = []
    i = 0
    while i < len(word) - 1:
        if word[i] == a and word[i + 1] == b:
            if i > 0:
                changes.append(((word[i - 1], a), -1))
                changes.append(((word[i - 1], new), 1))
            word[i : i + 2] = [new]
            if i < len(word) - 1:
                changes.append(((b, word[i + 1]), -1))
                changes.append(((new, word[i + 1]), 1))
        i += 1
    return changes


def learn_merges(
    words: list[list[int]],
    counts: list[int],
    id_to_token: list[str],
    vocab_size: int,
    prefix: str | None = None,
    min_frequency: int = 0,
) -> list[tuple[int, int]]:
    """Grow ``id_to_token`` (in place) to ``vocab_size`` by merging the most frequent pairs.

    ``words`` are lists of symbol ids (modified in place), ``counts`` their frequencies.
    ``prefix`` is WordPiece's continuing-subword marker ("##"), stripped from the right part
    when two pieces are glued. Returns the merges as ``(left id, right id)`` in order.
    """
    token_to_id = {t: i for i, t in enumerate(id_to_token)}
    pair_counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for wi, (word, c) in enumerate(zip(words, counts)):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += c
            where[pair].add(wi)
    # Heap entries: (-count, left, right, serial); positions live in ``positions[serial]``.
    heap: list[tuple[int, int, int, int]] = []
    positions: list[set[int] | None] = []

    def push(pair: tuple[int, int], count: int, pos: set[int]) -> None:
        positions.append(pos)
        heapq.heappush(heap, (-count, pair[0], pair[1], len(positions) - 1))

    for pair, pos in where.items():
        if pair_counts[pair] > 0:
            push(pair, pair_counts[pair], pos)
    merges: list[tuple[int, int]] = []
    while len(token_to_id) < vocab_size and heap:
        neg, a, b, serial = heapq.heappop(heap)
        current = pair_counts[(a, b)]
        if -neg != current:  # stale: re-queue with the fresh count
            heapq.heappush(heap, (-current, a, b, serial))
            continue
        if current < 1 or current < min_frequency:
            break
        right = id_to_token[b]
        if prefix and right.startswith(prefix):
            right = right[len(prefix) :]
        new_token = id_to_token[a] + right
        new = token_to_id.get(new_token)
        if new is None:
            new = len(id_to_token)
            id_to_token.append(new_token)
            token_to_id[new_token] = new
        merges.append((a, b))
        pos = positions[serial]
        positions[serial] = None
        fresh: dict[tuple[int, int], set[int]] = defaultdict(set)
        for wi in pos:
            weight = counts[wi]
            for pair, change in merge_word(words[wi], a, b, new):
                pair_counts[pair] += change * weight
                if change > 0:
                    fresh[pair].add(wi)
        for pair, wpos in fresh.items():
            if pair_counts[pair] > 0:
                push(pair, pair_counts[pair], wpos)
    return merges
