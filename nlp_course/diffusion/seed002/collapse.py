"""The FRIDA failure reproduced in our own architecture: contrastive training erodes the MLM skill
diffusion needs. Issue 21, experiment 3; taught in notebook 11.

The notes started diffusion SFT from FRIDA, a strongly contrastive encoder, got random text, and
suspected that contrastive training had destroyed the masked-LM ability. Here it is a controlled
experiment on the base study's MLM-pretrained course BERT:

1. **Curves.** Train copies of the BERT with InfoNCE (``diffusion.frida.contrastive_collapse``) for
   growing step counts and score the untouched MLM head on held-out text after each: unsupervised
   SimCSE on pretraining sentences, or supervised pairs (a training prompt and its answer, the
   kind of pairs FRIDA-like encoders are trained on), at several learning rates, with the tied
   word embeddings frozen (``head="frozen"``: only the body's features drift) or free. SimCSE's
   positives come from dropout, so dropout ``contrastive_dropout`` is switched on for the
   contrastive steps only (the study trains without dropout).
2. **Does the damage matter for generation?** The curve that ends lowest (chosen by that rule,
   recorded) gives the "contrastive start"; it and the MLM checkpoint are each diffusion-SFT'd for
   the same fixed steps with several seeds, and scored on the study's held-out answers (ELBO
   nats/word, masked accuracy of the SFT'd model).

Held-out text for the MLM head: the study's held-out dialogues, which its pretraining never saw.
References: Gao et al. 2021 (SimCSE); Oord et al. 2018 (InfoNCE); seed 002 (FRIDA).
"""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from nlp_course.pretrain import pack_sequences, spread_rows

from ..frida import contrastive_collapse
from .base import mean_std

SIZES = {
    "smoke": {"curves": [{"objective": "simcse", "lr": 1e-3, "head": "frozen"},
                         {"objective": "supervised", "lr": 1e-3, "head": "free"}],
              "steps": [0, 4, 8], "batch_size": 8, "max_length": 32, "contrastive_dropout": 0.1,
              "eval_rows": 32, "sft_steps": 6, "seeds": [0, 1], "max_texts": 400},
    "laptop": {"curves": [{"objective": "simcse", "lr": 1e-4, "head": "frozen"},
                          {"objective": "simcse", "lr": 1e-3, "head": "frozen"},
                          {"objective": "simcse", "lr": 1e-3, "head": "free"},
                          {"objective": "supervised", "lr": 1e-3, "head": "frozen"}],
               "steps": [0, 50, 150, 400], "batch_size": 32, "max_length": 64, "contrastive_dropout": 0.1,
               "eval_rows": 256, "sft_steps": 300, "seeds": [0, 1, 2], "max_texts": 20000},
}


def split_text(tokenizer, ex: dict) -> tuple[str, str]:
    """``(prompt, answer)`` text of a collator example (chat markers and padding dropped)."""
    ids, tgt = ex["input_ids"], ex["target"]
    prompt = [i for i, t in zip(ids, tgt) if not t]
    answer = [i for i, t in zip(ids, tgt) if t]
    return (tokenizer.decode(prompt, skip_special_tokens=True).strip(),
            tokenizer.decode(answer, skip_special_tokens=True).strip())


def set_dropout(model, p: float) -> list:
    """Set every dropout of ``model`` to ``p``; return what to pass to ``restore_dropout``."""
    saved = []
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            saved.append((m, "p", m.p))
            m.p = p
        elif isinstance(m, torch.nn.MultiheadAttention):
            saved.append((m, "dropout", m.dropout))
            m.dropout = p
    return saved


def restore_dropout(saved: list) -> None:
    for m, name, value in saved:
        setattr(m, name, value)


def _pairs(ex, limit: int) -> tuple[list[str], list[str]]:
    """Distinct (prompt, answer) training pairs with both sides non-empty, at most ``limit``."""
    seen, prompts, answers = set(), [], []
    for e in ex.train_examples:
        p, a = split_text(ex.tokenizer, e)
        if p and a and (p, a) not in seen:
            seen.add((p, a))
            prompts.append(p)
            answers.append(a)
        if len(prompts) >= limit:
            break
    return prompts, answers


def _sentences(ex, limit: int) -> list[str]:
    """Pretraining windows decoded back to text (what SimCSE trains on), at most ``limit``."""
    from ..study import corpus

    windows = corpus.load(ex.base)["windows"]  # (N, T)
    rows = spread_rows(windows, limit)
    return [t for t in ex.tokenizer.batch_decode(rows.tolist(), skip_special_tokens=True) if t.strip()]


