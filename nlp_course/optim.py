"""SGD (momentum, Nesterov), RMSProp, Adam and AdamW as ``torch.optim.Optimizer`` subclasses.

Taught in notebook 02. Each follows the update rule of its torch twin exactly (same defaults,
same order of operations), so parameter trajectories agree to 1e-6 over hundreds of steps in
float64 (tests/test_optim.py).

Adam (Kingma & Ba 2015, arXiv:1412.6980), with g the gradient at step t:
    m_t = beta1 m_{t-1} + (1 - beta1) g          first moment (mean of g)
    v_t = beta2 v_{t-1} + (1 - beta2) g^2        second moment (mean of g^2)
    m_hat = m_t / (1 - beta1^t),  v_hat = v_t / (1 - beta2^t)   bias correction (m_0 = v_0 = 0)
    p  <- p - lr * m_hat / (sqrt(v_hat) + eps)
AdamW (Loshchilov & Hutter 2019, arXiv:1711.05101) decays weights directly,
p <- p (1 - lr wd), instead of adding wd p to g (which Adam would then rescale).
RMSProp: Hinton, Coursera lecture 6e (2012). Nesterov: Sutskever et al. 2013.
Reference: https://pytorch.org/docs/stable/optim.html (the formulas in each class's docs).
"""

from __future__ import annotations

import math

import torch
from torch.optim import Optimizer

from nlp_course.utils import check_number


def _number(name: str, value, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = True) -> float:
    """A finite hyper-parameter (nan and inf refused) in its range; upper bounds default open."""
    return check_number(name, value, low, high, low_open, high_open)


def _betas(betas) -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    return (_number("betas[0]", betas[0], 0.0, 1.0), _number("betas[1]", betas[1], 0.0, 1.0))


class SGD(Optimizer):
    """p <- p - lr * d, where d = g + wd p (no momentum), or the momentum buffer
    b <- mu b + (1 - dampening) g (b = g on the first step), and d = b, or g + mu b (Nesterov)."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        lr = _number("lr", lr, 0.0)
        momentum = _number("momentum", momentum, 0.0)
        dampening = _number("dampening", dampening, 0.0, 1.0, high_open=False)
        weight_decay = _number("weight_decay", weight_decay, 0.0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov=True requires momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=bool(nesterov)))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            mu, wd = group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if wd != 0:
                    d = d + wd * p
                if mu != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = d.clone()
                    else:
                        buf = state["momentum_buffer"]
                        buf.mul_(mu).add_(d, alpha=1 - group["dampening"])
                    buf = state["momentum_buffer"]
                    d = d + mu * buf if group["nesterov"] else buf
                p.add_(d, alpha=-group["lr"])
        return loss


class RMSProp(Optimizer):
    """s <- alpha s + (1 - alpha) g^2;  p <- p - lr g / (sqrt(s) + eps)
    (with momentum: b <- mu b + g / (sqrt(s) + eps), p <- p - lr b; centered: s - mean(g)^2)."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, dict(
            lr=_number("lr", lr, 0.0), alpha=_number("alpha", alpha, 0.0, 1.0),
            eps=_number("eps", eps, 0.0, low_open=True),
            weight_decay=_number("weight_decay", weight_decay, 0.0),
            momentum=_number("momentum", momentum, 0.0), centered=bool(centered)))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            alpha, eps, mu = group["alpha"], group["eps"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"] != 0:
                    g = g + group["weight_decay"] * p
                state = self.state[p]
                if not state:
                    state["square_avg"] = torch.zeros_like(p)
                    if mu > 0:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    if group["centered"]:
                        state["grad_avg"] = torch.zeros_like(p)
                sq = state["square_avg"]
                sq.mul_(alpha).addcmul_(g, g, value=1 - alpha)
                if group["centered"]:
                    ga = state["grad_avg"]
                    ga.lerp_(g, 1 - alpha)
                    avg = (sq - ga * ga).sqrt_().add_(eps)
                else:
                    avg = sq.sqrt().add_(eps)
                if mu > 0:
                    buf = state["momentum_buffer"]
                    buf.mul_(mu).addcdiv_(g, avg)
                    p.add_(buf, alpha=-group["lr"])
                else:
                    p.addcdiv_(g, avg, value=-group["lr"])
        return loss


class Adam(Optimizer):
    """Adam with bias-corrected moments; ``weight_decay`` here is an L2 term added to g
    (torch.optim.Adam's meaning). For decoupled decay use :class:`AdamW`."""

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, dict(
            lr=_number("lr", lr, 0.0), betas=_betas(betas),
            eps=_number("eps", eps, 0.0, low_open=True),
            weight_decay=_number("weight_decay", weight_decay, 0.0)))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if wd != 0:
                    if self.decoupled:
                        p.mul_(1 - lr * wd)  # AdamW: shrink the weights themselves
                    else:
                        g = g + wd * p  # Adam: L2 gradient, later divided by sqrt(v_hat)
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)  # m
                    state["exp_avg_sq"] = torch.zeros_like(p)  # v
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(g, 1 - b1)  # m = b1 m + (1 - b1) g
                v.mul_(b2).addcmul_(g, g, value=1 - b2)  # v = b2 v + (1 - b2) g^2
                bc1 = 1 - b1**t
                bc2 = 1 - b2**t
                denom = (v.sqrt() / math.sqrt(bc2)).add_(eps)  # sqrt(v_hat) + eps
                p.addcdiv_(m, denom, value=-lr / bc1)  # - lr * m_hat / denom
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay p <- p (1 - lr wd) (torch default wd = 0.01)."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
