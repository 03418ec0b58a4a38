"""Fit training to a time budget: measure seconds per step, then set the step count (down only).

Taught in notebook 11.

``plan_rows(study, stage, rows, section)`` decides one shared step count for several training runs
that must get equal compute (the diffusion model and its causal twin: same steps, batch, length):
each row trains ``probe_steps`` steps on a throw-away copy of its model, the slowest seconds per
step times the number of rows sets how many steps fit in what is left of the stage's allowance
(90% of it, the rest is headroom for checkpoints and logging), capped by the preset's ``max_steps``, with
warmup shortened in proportion. The plan is saved in ``<stage>/plan.json``: a resumed stage reuses
it, so a killed run continues with the same learning-rate schedule instead of re-planning.

``train_row`` then runs ``train.train`` in ``<stage>/<row>/`` (checkpoints, ``metrics.jsonl``,
exact resume) or, when that row finished before, only loads its final weights. It trains in
chunks of ``save_every`` steps (each ends on a checkpoint) and stops at a chunk boundary once the
stage's time is up, so a wrong estimate costs steps (recorded as ``stopped_early``), never the
budget.
"""

from __future__ import annotations

import copy
import json
import time

from ..checkpoint import latest_checkpoint, load_checkpoint
from ..train import TrainConfig, train

HEADROOM = 0.9


def config_for(study, section: str, **override) -> TrainConfig:
    """The preset's ``TrainConfig`` for ``section`` (``pretrain``/``sft``) with the study's seed."""
    return TrainConfig.from_dict({**study.P[section], "seed": study.P["seed"], "progress": not study.quiet,
                                  **override})


def seconds_per_step(model, tokenizer, examples, config: TrainConfig, loss_fn=None, probe_steps: int = 3) -> float:
    """Wall seconds per optimizer step of ``config`` on a copy of ``model``: one untimed warm-up
    step (allocations, lazy initialisation), then ``probe_steps`` timed ones."""
    probe = copy.deepcopy(model)
    cfg = {**config.__dict__, "warmup_steps": 1, "progress": False, "save_every": 0}
    train(probe, tokenizer, examples, TrainConfig.from_dict({**cfg, "max_steps": 1}), loss_fn=loss_fn)
    t0 = time.perf_counter()
    train(probe, tokenizer, examples, TrainConfig.from_dict({**cfg, "max_steps": probe_steps}), loss_fn=loss_fn)
    return (time.perf_counter() - t0) / probe_steps


def plan_rows(study, stage: str, rows: dict, section: str, runs: int | None = None) -> dict:
    """``rows``: name -> (model, tokenizer, examples, loss_fn) to probe; ``runs`` training runs
    (default: one per row) share the stage's time. Returns the saved plan dict."""
    path = study.folder(stage) / "plan.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    base = config_for(study, section)
    per_step = {name: seconds_per_step(m, tok, ex, base, fn) for name, (m, tok, ex, fn) in rows.items()}
    probe_s = time.perf_counter() - t0
    slowest = max(per_step.values())
    fit = int(study.left() * HEADROOM / (slowest * (runs or len(rows))))
    steps = max(1, min(base.max_steps, fit))
    warmup = max(1, min(base.warmup_steps, round(base.warmup_steps * steps / base.max_steps)))
    plan = {"max_steps": steps, "warmup_steps": warmup, "ceiling_steps": base.max_steps,
            "seconds_per_step": {k: round(v, 5) for k, v in per_step.items()}, "probe_s": round(probe_s, 2),
            "left_after_probe_s": round(study.left(), 2), "batch_size": base.batch_size, "max_length": base.max_length,
            "tokens_per_row": steps * base.batch_size * base.max_length}
    path.write_text(json.dumps(plan, indent=1), encoding="utf-8")
    study.log(stage, "plan", **{k: plan[k] for k in ("max_steps", "seconds_per_step", "probe_s")})
    return plan


def train_row(study, stage: str, name: str, model, tokenizer, examples, plan: dict, section: str,
              loss_fn=None, meta: dict | None = None) -> dict:
    """Train one row in ``<stage>/<name>`` per ``plan`` (resuming), or load it when finished."""
    folder = study.out / stage / name
    done = folder / "row.json"
    if done.exists():
        load_row(study, stage, name, model)
        return json.loads(done.read_text(encoding="utf-8"))
    cfg = config_for(study, section, max_steps=plan["max_steps"], warmup_steps=plan["warmup_steps"])
    study.log(stage, "train", row=name, steps=cfg.max_steps)
    t0 = time.perf_counter()
    model.to(study.device)
    while True:
        res = train(model, tokenizer, examples, cfg, folder, loss_fn=loss_fn, meta=meta,
                    stop_after=cfg.save_every or None)
        if res["step"] >= cfg.max_steps or study.left() <= 0:
            break
    row = {"steps": res["step"], "planned_steps": cfg.max_steps, "stopped_early": res["step"] < cfg.max_steps,
           "final_loss": res["loss"], "wall_s": round(time.perf_counter() - t0, 2),
           "params": sum(p.numel() for p in model.parameters()),
           "non_embedding_params": non_embedding_params(model),
           "tokens": res["step"] * cfg.batch_size * cfg.max_length}
    row["flops_6nd"] = 6 * row["non_embedding_params"] * row["tokens"]
    done.write_text(json.dumps(row, indent=1), encoding="utf-8")
    model.eval()
    return row


def load_row(study, stage: str, name: str, model):
    """Load a finished row's final weights into ``model`` (eval mode); a clear error if unfinished."""
    folder = study.out / stage / name
    ckpt = latest_checkpoint(folder)
    if not (folder / "row.json").exists() or ckpt is None:
        raise FileNotFoundError(f"{str(folder)!r} holds no finished training run: run the {stage!r} stage first")
    load_checkpoint(ckpt, model, restore_rng=False)
    return model.eval()


def non_embedding_params(model) -> int:
    """Parameters outside the token/position embeddings (the tied output layer counts once, as input)."""
    emb = {id(p) for n, p in model.named_parameters() if "embeddings" in n}
    return sum(p.numel() for p in model.parameters() if id(p) not in emb)


def history(folder) -> list[dict]:
    """The ``metrics.jsonl`` rows of a training folder ([] if none)."""
    f = folder / "metrics.jsonl"
    return [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines()] if f.exists() else []
