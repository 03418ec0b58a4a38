"""Seed 002's FRIDA fix (``seed002.revival``): the real MiniLM loads offline with a new head; the
experiment's pipeline (re-split in a second tokenizer, matched held-out answers, equal-budget SFT,
one word count for all rows) on the smoke study with a tiny BERT standing in for MiniLM."""

import json

import pytest

from nlp_course.diffusion.chat import CHAT_TOKENS, add_chat_tokens
from nlp_course.diffusion.models import tiny_random
from nlp_course.diffusion.seed002 import revival
from nlp_course.diffusion.seed002.__main__ import run


def test_minilm_loads_offline_with_a_tied_new_head():
    model, tok = revival.load_minilm()
    assert all(t in tok.get_vocab() for t in CHAT_TOKENS)
    assert model.get_input_embeddings().weight.shape[0] == len(tok) == 30522 + len(CHAT_TOKENS)
    assert model.cls.predictions.decoder.weight is model.get_input_embeddings().weight  # only the transform is new
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384


def _tiny_minilm():
    model, tok = tiny_random("bert", seed=3)
    add_chat_tokens(tok, model)
    return model, tok


@pytest.fixture(scope="module")
def result(smoke_study, tmp_path_factory, one_thread):
    out = tmp_path_factory.mktemp("revival")
    mp = pytest.MonkeyPatch()
    mp.setattr(revival, "load_minilm", _tiny_minilm)
    try:
        res = run("revival", smoke_study, out / "runs", out / "results", size="smoke", device="cpu")
    finally:
        mp.undo()
    return res, out


def test_rows_share_held_out_answers_words_and_budget(result):
    res, _ = result
    S = revival.SIZES["smoke"]
    n = res["matched_held_out"]
    assert 1 <= n <= S["held_limit"]
    assert res["minilm_split"]["overlap"]["answers"] == 0 and res["minilm_split"]["overlap"]["pairs"] == 0
    rows = res["rows"]
    assert set(rows) == {"minilm-shipped", "minilm-revived", "course-bert"}
    assert {r["steps"] for rs in rows.values() for r in rs} == {S["sft_steps"]}
    assert {r["batch_size"] for rs in rows.values() for r in rs} == {S["sft_batch"]}
    for rs in rows.values():
        assert [r["seed"] for r in rs] == S["seeds"]
        for r in rs:
            assert r["nll_per_common_word"] == pytest.approx(r["nats"] / res["common_words"])
    # revived and shipped start from different weights, so SFT'ing them gives different scores
    assert rows["minilm-revived"][0]["nats"] != rows["minilm-shipped"][0]["nats"]


def test_revival_trains_more_than_the_head(result):
    res, _ = result
    assert res["revival"]["train"] == "full" and res["head_only"]["train"] == "head"
    assert res["revival"]["trained_parameters"] > 10 * res["head_only"]["trained_parameters"]
    assert res["head_only"]["before"]["tokens"] == res["revival"]["after"]["tokens"] > 0  # same held-out rows
    assert len(res["fill_mask"]["minilm-revived"]) == len(revival.FILL_MASK)


def test_record_and_plot(result):
    _, out = result
    rec = json.loads((out / "results" / "revival.json").read_text(encoding="utf-8"))
    assert rec["experiment"] == "revival" and rec["summary"]["course-bert"]["nll_per_common_word"]["n"] == 1
    assert (out / "results" / "revival.png").stat().st_size > 1000


def test_table(result):
    res, _ = result
    text = revival.table(res)
    assert all(t in text for t in revival.FILL_MASK) and f"{res['common_words']} words" in text
    assert f"{res['summary']['course-bert']['nll_per_common_word']['mean']:7.3f}" in text
