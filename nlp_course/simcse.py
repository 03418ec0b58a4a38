"""Contrastive training of a BERT encoder into a sentence encoder (SimCSE). Taught in notebook 09.

Gao, Yao & Chen 2021, "SimCSE: Simple Contrastive Learning of Sentence Embeddings":

- unsupervised: feed the same batch twice; the two dropout masks are the only "augmentation".
  Row i of pass 1 must pick row i of pass 2 among the batch (InfoNCE, in-batch negatives);
- supervised: anchors and their positives (question -> answer, NLI premise -> entailment) are
  the two sides of the same InfoNCE loss.

Only the encoder (``model.bert`` for a masked LM) is optimised; an MLM head, if any, is left
untouched -- notebook 09 measures what that does to masked-token accuracy (seed 002's FRIDA lesson).
"""

from __future__ import annotations

import torch
from tqdm import tqdm

from .contrastive import info_nce
from .retrieval import _check_texts, _encoder, embed_batch

__all__ = ["simcse_loss", "supervised_loss", "train_contrastive"]


def simcse_loss(model, tokenizer, texts: list[str], temperature: float = 0.05, pooling: str = "mean",
                max_length: int | None = None) -> torch.Tensor:
    """Unsupervised SimCSE: InfoNCE between two dropout-noised encodings of the same ``texts``."""
    texts = _check_texts(texts)
    if not _encoder(model).training:
        raise ValueError("model is in eval mode: unsupervised SimCSE needs dropout active (call model.train())")
    z1 = embed_batch(model, tokenizer, texts, pooling, max_length)  # (B, C), dropout mask 1
    z2 = embed_batch(model, tokenizer, texts, pooling, max_length)  # (B, C), dropout mask 2
    return info_nce(z1, z2, temperature)


def supervised_loss(model, tokenizer, anchors: list[str], positives: list[str], temperature: float = 0.05,
                    pooling: str = "mean", max_length: int | None = None, symmetric: bool = True) -> torch.Tensor:
    """InfoNCE of anchors against their positives; the other positives in the batch are negatives."""
    anchors, positives = _check_texts(anchors, "anchors"), _check_texts(positives, "positives")
    if len(anchors) != len(positives):
        raise ValueError(f"anchors and positives must be equally long, got {len(anchors)} and {len(positives)}")
    za = embed_batch(model, tokenizer, anchors, pooling, max_length)  # (B, C)
    zp = embed_batch(model, tokenizer, positives, pooling, max_length)  # (B, C)
    return info_nce(za, zp, temperature, symmetric=symmetric)


def _batches(n: int, batch_size: int, steps: int, seed: int):
    """``steps`` index batches drawn epoch by epoch from seeded permutations of range(n)."""
    g = torch.Generator().manual_seed(seed)
    order: list[int] = []
    for _ in range(steps):
        if len(order) < batch_size:
            order += torch.randperm(n, generator=g).tolist()
        yield order[:batch_size]
        order = order[batch_size:]


def train_contrastive(model, tokenizer, texts: list[str], positives: list[str] | None = None, steps: int = 100,
                      batch_size: int = 32, lr: float = 1e-4, temperature: float = 0.05, pooling: str = "mean",
                      max_length: int | None = 64, seed: int = 0, progress: bool = False) -> list[float]:
    """Train the encoder of ``model`` in place; returns the loss of every step.

    ``positives=None``: unsupervised SimCSE on ``texts``. Otherwise ``texts[i]`` and ``positives[i]``
    form a positive pair; a batch keeps only the first pair of any repeated text, so a duplicate is
    never used as its own negative. The model is left in eval mode.
    """
    texts = _check_texts(texts)
    if positives is not None and len(_check_texts(positives, "positives")) != len(texts):
        raise ValueError(f"texts and positives must be equally long, got {len(texts)} and {len(positives)}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not isinstance(batch_size, int) or not 2 <= batch_size <= len(texts):
        raise ValueError(f"batch_size must be an int in [2, len(texts)={len(texts)}], got {batch_size!r}")
    encoder = _encoder(model)
    opt = torch.optim.AdamW(encoder.parameters(), lr=lr, weight_decay=0.01)
    torch.manual_seed(seed)  # dropout masks
    model.train()
    losses = []
    for idx in tqdm(_batches(len(texts), batch_size, steps, seed), total=steps, disable=not progress,
                    desc="contrastive training"):
        if positives is None:
            loss = simcse_loss(model, tokenizer, [texts[i] for i in idx], temperature, pooling, max_length)
        else:
            seen, keep = set(), []
            for i in idx:
                if texts[i] not in seen and positives[i] not in seen:
                    seen.update((texts[i], positives[i]))
                    keep.append(i)
            loss = supervised_loss(model, tokenizer, [texts[i] for i in keep], [positives[i] for i in keep],
                                   temperature, pooling, max_length)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(encoder.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses
