"""CLI: the cpu-smoke preset trains, samples and evaluates end to end; bad input fails clearly."""

import json
import subprocess
import sys

import pytest

from nlp_course.diffusion.cli import build_parser, main
from nlp_course.diffusion.models import tiny_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")


def test_cpu_smoke_end_to_end(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--preset", "cpu-smoke", "--output-dir", str(run), "--max-steps", "6",
                 "--save-every", "3", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["step"] == 6 and (run / "latest").read_text() == "checkpoint-0000006"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2  # log_every=5 and the last step
    assert main(["sample", "--model", str(run), "--prompt", "How are you?", "--prompt", "Hi",
                 "--temperature", "1.0", "--num-samples", "2"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [x["prompt"] for x in lines] == ["How are you?"] * 2 + ["Hi"] * 2
    report_path = tmp_path / "eval.json"
    assert main(["eval", "--model", str(run), "--output", str(report_path), "--num-prompts", "2"]) == 0
    report = json.loads(report_path.read_text())
    assert report["elbo"]["n_tokens"] > 0 and report["elbo"]["ppl_bound"] > 1
    assert {"distinct_1", "distinct_2", "repeated_3gram_rate", "longest_loop", "eos_rate",
            "sample_entropy"} <= set(report["generation"])
    assert len(report["samples"]) == 2


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
