"""The FRIDA collapse measurement: MLM skill of a BERT against contrastive training steps. Issue 21, notebook 11.

Seed 002 started diffusion SFT from FRIDA, a strongly contrastively trained encoder, and found it a
poor start: masked-token prediction, which diffusion generation needs, had faded. Here that is a
controlled experiment in our own architecture: take an MLM-pretrained BERT, train its encoder with
InfoNCE (``nlp_course.simcse.train_contrastive``: unsupervised SimCSE, or supervised pairs), and
score its untouched MLM head with ``nlp_course.pretrain.masked_accuracy`` on held-out rows after
each requested number of contrastive steps.

Entry point for the study runner::

    contrastive_collapse(model, tokenizer, eval_ids, texts, positives=None, steps=(0, 100, 400),
                         lr=1e-4, head="frozen", ...) -> dict   # JSON-able

Knobs (the issue asks under which conditions it collapses): ``lr``; the step counts; ``head``:
``"frozen"`` keeps the word-embedding matrix -- which the MLM decoder is tied to -- out of the
contrastive optimisation, so the head's weights stay exactly those of the MLM model and only the
body's features drift; ``"free"`` trains the embeddings too, so the tied decoder moves with them.
(The head transform gets no gradient from InfoNCE either way.) Training is cumulative: the model
at step count ``s[i]`` continues from ``s[i-1]``; each segment starts a fresh AdamW at constant
``lr`` (``train_contrastive``), seeded by ``seed`` and the segment's first step, so a curve is
deterministic. The model is changed in place.

References: Gao et al. 2021 (SimCSE); Oord et al. 2018 (InfoNCE); seed 002 (FRIDA).
"""

from __future__ import annotations

import time

import torch

from ..pretrain import masked_accuracy
from ..simcse import train_contrastive
from ..utils import check_positive

__all__ = ["contrastive_collapse"]


def _check_steps(steps) -> list[int]:
    if isinstance(steps, (str, bytes)) or not hasattr(steps, "__iter__"):
        raise TypeError(f"steps must be a sequence of ints, got {type(steps).__name__}")
    steps = list(steps)
    if not steps or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in steps):
        raise ValueError(f"steps must be a non-empty sequence of ints >= 0, got {steps!r}")
    if steps != sorted(set(steps)):
        raise ValueError(f"steps must be strictly increasing, got {steps!r}")
    return steps


def contrastive_collapse(model, tokenizer, eval_ids: torch.Tensor, texts: list[str], positives: list[str] | None = None,
                         steps=(0, 100, 400), lr: float = 1e-4, head: str = "frozen", batch_size: int = 32,
                         temperature: float = 0.05, max_length: int | None = 64, seed: int = 0) -> dict:
    """Masked-token accuracy of ``model``'s MLM head on ``eval_ids`` after each count of contrastive steps.

    ``positives=None``: unsupervised SimCSE on ``texts``; otherwise ``(texts[i], positives[i])`` pairs.
    Returns ``{"points": [{"steps", "accuracy", "mask_accuracy", "loss", "contrastive_loss", "seconds"}],
    ...settings}``; ``contrastive_loss`` is the mean InfoNCE loss of the segment that ended there.
    """
    steps = _check_steps(steps)
    check_positive("lr", lr)
    if head not in ("frozen", "free"):
        raise ValueError(f"head must be 'frozen' or 'free', got {head!r}")
    if not torch.is_tensor(eval_ids) or eval_ids.dim() != 2 or eval_ids.numel() == 0:
        raise ValueError("eval_ids must be a non-empty (N, T) tensor of token ids (pretrain.pack_sequences)")
    embeddings = model.get_input_embeddings().weight
    was_frozen = not embeddings.requires_grad
    if head == "frozen":
        embeddings.requires_grad_(False)
    points, done, t0 = [], 0, time.perf_counter()
    try:
        for target in steps:
            segment = None
            if target > done:
                losses = train_contrastive(model, tokenizer, texts, positives, steps=target - done, batch_size=batch_size,
                                           lr=lr, temperature=temperature, max_length=max_length,
                                           seed=seed * 1_000_003 + done)
                segment = sum(losses) / len(losses)
                done = target
            ev = masked_accuracy(model.eval(), tokenizer, eval_ids)
            points.append({"steps": target, "accuracy": ev["accuracy"], "mask_accuracy": ev["mask_accuracy"],
                           "loss": ev["loss"], "contrastive_loss": segment, "seconds": time.perf_counter() - t0})
    finally:
        embeddings.requires_grad_(not was_frozen)
    return {"points": points, "lr": lr, "head": head, "objective": "simcse" if positives is None else "supervised",
            "batch_size": batch_size, "temperature": temperature, "seed": seed, "eval_tokens": ev["tokens"]}
