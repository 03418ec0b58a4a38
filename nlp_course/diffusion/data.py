"""Dialogue data for diffusion SFT: ``messages`` JSONL, Hugging Face datasets, offline corpora, mixing.

Taught in notebook 11.

A *source* is one of

- a path to a JSONL file, one ``{"messages": [{"role": ..., "content": ...}, ...]}`` per line
  (the Tulu-3 SFT layout; ``conversation``/``conversations`` keys and ShareGPT's
  ``{"from": "human"|"gpt", "value": ...}`` turns are accepted too);
- ``offline:chitchat``, ``offline:chatterbot``, ``offline:chatterbot-ru`` or
  ``offline:python-fim`` -- corpora that ship inside installed packages (``nlp_course.data``);
- any Hugging Face dataset name, e.g. ``allenai/tulu-3-sft-mixture`` or the Russian
  ``Vikhrmodels/GrandMaster-PRO-MAX`` (needs ``pip install datasets`` and internet; imported lazily).

``parse_data_spec("a.jsonl:0.5,offline:chitchat:0.5")`` reads ``source[:ratio]`` items and
``mix_sources`` draws a fixed-size mixture with those ratios (the notes mixed English and Russian
SFT data 1:1). Python FIM examples are already-tokenised dicts (see ``fim_examples``).
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

from nlp_course import data as corpora

from .chat import chat_ids, validate_messages

OFFLINE = ("offline:chitchat", "offline:chatterbot", "offline:chatterbot-ru", "offline:python-fim")
FIM_FILES = 20  # standard-library files behind ``offline:python-fim``
_ROLE_ALIASES = {"human": "user", "gpt": "assistant", "bot": "assistant", "model": "assistant"}


def check_text(text: str, where: str) -> str:
    """Refuse a str holding a lone surrogate (not valid Unicode: ``json`` lets ``"\\ud800"`` through)."""
    bad = next((i for i, ch in enumerate(text) if "\ud800" <= ch <= "\udfff"), None)
    if bad is not None:
        raise ValueError(f"{where} holds a lone surrogate {text[bad]!r} at character {bad}: not valid "
                         "Unicode text (decode the bytes with errors='replace' first)")
    return text


def _normalise(turns, where: str) -> list[dict]:
    """Map ShareGPT ``from/value`` turns and role aliases onto ``role/content``."""
    if not isinstance(turns, list):
        raise ValueError(f"{where}: messages must be a list, got {type(turns).__name__}")
    out = []
    for t in turns:
        if isinstance(t, dict) and "from" in t and "value" in t:
            t = {"role": t["from"], "content": t["value"]}
        if isinstance(t, dict) and "role" in t:
            t = {"role": _ROLE_ALIASES.get(t["role"], t["role"]), "content": t.get("content")}
        out.append(t)
    out = validate_messages(out, where)
    for i, m in enumerate(out):
        check_text(m["content"], f"{where}: messages[{i}]['content']")
    return out


def _messages_of(record, where: str) -> list[dict]:
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for key in ("messages", "conversation", "conversations"):
        if key in record:
            return _normalise(record[key], where)
    raise ValueError(f"{where}: no 'messages' (or 'conversation(s)') field; keys are {sorted(record)}")


def read_jsonl(path, limit: int | None = None) -> list[list[dict]]:
    """Dialogues from a ``messages`` JSONL file; errors name the file and line number."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    out = []
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{where}: not UTF-8 ({e.reason} at byte {e.start} of the line)") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{where}: malformed JSON ({e.msg})") from None
            out.append(_messages_of(record, where))
            if limit is not None and len(out) >= limit:
                break
    if not out:
        raise ValueError(f"data file {str(path)!r} is empty (no dialogues)")
    return out


