"""Full-mode recordings of the notebooks, and ``python -m nlp_course.notebooks --full NN``.

Used by every notebook (the rule: a number in prose is printed by a cell and checked by an assert).

CI runs the notebooks under ``NLP_COURSE_SMOKE=1`` with small configs, so a number that only
full mode produces (a 3-minute pretraining, a 5-seed sweep) cannot be recomputed there. Such a
notebook *records* its full-mode numbers and *asserts its prose against the recording*:

    rec = Recording("02_training_networks")
    if not SMOKE:                      # full mode: measure and write
        rec.save(adam_first_step_ratio=round(ratio, 4))
    R = rec.load()                     # both modes: read what full mode measured
    assert 3.0 < R["adam_first_step_ratio"] < 3.3   # the prose says "about 3.16x too large"

The recording lives in ``notebooks/results/chapters/<notebook>.json`` (sorted keys, committed).
``save`` merges keys, so several cells of one notebook can record into the same file.

``python -m nlp_course.notebooks --full 02`` re-executes ``notebooks/02_*.ipynb`` top to bottom in
full mode (``NLP_COURSE_SMOKE`` unset), in place, which refreshes its outputs and its recording;
``--smoke`` executes it as CI does (without writing the notebook) to check it runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
RECORDINGS = NOTEBOOKS / "results" / "chapters"


def _check_value(key: str, value):
    """JSON-able and finite, so a recording never holds NaN (invalid JSON) or an object repr."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"recorded value {key!r} must be finite, got {value}")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_value(f"{key}.{k}", v)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_value(f"{key}[{i}]", v)
    elif not isinstance(value, (str, int, float, bool)) and value is not None:
        raise TypeError(f"recorded value {key!r} must be JSON-able, got {type(value).__name__}")


class Recording:
    """The full-mode numbers of one notebook (``name`` = the notebook's file stem)."""

    def __init__(self, name: str, root: Path | str | None = None):
        if not isinstance(name, str) or not name or "/" in name or name.endswith(".ipynb"):
            raise ValueError(f"name must be a notebook stem like '02_training_networks', got {name!r}")
        self.path = Path(root or RECORDINGS) / f"{name}.json"

    def load(self) -> dict:
        """The recorded values; a clear error when full mode has never recorded this notebook."""
        if not self.path.is_file():
            raise FileNotFoundError(f"no full-mode recording at {self.path}: run "
                                    f"`python -m nlp_course.notebooks --full {self.path.stem[:2]}`")
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{self.path}: malformed JSON ({e.msg})") from None

    def save(self, **values) -> dict:
        """Merge ``values`` into the recording (atomically) and return the whole recording."""
        if not values:
            raise ValueError("save() needs at least one key=value")
        for k, v in values.items():
            _check_value(k, v)
        old = self.load() if self.path.is_file() else {}
        old.update(values)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(old, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                       encoding="utf-8")
        os.replace(tmp, self.path)
        return old


def find_notebook(number: str) -> Path:
    """``"02"`` or ``"2"`` -> ``notebooks/02_training_networks.ipynb``."""
    if not str(number).isdigit():
        raise ValueError(f"notebook number must be digits like '02', got {number!r}")
    hits = sorted(NOTEBOOKS.glob(f"{int(number):02d}_*.ipynb"))
    if len(hits) != 1:
        raise ValueError(f"expected one notebook numbered {int(number):02d} in {NOTEBOOKS}, found {len(hits)}")
    return hits[0]


def execute(path: Path, full: bool, timeout: int = 7200, write: bool = True) -> float:
    """Run a notebook top to bottom in its folder; return wall seconds."""
    import nbformat
    from nbclient import NotebookClient

    env_before = os.environ.get("NLP_COURSE_SMOKE")
    if full:
        os.environ.pop("NLP_COURSE_SMOKE", None)
    else:
        os.environ["NLP_COURSE_SMOKE"] = "1"
    try:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        wall = time.perf_counter() - start
    finally:
        if env_before is None:
            os.environ.pop("NLP_COURSE_SMOKE", None)
        else:
            os.environ["NLP_COURSE_SMOKE"] = env_before
    if write:
        nbformat.write(nb, path)
    return wall


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nlp_course.notebooks",
                                description="Re-execute course notebooks (refreshing outputs and recordings).")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--full", nargs="+", metavar="NN", help="execute in full mode, in place")
    mode.add_argument("--smoke", nargs="+", metavar="NN", help="execute as CI does; the file is not written")
    p.add_argument("--timeout", type=int, default=7200, help="seconds per cell")
    args = p.parse_args(argv)
    try:
        for number in args.full or args.smoke:
            path = find_notebook(number)
            wall = execute(path, full=bool(args.full), timeout=args.timeout, write=bool(args.full))
            print(f"{path.name}: {'full' if args.full else 'smoke'} mode, {wall:.0f} s wall")
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
