"""Normalizers and pre-tokenizers shared by the subword tokenizers (pure Python).

- ``bert_normalize`` / ``bert_pre_tokenize``: BERT's text cleaning (drop control characters,
  map whitespace to spaces, put spaces around CJK ideographs, optional lower-casing and accent
  stripping) and its split on whitespace and punctuation — the same rules as HF
  ``normalizers.BertNormalizer`` and ``pre_tokenizers.BertPreTokenizer``.
- ``bytes_to_unicode`` / ``byte_level_pre_tokenize``: GPT-2's byte-level trick (every byte gets
  a printable character, so any string is representable) and its split regex, as in HF
  ``pre_tokenizers.ByteLevel(add_prefix_space=False)``.

References: Devlin et al. (2019) https://arxiv.org/abs/1810.04805 (BERT's BasicTokenizer);
Radford et al. (2019), GPT-2 ``encoder.py``; https://huggingface.co/docs/tokenizers/api/normalizers.
Taught in notebook 03.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import regex

from nlp_course.tokenization._unicode_tables import MARKS, PUNCTUATION, REMOVED

_CJK = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)  # fmt: skip


def check_text(text, name: str = "text") -> str:
    """``text`` if it is a str of valid Unicode; lone surrogates (``"\\ud800"``) cannot be UTF-8
    encoded, so every tokenizer refuses them with a ValueError naming the position."""
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"{name} contains a lone surrogate U+{ord(text[e.start]):04X} at "
                             f"index {e.start}: not valid Unicode text") from None
    return text




def _is_cjk(c: str) -> bool:
    o = ord(c)
    return any(lo <= o <= hi for lo, hi in _CJK)


def is_punctuation(c: str) -> bool:
    """BERT's punctuation: ASCII punctuation or a Unicode ``P*`` category (HF's tables)."""
    return c in PUNCTUATION


def _is_space(c: str) -> bool:
    """Rust's ``char::is_whitespace`` (Unicode White_Space); Python's ``isspace`` adds the
    information separators U+001C..U+001F, which HF does not split on."""
    return c.isspace() and not "\x1c" <= c <= "\x1f"


def bert_normalize(text: str, lowercase: bool = True, strip_accents: bool | None = None) -> str:
    """Clean ``text`` like BERT (``strip_accents=None`` follows ``lowercase``, as in BERT).

    Character classes come from HF's tables (``_unicode_tables``), not from this Python's
    ``unicodedata``, so that characters newer than HF's tables are kept as HF keeps them.
    """
    out = []
    for c in text:
        if c in REMOVED:  # control and format characters, NUL, U+FFFD
            continue
        if _is_space(c):
            out.append(" ")
        elif _is_cjk(c):
            out.append(f" {c} ")
        else:
            out.append(c)
    text = "".join(out)
    if strip_accents is None:
        strip_accents = lowercase
    if strip_accents:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if c not in MARKS)
    if lowercase:
        text = text.lower()
    return text


def bert_pre_tokenize(text: str) -> list[str]:
    """Split on whitespace (dropped) and punctuation (kept, one character per token)."""
    words: list[str] = []
    current: list[str] = []
    for c in text:
        if _is_space(c) or is_punctuation(c):
            if current:
                words.append("".join(current))
                current = []
            if not _is_space(c):
                words.append(c)
        else:
            current.append(c)
    if current:
        words.append("".join(current))
    return words


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from the 256 byte values to printable characters (printable bytes map to
    themselves, the rest to code points 256+)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), 256)]
    table = {b: chr(b) for b in keep}
    n = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    return table


GPT2_PATTERN = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)


def byte_level_pre_tokenize(text: str) -> list[str]:
    """Split with GPT-2's regex, then spell each chunk's UTF-8 bytes with ``bytes_to_unicode``."""
    table = bytes_to_unicode()
    return [
        "".join(table[b] for b in chunk.encode("utf-8")) for chunk in GPT2_PATTERN.findall(text)
    ]
