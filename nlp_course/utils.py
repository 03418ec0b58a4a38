"""Small helpers every notebook's first cell uses: seeds, device, SMOKE mode, shape checks.

Taught in notebook 01 (and used by all the others).

- ``set_seed`` seeds Python's ``random``, NumPy and torch (CPU and CUDA) in one call.
- ``get_device`` picks CUDA when present, else CPU (the course never needs a GPU before 11).
- ``smoke_mode`` reads ``NLP_COURSE_SMOKE``: CI sets it to shrink heavy cells.
- ``check_shape`` is d2l's habit: assert a tensor's shape where the prose states it.
- ``cache_dir`` is where trained checkpoints live (``NLP_COURSE_HOME``).
- ``check_number`` / ``check_positive`` validate a scalar argument: a real number (not a bool),
  finite unless asked otherwise, within bounds; ``inf`` and ``nan`` never slip through a
  ``> 0`` test (``nan > 0`` is False, but ``not nan <= 0`` is True, and ``inf > 0`` is True).
"""

from __future__ import annotations

import math
import numbers
import os
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def set_seed(seed: int) -> int:
    """Seed ``random``, NumPy and torch (all devices); return the seed for printing."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed


def get_device(prefer: str | None = None) -> torch.device:
    """CUDA if available (or ``prefer`` if given and available), else CPU."""
    if prefer is not None:
        dev = torch.device(prefer)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"prefer={prefer!r} but CUDA is not available on this machine")
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def smoke_mode() -> bool:
    """True when ``NLP_COURSE_SMOKE`` is set to a true value (CI runs every notebook this way)."""
    raw = os.environ.get("NLP_COURSE_SMOKE", "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"NLP_COURSE_SMOKE must be one of {sorted(_TRUE | _FALSE)}, got {raw!r}")


def check_shape(tensor, shape: Sequence[int | None]):
    """Assert ``tensor.shape == shape`` (``None`` matches any size) and return the tensor.

    >>> check_shape(torch.zeros(2, 3), (2, None)).shape
    torch.Size([2, 3])
    """
    if not hasattr(tensor, "shape"):
        raise TypeError(f"tensor must have a .shape, got {type(tensor).__name__}")
    got = tuple(tensor.shape)
    want = tuple(shape)
    ok = len(got) == len(want) and all(w is None or g == w for g, w in zip(got, want))
    if not ok:
        raise ValueError(f"shape mismatch: expected {want}, got {got}")
    return tensor


def cache_dir(*parts: str) -> Path:
    """The course's cache folder (``$NLP_COURSE_HOME``, default ``~/.cache/nlp_course``)."""
    root = Path(os.environ.get("NLP_COURSE_HOME", Path.home() / ".cache" / "nlp_course"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_number(name: str, value, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, finite: bool = True) -> float:
    """Return ``value`` as a float, or raise naming ``name``.

    ``TypeError`` unless ``value`` is a real number (bools, strings and tensors are refused);
    ``ValueError`` if it is NaN, infinite while ``finite`` is set, or outside ``[low, high]``
    (``low_open``/``high_open`` exclude the bound).

    >>> check_number("p", 0.5, 0, 1)
    0.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def check_positive(name: str, value, finite: bool = True) -> float:
    """``check_number(name, value, low=0, low_open=True, finite=finite)``: a number > 0."""
    return check_number(name, value, low=0.0, low_open=True, finite=finite)
