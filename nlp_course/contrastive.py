"""Contrastive objectives for sentence embeddings. Taught in notebook 09.

- InfoNCE with in-batch negatives (van den Oord et al. 2018, "Representation Learning with
  Contrastive Predictive Coding"; SimCSE, Gao et al. 2021): row i of ``a`` must pick row i of
  ``b`` among all B rows, i.e. cross-entropy over the (B, B) cosine-similarity matrix / tau.
- Triplet loss (Schroff et al. 2015, FaceNet): max(0, d(a, p) - d(a, n) + margin), equal to
  ``torch.nn.TripletMarginLoss``.
- The pairwise margin loss of Hadsell et al. 2006 lives in ``nlp_course.losses.contrastive_loss``,
  pooling in ``nlp_course.finetune.pool``, and ``encode``/``semantic_search`` (equal to
  sentence-transformers) in ``nlp_course.retrieval``; all are re-exported here.
- Alignment and uniformity (Wang & Isola 2020) and anisotropy (mean pairwise cosine,
  Ethayarajh 2019): how an embedding space is shaped, measured on any (N, D) batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .finetune import pool
from .losses import contrastive_loss as contrastive_margin_loss
from .retrieval import encode, semantic_search
from .utils import check_positive

__all__ = ["alignment", "anisotropy", "contrastive_margin_loss", "encode", "info_nce", "pool", "semantic_search",
           "triplet_loss", "uniformity"]


def _pair(a, b, names=("a", "b")):
    for x, name in zip((a, b), names):
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or not x.is_floating_point():
            raise ValueError(f"{name} must be a floating (B, D) tensor")
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} differ in shape: {tuple(a.shape)} != {tuple(b.shape)}")
    if a.shape[0] == 0:
        raise ValueError("batch is empty: expected B >= 1")


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.05, symmetric: bool = False) -> torch.Tensor:
    """Mean InfoNCE loss; positives on the diagonal, the other B - 1 rows are negatives."""
    _pair(a, b)
    temperature = check_positive("temperature", temperature)
    logits = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temperature  # (B, B)
    target = torch.arange(a.shape[0], device=a.device)  # (B,)
    loss = F.cross_entropy(logits, target)
    if symmetric:  # CLIP-style: also b -> a
        loss = (loss + F.cross_entropy(logits.T, target)) / 2
    return loss


def triplet_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6):
    """Mean max(0, ||a - p|| - ||a - n|| + margin); distances as in torch's pairwise_distance."""
    _pair(anchor, positive, ("anchor", "positive"))
    _pair(anchor, negative, ("anchor", "negative"))
    margin = check_positive("margin", margin)  # > 0 and finite, as torch.nn.TripletMarginLoss needs
    d_pos = torch.linalg.vector_norm(anchor - positive + eps, ord=p, dim=-1)  # (B,)
    d_neg = torch.linalg.vector_norm(anchor - negative + eps, ord=p, dim=-1)  # (B,)
    return torch.clamp(d_pos - d_neg + margin, min=0).mean()


# --- geometry of an embedding space (Wang & Isola 2020, "Understanding Contrastive Representation
# Learning through Alignment and Uniformity on the Hypersphere"; Ethayarajh 2019 for anisotropy) ---


def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """E ||f(x) - f(y)||^alpha over positive pairs (rows) of L2-normalised embeddings; lower is better."""
    _pair(x, y, ("x", "y"))
    alpha = check_positive("alpha", alpha)
    return (F.normalize(x, dim=-1) - F.normalize(y, dim=-1)).norm(dim=-1).pow(alpha).mean()


def uniformity(x: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """log E exp(-t ||f(x_i) - f(x_j)||^2) over all pairs i < j; lower = more uniform on the sphere."""
    _pair(x, x, ("x", "x"))
    if x.shape[0] < 2:
        raise ValueError("x needs at least 2 rows: uniformity is an average over pairs")
    t = check_positive("t", t)
    d2 = torch.pdist(F.normalize(x, dim=-1)).pow(2)  # (N (N - 1) / 2,)
    return torch.logsumexp(-t * d2, 0) - math.log(d2.numel())


def anisotropy(x: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity between distinct rows: ~0 for isotropic vectors, near 1 for a narrow cone."""
    _pair(x, x, ("x", "x"))
    if x.shape[0] < 2:
        raise ValueError("x needs at least 2 rows: anisotropy is an average over pairs")
    n = F.normalize(x, dim=-1)
    sims = n @ n.T  # (N, N)
    N = x.shape[0]
    return (sims.sum() - sims.diagonal().sum()) / (N * (N - 1))
