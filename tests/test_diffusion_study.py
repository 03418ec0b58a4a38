"""The chapter-11 study runner (nlp_course.diffusion.study) end to end on the ``smoke`` preset:
inside its time budget, a complete study.json, at most 6 result files, resumable."""

import json
import time

import pytest
import torch

from nlp_course.diffusion.study import fit, presets, report, runner, sweeps
from nlp_course.diffusion.study.__main__ import main
from nlp_course.diffusion.train import TrainConfig

BUDGET = 20.0
ROWS = ["causal-pretrained", "causal-random", "diffusion-pretrained", "diffusion-random"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The data stage first (a fixed cost: corpora, tokenizer, splits), then the rest on BUDGET."""
    out = tmp_path_factory.mktemp("study")
    args = ["--preset", "smoke", "--output-dir", str(out / "run"), "--device", "cpu", "--quiet"]
    assert main(args + ["--until", "data"]) == 0
    assert not (out / "run" / "pretrain").exists()  # stopped after the data stage
    t0 = time.monotonic()
    assert main(args + ["--time-budget", str(BUDGET), "--results", str(out / "results")]) == 0
    return out, time.monotonic() - t0


def _events(run):
    return [json.loads(x) for x in (run / "progress.jsonl").read_text().splitlines()]


def test_runs_within_its_time_budget(smoke):
    out, wall = smoke
    assert wall <= 1.1 * BUDGET, f"the smoke study took {wall:.1f} s for a {BUDGET} s budget"
    rep = json.loads((out / "results" / "study.json").read_text())
    plan = rep["pretrain"]["plan"]
    assert plan["max_steps"] < plan["ceiling_steps"]  # steps were scaled down to fit, not the preset's ceiling
    assert sum(v for k, v in rep["wall_s"].items() if k != "data") <= 1.1 * BUDGET
    assert [e["stage"] for e in _events(out / "run") if e["event"] == "skip"] == ["data"]  # resumed after it


def test_study_json_is_complete(smoke):
    out, _ = smoke
    rep = json.loads((out / "results" / "study.json").read_text())
    for key in ("preset", "hardware", "versions", "seeds", "time_budget_s", "wall_s", "total_wall_s", "config",
                "data", "pretrain", "sft_plan", "table", "sweeps", "scored_held_out", "sampled_prompts"):
        assert key in rep, key
    assert rep["hardware"]["kind"] == "cpu" and rep["versions"]["torch"] == torch.__version__
    assert sorted(rep["wall_s"]) == sorted(runner.STAGES[:-1]) and rep["config"] == presets.get_preset("smoke")
    data = rep["data"]
    assert data["held_out"] == presets.PRESETS["smoke"]["held_out"] and data["sft_train"] > 0
    assert data["overlap"]["answers"] == data["overlap"]["pairs"] == 0  # no held-out answer or pair in training
    assert sorted(r["row"] for r in rep["table"]) == ROWS
    by = {r["row"]: r for r in rep["table"]}
    for r in rep["table"]:
        assert r["nll_per_word"] > 0 and r["ppl"] > 1 and 0 <= r["distinct_2"] <= 1
        assert r["bound"] == r["row"].startswith("diffusion")
    # equal compute: every SFT row and both pretrained models get the planned steps (same batch and
    # length); a row may only fall short when the clock stopped it (a loaded machine), and then it
    # says so (steps < planned, stopped_early) and its tokens count only the steps it trained
    sft_plan = rep["sft_plan"]
    for r in rep["table"]:
        saved = json.loads((out / "run" / "sft" / r["row"] / "row.json").read_text())
        assert r["steps"] == saved["steps"] and saved["planned_steps"] == sft_plan["max_steps"]
        assert saved["stopped_early"] == (r["steps"] < sft_plan["max_steps"])  # any shortfall is flagged
        assert r["tokens"] == r["steps"] * sft_plan["batch_size"] * sft_plan["max_length"] > 0
    if not any(r["steps"] < sft_plan["max_steps"] for r in rep["table"]):
        assert len({(r["steps"], r["tokens"]) for r in rep["table"]}) == 1
    pre, pre_plan = rep["pretrain"]["rows"], rep["pretrain"]["plan"]
    for r in pre.values():
        assert r["planned_steps"] == pre_plan["max_steps"] and r["stopped_early"] == (r["steps"] < r["planned_steps"])
        assert r["tokens"] == r["steps"] * pre_plan["batch_size"] * pre_plan["max_length"] > 0
    if not any(r["stopped_early"] for r in pre.values()):
        assert pre["mlm"]["tokens"] == pre["causal"]["tokens"]
    assert by["diffusion-pretrained"]["params"] == by["diffusion-random"]["params"]
    for knob in ("temperature", "steps", "remasking"):
        assert [r["value"] for r in rep["sweeps"][knob]] == presets.PRESETS["smoke"]["sweep"][knob]
    t1 = next(r for r in rep["sweeps"]["temperature"] if r["value"] > 0)
    assert t1["seeds"] == len(presets.PRESETS["smoke"]["sweep"]["seeds"])  # random settings: every seed


def test_results_folder_holds_at_most_six_files(smoke):
    out, _ = smoke
    files = sorted(p.name for p in (out / "results").iterdir())
    assert files == sorted(report.RESULT_FILES) and len(files) <= 6
    for png in ("loss.png", "sweeps.png"):
        assert (out / "results" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rep = json.loads((out / "results" / "study.json").read_text())
    lines = [json.loads(x) for x in (out / "results" / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 4 * rep["sampled_prompts"] and {x["row"] for x in lines} == set(ROWS)


def test_resume_skips_finished_stages_and_continues_a_training_stage(smoke):
    out, _ = smoke
    run = out / "run"
    before = json.loads((out / "results" / "study.json").read_text())
    n = len(_events(run))
    assert main(["--preset", "smoke", "--output-dir", str(run), "--device", "cpu", "--quiet",
                 "--results", str(out / "results")]) == 0
    new = _events(run)[n:]
    assert [e["stage"] for e in new if e["event"] == "skip"] == list(runner.STAGES[:-1])
    assert json.loads((out / "results" / "study.json").read_text())["table"] == before["table"]
    # a training stage killed after its last checkpoint: the row resumes there (no step is redone)
    (run / "sft" / "done.json").unlink()
    (run / "sft" / "causal-random" / "row.json").unlink()
    metrics = (run / "sft" / "causal-random" / "metrics.jsonl").read_text()
    n = len(_events(run))
    assert main(["--preset", "smoke", "--output-dir", str(run), "--device", "cpu", "--quiet", "--until", "sft"]) == 0
    trained = [e["row"] for e in _events(run)[n:] if e["event"] == "train"]
    assert trained == ["causal-random"]
    resumed = (run / "sft" / "causal-random" / "metrics.jsonl").read_text()
    assert resumed.startswith(metrics)  # nothing redone; a row the clock had cut short goes on to its plan
    plan = json.loads((run / "sft" / "plan.json").read_text())["max_steps"]
    before, after = (json.loads(m.splitlines()[-1])["step"] for m in (metrics, resumed))
    assert after == before == plan if before == plan else plan >= after > before


def test_cli_errors_exit_2(smoke, tmp_path, capsys):
    out, _ = smoke
    assert main(["--preset", "laptop", "--output-dir", str(out / "run"), "--quiet"]) == 2
    assert "holds a 'smoke' study" in capsys.readouterr().err
    assert main(["--preset", "smoke", "--output-dir", str(tmp_path), "--time-budget", "nan"]) == 2
    assert "time_budget must be a positive finite number" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--preset", "nope", "--output-dir", str(tmp_path)])


def test_device_auto_means_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runner.resolve_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runner.resolve_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available"):
        runner.resolve_device("cuda")
    with pytest.raises(ValueError, match="device must be"):
        runner.resolve_device("tpu")


def test_gpu_preset_is_sized_from_flops_and_valid():
    gpu, smoke = presets.get_preset("gpu"), presets.get_preset("smoke")
    assert set(gpu) - {"sizing"} == set(smoke)  # same shape as the preset the tests run
    for section in ("pretrain", "sft"):
        cfg = TrainConfig.from_dict(gpu[section])
        assert cfg.bf16 is True
    s = presets.gpu_sizing()
    assert s["flops_per_s"] == pytest.approx(790e12 * 0.25)
    tokens = gpu["pretrain"]["max_steps"] * gpu["pretrain"]["batch_size"] * gpu["pretrain"]["max_length"]
    assert tokens == pytest.approx(s["tokens_per_model"], rel=0.01)  # the step ceiling is the FLOPs budget
    assert 6 * s["non_embedding_params"] * s["tokens_per_model"] == pytest.approx(
        s["flops_per_s"] * s["seconds_per_model"])
    with pytest.raises(ValueError, match="utilisation"):
        presets.gpu_sizing(utilisation=float("inf"))


def test_sweep_grid_keeps_steps_valid_and_seeds_only_random_settings():
    P = presets.get_preset("laptop")
    from nlp_course.diffusion.sample import check_blocks

    for _, _, kw in sweeps.grid(P):
        check_blocks(kw["gen_length"], kw["steps"], kw["block_length"])
    assert sweeps.seeds_for({"temperature": 0.0}, [0, 1, 2]) == [0]
    assert sweeps.seeds_for({"temperature": 0.5}, [0, 1, 2]) == [0, 1, 2]
    assert sweeps.seeds_for({"temperature": 0.0, "remasking": "random"}, [0, 1]) == [0, 1]
    ms = sweeps.mean_std([{k: 1.0 for k in sweeps.METRICS}, {k: 3.0 for k in sweeps.METRICS}])
    assert ms["distinct_2"] == 2.0 and ms["distinct_2_std"] == 1.0


def test_non_embedding_params_excludes_embeddings_once():
    from transformers import BertConfig, BertForMaskedLM

    m = BertForMaskedLM(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=16, max_position_embeddings=16))
    emb = sum(p.numel() for n, p in m.named_parameters() if "embeddings" in n)
    assert fit.non_embedding_params(m) == sum(p.numel() for p in m.parameters()) - emb


def test_load_finished_gives_the_main_model_and_held_out_examples(smoke, tmp_path):
    out, _ = smoke
    model, tok, held = runner.load_finished(out / "run", device="cpu")
    assert len(held) == presets.PRESETS["smoke"]["held_out"] and not model.training
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    with pytest.raises(FileNotFoundError, match="not a study folder"):
        runner.load_finished(tmp_path)


def test_dense_and_sparse_pretraining_losses_are_equal(tiny):
    """The GPU (dense) and CPU (sparse) masked-LM losses: same value, same gradients."""
    from nlp_course.diffusion.study.pretrain import mlm_loss_fn

    model, tok = tiny
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, len(tok), (3, 12), generator=g)  # (B, T)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "target_mask": torch.ones_like(ids, dtype=torch.bool)}
    values, grads = [], []
    for dense in (False, True):
        model.zero_grad()
        loss, stats = mlm_loss_fn(tok, 0.3, dense=dense)(model, batch, torch.Generator().manual_seed(1))
        loss.backward()
        values.append(loss.detach())
        grads.append(model.get_input_embeddings().weight.grad.clone())
        assert isinstance(stats["n_masked"], torch.Tensor) and int(stats["n_masked"]) > 0
    torch.testing.assert_close(values[0], values[1])
    torch.testing.assert_close(grads[0], grads[1])


def test_gpu_preset_weights_fit_the_files_left_beside_the_results():
    """The lent GPU returns <= 8 files of <= 16 MiB: six results + the fp16 BERT must fit."""
    from transformers import BertConfig

    from nlp_course.bert import BertForMaskedLM
    from nlp_course.diffusion.study.gpu import MAX_FILES, SHARD_BUDGET, TIED, pack_shards

    gpu = presets.get_preset("gpu")
    with torch.device("meta"):  # shapes only, no memory
        bert = BertForMaskedLM(BertConfig(vocab_size=gpu["vocab_size"] + 16, **gpu["model"]))  # + chat markers
    sizes = {k: v.numel() * 2 for k, v in bert.state_dict().items() if k not in TIED}
    plan = pack_shards(sizes)
    assert len(plan) <= MAX_FILES - 6, f"{sum(sizes.values()) / 2**20:.1f} MiB needs {len(plan)} shards"
    assert all(sum(sizes[k] for k in shard) <= SHARD_BUDGET for shard in plan)
    assert [k for shard in plan for k in shard] == list(sizes)  # every tensor once, in order
    with pytest.raises(ValueError, match="shard budget"):
        pack_shards({"big": SHARD_BUDGET + 1})


def test_dialogue_pretraining_text_adds_the_training_side_only():
    """``text.dialogues`` (the gpu preset) pretrains on the SFT split's training items as well."""
    from nlp_course.diffusion.study import corpus

    P = presets.get_preset("smoke")
    base = corpus.build_data(P)
    P["text"]["dialogues"] = True
    more = corpus.build_data(P)
    split = more["split"]
    assert more["report"]["pretrain_dialogues"] == len(split.train_texts) > 0 and base["report"]["pretrain_dialogues"] == 0
    assert split.held == base["split"].held and split.train == base["split"].train  # the split itself is unchanged
    tok = more["tokenizer"]
    extra = corpus.text_windows(tok, split.train_texts, P["pretrain"]["max_length"])
    n_base, n_extra = base["windows"].shape[0], extra.shape[0]
    assert n_base + n_extra <= more["windows"].shape[0] <= n_base + n_extra + 1  # one stream, packed
    assert torch.equal(more["windows"][:n_base - 1], base["windows"][:n_base - 1])  # prose first, unchanged
    assert presets.get_preset("gpu")["text"]["dialogues"] is True
