"""Train / held-out splits that cannot leak: dedup on normalised text, split by source item.

Taught in notebook 11.

Sampling a training mix *with replacement* from a corpus that holds the same Q/A pair several
times, then cutting held-out examples off the front of that mix, puts held-out answers in the
training set verbatim (chatterbot-corpus: 2,377 pairs, 1,243 distinct). ``split_examples`` does it
in the safe order:

1. **Read and deduplicate each source on normalised text** (``normalise_text``: NFKC, casefold,
   collapsed whitespace, punctuation stripped at the ends). An *item* is the unit a source is made
   of: a chatterbot pair, a chitchat conversation, a JSONL line, a Python source file (FIM).
2. **Split by item**, never by sampled example: each source's distinct items are shuffled with
   ``seed``; the first ones are reserved for the held-out side, the rest are the training side.
   A held-out item gives one example (a random assistant turn of it; FIM windows from held-out
   files), so the held-out set is spread over as many items as possible.
3. **Drop held-out candidates that still overlap the training side**: a held-out example whose
   normalised answer, or (prompt, answer) pair, occurs anywhere in the training pool is skipped
   and the next reserved item takes its place. We drop on the *held-out* side, not the training
   side: training keeps every item it has (a model that never sees "yes" as an answer would learn
   a different distribution), the held-out set keeps its configured size, and the cost is stated:
   the held-out answers are the ones that do not recur, so scores on them are a little harsher
   than on a uniform sample (the report counts the dropped candidates).
4. **Sample the training mix from the training pool only** (``data.mix_sources``, by ratio, with
   replacement only when a pool is smaller than its share). Only as many training items are
   tokenised as the mix can draw, and the pool is exactly those items.

``overlap(train, held, tokenizer)`` recounts leakage from the examples themselves (decoded with the
tokenizer and normalised); ``split_examples`` records it in its report, and it is zero by
construction -- a test asserts it for every preset and notebook 11's configuration.

References: Lee et al. 2022, "Deduplicating training data makes language models better";
Lewis et al. 2021, "Question and answer test-train overlap in open-domain QA datasets".
"""

from __future__ import annotations

import functools
import math
import random
import unicodedata
from dataclasses import dataclass, field

from nlp_course import data as corpora

from .chat import chat_ids
from .data import (
    FIM_FILES,
    dialogue_examples_fast,
    fim_examples,
    load_dialogues,
    mix_sources,
    parse_data_spec,
    split_counts,
    turn_windows,
)

FIM = "offline:python-fim"


def normalise_text(s: str) -> str:
    """NFKC, casefold, whitespace runs -> one space, punctuation and spaces stripped at both ends."""
    if not isinstance(s, str):
        raise TypeError(f"s must be a str, got {type(s).__name__}")
    s = " ".join((s if s.isascii() else unicodedata.normalize("NFKC", s)).casefold().split())
    a, b = 0, len(s)
    while a < b and (s[a] == " " or unicodedata.category(s[a]).startswith("P")):
        a += 1
    while b > a and (s[b - 1] == " " or unicodedata.category(s[b - 1]).startswith("P")):
        b -= 1
    return s[a:b]


@dataclass
class SplitResult:
    """``train``/``held``: collator examples ``{"input_ids", "target"}``; ``report``: see ``split_examples``;
    ``train_texts``: the raw text of every training-side dialogue item the training pool was made from
    (turns joined by newlines; FIM sources give none) -- safe to pretrain on, never a held-out item."""

    train: list[dict]
    held: list[dict]
    report: dict = field(default_factory=dict)
    train_texts: list[str] = field(default_factory=list)


def _texts(tokenizer, seqs: list[tuple], cache: dict) -> dict[tuple, str]:
    """Normalised decoded text of each id sequence (special tokens skipped), memoised in ``cache``."""
    todo = [s for s in dict.fromkeys(seqs) if s not in cache]
    if todo:
        backend = getattr(tokenizer, "backend_tokenizer", None)  # fast tokenizers: no per-id Python checks
        decode = backend.decode_batch if backend is not None else tokenizer.batch_decode
        for s, text in zip(todo, decode([list(s) for s in todo], skip_special_tokens=True)):
            cache[s] = normalise_text(text)
    return cache


def _parts(ex: dict) -> tuple[tuple, tuple]:
    ids, tgt = ex["input_ids"], ex["target"]
    first = tgt.index(True) if True in tgt else len(tgt)
    if all(tgt[first:]):  # a chat example: the answer ends the sequence
        return tuple(ids[first:]), tuple(ids[:first])
    return tuple(i for i, t in zip(ids, tgt) if t), tuple(i for i, t in zip(ids, tgt) if not t)


