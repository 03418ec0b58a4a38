"""Activation functions and their analytic derivatives, written with raw tensor ops.

Taught in notebook 01. Each ``f`` has ``f_grad(x) = df/dx`` (element-wise; for ``softmax``
the vector-Jacobian product). All are stable at extreme inputs (|x| = 1e4): no nan/inf.
Tested against ``torch.nn.functional`` values and against autograd (tests/test_activations.py).

References: Nair & Hinton 2010 (ReLU); Maas et al. 2013 (leaky ReLU); Hendrycks & Gimpel 2016
(GELU, arXiv:1606.08415); Elfwing et al. 2017 / Ramachandran et al. 2017 (SiLU / Swish);
PyTorch docs of ``torch.nn.functional``.
"""

from __future__ import annotations

import math

import torch

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _check(x, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(0, x)."""
    _check(x)
    return torch.where(x > 0, x, torch.zeros_like(x))


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    """1 for x > 0, else 0 (torch's convention: the derivative at 0 is 0)."""
    _check(x)
    return (x > 0).to(x.dtype)


def _check_slope(negative_slope) -> float:
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float)):
        raise TypeError(f"negative_slope must be a float, got {type(negative_slope).__name__}")
    if not math.isfinite(negative_slope):
        raise ValueError(f"negative_slope must be finite, got {negative_slope}")
    return float(negative_slope)


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """x for x > 0, else negative_slope * x."""
    _check(x)
    a = _check_slope(negative_slope)
    return torch.where(x > 0, x, a * x)


def leaky_relu_grad(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """1 for x > 0, else negative_slope."""
    _check(x)
    a = _check_slope(negative_slope)
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, a))


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """1 / (1 + e^-x), computed as e^x / (1 + e^x) for x < 0 so that no exp overflows."""
    _check(x)
    e = torch.exp(-x.abs())  # in (0, 1]: never overflows
    return torch.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    """sigma(x) * (1 - sigma(x)); at most 1/4 (at x = 0): the root of vanishing gradients."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """(e^x - e^-x) / (e^x + e^-x) = sign(x) (1 - e^{-2|x|}) / (1 + e^{-2|x|})."""
    _check(x)
    e = torch.exp(-2.0 * x.abs())  # in (0, 1]
    return torch.sign(x) * (1.0 - e) / (1.0 + e)


def tanh_grad(x: torch.Tensor) -> torch.Tensor:
    """1 - tanh(x)^2."""
    t = tanh(x)
    return 1.0 - t * t


def _check_approximate(approximate: str) -> str:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return approximate


def gelu(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """x * Phi(x) (exact, via erf) or the tanh approximation of Hendrycks & Gimpel."""
    _check(x)
    if _check_approximate(approximate) == "none":
        return 0.5 * x * (1.0 + torch.erf(x / _SQRT_2))
    inner = _SQRT_2_OVER_PI * (x + 0.044715 * x**3)
    return 0.5 * x * (1.0 + tanh(inner))


def gelu_grad(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """Phi(x) + x * phi(x) (exact), or the derivative of the tanh form."""
    _check(x)
    if _check_approximate(approximate) == "none":
        cdf = 0.5 * (1.0 + torch.erf(x / _SQRT_2))
        pdf = _INV_SQRT_2PI * torch.exp(-0.5 * x * x)  # underflows to 0 at |x| = 1e4: fine
        return cdf + x * pdf
    inner = _SQRT_2_OVER_PI * (x + 0.044715 * x**3)
    t = tanh(inner)
    dinner = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
    # x * (1 - t^2) * dinner is 0 * huge at |x| = 1e4 in float32 -> guard where t saturated
    sech2 = 1.0 - t * t
    term = torch.where(sech2 > 0, 0.5 * x * sech2 * dinner, torch.zeros_like(x))
    return 0.5 * (1.0 + t) + term


def silu(x: torch.Tensor) -> torch.Tensor:
    """x * sigma(x) (also called Swish-1)."""
    return x * sigmoid(x)


def silu_grad(x: torch.Tensor) -> torch.Tensor:
    """sigma(x) * (1 + x * (1 - sigma(x)))."""
    s = sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def _check_dim(x: torch.Tensor, dim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if x.dim() == 0:
        raise ValueError("x must have at least one dimension for softmax")
    if not -x.dim() <= dim < x.dim():
        raise ValueError(f"dim must be in [{-x.dim()}, {x.dim()}), got {dim}")
    return dim


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """e^{x_i - max x} / sum_j e^{x_j - max x}: subtracting the max keeps every exp <= 1.

    An empty ``dim`` gives an empty result of the same shape, as ``torch.softmax`` does.
    """
    _check(x)
    _check_dim(x, dim)
    if x.shape[dim] == 0:
        return torch.empty_like(x)  # nothing to normalise (amax of an empty dim would raise)
    shifted = x - x.amax(dim=dim, keepdim=True)
    e = torch.exp(shifted)
    return e / e.sum(dim=dim, keepdim=True)


def softmax_grad(x: torch.Tensor, grad_output: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Vector-Jacobian product of softmax: s * (g - sum(g * s)), with J = diag(s) - s s^T."""
    _check(x)
    _check(grad_output, "grad_output")
    if grad_output.shape != x.shape:
        raise ValueError(f"grad_output shape {tuple(grad_output.shape)} != x shape {tuple(x.shape)}")
    s = softmax(x, dim)
    return s * (grad_output - (grad_output * s).sum(dim=dim, keepdim=True))


ACTIVATIONS = {
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "gelu": (gelu, gelu_grad),
    "silu": (silu, silu_grad),
}
"""Element-wise activations by name: (function, derivative). ``softmax`` is vector-valued."""
