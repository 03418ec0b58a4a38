"""LSTM and GRU cell diagrams (gates as boxes, element-wise ops as circles), drawn with matplotlib.

Shown in notebook 06; the gate names match ``nlp_course.rnn`` (LSTM i, f, g, o; GRU r, z, n).
Layout follows C. Olah, "Understanding LSTM Networks" (2015), redrawn from scratch.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch


def _box(ax, x, y, text, color):
    ax.add_patch(FancyBboxPatch((x - 0.45, y - 0.22), 0.9, 0.44, boxstyle="round,pad=0.03",
                                fc=color, ec="black", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def _op(ax, x, y, text):
    ax.add_patch(plt.Circle((x, y), 0.2, fc="white", ec="black", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=11)


def _arrow(ax, x0, y0, x1, y1):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="->", lw=1.1))


def _frame(title):
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    ax.set_xlim(-1, 8.5)
    ax.set_ylim(-0.6, 4.6)
    ax.axis("off")
    ax.set_title(title)
    return fig, ax


def draw_lstm(path: Path) -> Path:
    fig, ax = _frame("LSTM cell: c_t = f*c_{t-1} + i*g,  h_t = o*tanh(c_t)")
    ax.text(-0.9, 3.6, "c_{t-1}", fontsize=10)
    ax.text(-0.9, 0.1, "h_{t-1}", fontsize=10)
    ax.text(0.2, -0.5, "x_t", fontsize=10)
    ax.plot([-0.3, 0.6], [0.2, 0.2], "k-", lw=1)
    ax.plot([0.4, 0.4], [-0.3, 0.2], "k-", lw=1)
    gates = [(1.2, "f  σ", "#f4cccc"), (2.6, "i  σ", "#d9ead3"),
             (3.8, "g  tanh", "#fff2cc"), (5.2, "o  σ", "#cfe2f3")]
    ax.plot([0.6, 5.2], [0.2, 0.2], "k-", lw=1)
    for x, label, color in gates:
        _arrow(ax, x, 0.2, x, 1.0)
        _box(ax, x, 1.25, label, color)
    _op(ax, 1.2, 3.7, "x")
    _arrow(ax, 1.2, 1.5, 1.2, 3.5)
    _op(ax, 3.2, 2.5, "x")
    _arrow(ax, 2.6, 1.5, 3.0, 2.4)
    _arrow(ax, 3.8, 1.5, 3.4, 2.4)
    _op(ax, 3.2, 3.7, "+")
    _arrow(ax, 3.2, 2.7, 3.2, 3.5)
    _arrow(ax, -0.3, 3.7, 1.0, 3.7)
    _arrow(ax, 1.4, 3.7, 3.0, 3.7)
    _arrow(ax, 3.4, 3.7, 7.8, 3.7)
    ax.text(7.85, 3.6, "c_t", fontsize=10)
    _box(ax, 6.2, 2.8, "tanh", "#eeeeee")
    _arrow(ax, 6.2, 3.7, 6.2, 3.05)
    _op(ax, 6.2, 1.25, "x")
    _arrow(ax, 6.2, 2.55, 6.2, 1.45)
    _arrow(ax, 5.55, 1.25, 6.0, 1.25)
    _arrow(ax, 6.4, 1.25, 7.8, 1.25)
    ax.text(7.85, 1.15, "h_t", fontsize=10)
    ax.text(3.6, 4.2, "cell state: additive path (gradient highway)", fontsize=9, ha="center")
    ax.text(3.6, -0.5, "f forget, i input, g candidate, o output gate", fontsize=9, ha="center")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def draw_gru(path: Path) -> Path:
    fig, ax = _frame("GRU cell: h_t = (1-z)*n + z*h_{t-1}")
    ax.text(-0.9, 3.6, "h_{t-1}", fontsize=10)
    ax.text(0.2, -0.5, "x_t", fontsize=10)
    ax.plot([0.4, 0.4], [-0.3, 0.2], "k-", lw=1)
    ax.plot([0.4, 4.4], [0.2, 0.2], "k-", lw=1)
    ax.plot([0.0, 0.0], [0.2, 3.7], "k-", lw=1)
    ax.plot([0.0, 0.4], [0.2, 0.2], "k-", lw=1)
    gates = [(1.2, "r  σ", "#f4cccc"), (2.6, "z  σ", "#d9ead3"),
             (4.4, "n  tanh", "#fff2cc")]
    for x, label, color in gates:
        _arrow(ax, x, 0.2, x, 1.0)
        _box(ax, x, 1.25, label, color)
    _op(ax, 1.2, 2.4, "x")
    _arrow(ax, 1.2, 1.5, 1.2, 2.2)
    ax.text(1.45, 2.5, "r * (W_hn h + b_hn)", fontsize=8)
    _arrow(ax, 1.4, 2.4, 4.3, 1.5)
    _op(ax, 2.6, 3.7, "x")
    _arrow(ax, 2.6, 1.5, 2.6, 3.5)
    ax.text(2.75, 3.05, "z", fontsize=9)
    _op(ax, 4.4, 2.6, "x")
    _arrow(ax, 4.4, 1.5, 4.4, 2.4)
    ax.text(4.6, 2.1, "1 - z", fontsize=9)
    _op(ax, 4.4, 3.7, "+")
    _arrow(ax, 4.4, 2.8, 4.4, 3.5)
    _arrow(ax, -0.3, 3.7, 2.4, 3.7)
    _arrow(ax, 2.8, 3.7, 4.2, 3.7)
    _arrow(ax, 4.6, 3.7, 7.8, 3.7)
    ax.text(7.85, 3.6, "h_t", fontsize=10)
    ax.text(4.0, 4.2, "no separate cell state; z interpolates old and new", fontsize=9, ha="center")
    ax.text(4.0, -0.5, "r reset, z update gate, n candidate state", fontsize=9, ha="center")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def draw(out_dir: Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [draw_lstm(out / "lstm_cell.png"), draw_gru(out / "gru_cell.png")]