def run(ex, size: str) -> dict:
    S = SIZES[size]
    held_texts = [" ".join(split_text(ex.tokenizer, e)) for e in ex.held]
    eval_ids = spread_rows(pack_sequences(held_texts, ex.tokenizer, S["max_length"]), S["eval_rows"])  # (N, T)
    sentences = _sentences(ex, S["max_texts"])
    prompts, answers = _pairs(ex, S["max_texts"])
    curves, models = [], []
    for i, c in enumerate(S["curves"]):
        model = ex.bert().to(ex.device)
        saved = set_dropout(model, S["contrastive_dropout"])
        texts, positives = (sentences, None) if c["objective"] == "simcse" else (prompts, answers)
        try:
            r = contrastive_collapse(model, ex.tokenizer, eval_ids, texts, positives, steps=S["steps"], lr=c["lr"],
                                     head=c["head"], batch_size=S["batch_size"], max_length=S["max_length"], seed=i)
        finally:
            restore_dropout(saved)
        curves.append(r)
        models.append(model.eval())
    worst = min(range(len(curves)), key=lambda i: curves[i]["points"][-1]["mask_accuracy"])
    sft = {"mlm": [], "contrastive": []}
    for start in sft:
        for seed in S["seeds"]:
            model = ex.bert() if start == "mlm" else _copy(models[worst], ex)
            row = ex.sft(model, f"sft-{start}-seed{seed}", S["sft_steps"], seed=seed)
            sft[start].append({**row, **ex.score(model)})
    summary = {start: {k: mean_std([r[k] for r in rows]) for k in ("nll_per_word", "nll_per_token", "masked_acc")}
               for start, rows in sft.items()}
    return {"curves": curves, "worst_curve": worst, "eval_rows": int(eval_ids.shape[0]),
            "simcse_texts": len(sentences), "supervised_pairs": len(prompts), "sft_rows": sft, "sft_summary": summary}


def _copy(model, ex):
    fresh = ex.new_bert()
    fresh.load_state_dict(model.state_dict())
    return fresh.to(ex.device)


def plot(result: dict, path) -> None:
    fig = Figure(figsize=(11, 3.8), dpi=80)
    left, right = fig.subplots(1, 2)
    for c in result["curves"]:
        xs = [p["steps"] for p in c["points"]]
        left.plot(xs, [p["mask_accuracy"] for p in c["points"]], marker="o",
                  label=f"{c['objective']}, lr {c['lr']:g}, emb. {c['head']}")
    left.set(title="MLM head on held-out text vs contrastive training", xlabel="contrastive (InfoNCE) steps",
             ylabel="masked-token accuracy ([MASK] positions)")
    left.legend(fontsize=8)
    s = result["sft_summary"]
    names = list(s)
    right.bar(names, [s[n]["nll_per_word"]["mean"] for n in names], yerr=[s[n]["nll_per_word"]["std"] for n in names],
              capsize=4, color=["tab:blue", "tab:red"])
    right.set(title=f"diffusion SFT from each start ({s[names[0]]['nll_per_word']['n']} seeds)",
              xlabel="SFT started from", ylabel="held-out ELBO, nats/word (lower is better)")
    lo = min(s[n]["nll_per_word"]["mean"] - 2 * s[n]["nll_per_word"]["std"] for n in names)
    right.set_ylim(bottom=max(0.0, lo - 0.5))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.9, wspace=0.25)
    fig.savefig(path)


def table(result: dict) -> str:
    """The curves (masked accuracy at [MASK] per step count) and the SFT comparison, as text."""
    steps = [p["steps"] for p in result["curves"][0]["points"]]
    lines = [f"{'objective':10s} {'lr':>7s} {'emb.':6s} " + " ".join(f"{s:>7d}" for s in steps)]
    for c in result["curves"]:
        lines.append(f"{c['objective']:10s} {c['lr']:7.0e} {c['head']:6s} "
                     + " ".join(f"{p['mask_accuracy']:7.3f}" for p in c["points"]))
    lines.append(f"SFT start  nats/word (mean +- std, {len(result['sft_rows']['mlm'])} seeds)   masked acc")
    for start, s in result["sft_summary"].items():
        lines.append(f"{start:11s} {s['nll_per_word']['mean']:7.3f} +- {s['nll_per_word']['std']:.3f}"
                     f"            {s['masked_acc']['mean']:.3f} +- {s['masked_acc']['std']:.3f}")
    return "\n".join(lines)
