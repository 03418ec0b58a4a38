"""Diagrams the notebooks show (a neuron, activation shapes, LSTM/GRU cells, ...).

Drawn by code, never pasted in: ``python -m nlp_course.figures`` regenerates every
PNG under the checkout's ``img/`` (``--out DIR`` elsewhere; required for an installed copy). Each module in this subpackage is one figure family and
exposes ``draw(out_dir: Path) -> list[Path]``; ``draw_all`` finds them all.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

REPO_IMG = Path(__file__).resolve().parents[2] / "img"


def default_out_dir(repo_img: Path = REPO_IMG) -> Path | None:
    """The checkout's ``img/`` if the package runs from a checkout, else None (installed copy)."""
    root = repo_img.parent
    is_checkout = (root / "pyproject.toml").is_file() and (root / "nlp_course").is_dir()
    return repo_img if is_checkout and repo_img.is_dir() else None


def figure_modules() -> list[str]:
    """Names of the figure modules in this subpackage, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def draw_all(out_dir: Path | str) -> list[Path]:
    """Draw every figure into ``out_dir`` (created if missing); return the written paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in figure_modules():
        module = importlib.import_module(f"{__name__}.{name}")
        written.extend(module.draw(out))
    return written
