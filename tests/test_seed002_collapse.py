"""Seed 002's FRIDA experiment (``seed002.collapse``) on the smoke study: curves, equal-budget SFT, record."""

import json

import pytest
import torch

from nlp_course.diffusion.seed002 import collapse
from nlp_course.diffusion.seed002.__main__ import main, run


@pytest.fixture(scope="module")
def result(smoke_study, tmp_path_factory, one_thread):
    out = tmp_path_factory.mktemp("collapse")
    res = run("collapse", smoke_study, out / "runs", out / "results", size="smoke", device="cpu")
    return res, out


def test_curves_start_at_the_mlm_model_and_follow_the_steps(result):
    res, _ = result
    S = collapse.SIZES["smoke"]
    assert len(res["curves"]) == len(S["curves"])
    first = {c["points"][0]["mask_accuracy"] for c in res["curves"]}
    assert len(first) == 1  # step 0 scores the same pretrained BERT for every curve
    for c, spec in zip(res["curves"], S["curves"]):
        assert [p["steps"] for p in c["points"]] == S["steps"]
        assert c["objective"] == spec["objective"] and c["lr"] == spec["lr"] and c["head"] == spec["head"]
        assert c["points"][0]["contrastive_loss"] is None and all(p["contrastive_loss"] > 0 for p in c["points"][1:])
    worst = res["worst_curve"]
    assert res["curves"][worst]["points"][-1]["mask_accuracy"] == min(c["points"][-1]["mask_accuracy"]
                                                                      for c in res["curves"])


def test_both_starts_get_equal_sft_compute_and_seeds(result):
    res, _ = result
    S = collapse.SIZES["smoke"]
    rows = res["sft_rows"]
    for start in ("mlm", "contrastive"):
        assert [r["seed"] for r in rows[start]] == S["seeds"]
        assert {r["steps"] for r in rows[start]} == {S["sft_steps"]}
        assert res["sft_summary"][start]["nll_per_word"]["values"] == [r["nll_per_word"] for r in rows[start]]
    assert {r["tokens"] for r in rows["mlm"]} == {r["tokens"] for r in rows["contrastive"]}
    # different SFT seeds give different models (the error bars measure something)
    assert len({r["nll_per_word"] for r in rows["mlm"]}) == len(S["seeds"])


def test_record_and_plot_are_written(result):
    _, out = result
    rec = json.loads((out / "results" / "collapse.json").read_text(encoding="utf-8"))
    assert rec["experiment"] == "collapse" and rec["size"] == "smoke" and rec["wall_s"] > 0
    assert rec["base_study"]["preset"] == "smoke" and rec["hardware"]["kind"] == "cpu"
    assert (out / "results" / "collapse.png").stat().st_size > 1000


def test_dropout_is_set_for_contrastive_steps_and_restored():
    layer = torch.nn.TransformerEncoderLayer(8, 2, dropout=0.0)
    saved = collapse.set_dropout(layer, 0.1)
    assert layer.dropout.p == 0.1 and layer.self_attn.dropout == 0.1
    collapse.restore_dropout(saved)
    assert layer.dropout.p == 0.0 and layer.self_attn.dropout == 0.0


def test_cli_errors(smoke_study, tmp_path, capsys):
    assert main(["collapse", "--base", str(smoke_study), "--output-dir", str(tmp_path), "--results",
                 str(tmp_path), "--size", "huge"]) == 2
    assert "size must be one of" in capsys.readouterr().err
    assert main(["collapse", "--base", str(tmp_path / "nope"), "--output-dir", str(tmp_path), "--results",
                 str(tmp_path)]) == 2
    assert "not a study folder" in capsys.readouterr().err


def test_table_prints_every_curve_and_start(result):
    res, _ = result
    text = collapse.table(res)
    assert len(text.splitlines()) == 1 + len(res["curves"]) + 1 + 2
    assert f"{res['sft_summary']['mlm']['nll_per_word']['mean']:7.3f}" in text
