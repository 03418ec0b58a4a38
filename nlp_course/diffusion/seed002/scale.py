"""Scale (the mmBERT / ettin question): does a bigger MLM make a better diffusion generator?
Issue 21, experiment 2; taught in notebook 11.

The notes saw quality and looping improve from RuModernBERT (150M) to ettin (1B). Here: course
BERTs of several sizes (>= 10x apart in non-embedding parameters, Kaplan et al.'s convention: with
a 4,000-word vocabulary the embeddings would otherwise dominate the small ones), each pretrained on
the study's windows with the study's pretraining recipe (masked LM at ``mask_t``, same steps,
batch, length and learning-rate schedule: equal tokens, so compute ``6 N D`` grows with ``N``), then
diffusion-SFT'd with the same fixed steps over several seeds. Per size: masked accuracy of the
pretrained BERT on held-out text, held-out ELBO nats/word after SFT, and on held-out prompts the
repeated 3-gram rate, distinct-2 and longest loop of greedy answers (mean +- std over SFT seeds).

A size equal to the study's own model with ``pretrain_steps="study"`` reuses the study's pretrained
BERT (same recipe and seed, so retraining would reproduce it).

References: Kaplan et al. 2020 (non-embedding parameters, 6ND); seed 002 (RuModernBERT / mmBERT /
ettin); Nie et al. 2025 (LLaDA).
"""

from __future__ import annotations

import json

from nlp_course.pretrain import masked_accuracy, pack_sequences, spread_rows

from ..evaluate import generation_stats
from ..study import corpus, fit, pretrain, sampling
from ..train import train
from .base import mean_std
from .collapse import split_text

