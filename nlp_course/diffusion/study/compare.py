"""The study's ``evaluate`` stage: one likelihood table for diffusion and causal rows, held-out data.

Taught in notebook 11.

Diffusion rows are scored by the ELBO over the canvas the sampler fills (``evaluate.elbo``):
an upper bound on their negative log-likelihood. Causal rows get their exact NLL on the same
answers with the same closing EOS (``causal_baseline.causal_nll``). Both are stated per answer
token and per word (nats / whitespace words: comparable across tokenizers), with ``exp`` of the
per-token number (a perplexity bound for diffusion rows, a perplexity for causal ones).

Every row is scored on the same held-out examples: those whose prompt leaves room for the
sampler's ``gen_length`` answer slots within the model's positions (``fitting``), and of those the
largest prefix that the stage's time share affords (``scored``; one example through every row is
timed first).
"""

from __future__ import annotations

import time

from ..causal_baseline import causal_nll
from ..evaluate import elbo
from ..models import max_positions
from . import corpus, sft
from .fit import HEADROOM


def score(row: str, model, tokenizer, held: list[dict], P: dict) -> dict:
    """``{"nll_per_token", "nll_per_word", "ppl", "bound", "n_tokens", "n_words", ...}`` of one row.

    Diffusion rows add ``masked_acc`` and ``nll_len_conditioned`` (the older, length-conditioned
    bound: padding hidden, so positions give the answer length away -- kept only for comparison).
    """
    ev, L = P["eval"], P["sft"]["max_length"]
    if row.startswith("causal"):
        r = causal_nll(model, tokenizer, held, batch_size=ev["batch_size"], max_length=L, gen_length=ev["gen_length"])
        extra = {"ppl": r["ppl"]}
    else:
        r = elbo(model, tokenizer, held, n_t=ev["n_t"], seed=0, batch_size=ev["batch_size"], max_length=L,
                 gen_length=ev["gen_length"])
        extra = {"ppl": r["ppl_bound"], "masked_acc": r["masked_acc"], "nll_len_conditioned": r["nll_len_conditioned"]}
    return {"nll_per_token": r["nll"], "nll_per_word": r["nll_per_word"], "bound": not row.startswith("causal"),
            "n_tokens": r["n_tokens"], "n_words": r["n_words"], "gen_length": r["gen_length"], **extra}


def fitting(examples: list[dict], gen_length: int, limit: int | None) -> list[dict]:
    """The examples whose prompt leaves room for the sampler's ``gen_length`` answer slots."""
    return [ex for ex in examples if limit is None or ex["target"].index(True) + gen_length <= limit]


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
    tok = d["tokenizer"]
    models = sft.load_models(study)
    held = fitting(d["held"], study.P["eval"]["gen_length"], max_positions(models["diffusion-pretrained"]))

    def time_one():
        t0 = time.perf_counter()
        for row, m in models.items():
            score(row, m, tok, held[:1], study.P)
        return time.perf_counter() - t0

    n, probe_s = affordable(study, len(held), time_one)
    table = {row: score(row, m, tok, held[:n], study.P) for row, m in models.items()}
    return {"table": table, "scored": n, "fitting": len(held), "held_out": len(d["held"]), "probe_s": round(probe_s, 2)}
