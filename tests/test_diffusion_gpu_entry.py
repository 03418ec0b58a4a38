"""The GPU command, run on a CPU with the smoke preset: budget, output limits, study.json, weights, batching."""

import json
import sys

import pytest
import torch

from nlp_course.diffusion.chat import chat_ids
from nlp_course.diffusion.sample import cut_at_eos, generate
from nlp_course.diffusion.study import load_finished
from nlp_course.diffusion.study.bundle import build_bundle
from nlp_course.diffusion.study.gpu import MAX_FILE_BYTES, MAX_FILES, load_bert_shards, main
from nlp_course.diffusion.study.sampling import answers

BUDGET = 20.0  # the study runner keeps a 20 s smoke budget within 10% (tests/test_diffusion_study.py)


@pytest.fixture(scope="module")
def gpu_run(tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp("gpu")
    build_bundle("smoke", root / "bundle")
    saved = {m: sys.modules.get(m) for m in ("gensim", "chitchat_dataset", "chatterbot_corpus")}
    sys.modules.update({m: None for m in saved})  # the GPU machine has no corpora
    try:
        rc = main([str(root / "out"), "--bundle", str(root / "bundle"), "--preset", "smoke", "--time-budget",
                   str(BUDGET), "--smoke-budget", "2", "--bench-steps", "2", "--device", "cpu"])
    finally:
        for m, mod in saved.items():
            if mod is None:
                sys.modules.pop(m, None)
            else:
                sys.modules[m] = mod
    return rc, root


def test_entry_point_keeps_budget_and_output_limits(gpu_run):
    rc, root = gpu_run
    assert rc == 0
    files = sorted((root / "out").iterdir())
    assert len(files) <= MAX_FILES and all(f.is_file() and f.stat().st_size <= MAX_FILE_BYTES for f in files)
    names = {f.name for f in files}
    assert {"study.json", "samples.jsonl", "loss.png", "sweeps.png", "bench_diffusion_train.txt",
            "bench_diffusion_sample.txt"} <= names
    study = json.loads((root / "out" / "study.json").read_text())
    assert study["time_budget_s"] == BUDGET and study["total_wall_s"] <= 1.1 * BUDGET
    assert set(study["wall_s"]) == {"data", "pretrain", "sft", "evaluate", "sample", "sweep"}
    assert {r["row"] for r in study["table"]} == {"diffusion-pretrained", "diffusion-random", "causal-pretrained",
                                                  "causal-random"}
    assert study["data"]["bundle"] == str(root / "bundle") and study["data"]["overlap"]["pairs"] == 0
    assert "real tokens/s" in (root / "out" / "bench_diffusion_train.txt").read_text()
    assert (root / "out-work" / "smoke-check" / "results" / "study.json").is_file()


def test_weights_come_back_in_fp16_shards_equal_to_the_pretrained_bert(gpu_run):
    _, root = gpu_run
    from nlp_course.diffusion.study import open_study
    from nlp_course.diffusion.study.pretrain import models

    bert, tok = load_bert_shards(root / "out")
    ref = models(open_study(root / "out-work" / "smoke", device="cpu"))["mlm"].state_dict()
    got = bert.state_dict()
    assert set(got) == set(ref)
    for k in ref:
        assert torch.equal(got[k], ref[k].half().float()), k
    assert len(tok) == bert.config.vocab_size


def test_batched_answers_equal_one_prompt_at_a_time(gpu_run):
    _, root = gpu_run
    model, tok, held = load_finished(root / "out-work" / "smoke", device="cpu")
    prompts = [e["input_ids"][: e["target"].index(True)] for e in held[:3]]
    gen = {"gen_length": 8, "steps": 4, "block_length": 8}
    texts, _ = answers("diffusion-pretrained", model, tok, prompts, gen, seed=5)
    eos = chat_ids(tok)["end"]
    for i, p in enumerate(prompts):
        ids = generate(model, tok, p, seed=5 + i, return_ids=True, **gen)  # (1, P + G)
        one = cut_at_eos(ids[0, len(p):].tolist(), eos)
        assert texts[i] == tok.decode(one, skip_special_tokens=True)


def test_non_empty_outdir_is_refused(tmp_path, capsys):
    (tmp_path / "old.txt").write_text("x")
    assert main([str(tmp_path), "--bundle", str(tmp_path / "none")]) == 2
    assert "not empty" in capsys.readouterr().err


class _Parsed(Exception):
    pass


def _readme_commands():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text() + (root / "notebooks" / "results" / "README.md").read_text()
    text = text.replace("\\\n", " ")
    cmds = re.findall(r"^python -m (nlp_course\.(?:diffusion\.study(?:\.bundle|\.gpu)?|bench\.diffusion_\w+)) ([^#|\n]*)",
                      text, flags=re.M)
    return sorted(set(cmds))


@pytest.mark.parametrize("module,args", _readme_commands())
def test_readme_gpu_commands_parse(module, args, monkeypatch):
    """Every documented command of the GPU part parses with its module's real argument parser."""
    import argparse
    import importlib
    import shlex

    def parse(self, argv=None, namespace=None):
        raise _Parsed(argparse.ArgumentParser.parse_known_args(self, argv, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse)
    mod = importlib.import_module(module if not module.endswith(".study") else module + ".__main__")
    with pytest.raises(_Parsed) as parsed:
        mod.main(shlex.split(args))
    assert parsed.value.args[0][1] == [], f"unknown arguments in: python -m {module} {args}"


def test_readme_documents_the_gpu_command():
    modules = {m for m, _ in _readme_commands()}
    assert {"nlp_course.diffusion.study.bundle", "nlp_course.diffusion.study.gpu", "nlp_course.bench.diffusion_train",
            "nlp_course.bench.diffusion_sample"} <= modules
