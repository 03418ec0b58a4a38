"""Loss functions from raw tensor ops: cross-entropy from logits, masked CE, NLL, MSE, contrastive.

Taught in notebook 02. Each equals its torch twin (``F.cross_entropy``, ``F.nll_loss``,
``F.mse_loss``) on the same inputs, including logits of 1e4, ``ignore_index``, class
``weight`` and ``label_smoothing`` (tests/test_losses.py). The margin contrastive loss has no
single torch function; it is tested against an expression built from torch pieces.

- cross-entropy from logits uses log-softmax z - max z - log sum exp(z - max z): never exp(1e4).
- label smoothing (Szegedy et al. 2016, arXiv:1512.00567): target (1 - eps) one-hot + eps / C.
- contrastive loss, margin form (Hadsell, Chopra & LeCun 2006, "Dimensionality Reduction by
  Learning an Invariant Mapping"): L = y d^2 / 2 + (1 - y) max(0, m - d)^2 / 2, d = ||a - b||.
Reference: https://pytorch.org/docs/stable/nn.functional.html#loss-functions
"""

from __future__ import annotations

import torch

_REDUCTIONS = ("mean", "sum", "none")


def _tensor(x, name: str, floating: bool = True) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if not floating and x.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise TypeError(f"{name} must hold integer class ids, got dtype {x.dtype}")
    return x


def _reduce(loss: torch.Tensor, reduction: str, denom: torch.Tensor | None = None):
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / (loss.numel() if denom is None else denom)


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def log_softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """z - max z - log sum exp(z - max z): every exp argument is <= 0, so nothing overflows."""
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def _class_last(x: torch.Tensor, target: torch.Tensor, name: str):
    """torch layout (N, C) or (N, C, d1, ...) with target (N,) / (N, d1, ...) -> (M, C), (M,)."""
    if x.dim() < 2:
        raise ValueError(f"{name} must be (N, C) or (N, C, d1, ...), got shape {tuple(x.shape)}")
    want = (x.shape[0],) + tuple(x.shape[2:])
    if tuple(target.shape) != want:
        raise ValueError(f"target shape {tuple(target.shape)} does not match {name} shape "
                         f"{tuple(x.shape)}: expected {want}")
    c = x.shape[1]
    return x.movedim(1, -1).reshape(-1, c), target.reshape(-1).long()


def _check_weight(weight, c: int, like: torch.Tensor):
    if weight is None:
        return None
    _tensor(weight, "weight")
    if tuple(weight.shape) != (c,):
        raise ValueError(f"weight must have shape ({c},), got {tuple(weight.shape)}")
    return weight.to(like.dtype)


def nll_loss(log_probs: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
             ignore_index: int = -100, reduction: str = "mean") -> torch.Tensor:
    """-log_probs[i, target_i] (times weight[target_i]); mean divides by the kept weights."""
    _tensor(log_probs, "log_probs")
    _tensor(target, "target", floating=False)
    _check_reduction(reduction)
    lp, t = _class_last(log_probs, target, "log_probs")  # (M, C), (M,)
    c = lp.shape[1]
    w = _check_weight(weight, c, lp)
    keep = t != ignore_index  # (M,)
    bad = keep & ((t < 0) | (t >= c))
    if bad.any():
        raise ValueError(f"target ids must be in [0, {c}) or ignore_index={ignore_index}")
    safe = torch.where(keep, t, torch.zeros_like(t))
    picked = -lp.gather(1, safe[:, None]).squeeze(1)  # (M,)
    wt = keep.to(lp.dtype) if w is None else w[safe] * keep  # (M,)
    loss = picked * wt
    if reduction == "none":
        return loss.reshape(target.shape)
    return _reduce(loss, reduction, wt.sum())


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy from raw logits, torch layout (N, C) or (N, C, d1, ...)."""
    _tensor(logits, "logits")
    _tensor(target, "target", floating=False)
    _check_reduction(reduction)
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)):
        raise TypeError(f"label_smoothing must be a float, got {type(label_smoothing).__name__}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    lp = log_softmax(logits, dim=1)  # (N, C, ...)
    nll = nll_loss(lp, target, weight, ignore_index, reduction)
    if label_smoothing == 0:
        return nll
    flat, t = _class_last(lp, target, "logits")  # (M, C), (M,)
    c = flat.shape[1]
    w = _check_weight(weight, c, flat)
    keep = t != ignore_index
    smooth = -(flat if w is None else flat * w).sum(1) * keep  # (M,) = -sum_c w_c log p_c
    if reduction == "none":
        smooth = smooth.reshape(target.shape)
    elif reduction == "sum":
        smooth = smooth.sum()
    else:
        safe = torch.where(keep, t, torch.zeros_like(t))
        denom = keep.sum() if w is None else (w[safe] * keep).sum()
        smooth = smooth.sum() / denom
    return (1 - label_smoothing) * nll + label_smoothing / c * smooth


def masked_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                         mask: torch.Tensor) -> torch.Tensor:
    """Mean CE over real tokens of a padded batch: logits (B, T, C), target and mask (B, T).

    Padding positions (mask False / 0) add nothing to the sum nor to the count.
    """
    _tensor(logits, "logits")
    _tensor(target, "target", floating=False)
    if logits.dim() != 3:
        raise ValueError(f"logits must be (B, T, C), got shape {tuple(logits.shape)}")
    if tuple(target.shape) != tuple(logits.shape[:2]):
        raise ValueError(f"target shape {tuple(target.shape)} != logits (B, T) "
                         f"{tuple(logits.shape[:2])}")
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != tuple(target.shape):
        raise ValueError(f"mask must be a tensor of shape {tuple(target.shape)}")
    keep = mask.bool()  # (B, T)
    t = torch.where(keep, target.long(), torch.full_like(target.long(), -100))
    return cross_entropy(logits.transpose(1, 2), t)  # (B, C, T) torch layout


def mse_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """(input - target)^2, shapes must match exactly (no silent broadcasting)."""
    _tensor(input, "input")
    _tensor(target, "target")
    _check_reduction(reduction)
    if input.shape != target.shape:
        raise ValueError(f"input shape {tuple(input.shape)} != target shape {tuple(target.shape)}")
    return _reduce((input - target) ** 2, reduction)


def contrastive_loss(a: torch.Tensor, b: torch.Tensor, similar: torch.Tensor,
                     margin: float = 1.0, reduction: str = "mean") -> torch.Tensor:
    """Hadsell et al. margin loss for pairs a[i], b[i] of shape (N, D); ``similar`` (N,) in {0, 1}.

    Similar pairs are pulled together (d^2 / 2); dissimilar pairs are pushed apart until
    their distance reaches ``margin`` (max(0, m - d)^2 / 2), then ignored.
    """
    _tensor(a, "a")
    _tensor(b, "b")
    _check_reduction(reduction)
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(f"a and b must both be (N, D), got {tuple(a.shape)} and {tuple(b.shape)}")
    if not isinstance(similar, torch.Tensor) or tuple(similar.shape) != (a.shape[0],):
        raise ValueError(f"similar must be a tensor of shape ({a.shape[0]},)")
    if not ((similar == 0) | (similar == 1)).all():
        raise ValueError("similar must hold only 0 and 1")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin <= 0:
        raise ValueError(f"margin must be a positive number, got {margin!r}")
    y = similar.to(a.dtype)  # (N,)
    d = torch.linalg.vector_norm(a - b, dim=1)  # (N,)
    loss = 0.5 * y * d**2 + 0.5 * (1 - y) * torch.clamp(margin - d, min=0) ** 2  # (N,)
    return _reduce(loss, reduction)
