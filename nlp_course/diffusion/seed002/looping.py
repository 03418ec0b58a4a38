"""Looping and temperature, with fluency: does raising the temperature fix the loops? Issue 21,
experiment 6; taught in notebook 11.

The notes: RuModernBERT loops, and "raising the temperature does not help enough". Here the
study's main model (``diffusion-pretrained`` after SFT) answers held-out prompts while one knob
moves at a time around the study's sample settings -- temperature, total steps, block length,
remasking order. A random setting (temperature > 0 or random remasking) runs once per seed and is
reported as mean +- std over seeds (``study.sweeps.seeds_for``). Beside repetition (repeated
3-gram rate, longest loop) and diversity (distinct-2, sample entropy), fluency is measured by an
offline judge: the generative perplexity of the answers under SmolLM2-135M (``judges``; skipped,
with the reason recorded, when the judge is not installed). Generative perplexity rewards dull,
repetitive text, so it is read together with entropy (Zheng et al. 2024). The causal twin's greedy
answers to the same prompts are the reference row.

``verdict`` states, from the numbers, whether the temperature that best cuts repetition keeps the
judge perplexity within a factor ``fluency_factor`` of greedy decoding's.

References: Holtzman et al. 2020 (degeneration, temperature); Zheng et al. 2024 (generative
perplexity pitfalls); Nie et al. 2025 (LLaDA remasking); seed 002.
"""

from __future__ import annotations

from .. import judges
from ..evaluate import generation_stats
from ..study import sampling, sft
from ..study.sweeps import seeds_for
from .base import mean_std

METRICS = ("repeated_3gram_rate", "longest_loop", "distinct_2", "sample_entropy", "eos_rate", "mean_words")
SIZES = {
    "smoke": {"temperature": [0.0, 1.0], "steps": [4, 16], "block_length": [8, 16], "remasking": ["low_confidence",
              "random"], "seeds": [0, 1], "prompts": 3, "judge": "smollm2", "fluency_factor": 1.5},
    "laptop": {"temperature": [0.0, 0.5, 1.0, 1.5, 2.0], "steps": [8, 16, 32], "block_length": [4, 8, 16, 32],
               "remasking": ["low_confidence", "random", "entropy", "margin"], "seeds": [0, 1, 2], "prompts": 64,
               "judge": "smollm2", "fluency_factor": 1.5},
}


