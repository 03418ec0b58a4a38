"""Regularization and gradient-health helpers: inverted dropout, L1/L2 penalties, per-layer
gradient norms, gradient-norm clipping.

Taught in notebook 02.

- Inverted dropout (Srivastava et al. 2014, JMLR 15): during training keep each unit with
  probability 1 - p and divide the kept ones by 1 - p, so the expected activation is unchanged
  and inference is the identity. The original paper instead multiplied weights by (1 - p) at
  test time: equivalent in expectation, but the test-time model must know p.
- ``clip_grad_norm`` equals ``torch.nn.utils.clip_grad_norm_`` (Pascanu et al. 2013,
  arXiv:1211.5063).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def dropout(x: torch.Tensor, p: float = 0.5, training: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout: zero each element with probability p, scale survivors by 1 / (1 - p)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError("x must be a floating-point torch.Tensor")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) >= p
    return x * keep / (1.0 - p)


def _weights(params) -> list[torch.Tensor]:
    params = list(params)
    if not params or not all(isinstance(p, torch.Tensor) for p in params):
        raise TypeError("params must be a non-empty iterable of tensors")
    return params


def l1_penalty(params: Iterable[torch.Tensor]) -> torch.Tensor:
    """sum |w|: its gradient sign(w) pushes small weights all the way to 0 (sparsity)."""
    return sum(p.abs().sum() for p in _weights(params))


def l2_penalty(params: Iterable[torch.Tensor]) -> torch.Tensor:
    """sum w^2 / 2: its gradient w shrinks every weight in proportion to its size."""
    return sum(0.5 * (p * p).sum() for p in _weights(params))


def grad_norms(module: torch.nn.Module) -> dict[str, float]:
    """L2 norm of the gradient of every parameter that has one, by name (call after backward)."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return {name: p.grad.norm().item() for name, p in module.named_parameters()
            if p.grad is not None}


def clip_grad_norm(params: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Rescale all gradients together so their global L2 norm is at most ``max_norm``.

    Returns the norm before clipping (as torch does). Direction is kept; only length changes.
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)) or max_norm <= 0:
        raise ValueError(f"max_norm must be a positive number, got {max_norm!r}")
    grads = [p.grad for p in _weights(params) if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)  # torch's 1e-6 guard
    for g in grads:
        g.mul_(scale)
    return total
