"""What every seed-002 experiment shares: the finished base study, fixed-step SFT, held-out scoring, the record.

Taught in notebook 11 (section "Seed 002 reproduced").

An experiment starts from a *finished* study (``python -m nlp_course.diffusion.study``: its
tokenizer, its clean SFT split and its MLM-pretrained course BERT) and adds rows to it. Unlike the
study's time-fitted stages, every training run here has a **fixed number of steps**, so its
numbers do not depend on how busy the machine was (only its wall time does), and rows that are
compared get the same steps, batch and length (equal tokens; ``tokens`` is recorded per row).

- ``Experiment(name, base_dir, out_dir)`` opens the base study read-only and owns ``out_dir/name``.
- ``ex.bert()`` is a fresh copy of the pretrained BERT; ``ex.new_bert(dims, seed)`` one at init.
- ``ex.sft(model, row, steps, seed)`` diffusion-SFTs ``model`` on the base study's training split
  in ``out_dir/name/row`` (checkpointed, resumable: a finished row only reloads its weights).
- ``ex.score(model)`` is the study's held-out row score (``compare.score``: ELBO per token and per
  word over the sampler's canvas) on the same held-out answers as every other row of the study.
- ``ex.record(result, results_dir)`` writes ``<results_dir>/<name>.json`` with the hardware,
  versions, seeds, wall time and the base study it started from.

``mean_std`` summarises seeds (sample standard deviation, ddof=1) for the error bars.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import torch

from ..models import max_positions
from ..study import compare, corpus, fit, pretrain
from ..study.runner import hardware, open_study
from ..train import TrainConfig, train

__all__ = ["Experiment", "mean_std"]


def mean_std(values) -> dict:
    """``{"mean", "std", "n", "values"}`` of finite numbers (std over seeds, ddof=1; 0 for one value)."""
    values = [float(v) for v in values]
    if not values or not all(v == v and abs(v) != float("inf") for v in values):
        raise ValueError(f"values must be a non-empty list of finite numbers, got {values!r}")
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "n": len(values), "values": values}


class Experiment:
    """One experiment's folder and clock, on top of a finished base study (read-only)."""

    def __init__(self, name: str, base_dir, out_dir, device: str = "auto", quiet: bool = True):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"name must be an identifier-like string, got {name!r}")
        self.name = name
        self.base = open_study(base_dir, device)
        if not self.base.done("sft"):
            raise FileNotFoundError(f"{str(base_dir)!r} holds no finished study (no sft stage): run the study first")
        self.base_dir = Path(base_dir)
        self.P = self.base.P
        self.device = self.base.device
        self.quiet = quiet
        self.out = Path(out_dir) / name
        self.out.mkdir(parents=True, exist_ok=True)
        self.start = time.monotonic()
        d = corpus.load(self.base)
        self.tokenizer, self.train_examples = d["tokenizer"], d["train"]
        probe = pretrain.new_bert(self.tokenizer, self.P["model"], self.P["seed"])
        self.held = compare.fitting(d["held"], self.P["eval"]["gen_length"], max_positions(probe))

    # ---- models ------------------------------------------------------------------------------
    def new_bert(self, dims: dict | None = None, seed: int | None = None):
        """A course BERT at init (local heads seeded), sized ``dims`` (default: the study's)."""
        return pretrain.new_bert(self.tokenizer, dims or self.P["model"], self.P["seed"] if seed is None else seed)

    def bert(self):
        """A fresh copy of the study's MLM-pretrained course BERT, in eval mode."""
        model = self.new_bert().to(self.device)
        return fit.load_row(self.base, "pretrain", "mlm", model)

    # ---- training and scoring ----------------------------------------------------------------
    def sft_config(self, steps: int, seed: int, **override) -> TrainConfig:
        """The study's SFT section at ``steps`` steps (warmup scaled like ``fit.plan_rows``)."""
        base = self.P["sft"]
        warmup = max(1, min(base["warmup_steps"], round(base["warmup_steps"] * steps / base["max_steps"])))
        return TrainConfig.from_dict({**base, "max_steps": steps, "warmup_steps": warmup, "seed": seed,
                                      "progress": not self.quiet, **override})

    def sft(self, model, row: str, steps: int, seed: int = 0, tokenizer=None, examples=None, **override) -> dict:
        """Diffusion SFT of ``model`` in ``<out>/<row>`` for exactly ``steps`` steps; returns the row's record."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}")
        tok = tokenizer or self.tokenizer
        examples = self.train_examples if examples is None else examples
        cfg = self.sft_config(steps, seed, **override)
        folder = self.out / row
        done = folder / "row.json"
        model.to(self.device)
        if done.exists():  # finished before: only its final weights are loaded
            fit.load_row(self, ".", row, model)
            return json.loads(done.read_text(encoding="utf-8"))
        t0 = time.perf_counter()
        res = train(model, tok, examples, cfg, folder, meta={"experiment": self.name, "row": row, "seed": seed})
        rec = {"row": row, "seed": seed, "steps": res["step"], "final_loss": res["loss"],
               "batch_size": cfg.batch_size, "max_length": cfg.max_length, "lr": cfg.lr,
               "tokens": res["step"] * cfg.batch_size * cfg.max_length,
               "params": sum(p.numel() for p in model.parameters()),
               "non_embedding_params": fit.non_embedding_params(model), "wall_s": round(time.perf_counter() - t0, 2)}
        done.write_text(json.dumps(rec, indent=1), encoding="utf-8")
        model.eval()
        return rec

    def score(self, model, tokenizer=None, held: list[dict] | None = None) -> dict:
        """The study's held-out score of a diffusion row (``compare.score``) on ``held`` (default: the study's)."""
        return compare.score("diffusion", model.eval(), tokenizer or self.tokenizer, self.held if held is None else held,
                             self.P)

    # ---- record ------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def record(self, result: dict, results_dir, note: str = "") -> Path:
        """``<results_dir>/<name>.json``: ``result`` plus hardware, versions, wall time and the base study."""
        import transformers

        base_json = self.base.out / "pretrain" / "done.json"
        rec = {"experiment": self.name, "hardware": hardware(self.device), "note": note,
               "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                            "python": platform.python_version()},
               "base_study": {"preset": self.base.preset, "seed": self.P["seed"],
                              "pretrain_steps": json.loads(base_json.read_text(encoding="utf-8"))["plan"]["max_steps"]},
               "held_out": len(self.held), "wall_s": round(self.elapsed(), 2), **result}
        folder = Path(results_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(rec, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

