"""What masked diffusion does that left-to-right LMs cannot do directly: fill gaps.

Taught in notebook 11.

- ``fill_ids(model, tokenizer, ids, fill_at)``: the same on token ids (what the helpers build on).
- ``infill(model, tokenizer, text)``: every ``[[n]]`` in ``text`` becomes ``n`` [MASK] tokens and
  is filled using the context on *both* sides (code fill-in-the-middle without FIM training
  tricks: a causal LM needs the prefix-suffix-middle reordering of Bavarian et al. 2022).
- ``bridge(model, tokenizer, left, right, n_tokens)``: write ``n_tokens`` that connect two
  unrelated paragraphs (text bridging).
- ``edit(model, tokenizer, text, spans)``: re-mask only the tokens overlapping the character
  ``spans`` and regenerate them, banning the original tokens -- a targeted rewrite that leaves
  the rest of the text byte-identical (as tokens).
- ``detox``: ``edit`` on the spans of words from ``RUDE_WORDS``, a tiny word list written for
  this course (mild insults only; real detoxification uses a classifier, e.g. Dale et al. 2021).
"""

from __future__ import annotations

import re

import torch

from .chat import find_mask_id
from .models import max_positions
from .sample import diffuse, generation_banned_ids

GAP = re.compile(r"\[\[(\d+)\]\]")
RUDE_WORDS = ("stupid", "idiot", "idiots", "dumb", "moron", "loser", "losers", "shut up", "ugly",
              "hate", "useless", "pathetic", "jerk", "lazy", "worst")


def fill_ids(model, tokenizer, ids: list[int], fill_at: list[bool], steps=None, block_length=None, seed: int = 0,
             extra_banned=(), **kw) -> list[int]:
    """Token-level core of the helpers below: re-mask ``ids`` where ``fill_at`` and regenerate those
    positions from both sides (``steps``/``block_length`` default to one block, one token a step);
    the other ids come back unchanged. ``kw`` goes to ``sample.diffuse`` (temperature, remasking)."""
    if len(ids) != len(fill_at):
        raise ValueError(f"ids and fill_at must have the same length, got {len(ids)} and {len(fill_at)}")
    limit = max_positions(model)
    if limit is not None and len(ids) > limit:
        raise ValueError(f"text is {len(ids)} tokens, over the model's maximum length {limit}")
    n = sum(fill_at)
    if n == 0:
        raise ValueError("nothing to fill: no gap/span selected any token")
    device = next(model.parameters()).device
    x = torch.tensor([ids], device=device)  # (1, L)
    fill = torch.tensor([fill_at], device=device)  # (1, L)
    x = x.masked_fill(fill, find_mask_id(tokenizer))
    banned = generation_banned_ids(tokenizer, allow_eos=False) + list(extra_banned)
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    out = diffuse(model, x, fill, steps or n, block_length or n, banned_ids=banned, generator=gen, **kw)
    model.train(was_training)
    return out[0].tolist()


def infill(model, tokenizer, text: str, steps: int | None = None, block_length: int | None = None,
           seed: int = 0, return_fills: bool = False, **kw):
    """Fill every ``[[n]]`` gap of ``text``; return the decoded text (or the list of fills)."""
    pieces = GAP.split(text)  # [text, n, text, n, ..., text]
    if len(pieces) == 1:
        raise ValueError("text has no [[n]] gap to fill, e.g. 'def f(x):\\n    return [[6]]'")
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    ids, fill_at, gaps = ([cls] if cls is not None else []), [], []
    fill_at = [False] * len(ids)
    for i, piece in enumerate(pieces):
        if i % 2:
            n = int(piece)
            if n < 1:
                raise ValueError(f"gap size must be >= 1, got [[{n}]]")
            gaps.append((len(ids), n))
            ids += [find_mask_id(tokenizer)] * n
            fill_at += [True] * n
        elif piece:
            toks = tokenizer(piece, add_special_tokens=False, verbose=False)["input_ids"]
            ids += toks
            fill_at += [False] * len(toks)
    if sep is not None:
        ids, fill_at = ids + [sep], fill_at + [False]
    out = fill_ids(model, tokenizer, ids, fill_at, steps, block_length, seed, **kw)
    if return_fills:
        return [tokenizer.decode(out[a:a + n], skip_special_tokens=True) for a, n in gaps]
    return tokenizer.decode(out, skip_special_tokens=True)


def bridge(model, tokenizer, left: str, right: str, n_tokens: int = 16, **kw) -> str:
    """Write ``n_tokens`` between ``left`` and ``right``; return only the bridge text."""
    if n_tokens < 1:
        raise ValueError(f"n_tokens must be >= 1, got {n_tokens}")
    return infill(model, tokenizer, f"{left} [[{n_tokens}]] {right}", return_fills=True, **kw)[0]


def rude_spans(text: str, words=RUDE_WORDS) -> list[tuple[int, int]]:
    """Character spans of whole-word (case-insensitive) matches of ``words`` in ``text``."""
    spans = []
    for w in sorted(words, key=len, reverse=True):
        for m in re.finditer(rf"\b{re.escape(w)}\b", text, flags=re.IGNORECASE):
            if not any(a < m.end() and m.start() < b for a, b in spans):
                spans.append((m.start(), m.end()))
    return sorted(spans)


def edit(model, tokenizer, text: str, spans: list[tuple[int, int]], ban_original: bool = True,
         steps: int | None = None, seed: int = 0, **kw) -> str:
    """Regenerate the tokens of ``text`` that overlap the character ``spans``."""
    if not spans:
        raise ValueError("spans is empty: nothing to edit")
    for a, b in spans:
        if not 0 <= a < b <= len(text):
            raise ValueError(f"span ({a}, {b}) is not inside the text of length {len(text)}")
    enc = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True, verbose=False)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    special = set(tokenizer.all_special_ids)
    fill_at = [i not in special and s < e and any(s < b and a < e for a, b in spans)
               for i, (s, e) in zip(ids, offsets)]
    banned = {i for i, f in zip(ids, fill_at) if f} if ban_original else set()
    for w in RUDE_WORDS if ban_original else ():
        banned |= set(tokenizer(w, add_special_tokens=False, verbose=False)["input_ids"][:1])
    out = fill_ids(model, tokenizer, ids, fill_at, steps, None, seed, extra_banned=sorted(banned), **kw)
    return tokenizer.decode(out, skip_special_tokens=True)


def detox(model, tokenizer, text: str, words=RUDE_WORDS, **kw) -> str:
    """Rewrite only the rude words of ``text`` (unchanged text when none is found)."""
    spans = rude_spans(text, words)
    return edit(model, tokenizer, text, spans, **kw) if spans else text
