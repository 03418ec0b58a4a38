"""word_tokenize, char_tokenize, sentence_split: hand-checked cases and invariants."""

import pytest
import razdel
from hypothesis import given
from hypothesis import strategies as st

from nlp_course.tokenization import char_tokenize, sentence_split, word_tokenize


def test_word_tokenize_english_and_russian():
    assert word_tokenize("Don't e-mail me, кто-то сказал: 3.14!") == [
        "Don't", "e-mail", "me", ",", "кто-то", "сказал", ":", "3.14", "!"]  # fmt: skip


def test_word_tokenize_urls_and_emoji():
    text = "See https://ya.ru/a?b=1. 👍🏽"
    assert word_tokenize(text)[:3] == ["See", "https", ":"]  # the failure case
    assert word_tokenize(text, keep_urls=True, keep_emoji=True) == [
        "See", "https://ya.ru/a?b=1", ".", "👍🏽"]  # fmt: skip


def test_word_tokenize_agrees_with_razdel_on_plain_russian():
    text = "Кто-то пришёл в 1999 году, а потом ушёл. Всё по-прежнему!"
    assert word_tokenize(text) == [t.text for t in razdel.tokenize(text)]


@given(st.text(max_size=80))
def test_word_tokens_are_ordered_substrings(text):
    pos = 0
    for token in word_tokenize(text):
        pos = text.index(token, pos) + len(token)


@given(st.text(max_size=80))
def test_char_tokenize_joins_back(text):
    assert "".join(char_tokenize(text)) == text
    assert "".join(char_tokenize(text, graphemes=True)) == text


def test_graphemes_vs_code_points():
    assert len(char_tokenize("👍🏽")) == 2 and len(char_tokenize("👍🏽", graphemes=True)) == 1


def test_sentence_split_abbreviations():
    text = "Dr. Smith left at 3 p.m. today. He said: «Привет!» Это т.е. пример. Всё."
    assert sentence_split(text) == [
        "Dr. Smith left at 3 p.m. today.", "He said: «Привет!»", "Это т.е. пример.", "Всё."]  # fmt: skip


@given(st.text(alphabet="ab .!?AБ\n", max_size=80))
def test_sentence_split_keeps_all_text(text):
    assert "".join("".join(sentence_split(text)).split()) == "".join(text.split())


def test_bad_input():
    for fn in (word_tokenize, char_tokenize, sentence_split):
        with pytest.raises(TypeError, match="text"):
            fn(None)