def example_keys(tokenizer, examples: list[dict], cache: dict | None = None) -> list[tuple[str, tuple[str, str]]]:
    """``(answer, (prompt, answer))`` per example, as normalised decoded text.

    The answer is the target tokens, the prompt every other token (for FIM: prefix + suffix);
    special tokens (chat markers, EOS, [CLS]) are skipped when decoding. ``cache`` (a dict)
    memoises decoded sequences across calls.
    """
    parts = [_parts(ex) for ex in examples]
    text = _texts(tokenizer, [x for pair in parts for x in pair], {} if cache is None else cache)
    return [(text[a], (text[p], text[a])) for a, p in parts]


def _unique(examples: list[dict]) -> list[dict]:
    seen, out = set(), []
    for ex in examples:
        key = id(ex)
        if key not in seen:
            seen.add(key)
            out.append(ex)
    return out


def overlap(train: list[dict], held: list[dict], tokenizer, cache: dict | None = None) -> dict:
    """How many held-out examples leak: ``{"answers": n, "pairs": n, "held": len(held)}`` where
    ``answers`` counts held-out examples whose normalised answer is some training answer and
    ``pairs`` those whose (prompt, answer) pair is a training pair. ``cache``: as in ``example_keys``."""
    train_keys = example_keys(tokenizer, _unique(train), cache)
    answers = {a for a, _ in train_keys}
    pairs = {p for _, p in train_keys}
    held_keys = example_keys(tokenizer, held, cache)
    return {"answers": sum(a in answers for a, _ in held_keys), "pairs": sum(p in pairs for _, p in held_keys),
            "held": len(held)}


def _item_key(item) -> object:
    if isinstance(item, str):
        return normalise_text(item)
    return tuple((m["role"], normalise_text(m["content"])) for m in item)


@functools.lru_cache(maxsize=8)
def _read_offline(source: str, limit: int | None) -> tuple:
    return tuple(corpora.python_sources(limit=FIM_FILES) if source == FIM else load_dialogues(source, limit))


def _read(source: str, limit: int | None) -> list:
    """A source's items; the offline corpora are read once per process (they never change)."""
    if source.startswith("offline:"):
        return list(_read_offline(source, limit))
    return load_dialogues(source, limit)


class _Source:
    """One source's distinct items (shuffled), their examples (tokenised lazily) and the split."""

    def __init__(self, source: str, ratio: float, tokenizer, max_length: int, seed: int,
                 limit: int | None, max_turns: int | None):
        self.name, self.ratio, self.tok, self.max_length = source, ratio, tokenizer, max_length
        self.seed, self.max_turns, self.ids = seed, max_turns, chat_ids(tokenizer)
        self.fim = source == FIM
        items = _read(source, limit)
        distinct, seen = [], set()
        for item in items:
            key = _item_key(item)
            if key not in seen:
                seen.add(key)
                distinct.append(item)
        random.Random(seed).shuffle(distinct)
        self.items, self.n_read, self._cache = distinct, len(items), {}
        self.reserve = 0

    def examples(self, i: int) -> list[dict]:
        if i not in self._cache:
            parts = turn_windows(self.items[i], self.max_turns) if self.max_turns else [self.items[i]]
            self._cache[i] = [ex for p in parts for ex in dialogue_examples_fast(self.tok, p, self.max_length, self.ids)]
        return self._cache[i]

    def first_reserve(self, k: int) -> None:
        if k == 0:
            self.reserve = 0
            return
        want = max(1, math.ceil(len(self.items) / 5)) if self.fim else math.ceil(1.3 * k) + 8
        self.grow(want)

    def grow(self, want: int) -> None:
        if want > len(self.items) - 1:
            want = len(self.items) - 1
            if want <= self.reserve:
                raise ValueError(f"{self.name!r} has {len(self.items)} distinct items: too few to hold out "
                                 "enough examples that do not overlap the training side")
        self.reserve = want

    def train_pool(self, share: int | None, fim_default: int) -> tuple[list[dict], int]:
        """Examples of the training-side items: enough items for ``share`` (all if None)."""
        if self.fim:
            n = share if share is not None else fim_default
            files = self.items[self.reserve:]
            return (fim_examples(self.tok, files, self.max_length, max(n, 1), self.seed) if n else []), len(files)
        pool, used = [], 0
        for i in range(self.reserve, len(self.items)):
            if share is not None and len(pool) >= share:
                break
            pool += self.examples(i)
            used += 1
        return pool, used

    def held_candidates(self, k: int):
        """``(item index or None, example)`` candidates in order, one per reserved dialogue item."""
        if self.fim:
            files = self.items[: self.reserve]
            for ex in fim_examples(self.tok, files, self.max_length, 4 * k + 16, self.seed + 1):
                yield None, ex
            return
        for i in range(self.reserve):
            exs = self.examples(i)
            if exs:
                yield i, random.Random(f"{self.seed}:{self.name}:{i}").choice(exs)


