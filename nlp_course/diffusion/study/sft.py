"""The study's ``sft`` stage: four rows, same SFT data, steps, batch and length (equal compute).

Taught in notebook 11.

| row | network | starts from | objective |
|---|---|---|---|
| ``diffusion-pretrained`` | course BERT | the ``pretrain`` stage's masked LM | diffusion SFT (masked answers, ELBO) |
| ``diffusion-random`` | course BERT | its random init (before pretraining) | diffusion SFT |
| ``causal-pretrained`` | causal twin | the ``pretrain`` stage's next-token model | next-token SFT on the answers |
| ``causal-random`` | causal twin | its random init | next-token SFT |

So the diffusion-vs-causal comparison is made twice -- both from random init, and both pretrained
on the same text for the same tokens -- and the pretrained-vs-random comparison twice too.
"""

from __future__ import annotations

import time

from ..causal_baseline import causal_loss
from . import corpus, fit, pretrain, report

ROWS = ("diffusion-pretrained", "diffusion-random", "causal-pretrained", "causal-random")


def _starts(study) -> dict:
    pre, fresh = pretrain.models(study), pretrain.models(study, fresh=True)
    return {"diffusion-pretrained": pre["mlm"], "diffusion-random": fresh["mlm"],
            "causal-pretrained": pre["causal"], "causal-random": fresh["causal"]}


def loss_of(row: str):
    """None (the diffusion loss of ``train.train``) or the causal next-token loss."""
    return causal_loss if row.startswith("causal") else None


def load_models(study) -> dict:
    """The four finished SFT rows, on the study's device, in eval mode (cached per process)."""
    def build():
        starts = _starts(study)
        return {row: fit.load_row(study, "sft", row, m) for row, m in starts.items()}

    return study.cached("sft-models", build)


def run(study) -> dict:
    d = corpus.load(study)
    tok, train_ex = d["tokenizer"], d["train"]
    starts = _starts(study)
    probes = {row: (starts[row], tok, train_ex, loss_of(row)) for row in ("diffusion-pretrained", "causal-pretrained")}
    plan = fit.plan_rows(study, "sft", probes, "sft", runs=len(starts))  # random-init rows: same networks
    meta = {"preset": study.preset, "seed": study.P["seed"], "data": study.P["sft_data"]}
    out = {row: fit.train_row(study, "sft", row, m, tok, train_ex, plan, "sft", loss_of(row), {**meta, "row": row})
           for row, m in starts.items()}
    study._cache["sft-models"] = starts
    t0 = time.perf_counter()
    report.plot_losses(study, study.folder("sft") / "loss.png")  # drawn here, inside a budgeted stage
    return {"plan": plan, "rows": out, "plot_s": round(time.perf_counter() - t0, 3)}
