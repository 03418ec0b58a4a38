"""Seed 002's scale experiment (``seed002.scale``) on the smoke study: >= 10x span, equal tokens per size."""

import json

import pytest
import torch

from nlp_course.diffusion.seed002 import Experiment, scale
from nlp_course.diffusion.seed002.__main__ import run
from nlp_course.diffusion.study import fit


@pytest.fixture(scope="module")
def result(smoke_study, tmp_path_factory, one_thread):
    out = tmp_path_factory.mktemp("scale")
    return run("scale", smoke_study, out / "runs", out / "results", size="smoke", device="cpu"), out


def test_sizes_span_10x_with_equal_tokens_and_growing_compute(result):
    res, _ = result
    S = scale.SIZES["smoke"]
    pts = res["points"]
    assert len(pts) == len(S["dims"]) >= 3
    n = [p["non_embedding_params"] for p in pts]
    assert n == sorted(n) and res["non_embedding_span"] == pytest.approx(n[-1] / n[0]) and n[-1] / n[0] >= 10
    assert len({p["pretrain"]["tokens"] for p in pts}) == 1 and pts[0]["pretrain"]["steps"] == S["pretrain_steps"]
    flops = [p["pretrain_flops_6nd"] for p in pts]
    assert flops == sorted(flops) and flops[0] < flops[-1]
    for p in pts:
        assert [s["seed"] for s in p["seeds"]] == S["seeds"] and {s["steps"] for s in p["seeds"]} == {S["sft_steps"]}
        assert p["summary"]["nll_per_word"]["values"] == [s["nll_per_word"] for s in p["seeds"]]
        assert 0 <= p["summary"]["distinct_2"]["mean"] <= 1


def test_record_and_plot(result):
    _, out = result
    rec = json.loads((out / "results" / "scale.json").read_text(encoding="utf-8"))
    assert rec["experiment"] == "scale" and len(rec["points"]) == 3
    assert (out / "results" / "scale.png").stat().st_size > 1000


def test_study_sized_model_is_reused_exactly(smoke_study, tmp_path):
    ex = Experiment("scale", smoke_study, tmp_path, device="cpu")
    dims = {k: ex.P["model"][k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                           "intermediate_size")}
    model, rec = scale.pretrained(ex, scale._dims(ex, dims), "study")
    assert rec["reused_from_study"]
    ref = fit.load_row(ex.base, "pretrain", "mlm", ex.new_bert())
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), ref.state_dict().values()))


def test_table(result):
    res, _ = result
    lines = scale.table(res).splitlines()
    assert len(lines) == 1 + len(res["points"])
    assert all(str(p["non_embedding_params"]) in line for p, line in zip(res["points"], lines[1:]))
