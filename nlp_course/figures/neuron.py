"""A single artificial neuron: inputs x_i, weights w_i, bias b, sum z = w·x + b, activation f.

Shown in notebook 01 (the neuron, question 2 of the interview list).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt


def draw(out_dir: Path) -> list[Path]:
    """Write ``neuron.png`` into ``out_dir``; return its path."""
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    ax.set_xlim(-0.5, 8.5)
    ax.set_ylim(-0.4, 4.4)
    ax.axis("off")
    ax.set_title("A neuron: z = w·x + b,  a = f(z)")
    ys = [3.6, 2.4, 1.2]
    for i, y in enumerate(ys, start=1):
        ax.add_patch(plt.Circle((0.5, y), 0.32, fc="#cfe2f3", ec="black"))
        ax.text(0.5, y, f"$x_{i}$", ha="center", va="center", fontsize=12)
        ax.annotate("", xy=(3.65, 2.4), xytext=(0.85, y),
                    arrowprops=dict(arrowstyle="->", lw=1.1))
        ax.text(2.1, (y + 2.4) / 2 + 0.18, f"$w_{i}$", fontsize=11, color="#a61c00")
    ax.text(0.5, 0.2, "bias $b$", ha="center", fontsize=11)
    ax.annotate("", xy=(3.8, 2.05), xytext=(0.9, 0.3), arrowprops=dict(arrowstyle="->", lw=1.1))
    ax.add_patch(plt.Circle((4.1, 2.4), 0.5, fc="#fff2cc", ec="black"))
    ax.text(4.1, 2.4, r"$\Sigma$", ha="center", va="center", fontsize=16)
    ax.annotate("", xy=(5.6, 2.4), xytext=(4.6, 2.4), arrowprops=dict(arrowstyle="->", lw=1.1))
    ax.text(5.1, 2.6, "$z$", fontsize=12)
    ax.add_patch(plt.Rectangle((5.6, 1.95), 1.0, 0.9, fc="#d9ead3", ec="black"))
    ax.text(6.1, 2.4, "$f$", ha="center", va="center", fontsize=14)
    ax.annotate("", xy=(7.9, 2.4), xytext=(6.6, 2.4), arrowprops=dict(arrowstyle="->", lw=1.1))
    ax.text(7.2, 2.6, "$a$", fontsize=12)
    ax.text(4.1, 0.6, r"$z=\sum_i w_i x_i + b$", ha="center", fontsize=12)
    path = Path(out_dir) / "neuron.png"
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return [path]
