"""CLI: the cpu-smoke preset trains, samples and evaluates end to end; bad input fails clearly."""

import json
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors import SafetensorError

from nlp_course.diffusion import models
from nlp_course.diffusion.cli import build_parser, main
from nlp_course.diffusion.models import tiny_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """A cpu-smoke run, 6 steps: the commands below sample and evaluate it."""
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--preset", "cpu-smoke", "--output-dir", str(run), "--max-steps", "6",
                 "--save-every", "3", "--no-progress"]) == 0
    return run


def test_cpu_smoke_end_to_end(smoke_run, tmp_path, capsys):
    run = smoke_run
    assert (run / "latest").read_text() == "checkpoint-0000006"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2  # log_every=5 and the last step
    assert main(["sample", "--model", str(run), "--prompt", "How are you?", "--prompt", "Hi",
                 "--temperature", "1.0", "--num-samples", "2"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [x["prompt"] for x in lines] == ["How are you?"] * 2 + ["Hi"] * 2
    report_path = tmp_path / "eval.json"
    assert main(["eval", "--model", str(run), "--output", str(report_path), "--num-prompts", "2"]) == 0
    report = json.loads(report_path.read_text())
    assert report["elbo"]["n_tokens"] > 0 and report["elbo"]["ppl_bound"] > 1
    assert report["elbo"]["gen_length"] == 16 and "nll_len_conditioned" in report["elbo"]
    assert {"distinct_1", "distinct_2", "repeated_3gram_rate", "longest_loop", "eos_rate",
            "sample_entropy"} <= set(report["generation"])
    assert len(report["samples"]) == 2
    # eval says which settings it used: the run's own split (32 held out, no overlap), its preset
    settings = json.loads(capsys.readouterr().err.strip().splitlines()[-1])["settings"]
    assert settings == report["settings"]
    assert settings["held_out_from"] == "the run's own split" and settings["held_examples"] == 32
    assert settings["preset"] == "cpu-smoke" and settings["data"] == "offline:chatterbot"
    assert settings["overlap"] == {"answers": 0, "pairs": 0, "held": 32} and settings["device"] == "cpu"


def test_eval_never_falls_back_to_preset_data(smoke_run, monkeypatch, capsys):
    real = models.load_trained
    monkeypatch.setattr(models, "load_trained", lambda path, device=None: (*real(path, device)[:2], {}))
    err = _err(capsys, ["eval", "--model", str(smoke_run)])
    assert "does not record its held-out split" in err and "pass --data" in err

    def changed(path, device=None):
        model, tok, meta = real(path, device)
        return model, tok, {**meta, "held_sha256": "0" * 64}

    monkeypatch.setattr(models, "load_trained", changed)
    assert "differs from the one it was trained with" in _err(capsys, ["eval", "--model", str(smoke_run)])


@pytest.fixture
def moves(monkeypatch):
    """Pretend CUDA exists; record where models are moved (and leave them on the CPU)."""
    seen = []

    def fake_to(self, *args, **kwargs):
        target = args[0] if args else kwargs.get("device")
        if isinstance(target, (str, torch.device)):
            seen.append(torch.device(target).type)
        return self

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.nn.Module, "to", fake_to)
    return seen


def test_device_auto_is_cuda_for_sample_and_eval(smoke_run, moves, capsys):
    args = ["--gen-length", "8", "--steps", "8", "--block-length", "8"]
    assert main(["sample", "--model", "tiny-random:bert", "--prompt", "hi", *args]) == 0
    assert moves == ["cuda"]
    assert main(["sample", "--model", str(smoke_run), "--prompt", "hi", *args]) == 0
    assert moves == ["cuda", "cuda"]
    assert main(["eval", "--model", str(smoke_run), "--num-prompts", "1", "--n-t", "1", *args]) == 0
    assert moves[-1] == "cuda" and json.loads(capsys.readouterr().err.strip().splitlines()[-1])[
        "settings"]["device"] == "cuda"
    assert main(["sample", "--model", "tiny-random:bert", "--prompt", "hi", "--device", "cpu", *args]) == 0
    assert moves[-1] == "cpu"


@pytest.mark.parametrize("exc", [OSError("No space left on device"), RuntimeError("CUDA out of memory"),
                                 SafetensorError("Error while deserializing header"),
                                 json.JSONDecodeError("Expecting value", "{", 0)],
                         ids=["OSError", "RuntimeError", "SafetensorError", "JSONDecodeError"])
def test_library_errors_become_error_lines(monkeypatch, capsys, exc):
    def boom(name, seed=0):
        raise exc

    monkeypatch.setattr(models, "load_mlm", boom)
    err = _err(capsys, ["sample", "--model", "tiny-random:bert", "--prompt", "hi"])
    assert err.startswith("error: ") and str(exc).split(":")[0] in err and "tiny-random:bert" in err
    assert "Traceback" not in err


def test_broken_files_become_error_lines(smoke_run, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(smoke_run, broken)
    ckpt = broken / (broken / "latest").read_text()
    weights = ckpt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    err = _err(capsys, ["sample", "--model", str(broken), "--prompt", "hi"])
    assert err.startswith("error: ") and str(broken) in err and "Traceback" not in err
    (ckpt / "state.json").write_text("{not json", encoding="utf-8")
    err = _err(capsys, ["eval", "--model", str(broken)])
    assert err.startswith("error: ") and str(broken) in err
    afile = tmp_path / "afile"
    afile.write_text("x")
    err = _err(capsys, ["train", "--output-dir", str(afile / "out")])  # OSError: not a directory
    assert err.startswith("error: ") and str(afile) in err


def test_help_explains_flags():
    text = build_parser().format_help()
    assert "cpu-smoke" in text and "{train,sample,eval}" in text
    sub = subprocess.run([sys.executable, "-m", "nlp_course.diffusion", "train", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for flag in ("--model", "--data", "--preset", "--output-dir", "--max-steps", "--eos-in-loss", "--crop-prob"):
        assert flag in sub


def _err(capsys, argv) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_clear_errors(tmp_path, capsys):
    out = str(tmp_path / "o")
    assert "unknown preset 'gpu-huge'" in _err(capsys, ["train", "--preset", "gpu-huge", "--output-dir", out])
    assert "does not exist" in _err(capsys, ["train", "--model", "./missing/model", "--output-dir", out])
    assert "does not exist" in _err(capsys, ["train", "--data", "./missing.jsonl", "--output-dir", out])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert "is empty" in _err(capsys, ["train", "--data", str(empty), "--output-dir", out])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
                   "oops\n")
    assert "bad.jsonl:2: malformed JSON" in _err(capsys, ["train", "--data", str(bad), "--output-dir", out])
    nomask = tmp_path / "nomask"
    tiny_tokenizer("bert", mask=False).save_pretrained(nomask)
    assert "no mask token" in _err(capsys, ["train", "--model", str(nomask), "--output-dir", out])
    assert "holds no checkpoint" in _err(capsys, ["eval", "--model", str(tmp_path)])
    err = _err(capsys, ["sample", "--model", "tiny-random:bert", "--prompt", "hi", "--gen-length", "10",
                        "--block-length", "4"])
    assert "divisible by block_length" in err