def grid(base: dict, S: dict) -> list[tuple[str, object, dict]]:
    """``[(knob, value, generate kwargs)]``: one knob at a time around ``base``; steps stay a multiple
    of the number of blocks (the block length is kept when it allows that, else one block)."""
    G = base["gen_length"]
    out = [("temperature", v, {**base, "temperature": v}) for v in S["temperature"]]
    for v in S["steps"]:
        blocks = G // base["block_length"]
        out.append(("steps", v, {**base, "steps": v,
                                 "block_length": base["block_length"] if v % blocks == 0 and v >= blocks else G}))
    for v in S["block_length"]:
        if G % v == 0:
            out.append(("block_length", v, {**base, "block_length": v,
                                            "steps": max(base["steps"] // (G // v), 1) * (G // v)}))
    out += [("remasking", v, {**base, "remasking": v}) for v in S["remasking"]]
    return out


def run(ex, size: str) -> dict:
    S = SIZES[size]
    ok, why = judges.judge_available(S["judge"])
    judge = S["judge"] if ok else None
    model = sft.load_models(ex.base)["diffusion-pretrained"]
    base = {k: ex.P["sample"][k] for k in ("gen_length", "steps", "block_length")}
    prompts = sampling.prompts_of(ex.held, base["gen_length"], ex.P["sft"]["max_length"])[: S["prompts"]]
    sweeps: dict = {}
    for knob, value, kw in grid(base, S):
        per_seed = []
        for s in seeds_for(kw, S["seeds"]):
            texts, eos = sampling.answers("diffusion", model, ex.tokenizer, prompts, kw, seed=1000 * s)
            per_seed.append({**generation_stats(texts, eos), "judge_ppl": judges.answers_perplexity(texts, judge), "samples": texts[:2]})
        keys = METRICS + (("judge_ppl",) if judge else ())
        sweeps.setdefault(knob, []).append({"value": value, "settings": kw, "seeds": len(per_seed),
                                            **{k: mean_std([r[k] for r in per_seed]) for k in keys},
                                            "samples": per_seed[0]["samples"]})
    causal = sft.load_models(ex.base)["causal-pretrained"]
    texts, _ = sampling.answers("causal-pretrained", causal, ex.tokenizer, prompts, base)
    reference = {**generation_stats(texts), "judge_ppl": judges.answers_perplexity(texts, judge), "samples": texts[:2]}
    return {"sweeps": sweeps, "causal_reference": reference, "prompts": len(prompts), "judge": judge,
            "judge_skipped": None if ok else why, "verdict": verdict(sweeps, S["fluency_factor"]) if judge else None}


def verdict(sweeps: dict, factor: float) -> dict:
    """Greedy vs the temperature with the lowest repeated-3-gram rate: repetition and judge perplexity."""
    rows = sweeps["temperature"]
    greedy = next(r for r in rows if r["value"] == 0.0)
    best = min(rows, key=lambda r: (r["repeated_3gram_rate"]["mean"], r["value"]))
    ratio = best["judge_ppl"]["mean"] / greedy["judge_ppl"]["mean"]
    return {"greedy_rep3": greedy["repeated_3gram_rate"]["mean"], "best_temperature": best["value"],
            "best_rep3": best["repeated_3gram_rate"]["mean"], "greedy_judge_ppl": greedy["judge_ppl"]["mean"],
            "best_judge_ppl": best["judge_ppl"]["mean"], "judge_ppl_ratio": ratio, "fluency_factor": factor,
            "temperature_fixes_loops_fluently": bool(best["repeated_3gram_rate"]["mean"] < greedy["repeated_3gram_rate"]
                                                     ["mean"] and ratio <= factor)}


def plot(result: dict, path) -> None:
    from matplotlib.figure import Figure

    knobs = list(result["sweeps"])
    fig = Figure(figsize=(4 * len(knobs), 3.6), dpi=80)
    axes = fig.subplots(1, len(knobs))
    for ax, knob in zip(axes, knobs):
        rows = result["sweeps"][knob]
        xs = [str(r["value"]) for r in rows]
        for k in ("repeated_3gram_rate", "distinct_2", "eos_rate"):
            ax.errorbar(xs, [r[k]["mean"] for r in rows], yerr=[r[k]["std"] for r in rows], marker="o", capsize=3,
                        label=k)
        ax.set(title=f"samples vs {knob}", xlabel=knob, ylabel="rate (0-1), mean +- std over seeds")
        if result["judge"]:
            tw = ax.twinx()
            tw.errorbar(xs, [r["judge_ppl"]["mean"] for r in rows], yerr=[r["judge_ppl"]["std"] for r in rows],
                        color="k", ls="--", marker="s", capsize=3, label="judge ppl")
            tw.set_ylabel(f"{result['judge']} perplexity of answers")
        ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.05, right=0.95, bottom=0.15, top=0.9, wspace=0.45)
    fig.savefig(path)


def table(result: dict) -> str:
    """One line per setting: repetition, diversity, EOS share, judge perplexity (mean +- std)."""
    judge = result["judge"]
    lines = [f"{'knob':13s} {'value':>14s} {'seeds':>5s} {'rep3':>13s} {'loop':>5s} {'dist2':>6s} {'entropy':>7s} "
             f"{'eos':>5s} {'words':>5s}" + (f" {judge + ' ppl':>16s}" if judge else "")]
    for knob, rows in result["sweeps"].items():
        for r in rows:
            line = (f"{knob:13s} {str(r['value']):>14s} {r['seeds']:5d} {r['repeated_3gram_rate']['mean']:6.3f}+-"
                    f"{r['repeated_3gram_rate']['std']:.3f} {r['longest_loop']['mean']:5.2f} {r['distinct_2']['mean']:6.3f} "
                    f"{r['sample_entropy']['mean']:7.2f} {r['eos_rate']['mean']:5.2f} {r['mean_words']['mean']:5.1f}")
            if judge:
                line += f" {r['judge_ppl']['mean']:8.1f} +- {r['judge_ppl']['std']:5.1f}"
            lines.append(line)
    c = result["causal_reference"]
    lines.append(f"{'causal twin':13s} {'greedy':>14s} {1:5d} {c['repeated_3gram_rate']:6.3f}       "
                 f"{c['longest_loop']:5.2f} {c['distinct_2']:6.3f} {c['sample_entropy']:7.2f} {'-':>5s} "
                 f"{c['mean_words']:5.1f}" + (f" {c['judge_ppl']:8.1f}" if judge and c["judge_ppl"] else ""))
    if not judge:
        lines.append(f"judge skipped: {result['judge_skipped']}")
    return "\n".join(lines)