def write_jsonl(path, dialogues) -> Path:
    """Write dialogues as ``messages`` JSONL (UTF-8, one per line)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as f:
        for d in dialogues:
            f.write(json.dumps({"messages": validate_messages(d)}, ensure_ascii=False) + "\n")
    return path


def _pairs_to_dialogues(pairs) -> list[list[dict]]:
    return [[{"role": "user", "content": q}, {"role": "assistant", "content": a}] for q, a in pairs]


def offline_dialogues(name: str, limit: int | None = None) -> list[list[dict]]:
    """Dialogues from corpora that ship in installed packages (no network)."""
    if name == "offline:chitchat":
        out = []
        for turns in corpora.chitchat_dialogues(limit=limit):
            roles = ["user", "assistant"] * len(turns)
            out.append([{"role": r, "content": t} for r, t in zip(roles, turns)])
        return out
    if name in ("offline:chatterbot", "offline:chatterbot-ru"):
        lang = "russian" if name.endswith("-ru") else "english"
        out = _pairs_to_dialogues(corpora.chatterbot_pairs(lang))
        return out[:limit] if limit is not None else out
    raise ValueError(f"offline source must be one of {OFFLINE[:3]} for dialogues, got {name!r}")


def hf_dialogues(name: str, split: str = "train", limit: int | None = None) -> list[list[dict]]:
    """Dialogues from a Hugging Face dataset with a ``messages``-like column (needs internet)."""
    try:
        import datasets
    except ImportError:
        raise ImportError(
            f"{name!r} is neither a local file nor an offline:* corpus; loading Hugging Face "
            "datasets needs `pip install datasets` (and internet)"
        ) from None
    ds = datasets.load_dataset(name, split=split, streaming=True)
    out = []
    for i, record in enumerate(ds):
        out.append(_messages_of(record, f"{name}[{i}]"))
        if limit is not None and len(out) >= limit:
            break
    return out


def load_dialogues(source: str, limit: int | None = None, split: str = "train") -> list[list[dict]]:
    """Dispatch on the source: JSONL path, ``offline:*`` corpus, or Hugging Face dataset name."""
    if not isinstance(source, str) or not source:
        raise ValueError(f"source must be a non-empty str, got {source!r}")
    if source.startswith("offline:"):
        return offline_dialogues(source, limit)
    looks_local = source.endswith((".jsonl", ".json")) or source.startswith((".", "/", "~"))
    if looks_local or Path(source).exists():
        return read_jsonl(Path(source).expanduser(), limit)
    return hf_dialogues(source, split, limit)


def parse_data_spec(spec) -> list[tuple[str, float]]:
    """``"a.jsonl:0.5,offline:chitchat:0.5"`` (or a list of items) -> ``[(source, ratio)]``.

    A missing ratio means 1; ratios are normalised to sum to 1.
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        item = item.strip()
        source, ratio = item, 1.0
        head, _, tail = item.rpartition(":")
        if head:
            try:
                source, ratio = head, float(tail)
            except ValueError:
                pass
        if not source:
            raise ValueError(f"data spec item {item!r} has no source")
        if not (math.isfinite(ratio) and ratio > 0):
            raise ValueError(f"data ratio must be a finite number > 0, got {ratio} in {item!r}")
        out.append((source, ratio))
    if not out:
        raise ValueError("data spec is empty")
    total = sum(r for _, r in out)
    return [(s, r / total) for s, r in out]


def split_counts(ratios: list[float], total: int) -> list[int]:
    """``round(ratio * total)`` per source, the last one taking the remainder (sums to ``total``)."""
    counts = [round(r * total) for r in ratios]
    counts[-1] = total - sum(counts[:-1])
    return counts


def mix_sources(pools: list[list], ratios: list[float], total: int, seed: int = 0) -> list:
    """Draw ``total`` items: ``round(ratio * total)`` from each pool (with replacement only when a
    pool is smaller than its share), shuffled with ``seed``."""
    if len(pools) != len(ratios) or not pools:
        raise ValueError("pools and ratios must be non-empty lists of equal length")
    if total < 1:
        raise ValueError(f"total must be >= 1, got {total}")
    rng = random.Random(seed)
    counts = split_counts(ratios, total)
    out = []
    for pool, k in zip(pools, counts):
        if not pool:
            raise ValueError("cannot mix an empty pool")
        out += rng.sample(pool, k) if k <= len(pool) else [rng.choice(pool) for _ in range(k)]
    rng.shuffle(out)
    return out


