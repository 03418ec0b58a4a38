"""Rule-based word, character and sentence tokenization — and where each breaks.

- ``word_tokenize``: words (letters/digits, keeping inner hyphens and apostrophes: "кто-то",
  "don't"), numbers with a decimal point ("3.14") and single punctuation marks. Optional
  ``keep_urls``/``keep_emoji`` show how much special-casing real text needs.
- ``char_tokenize``: Unicode code points, or user-perceived characters (``graphemes=True``, the
  ``regex`` module's ``\\X``): "👍🏽" is two code points but one grapheme, "й" may be two.
- ``sentence_split``: split after ``.``, ``!``, ``?``, ``…`` followed by space and a capital
  letter, digit, quote or dash — except after a known abbreviation (English and Russian).

Notebook 03 runs them on English and Russian text and shows the failures (unknown
abbreviations, initials, URLs, emoji sequences, hyphenated words) next to ``razdel``,
natasha's rule-based Russian segmenter. Reference: Jurafsky & Martin, SLP3 ch. 2.
Taught in notebook 03.
"""

from __future__ import annotations

import regex

ABBREVIATIONS = frozenset(
    # English
    "mr mrs ms dr prof st jr sr vs etc e.g i.e no fig approx inc ltd co "
    # Russian: г. (год/город), ул., др., т.е., т.к., т.д., т.п., см., стр., им., тыс., млн., руб.
    "г гг ул др т.е т.к т.д т.п см стр им тыс млн руб проф акад пр с".split()
)
_URL = r"(?:https?://|www\.)[^\s<>\"«»]+[^\s<>\"«».,;:!?)\]]"
_EMOJI = r"\p{Extended_Pictographic}(?:\p{EMod}|\uFE0F|\u200D\p{Extended_Pictographic})*"
_WORD = r"\d+(?:[.,]\d+)+|\w+(?:[-'’]\w+)*|[^\w\s]"
_SENT_END = regex.compile(r"""[.!?…]+["»”)]*(?=\s+["«“(\-—–\p{Lu}\d])""")


def word_tokenize(text: str, keep_urls: bool = False, keep_emoji: bool = False) -> list[str]:
    """Split ``text`` into words and punctuation marks (see the module docstring)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    pattern = "|".join([*(["(?:" + _URL + ")"] if keep_urls else []),
                        *([_EMOJI] if keep_emoji else []), _WORD])  # fmt: skip
    return regex.findall(pattern, text)


def char_tokenize(text: str, graphemes: bool = False) -> list[str]:
    """Code points (``list(text)``) or extended grapheme clusters (``graphemes=True``)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return regex.findall(r"\X", text) if graphemes else list(text)


def sentence_split(text: str, abbreviations: frozenset[str] = ABBREVIATIONS) -> list[str]:
    """Split ``text`` into sentences (stripped); abbreviations are compared lower-cased."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    sentences, start = [], 0
    for m in _SENT_END.finditer(text):
        before = regex.search(r"(\w+(?:\.\w+)*)\.$", text[start : m.start() + 1])
        if m.group().startswith(".") and before and before.group(1).lower() in abbreviations:
            continue
        sentences.append(text[start : m.end()].strip())
        start = m.end()
    tail = text[start:].strip()
    return [s for s in [*sentences, tail] if s]
