"""Seed 002's looping/temperature experiment (``seed002.looping``) on the smoke study. The judge is
replaced by a stand-in here (the real judges are tested in test_judges.py): one run with a judge,
one with the judge missing, which must be recorded as skipped with the reason."""

import json

import pytest

from nlp_course.diffusion import judges
from nlp_course.diffusion.seed002 import looping
from nlp_course.diffusion.seed002.__main__ import run


def _fake_ppl(texts, name):
    return 10.0 + sum(len(t) for t in texts) / len(texts)


@pytest.fixture(scope="module")
def results(smoke_study, tmp_path_factory, one_thread):
    out = tmp_path_factory.mktemp("looping")
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(judges, "judge_available", lambda name: (True, "stand-in"))
        mp.setattr(judges, "judge_perplexity", _fake_ppl)
        with_judge = run("looping", smoke_study, out / "a", out / "ra", size="smoke", device="cpu")
        mp.setattr(judges, "judge_available", lambda name: (False, "judge 'smollm2' is not installed: pip install x"))
        without = run("looping", smoke_study, out / "b", out / "rb", size="smoke", device="cpu")
    finally:
        mp.undo()
    return with_judge, without, out


def test_one_knob_sweeps_with_seeds_for_random_settings(results):
    res, _, _ = results
    S = looping.SIZES["smoke"]
    assert set(res["sweeps"]) == {"temperature", "steps", "block_length", "remasking"}
    for knob, rows in res["sweeps"].items():
        assert [r["value"] for r in rows] == [v for v in S[knob]]
        for r in rows:
            random_setting = r["settings"].get("temperature", 0.0) > 0 or r["settings"].get("remasking") == "random"
            assert r["seeds"] == (len(S["seeds"]) if random_setting else 1)
            assert r["settings"]["steps"] % (r["settings"]["gen_length"] // r["settings"]["block_length"]) == 0
            assert 0 <= r["repeated_3gram_rate"]["mean"] <= 1 and r["judge_ppl"]["n"] == r["seeds"]
    assert res["prompts"] == S["prompts"] and "repeated_3gram_rate" in res["causal_reference"]


def test_verdict_follows_the_numbers(results):
    res, _, _ = results
    v = res["verdict"]
    rows = res["sweeps"]["temperature"]
    greedy = next(r for r in rows if r["value"] == 0.0)
    assert v["greedy_rep3"] == greedy["repeated_3gram_rate"]["mean"]
    assert v["best_rep3"] == min(r["repeated_3gram_rate"]["mean"] for r in rows)
    assert v["judge_ppl_ratio"] == pytest.approx(v["best_judge_ppl"] / v["greedy_judge_ppl"])
    assert v["temperature_fixes_loops_fluently"] == (v["best_rep3"] < v["greedy_rep3"] and v["judge_ppl_ratio"] <= 1.5)


def test_missing_judge_is_skipped_with_its_reason(results):
    _, res, out = results
    assert res["judge"] is None and res["verdict"] is None and "pip install" in res["judge_skipped"]
    assert all("judge_ppl" not in r for rows in res["sweeps"].values() for r in rows)
    assert json.loads((out / "rb" / "looping.json").read_text(encoding="utf-8"))["judge_skipped"]
    assert (out / "rb" / "looping.png").stat().st_size > 1000


def test_grid_keeps_steps_a_multiple_of_blocks():
    base = {"gen_length": 32, "steps": 32, "block_length": 8}
    g = looping.grid(base, {"temperature": [], "steps": [6, 16], "block_length": [4, 5, 32], "remasking": []})
    assert [(k, v, kw["steps"], kw["block_length"]) for k, v, kw in g] == [
        ("steps", 6, 6, 32), ("steps", 16, 16, 8), ("block_length", 4, 32, 4), ("block_length", 32, 32, 32)]


def test_table_with_and_without_judge(results):
    with_judge, without, _ = results
    n = sum(len(rows) for rows in with_judge["sweeps"].values())
    assert len(looping.table(with_judge).splitlines()) == 1 + n + 1 and "smollm2 ppl" in looping.table(with_judge)
    assert looping.table(without).splitlines()[-1].startswith("judge skipped: judge 'smollm2' is not installed")