def fim_examples(tokenizer, sources: list[str], max_length: int, n: int, seed: int = 0,
                 middle: tuple[int, int] = (4, 24)) -> list[dict]:
    """Fill-in-the-middle examples from code: a window of ``max_length - 2`` tokens whose random
    middle span (``middle`` tokens long) is the target and the prefix/suffix stay clean."""
    rng = random.Random(seed)
    ids_per_source = [tokenizer(s, add_special_tokens=False, verbose=False)["input_ids"] for s in sources]
    ids_per_source = [x for x in ids_per_source if len(x) > middle[1] + 8]
    if not ids_per_source:
        raise ValueError("no source is long enough for fill-in-the-middle examples")
    cls = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    width = max_length - 2
    out = []
    for _ in range(n):
        ids = rng.choice(ids_per_source)
        start = rng.randrange(0, max(1, len(ids) - width))
        window = ids[start:start + width]
        span = rng.randint(middle[0], min(middle[1], len(window) - 2))
        a = rng.randrange(1, len(window) - span)
        target = [False] + [a <= i < a + span for i in range(len(window))] + [False]
        out.append({"input_ids": [cls] + window + [sep], "target": target})
    return out


def turn_windows(dialogue: list[dict], max_turns: int) -> list[list[dict]]:
    """Cut a long dialogue into consecutive windows of ``max_turns`` messages holding an answer.

    chitchat conversations run to ~70 turns and a prompt holds the whole history, so only the
    first few turns fit ``max_length``; short windows make every turn usable (an even
    ``max_turns`` keeps user/assistant alternation starting at a user turn).
    """
    if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 2:
        raise ValueError(f"max_turns must be an int >= 2, got {max_turns!r}")
    out = [dialogue[i:i + max_turns] for i in range(0, len(dialogue), max_turns)]
    return [w for w in out if any(m["role"] == "assistant" for m in w)]


def dialogue_examples_fast(tokenizer, dialogue, max_length: int, ids: dict | None = None,
                           chunk: int = 8) -> list[dict]:
    """``chat.dialogue_examples(tokenizer, dialogue, max_length)`` (every assistant turn), computed
    from batched tokenisations of ``chunk`` turns at a time instead of re-tokenising the history
    per turn, and stopping at the first turn whose prompt leaves no room for an answer (the prompt
    only grows, so later turns are never tokenised). Equal to the reference on every input
    (tested); ``ids``: ``chat_ids(tokenizer)`` if known (it rebuilds the vocabulary dict)."""
    dialogue = validate_messages(dialogue)
    ids = ids or chat_ids(tokenizer)
    history = [ids["cls"]] if ids["cls"] is not None else []
    out = []
    for start in range(0, len(dialogue), chunk):
        part = dialogue[start:start + chunk]
        texts = [check_text(m["content"], f"messages[{start + j}]['content']") for j, m in enumerate(part)]
        bodies = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        for m, body in zip(part, bodies):
            prompt = history + [ids["assistant"]]
            room = max_length - len(prompt)
            if room < 2:
                return out
            if m["role"] == "assistant":
                answer = (body + [ids["end"]])[:room]
                out.append({"input_ids": prompt + answer, "target": [False] * len(prompt) + [True] * len(answer)})
            history = history + [ids[m["role"]]] + body + [ids["end"]]
    return out


def examples_from_dialogues(tokenizer, dialogues, max_length: int, all_turns: bool = True) -> list[dict]:
    """Tokenise dialogues into collator examples (one per assistant turn; the last only if
    ``all_turns=False``)."""
    ids = chat_ids(tokenizer)
    out = []
    for d in dialogues:
        exs = dialogue_examples_fast(tokenizer, d, max_length, ids)
        if not all_turns:
            last = sum(m["role"] == "assistant" for m in d)
            exs = exs[-1:] if len(exs) == last else []
        out += exs
    if not out:
        raise ValueError(f"no dialogue fits max_length={max_length} with room for an answer")
    return out


def load_examples(tokenizer, spec, max_length: int, total: int | None = None, seed: int = 0,
                  limit_per_source: int | None = None) -> list[dict]:
    """Parse ``spec``, load each source, tokenise, and mix to ``total`` examples by ratio.

    ``offline:python-fim`` yields code FIM examples; the other sources yield dialogue examples.
    With ``total=None`` the sources are simply concatenated (ratios ignored).
    """
    pools, ratios = [], []
    for source, ratio in parse_data_spec(spec):
        if source == "offline:python-fim":
            n = limit_per_source or 200
            pool = fim_examples(tokenizer, corpora.python_sources(limit=FIM_FILES), max_length, n, seed)
        else:
            pool = examples_from_dialogues(tokenizer, load_dialogues(source, limit_per_source), max_length)
        pools.append(pool)
        ratios.append(ratio)
    if total is None:
        return [x for pool in pools for x in pool]
    return mix_sources(pools, ratios, total, seed)
