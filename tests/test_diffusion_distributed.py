"""Multi-process diffusion SFT (nlp_course.diffusion.distributed): 2 gloo processes on CPU
launched by torchrun give the single-process trainer's losses with the same global batch."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from nlp_course.diffusion import TrainConfig, add_chat_tokens, load_examples, tiny_random, train
from nlp_course.diffusion.checkpoint import latest_checkpoint, verify_checkpoint
from nlp_course.diffusion.distributed import disable_dropout, main, rank_slice, train_distributed

STEPS, BATCH = 4, 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _single_process_losses(trainer) -> list[float]:
    model, tok = tiny_random("bert", seed=0)
    add_chat_tokens(tok, model)
    disable_dropout(model)
    cfg = TrainConfig(max_steps=STEPS, batch_size=BATCH, lr=1e-3, warmup_steps=2, max_length=64,
                      log_every=1, seed=0, progress=False)
    examples = load_examples(tok, "offline:chatterbot", cfg.max_length, None, 0)[32:]
    return [r["loss"] for r in trainer(model, tok, examples, cfg)["history"]]


@pytest.fixture(scope="module")
def plain_losses():
    return _single_process_losses(train)


def test_rank_slice_partitions_the_global_batch():
    rows = [list(range(8))[rank_slice(8, r, 4)] for r in range(4)]
    assert sum(rows, []) == list(range(8))
    with pytest.raises(ValueError, match="divisible"):
        rank_slice(6, 0, 4)


def test_one_process_accelerate_equals_plain_trainer(plain_losses):
    plain = plain_losses
    accel = _single_process_losses(train_distributed)
    assert len(plain) == STEPS
    assert plain[-1] < plain[0] + 1.0  # it trains (tiny model, 4 steps: loose)
    torch.testing.assert_close(accel, plain, rtol=0, atol=1e-5)


def test_two_gloo_processes_match_single_process(tmp_path, plain_losses):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           "-m", "nlp_course.diffusion.distributed", "--preset", "cpu-smoke", "--cpu", "--no-dropout",
           "--max-steps", str(STEPS), "--batch-size", str(BATCH), "--log-every", "1",
           "--output-dir", str(tmp_path / "ddp")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert len(lines) == 1 and lines[0]["world_size"] == 2  # only rank 0 prints
    torch.testing.assert_close(lines[0]["losses"], plain_losses, rtol=0, atol=1e-5)
    logged = [json.loads(x) for x in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == list(range(1, STEPS + 1))
    ckpt = latest_checkpoint(tmp_path / "ddp")  # rank 0 wrote one verified checkpoint, of the last step
    assert ckpt.name == f"checkpoint-{STEPS:07d}" and verify_checkpoint(ckpt)["run_id"]


def test_cli_rejects_unknown_preset(capsys):
    assert main(["--preset", "no-such-preset", "--cpu"]) == 2
    assert "unknown preset" in capsys.readouterr().err