_D = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
SIZES = {
    "smoke": {"dims": [{"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16},
                       {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32},
                       {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}],
              "pretrain_steps": 6, "sft_steps": 4, "seeds": [0, 1], "prompts": 4, "eval_rows": 16},
    "laptop": {"dims": [{"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128},
                        {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 256},
                        {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                         "intermediate_size": 512}],
               "pretrain_steps": "study", "sft_steps": 200, "seeds": [0, 1, 2], "prompts": 32, "eval_rows": 256},
}


def _dims(ex, d: dict) -> dict:
    return {**d, **_D, "max_position_embeddings": ex.P["model"]["max_position_embeddings"]}


def pretrained(ex, dims: dict, steps) -> tuple:
    """``(model, record)``: a course BERT of ``dims`` pretrained by the study's recipe for ``steps``."""
    plan = json.loads((ex.base.out / "pretrain" / "plan.json").read_text(encoding="utf-8"))
    n = plan["max_steps"] if steps == "study" else steps
    warmup = plan["warmup_steps"] if steps == "study" else max(1, n // 10)
    model = ex.new_bert(dims).to(ex.device)
    if steps == "study" and dims == {k: ex.P["model"][k] for k in dims}:
        fit.load_row(ex.base, "pretrain", "mlm", model)
        row = json.loads((ex.base.out / "pretrain" / "mlm" / "row.json").read_text(encoding="utf-8"))
        return model, {"steps": row["steps"], "tokens": row["tokens"], "reused_from_study": True}
    name = "pretrain-h{hidden_size}-l{num_hidden_layers}".format(**dims)
    cfg = fit.config_for(ex.base, "pretrain", max_steps=n, warmup_steps=warmup, progress=not ex.quiet)
    examples = corpus.window_examples(corpus.load(ex.base)["windows"])
    res = train(model, ex.tokenizer, examples, cfg, ex.out / name,
                loss_fn=pretrain.mlm_loss_fn(ex.tokenizer, ex.P["mask_t"]))
    model.eval()
    return model, {"steps": res["step"], "tokens": res["step"] * cfg.batch_size * cfg.max_length,
                   "reused_from_study": False}


def run(ex, size: str) -> dict:
    S = SIZES[size]
    held_texts = [" ".join(split_text(ex.tokenizer, e)) for e in ex.held]
    eval_ids = spread_rows(pack_sequences(held_texts, ex.tokenizer, ex.P["pretrain"]["max_length"]), S["eval_rows"])
    gen = {k: ex.P["sample"][k] for k in ("gen_length", "steps", "block_length")}
    prompts = sampling.prompts_of(ex.held, gen["gen_length"], ex.P["sft"]["max_length"])[: S["prompts"]]
    out = []
    for d in S["dims"]:
        dims = _dims(ex, d)
        model, pre = pretrained(ex, dims, S["pretrain_steps"])
        state = {k: v.clone() for k, v in model.state_dict().items()}
        point = {"dims": d, "params": sum(p.numel() for p in model.parameters()),
                 "non_embedding_params": fit.non_embedding_params(model), "pretrain": pre,
                 "pretrain_flops_6nd": 6 * fit.non_embedding_params(model) * pre["tokens"],
                 "masked_acc_pretrained": masked_accuracy(model, ex.tokenizer, eval_ids)["mask_accuracy"], "seeds": []}
        for seed in S["seeds"]:
            m = ex.new_bert(dims).to(ex.device)
            m.load_state_dict(state)
            row = ex.sft(m, "sft-h{hidden_size}-l{num_hidden_layers}-seed{seed}".format(**d, seed=seed),
                         S["sft_steps"], seed=seed)
            texts, eos = sampling.answers("diffusion", m, ex.tokenizer, prompts, gen, seed=seed)
            point["seeds"].append({**row, **ex.score(m), **generation_stats(texts, eos), "samples": texts[:3]})
        point["summary"] = {k: mean_std([s[k] for s in point["seeds"]])
                            for k in ("nll_per_word", "masked_acc", "repeated_3gram_rate", "distinct_2",
                                      "longest_loop", "eos_rate")}
        out.append(point)
    span = max(p["non_embedding_params"] for p in out) / min(p["non_embedding_params"] for p in out)
    return {"points": out, "non_embedding_span": span, "prompts": len(prompts), "generation": gen,
            "eval_rows": int(eval_ids.shape[0])}


def plot(result: dict, path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 3.6), dpi=80)
    axes = fig.subplots(1, 3)
    xs = [p["non_embedding_params"] for p in result["points"]]
    sft = "after diffusion SFT (mean +- std over seeds)"
    panels = ((axes[0], {"nll_per_word": sft}, "held-out ELBO", "nats/word"),
              (axes[1], {"masked_acc": sft}, "masked accuracy", "share of [MASK] positions (0-1)"),
              (axes[2], {"repeated_3gram_rate": "repeated 3-grams", "distinct_2": "distinct-2", "eos_rate": "EOS share"},
               "greedy answers", "rate (0-1)"))
    for ax, keys, title, ylabel in panels:
        for k, label in keys.items():
            ax.errorbar(xs, [p["summary"][k]["mean"] for p in result["points"]],
                        yerr=[p["summary"][k]["std"] for p in result["points"]], marker="o", capsize=3, label=label)
        ax.set_xscale("log")
        ax.set_xticks(xs, [f"{x / 1e3:.0f}K" for x in xs])
        ax.minorticks_off()
        ax.set(xlabel="non-embedding parameters (log scale)", ylabel=ylabel, title=f"{title} vs size")
    axes[1].plot(xs, [p["masked_acc_pretrained"] for p in result["points"]], "k--", marker="s",
                 label="pretrained BERT, before SFT")
    for ax, where in zip(axes, ("upper right", "upper left", "upper left")):
        ax.legend(fontsize=8, loc=where)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.15, top=0.9, wspace=0.3)
    fig.savefig(path)


def table(result: dict) -> str:
    """One line per size: parameters, compute, masked accuracy, held-out nats/word, repetition."""
    lines = [f"{'size':10s} {'non-emb':>8s} {'params':>8s} {'6ND':>8s} {'m.acc':>6s} {'nats/word':>15s} "
             f"{'rep3':>11s} {'dist2':>11s} {'loop':>5s} {'eos':>5s}"]
    for p in result["points"]:
        s = p["summary"]
        lines.append(f"h{p['dims']['hidden_size']}-l{p['dims']['num_hidden_layers']:<6d} {p['non_embedding_params']:8d} "
                     f"{p['params']:8d} {p['pretrain_flops_6nd']:8.1e} {p['masked_acc_pretrained']:6.3f} "
                     f"{s['nll_per_word']['mean']:7.3f} +- {s['nll_per_word']['std']:.3f} "
                     f"{s['repeated_3gram_rate']['mean']:5.3f}+-{s['repeated_3gram_rate']['std']:.3f} "
                     f"{s['distinct_2']['mean']:5.3f}+-{s['distinct_2']['std']:.3f} {s['longest_loop']['mean']:5.2f} "
                     f"{s['eos_rate']['mean']:5.2f}")
    return "\n".join(lines)
