"""Benchmarks: ``python -m nlp_course.bench.<name>`` prints our timings beside the library twin's.

Speed is measured here, never in timed tests. Each module times our
implementation and its library twin in the same process and prints the ratio.
"""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def write_record(path, packages: list[str], **fields) -> dict:
    """Write a benchmark's JSON record: ``fields`` plus the CPU it ran on and the versions of
    ``packages`` (the file that notebooks check their prose against)."""
    import torch

    from nlp_course.diffusion.study.runner import hardware

    def _version(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    record = {**fields, "hardware": hardware(torch.device("cpu")), "python": platform.python_version(),
              "versions": {name: _version(name) for name in packages}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record