def split_examples(tokenizer, spec, max_length: int, held_out: int, total: int | None, seed: int = 0,
                   limit_per_source: int | None = None, max_turns: int | None = None) -> SplitResult:
    """Deduplicate, split by item, and mix: a training set and ``held_out`` examples that share
    no normalised answer and no (prompt, answer) pair with it (see the module docstring).

    ``spec``: ``"source[:ratio],..."`` as in ``data.parse_data_spec``; ``held_out``: held-out
    *examples*, split across sources by ratio; ``total``: size of the training mix (``None``: every
    training-side example once); ``limit_per_source``: read at most that many items per dialogue
    source (FIM: the training pool's size when ``total`` is None, default 200, as in
    ``load_examples``); ``max_turns``: cut long dialogues into ``data.turn_windows`` first (the
    windows of an item stay on its side). ``report`` holds, per source, ``items_read``,
    ``duplicates_removed``, ``distinct_items``, ``train_items`` (training-side items), ``train_items_used``
    (tokenised into the pool), ``held_items``, ``held_examples``, ``held_candidates_dropped``,
    ``train_examples``; and ``overlap`` (``overlap(train, held)``, all zero).
    """
    for name, v in (("held_out", held_out), ("max_length", max_length)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name} must be an int >= 0, got {v!r}")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 1):
        raise ValueError(f"total must be a positive int or None, got {total!r}")
    parsed = parse_data_spec(spec)
    ratios = [r for _, r in parsed]
    sources = [_Source(s, r, tokenizer, max_length, seed, limit_per_source, max_turns) for s, r in parsed]
    held_counts = split_counts(ratios, held_out)
    shares = split_counts(ratios, total) if total is not None else [None] * len(sources)
    for src, k in zip(sources, held_counts):
        src.first_reserve(k)
    cache: dict = {}  # decoded text of every id sequence seen
    while True:
        pools, used = zip(*(s.train_pool(n, limit_per_source or 200) for s, n in zip(sources, shares)))
        train_keys = example_keys(tokenizer, _unique([ex for p in pools for ex in p]), cache)
        answers, pairs = {a for a, _ in train_keys}, {p for _, p in train_keys}
        held, picked, dropped, short = [], [], [], []
        for src, k in zip(sources, held_counts):
            chosen, items, n_drop, seen = [], set(), 0, set()
            for i, ex in src.held_candidates(k):
                if len(chosen) == k:
                    break
                (a, pair), = example_keys(tokenizer, [ex], cache)
                if a in answers or pair in pairs or pair in seen:
                    n_drop += 1
                    continue
                seen.add(pair)
                chosen.append(ex)
                items.add(i)
            held += chosen
            picked.append(len(items - {None}) if not src.fim else src.reserve)
            dropped.append(n_drop)
            if len(chosen) < k:
                short.append(src)
        if not short:
            break
        for src in short:  # reserve more items for the held-out side and rebuild the pools
            src.grow(src.reserve + 1 if src.fim else math.ceil(1.5 * src.reserve) + 8)
    for p, s in zip(pools, sources):
        if total is not None and not p:
            raise ValueError(f"{s.name!r} has no training example left after the split")
    train = mix_sources(list(pools), ratios, total, seed) if total is not None else [x for p in pools for x in p]
    report = {"sources": {}, "held_out": held_out, "total": total, "seed": seed, "max_length": max_length}
    for s, k, pool, n_used, n_held, n_drop, n_mix in zip(sources, held_counts, pools, used, picked, dropped, shares):
        report["sources"][s.name] = {
            "ratio": s.ratio, "items_read": s.n_read, "duplicates_removed": s.n_read - len(s.items),
            "distinct_items": len(s.items), "train_items": len(s.items) - s.reserve, "train_items_used": n_used,
            "train_pool_examples": len(pool), "train_examples": len(pool) if total is None else n_mix,
            "held_items": n_held, "held_examples": k, "held_candidates_dropped": n_drop}
    report["overlap"] = overlap(train, held, tokenizer, cache)
    texts = ["\n".join(m["content"] for m in s.items[i]) for s, n in zip(sources, used) if not s.fim
             for i in range(s.reserve, s.reserve + n)]
    return SplitResult(train, held, report, texts)
