"""Masking schedules of masked (absorbing-state) diffusion: alpha(t), loss weights, sampling t.

Taught in notebook 11.

The forward process keeps each answer token with probability ``alpha(t)`` and replaces it by
[MASK] otherwise, for a time ``t`` in (0, 1]; ``alpha(0) = 1`` (clean) and ``alpha(1) = 0``
(all masked). The continuous-time ELBO of the answer (Sahoo et al. 2024, MDLM; Shi et al. 2024,
MD4; Nie et al. 2025, LLaDA) is

    -log p(x) <= E_t [ w(t) * sum_{masked i} -log p_theta(x_i | x_t) ],
    w(t) = -alpha'(t) / (1 - alpha(t)),

which is ``1 / t`` for the linear schedule ``alpha(t) = 1 - t``. BERT's masked LM is the
special case of one fixed ``t = 0.15`` with ``w = 1``: one step of this process.

- ``alpha(t, kind)`` and ``mask_prob(t, kind) = 1 - alpha(t)`` for ``"linear"`` and ``"cosine"``
  (``alpha(t) = cos(pi t / 2)``).
- ``loss_weight(t, kind)`` is ``-alpha'(t) / (1 - alpha(t))``.
- ``sample_t(n, generator, method, eps)`` draws times: ``"iid"``, ``"stratified"`` (the
  low-discrepancy sampler of Kingma et al. 2021: one uniform shift of an evenly spaced grid)
  or ``"antithetic"`` (pairs ``u, 1 - u``); all clipped to ``[eps, 1]`` so ``w(t)`` stays finite.
"""

from __future__ import annotations

import math

import torch

SCHEDULES = ("linear", "cosine")
T_SAMPLERS = ("iid", "stratified", "antithetic")


def _check_kind(kind: str) -> None:
    if kind not in SCHEDULES:
        raise ValueError(f"schedule kind must be one of {SCHEDULES}, got {kind!r}")


def _as_tensor(t) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=torch.float64 if not torch.is_tensor(t) else None)
    if not torch.is_floating_point(t):
        t = t.double()
    if not torch.all((t >= 0) & (t <= 1)):  # also false for NaN, which (t < 0) | (t > 1) misses
        raise ValueError("t must lie in [0, 1] (NaN is refused)")
    return t


def alpha(t, kind: str = "linear") -> torch.Tensor:
    """Probability that a token is still clean at time ``t`` (1 at t=0, 0 at t=1)."""
    _check_kind(kind)
    t = _as_tensor(t)
    if kind == "linear":
        return 1.0 - t
    return torch.cos(0.5 * math.pi * t)


def alpha_prime(t, kind: str = "linear") -> torch.Tensor:
    """Derivative ``d alpha / d t`` (negative: tokens only ever get masked as t grows)."""
    _check_kind(kind)
    t = _as_tensor(t)
    if kind == "linear":
        return -torch.ones_like(t)
    return -0.5 * math.pi * torch.sin(0.5 * math.pi * t)


def mask_prob(t, kind: str = "linear") -> torch.Tensor:
    """Probability that a target token is replaced by [MASK] at time ``t``."""
    return 1.0 - alpha(t, kind)


def loss_weight(t, kind: str = "linear") -> torch.Tensor:
    """ELBO weight ``-alpha'(t) / (1 - alpha(t))``; equals ``1 / t`` for the linear schedule."""
    t = _as_tensor(t)
    if torch.any(t <= 0):
        raise ValueError("loss_weight needs t > 0 (clip t with eps; w(t) -> inf as t -> 0)")
    return -alpha_prime(t, kind) / (1.0 - alpha(t, kind))


def sample_t(
    n: int,
    generator: torch.Generator | None = None,
    method: str = "stratified",
    eps: float = 1e-3,
) -> torch.Tensor:
    """Draw ``n`` diffusion times in ``[eps, 1]`` (float32, shape ``(n,)``).

    ``"stratified"``: ``t_i = (u + i / n) mod 1`` with one shared ``u`` -- each of the ``n``
    equal strata gets exactly one sample, so the batch loss has lower variance than iid.
    ``"antithetic"``: the second half mirrors the first (``1 - u``).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if method not in T_SAMPLERS:
        raise ValueError(f"method must be one of {T_SAMPLERS}, got {method!r}")
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"eps must be in [0, 1), got {eps}")
    if method == "iid":
        u = torch.rand(n, generator=generator, dtype=torch.float64)
    elif method == "stratified":
        shift = torch.rand(1, generator=generator, dtype=torch.float64)
        u = (shift + torch.arange(n, dtype=torch.float64) / n) % 1.0
    else:
        half = torch.rand((n + 1) // 2, generator=generator, dtype=torch.float64)
        u = torch.cat([half, 1.0 - half])[:n]
    return (eps + (1.0 - eps) * u).float()  # (n,)
