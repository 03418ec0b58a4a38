"""The study's ``sweep`` stage: the main model's samples as temperature, steps and remasking vary.

Taught in notebook 11.

The main model is the ``diffusion-pretrained`` row. Three one-knob sweeps around the ``sample``
settings (greedy, low-confidence remasking): temperature, total denoising steps (with blocks
when the step count allows them, one block otherwise) and the remasking order. A setting that is
random (temperature > 0, or ``random`` remasking) runs once per seed in ``seeds`` and reports the
mean and standard deviation over seeds of each statistic; a deterministic one runs once (std 0).
The number of prompts per setting shrinks to fit the stage's time share.
"""

from __future__ import annotations

import statistics

from ..models import max_positions
from . import corpus, sampling, sft
from .fit import HEADROOM
from .report import plot_sweeps

METRICS = ("distinct_2", "repeated_3gram_rate", "longest_loop", "eos_rate", "sample_entropy", "mean_words")


def grid(P: dict) -> list[tuple[str, object, dict]]:
    """``[(knob, value, generate kwargs)]`` of the preset's sweep."""
    base = {k: P["sample"][k] for k in ("gen_length", "steps", "block_length")}
    sw, n_blocks = P["sweep"], base["gen_length"] // base["block_length"]
    out = [("temperature", v, {**base, "temperature": v}) for v in sw["temperature"]]
    out += [("steps", v, {**base, "steps": v, "block_length": base["block_length"]
                          if v % n_blocks == 0 and v >= n_blocks else base["gen_length"]}) for v in sw["steps"]]
    out += [("remasking", v, {**base, "remasking": v}) for v in sw["remasking"]]
    return out


def seeds_for(kw: dict, seeds: list[int]) -> list[int]:
    random_setting = kw.get("temperature", 0.0) > 0 or kw.get("remasking") == "random"
    return list(seeds) if random_setting else list(seeds[:1])


def mean_std(rows: list[dict]) -> dict:
    """``{metric: mean, metric_std: population std}`` over seeds."""
    out = {}
    for k in METRICS:
        vals = [r[k] for r in rows if r.get(k) is not None]
        out[k] = statistics.fmean(vals) if vals else None
        out[k + "_std"] = statistics.pstdev(vals) if len(vals) > 1 else 0.0
    return out


def run(study) -> dict:
    from ..evaluate import generation_stats

    d = corpus.load(study)
    tok, row = d["tokenizer"], "diffusion-pretrained"
    model = sft.load_models(study)[row]
    settings = grid(study.P)
    seeds = study.P["sweep"]["seeds"]
    prompts = sampling.prompts_of(d["held"], study.P["sample"]["gen_length"], max_positions(model))
    prompts = prompts[: study.P["sweep"]["num_prompts"]]
    # cost of one prompt through the whole grid, from the sample stage's seconds per answer
    # (one forward per denoising step: an answer costs in proportion to its steps)
    per_step = study.done("sample")["seconds_per_answer"][row] / study.P["sample"]["steps"]
    per_prompt = sum(len(seeds_for(kw, seeds)) * kw["steps"] * per_step for _, _, kw in settings)
    left = study.left() - study.done("sft")["plot_s"]  # keep time to draw sweeps.png (as long as loss.png took)
    n = max(1, min(len(prompts), int(left * HEADROOM / max(per_prompt, 1e-9))))
    prompts = prompts[:n]
    out: dict = {"temperature": [], "steps": [], "remasking": []}
    for knob, value, kw in settings:
        per_seed = []
        for s in seeds_for(kw, seeds):
            texts, eos = sampling.answers(row, model, tok, prompts, kw, seed=1000 * s)
            per_seed.append(generation_stats(texts, eos))
        out[knob].append({"value": value, "seeds": len(per_seed), **mean_std(per_seed)})
    plot_sweeps(out, study.preset, study.folder("sweep") / "sweeps.png")
    return {"sweeps": out, "prompts": n}
