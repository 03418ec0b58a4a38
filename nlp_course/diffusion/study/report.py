"""The study's ``report`` stage: ``study.json``, ``samples.jsonl`` and two figures in the results folder.

Taught in notebook 11 (which displays ``notebooks/results/<preset>/``).

``study.json`` records what a reader needs to trust a number: the hardware, torch/transformers
versions, seeds, the time budget and wall seconds per stage, the full preset, the data report
(dedup counts, split sizes, held-out overlap = 0), the training plans (steps, tokens, ~6ND FLOPs
per row) and every table the notebook shows (likelihood + generation per row, the sweeps). It
always runs (it only writes JSON and copies files: the figures are drawn by the budgeted ``sft`` and
``sweep`` stages), so a resumed study rewrites its results.
"""

from __future__ import annotations

import json
import platform
import shutil

import torch
from matplotlib.figure import Figure

from . import fit

RESULT_FILES = ("study.json", "samples.jsonl", "loss.png", "sweeps.png")


def table(study) -> list[dict]:
    """One row per SFT row: likelihood (``evaluate``), generation (``sample``), compute (``sft``)."""
    ev, sa, tr = study.done("evaluate"), study.done("sample"), study.done("sft")
    return [{"row": row, **ev["table"][row], **sa["generation"][row],
             **{k: tr["rows"][row][k] for k in ("params", "non_embedding_params", "tokens", "flops_6nd", "steps")}}
            for row in ev["table"]]


def build(study) -> dict:
    import transformers

    from .runner import BUDGETED, STAGES, hardware

    stages = {s: study.done(s) for s in STAGES[:-1]}
    data = dict(stages["data"])
    return {
        "preset": study.preset, "hardware": hardware(study.device), "note": study.note,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "python": platform.python_version()},
        "seeds": {"study": study.P["seed"], "sweep": study.P["sweep"]["seeds"]},
        "time_budget_s": study.budget,
        "wall_s": {s: r["wall_s"] for s, r in stages.items()},
        "total_wall_s": round(sum(r["wall_s"] for r in stages.values()), 2),
        "allowance_s": {s: r.get("allowance_s") for s, r in stages.items() if s in BUDGETED},
        "config": study.P,
        "data": data,
        "pretrain": stages["pretrain"],
        "sft_plan": stages["sft"]["plan"],
        "table": table(study),
        "scored_held_out": stages["evaluate"]["scored"], "sampled_prompts": stages["sample"]["prompts"],
        "sample_settings": stages["sample"]["settings"],
        "sweeps": stages["sweep"]["sweeps"], "sweep_prompts": stages["sweep"]["prompts"],
    }


def plot_losses(study, path) -> None:
    fig = Figure(figsize=(10, 3.5), dpi=80)  # no pyplot: the caller's backend is left alone
    axes = fig.subplots(1, 2)
    for ax, stage, rows, title in ((axes[0], "pretrain", ("mlm", "causal"), "pretraining"),
                                   (axes[1], "sft", ("diffusion-pretrained", "diffusion-random",
                                                     "causal-pretrained", "causal-random"), "SFT")):
        for row in rows:
            h = fit.history(study.out / stage / row)
            ax.plot([r["step"] for r in h], [r["loss"] for r in h], label=row)
        ax.set(title=f"{title} loss ({study.preset})", xlabel="optimizer step",
               ylabel="loss (nats/token; diffusion: ELBO-weighted)")
        ax.legend()
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.9, wspace=0.3)  # no tight_layout: one draw
    fig.savefig(path)


def plot_sweeps(sweeps: dict, preset: str, path) -> None:
    fig = Figure(figsize=(12, 3.5), dpi=80)
    axes = fig.subplots(1, 3)
    for ax, knob in zip(axes, ("temperature", "steps", "remasking")):
        keys = [str(r["value"]) for r in sweeps[knob]]
        for metric in ("distinct_2", "repeated_3gram_rate", "eos_rate"):
            ax.errorbar(keys, [r[metric] for r in sweeps[knob]], yerr=[r[metric + "_std"] for r in sweeps[knob]],
                        marker="o", capsize=3, label=metric)
        ax.set(title=f"samples vs {knob} ({preset})", xlabel=knob, ylabel="rate (0-1), mean +- std over seeds")
        ax.legend()
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.9, wspace=0.3)  # no tight_layout: one draw
    fig.savefig(path)


def run(study) -> dict:
    """Write the results folder (``study.results``) and return the study dict."""
    study.log("report", "start")
    res = study.results
    res.mkdir(parents=True, exist_ok=True)
    report = build(study)
    report["elapsed_s"] = round(study.elapsed(), 2)  # this invocation, report included (but its figures)
    (res / "study.json").write_text(json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    for stage, name in (("sample", "samples.jsonl"), ("sft", "loss.png"), ("sweep", "sweeps.png")):
        shutil.copyfile(study.out / stage / name, res / name)
    study.log("report", "done", folder=str(res), elapsed_s=round(study.elapsed(), 2))
    return report


def main_summary(report: dict) -> str:
    """The likelihood/generation table as text, one line per row (``*``: an upper bound)."""
    lines = [f"{'row':21s} {'params':>7s} {'nll/token':>9s} {'nll/word':>9s} {'ppl':>9s} {'m.acc':>6s} "
             f"{'rep3':>6s} {'dist2':>6s} {'words':>6s}"]
    for r in sorted(report["table"], key=lambda r: r["row"]):
        acc = f"{r['masked_acc']:6.3f}" if "masked_acc" in r else f"{'-':>6s}"
        lines.append(f"{r['row']:21s} {r['params'] / 1e6:6.2f}M {r['nll_per_token']:9.4f} {r['nll_per_word']:9.4f} "
                     f"{r['ppl']:8.2f}{'*' if r['bound'] else ' '} {acc} {r['repeated_3gram_rate']:6.3f} "
                     f"{r['distinct_2']:6.3f} {r['mean_words']:6.1f}")
    return "\n".join(lines)
