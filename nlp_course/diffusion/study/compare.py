"""The study's ``evaluate`` stage: one likelihood table for diffusion and causal rows, held-out data.

Taught in notebook 11.

Diffusion rows are scored by the ELBO over the canvas the sampler fills (``evaluate.elbo``):
an upper bound on their negative log-likelihood. Causal rows get their exact NLL on the same
answers with the same closing EOS (``causal_baseline.causal_nll``). Both are stated per answer
token and per word (nats / whitespace words: comparable across tokenizers), with ``exp`` of the
per-token number (a perplexity bound for diffusion rows, a perplexity for causal ones).

Every row is scored on the same held-out examples. If the stage's time share cannot afford all of
them, it times the first row on a slice and scores the largest prefix that fits (recorded as
``scored``).
"""

from __future__ import annotations

import math
import time

from ..causal_baseline import causal_nll
from ..evaluate import elbo
from . import corpus, sft
from .fit import HEADROOM


def score(row: str, model, tokenizer, held: list[dict], P: dict) -> dict:
    """``{"nll_per_token", "nll_per_word", "ppl", "n_tokens", "n_words"[, "masked_acc"]}``."""
    ev, L = P["eval"], P["sft"]["max_length"]
    if row.startswith("causal"):
        r = causal_nll(model, tokenizer, held, batch_size=ev["batch_size"], max_length=L)
    else:
        r = elbo(model, tokenizer, held, n_t=ev["n_t"], seed=0, batch_size=ev["batch_size"], max_length=L)
    words = answer_words(tokenizer, held)
    out = {"nll_per_token": r["nll"], "nll_per_word": r["nll"] * r["n_tokens"] / words,
           "ppl": math.exp(min(r["nll"], 50.0)), "n_tokens": r["n_tokens"], "n_words": words,
           "bound": not row.startswith("causal")}
    if "masked_acc" in r:
        out["masked_acc"] = r["masked_acc"]
    return out


def answer_words(tokenizer, examples: list[dict]) -> int:
    """Whitespace words of the examples' answers, +1 per closing EOS."""
    from ..chat import chat_ids

    end = chat_ids(tokenizer)["end"]
    n = 0
    for ex in examples:
        tgt = [i for i, m in zip(ex["input_ids"], ex["target"]) if m]
        n += len(tokenizer.decode([i for i in tgt if i != end], skip_special_tokens=True).split()) + 1
    return n


def affordable(study, n_items: int, time_one, runs: int = 1) -> tuple[int, float]:
    """How many of ``n_items`` fit in what is left of the stage.

    ``time_one()`` processes the first item (for every row) and returns the seconds it took; the
    rest of the stage must do that ``runs`` times per item.
    Returns ``(count, probe_seconds)``; count >= 1.
    """
    took = time_one()
    fit = int(study.left() * HEADROOM / (max(took, 1e-9) * runs))
    return max(1, min(n_items, fit)), took


def run(study) -> dict:
    d = corpus.load(study)
    tok, held = d["tokenizer"], d["held"]
    models = sft.load_models(study)

    def time_one():
        t0 = time.perf_counter()
        for row, m in models.items():
            score(row, m, tok, held[:1], study.P)
        return time.perf_counter() - t0

    n, probe_s = affordable(study, len(held), time_one)
    table = {row: score(row, m, tok, held[:n], study.P) for row, m in models.items()}
    return {"table": table, "scored": n, "held_out": len(held), "probe_s": round(probe_s, 2)}
