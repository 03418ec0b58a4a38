"""Reviving the missing MLM head of a contrastive encoder (seed 002's FRIDA fix). Issue 21, notebook 11.

A sentence encoder such as all-MiniLM-L6-v2 is a BERT trained contrastively: it ships without a
masked-LM head. Loaded into ``BertForMaskedLM`` its output layer is tied to the word embeddings,
so only the small head transform (dense -> GELU -> LayerNorm, plus the decoder bias) is new and
random. Seed 002 measured that training only that head learns nothing useful (it predicts
"of"/"the"), while minutes of *full-parameter* MLM on plain text revive plausible fill-mask.

``revive_mlm(model, tokenizer, texts, steps, train="full" | "head", ...)`` runs that MLM training
(``nlp_course.pretrain.pretrain_mlm``: dynamic 80/10/10 masking, AdamW, cosine schedule) on
``texts`` packed into rows, and returns JSON-able results: held-out masked accuracy before and
after (``nlp_course.pretrain.masked_accuracy`` on ``eval_texts``), the training log, the number
of trained parameters and seconds. ``train="head"`` trains only the head (the notes' failed
variant; the tied word embeddings stay fixed). ``fill_mask_examples`` shows the top-k fillers of
each ``[MASK]`` for a before/after table.

Works for the course's ``nlp_course.bert.BertForMaskedLM`` and for ``transformers``'
``BertForMaskedLM`` (both keep the head under ``model.cls``).

References: Devlin et al. 2019 (the MLM head); Reimers & Gurevych 2019 (Sentence-BERT, the
MiniLM sentence encoders); Gao et al. 2021 (SimCSE).
"""

from __future__ import annotations

import tempfile
import time

import torch

from .pretrain import masked_accuracy, pack_sequences, pretrain_mlm, spread_rows
from .utils import check_positive

__all__ = ["revive_mlm", "fill_mask_examples"]


def _check_texts(name: str, texts) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)) or not texts:
        raise TypeError(f"{name} must be a non-empty list of strings, got {type(texts).__name__}")
    if not all(isinstance(t, str) for t in texts):
        raise TypeError(f"{name} must hold only strings")
    return list(texts)


def _head_parameters(model) -> list[torch.nn.Parameter]:
    """Parameters of ``model.cls`` except the word-embedding matrix its decoder is tied to."""
    if not hasattr(model, "cls"):
        raise TypeError(f"model must be a BertForMaskedLM (with .cls), got {type(model).__name__}")
    tied = model.get_input_embeddings().weight
    return [p for p in model.cls.parameters() if p is not tied]


def revive_mlm(model, tokenizer, texts: list[str], steps: int, train: str = "full", eval_texts: list[str] | None = None,
               seq_len: int = 128, batch_size: int = 16, lr: float = 1e-4, warmup: int = 10, seed: int = 0,
               eval_rows: int = 256, progress: bool = False) -> dict:
    """Masked-LM training of ``model`` in place on ``texts``; returns before/after held-out accuracy.

    ``train="full"`` optimises every parameter; ``"head"`` only the head transform and decoder bias.
    ``eval_texts`` (held out: never trained on) are packed the same way and ``eval_rows`` evenly
    spaced rows are scored before and after. Deterministic for a given ``seed``.
    """
    texts = _check_texts("texts", texts)
    if train not in ("full", "head"):
        raise ValueError(f"train must be 'full' or 'head', got {train!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    check_positive("lr", lr)
    train_ids = pack_sequences(texts, tokenizer, seq_len)  # (N, T)
    eval_ids = None
    if eval_texts is not None:
        eval_ids = spread_rows(pack_sequences(_check_texts("eval_texts", eval_texts), tokenizer, seq_len), eval_rows)
    trainable = list(model.parameters()) if train == "full" else _head_parameters(model)
    keep = {p: p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    for p in trainable:
        p.requires_grad_(True)
    before = masked_accuracy(model, tokenizer, eval_ids) if eval_ids is not None else None
    torch.manual_seed(seed)  # dropout masks
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:  # pretrain_mlm checkpoints; a revival is not resumed
            log = pretrain_mlm(model, tokenizer, train_ids, tmp, steps=steps, batch_size=min(batch_size, len(train_ids)),
                               lr=lr, warmup=min(warmup, steps - 1) if steps > 1 else 0, seed=seed,
                               progress=progress, checkpoint_every=steps, eval_ids=eval_ids,
                               eval_every=max(1, steps // 4))
    finally:
        for p, flag in keep.items():
            p.requires_grad_(flag)
    seconds = time.perf_counter() - t0
    model.eval()
    after = masked_accuracy(model, tokenizer, eval_ids) if eval_ids is not None else None
    return {"train": train, "steps": steps, "trained_parameters": sum(p.numel() for p in trainable),
            "train_rows": len(train_ids), "seq_len": seq_len, "lr": lr, "seed": seed, "seconds": seconds,
            "before": before, "after": after, "log": log}


@torch.no_grad()
def fill_mask_examples(model, tokenizer, texts: list[str], k: int = 5) -> list[list[list[str]]]:
    """For each text, the top-``k`` tokens at each ``[MASK]``: ``out[text][mask] = [token, ...]``."""
    texts = _check_texts("texts", texts)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    mask = tokenizer.mask_token_id
    if mask is None:
        raise ValueError("tokenizer has no mask token: fill-mask needs [MASK]")
    was_training = model.training
    model.eval()
    device = model.get_input_embeddings().weight.device
    out = []
    for text in texts:
        ids = torch.tensor([tokenizer(text)["input_ids"]])  # (1, T)
        where = (ids[0] == mask).nonzero().flatten()
        if len(where) == 0:
            raise ValueError(f"texts must each contain {tokenizer.mask_token}, got {text!r}")
        logits = model(input_ids=ids.to(device)).logits[0, where].float().cpu()  # (M, V)
        top = logits.topk(min(k, logits.shape[-1]), dim=-1).indices  # (M, k)
        out.append([tokenizer.convert_ids_to_tokens(row.tolist()) for row in top])
    model.train(was_training)
    return out
