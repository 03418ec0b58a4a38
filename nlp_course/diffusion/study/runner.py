"""The study runner: stages in order, each within its share of one time budget, resumable, recorded.

Taught in notebook 11.

``run_study(preset, out_dir, time_budget=None, device="auto", results=None)`` runs the stages

    data -> pretrain -> sft -> evaluate -> sample -> sweep -> report

Each stage is a small module with ``run(study) -> dict`` (its deadline: ``study.left()``). ``data`` and ``report`` are fixed costs;
the others are *budgeted*: when a stage starts it gets ``left * share / (shares of the stages
still to run)`` seconds of what is left of ``--time-budget`` (so time a stage leaves unused flows
to the later ones), and it scales its work down to fit -- training stages measure seconds per step
on a few probe steps and set their step count (``fit.py``), the sampling stages measure one
generation and set how many prompts they can afford.

Resume: every finished stage writes ``<out>/<stage>/done.json`` and is skipped next time; a
killed training run continues from its last checkpoint (``train.train``) with the step count it
planned before (``plan.json``), so its learning-rate schedule is unchanged. ``progress.jsonl``
logs every stage event; training stages show tqdm bars unless ``quiet``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

import nlp_course.metrics  # noqa: F401 -- generation_stats imports it lazily (seconds): load it before the clock

from . import compare, corpus, pretrain, report, sampling, sft, sweeps
from .presets import get_preset

STAGES = ("data", "pretrain", "sft", "evaluate", "sample", "sweep", "report")
BUDGETED = ("pretrain", "sft", "evaluate", "sample", "sweep")
REPORT_RESERVE_S = 1.0  # seconds of the budget kept for the report stage (JSON, copies)


class Study:
    """One study's output folder, preset, device, clock and log; stages read and write through it."""

    def __init__(self, preset: str, out_dir, time_budget: float | None = None, device: str = "auto",
                 quiet: bool = False, seed: int | None = None, bundle=None):
        self.P = get_preset(preset)
        self.preset = preset
        if seed is not None:
            self.P["seed"] = seed
        budget = self.P["time_budget_s"] if time_budget is None else time_budget
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0 < budget < float("inf"):
            raise ValueError(f"time_budget must be a positive finite number of seconds, got {budget!r}")
        self.budget = float(budget)
        self.device = resolve_device(device)
        self.quiet = quiet
        self.bundle = bundle  # a data bundle folder (bundle.py) the data stage reads instead of the corpora
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.start = time.monotonic()
        state = self.out / "study_run.json"
        if state.exists():
            old = json.loads(state.read_text(encoding="utf-8"))
            if old["preset"] != preset or old["seed"] != self.P["seed"]:
                raise ValueError(f"{str(self.out)!r} holds a {old['preset']!r} study with seed {old['seed']}; "
                                 f"pass --preset {old['preset']} (and its seed) or a new --output-dir")
        else:
            state.write_text(json.dumps({"preset": preset, "seed": self.P["seed"]}), encoding="utf-8")
        self._cache: dict = {}
        self.deadline = self.start + self.budget

    # ---- clock -------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        """Seconds left of the running stage's allowance (stages plan their work with this)."""
        return max(0.0, self.deadline - time.monotonic())

    def allowance(self, stage: str) -> float:
        """Seconds for ``stage``: its share of what is left (after the report's reserve)."""
        shares = self.P["shares"]
        todo = BUDGETED[BUDGETED.index(stage):]
        left = self.budget - REPORT_RESERVE_S - self.elapsed()
        return max(0.0, left) * shares[stage] / sum(shares[s] for s in todo)

    # ---- stage bookkeeping ------------------------------------------------------------------
    def folder(self, *parts: str) -> Path:
        path = self.out.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def done(self, stage: str) -> dict | None:
        f = self.out / stage / "done.json"
        return json.loads(f.read_text(encoding="utf-8")) if f.exists() else None

    def log(self, stage: str, event: str, **extra) -> None:
        row = {"stage": stage, "event": event, "t": round(self.elapsed(), 2), **extra}
        with (self.out / "progress.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if not self.quiet:
            print(f"[study {self.preset}] {stage}: {event} {json.dumps(extra) if extra else ''}", flush=True)

    def finish(self, stage: str, result: dict, wall_s: float) -> dict:
        result = {**result, "wall_s": round(wall_s, 2)}
        folder = self.folder(stage)
        tmp = folder / "done.json.tmp"
        tmp.write_text(json.dumps(result, indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, folder / "done.json")
        self.log(stage, "done", wall_s=result["wall_s"])
        return result

    def cached(self, key: str, build):
        """Build an object once per process (the tokenizer, the splits, loaded models)."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]


def resolve_device(device: str | None) -> torch.device:
    """``auto`` (or None): CUDA when present, else CPU; ``cpu``/``cuda`` as asked (cuda must exist)."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available on this machine")
    return torch.device(device)


def hardware(device: torch.device) -> dict:
    """What the run ran on: GPU name, or CPU model and the cores torch used."""
    if device.type == "cuda":
        return {"kind": "gpu", "name": torch.cuda.get_device_name(device), "count": torch.cuda.device_count()}
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"kind": "cpu", "name": name, "logical_cores": os.cpu_count(), "torch_threads": torch.get_num_threads()}


def open_study(out_dir, device: str = "auto") -> Study:
    """A finished (or partly finished) study folder, to read its models and data from."""
    state = Path(out_dir) / "study_run.json"
    if not state.is_file():
        raise FileNotFoundError(f"{str(out_dir)!r} is not a study folder (no study_run.json)")
    old = json.loads(state.read_text(encoding="utf-8"))
    return Study(old["preset"], out_dir, device=device, quiet=True, seed=old["seed"])


def load_finished(out_dir, row: str = "diffusion-pretrained", device: str = "auto") -> tuple:
    """``(model, tokenizer, held-out examples)`` of a study whose ``sft`` stage finished."""
    study = open_study(out_dir, device)
    if not study.done("sft"):
        raise FileNotFoundError(f"{str(out_dir)!r} has no finished sft stage: run the study first")
    d = corpus.load(study)
    return sft.load_models(study)[row], d["tokenizer"], d["held"]


def run_study(preset: str, out_dir, time_budget: float | None = None, device: str = "auto", results=None,
              until: str | None = None, quiet: bool = False, seed: int | None = None, note: str = "",
              bundle=None) -> dict:
    """Run (or continue) the study; return ``study.json``'s dict (``{}`` when stopped by ``until``)."""
    if until is not None and until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}, got {until!r}")
    study = Study(preset, out_dir, time_budget, device, quiet, seed, bundle)
    modules = {"data": corpus, "pretrain": pretrain, "sft": sft, "evaluate": compare, "sample": sampling,
               "sweep": sweeps}
    torch.manual_seed(study.P["seed"])
    study.log("study", "start", budget_s=study.budget, device=str(study.device))
    for stage in STAGES[:-1]:
        if study.done(stage):
            study.log(stage, "skip")
        else:
            t0 = time.monotonic()
            seconds = study.allowance(stage) if stage in BUDGETED else None
            extra = {"allowance_s": round(seconds, 2)} if seconds is not None else {}
            study.deadline = t0 + (seconds if seconds is not None else study.budget)
            study.log(stage, "start", **extra)
            study.finish(stage, {**modules[stage].run(study), **extra}, time.monotonic() - t0)
        if stage == until:
            return {}
    study.results = Path(results) if results is not None else study.out / "results"
    study.note = note
    return report.run(study)
