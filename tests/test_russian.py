"""Russian tasks: load offline from the installed packages, counts, no train/held-out overlap, split by item."""

import sys

import pytest

from nlp_course.diffusion.russian import context_tasks, load_proverbs, proverb_tasks, task_words
from nlp_course.diffusion.splits import normalise_text


@pytest.fixture(scope="module")
def proverbs():
    return proverb_tasks(held_out=500, seed=0)


@pytest.fixture(scope="module")
def contexts():
    return context_tasks(held_out_words=10, seed=0)


def _assert_no_overlap(train, held):
    train_texts = {normalise_text(t[k]) for t in train for k in ("prompt", "answer")}
    assert not train_texts & {normalise_text(t["answer"]) for t in held}
    assert not train_texts & {normalise_text(t["prompt"]) for t in held}
    pairs = {(normalise_text(t["prompt"]), normalise_text(t["answer"])) for t in train}
    assert not pairs & {(normalise_text(t["prompt"]), normalise_text(t["answer"])) for t in held}
    assert not {t["item"] for t in train} & {t["item"] for t in held}


def test_proverbs_load_and_split_without_leaks(proverbs):
    assert len(load_proverbs()) == 6237  # non-empty lines of the 6,238-line file
    train, held = proverbs
    assert len(train) == 5408 and len(held) == 434  # 66 of 500 drawn dropped: their half occurs in training
    assert task_words(train) == 35937 and task_words(held) == 2933
    _assert_no_overlap(train, held)
    for t in train[:50] + held:
        whole = normalise_text(t["prompt"] + " " + t["answer"])
        assert t["prompt"] and t["answer"] and whole.replace(" ", "") == t["item"].replace(" ", "")
    assert proverb_tasks(held_out=500, seed=0) == proverbs and proverb_tasks(held_out=500, seed=1) != proverbs


def test_contexts_split_by_word_without_leaks(contexts):
    train, held = contexts
    assert len(train) == 8257 and len(held) == 1257
    assert task_words(train) == 166704 and task_words(held) == 26122
    assert len({t["item"] for t in held}) == 10
    _assert_no_overlap(train, held)
    assert all(len(t["prompt"].split()) <= 16 and 1 <= len(t["answer"].split()) <= 8 for t in train + held)


def test_bad_input_and_missing_packages(monkeypatch):
    with pytest.raises(ValueError, match="held_out"):
        proverb_tasks(held_out=0)
    with pytest.raises(ValueError, match="held_out_words"):
        context_tasks(held_out_words=10_000)
    with pytest.raises(ValueError, match="answer_words"):
        context_tasks(answer_words=0)
    monkeypatch.setitem(sys.modules, "ru_proverbs", None)
    monkeypatch.setitem(sys.modules, "rl_wsd_labeled", None)
    with pytest.raises(ImportError, match="--no-deps ru-proverbs"):
        load_proverbs()
    with pytest.raises(ImportError, match="pip install rl-wsd-labeled"):
        context_tasks()
