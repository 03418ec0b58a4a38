"""Activation shapes and their derivatives on one grid (ReLU, leaky ReLU, sigmoid, tanh, GELU,
SiLU), drawn from ``nlp_course.activations``.

Shown in notebook 01 (question 3).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch

from nlp_course.activations import ACTIVATIONS


def draw(out_dir: Path) -> list[Path]:
    """Write ``activations.png`` (2 x 6 panels: f on top, f' below); return its path."""
    x = torch.linspace(-5, 5, 401, dtype=torch.float64)
    names = sorted(ACTIVATIONS)
    fig, axes = plt.subplots(2, len(names), figsize=(14, 4.6), dpi=80, sharex=True)
    for col, name in enumerate(names):
        f, df = ACTIVATIONS[name]
        axes[0, col].plot(x, f(x), color="#1f77b4")
        axes[0, col].set_title(name)
        axes[1, col].plot(x, df(x), color="#d62728")
        axes[1, col].set_xlabel("z")
        for row in (0, 1):
            axes[row, col].axhline(0, color="gray", lw=0.5)
            axes[row, col].axvline(0, color="gray", lw=0.5)
    axes[0, 0].set_ylabel("f(z)")
    axes[1, 0].set_ylabel("f'(z)")
    fig.suptitle("Activation functions (top) and their derivatives (bottom)")
    fig.tight_layout()
    path = Path(out_dir) / "activations.png"
    fig.savefig(path)
    plt.close(fig)
    return [path]
