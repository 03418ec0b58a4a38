"""``python -m nlp_course.diffusion.seed002 EXPERIMENT --base STUDY_DIR --output-dir DIR --results DIR``.

Taught in notebook 11. Each experiment module has ``SIZES`` (``smoke`` for tests, ``laptop`` for
the recorded run) and ``run(ex, size) -> dict`` (JSON-able); the result is recorded with
``Experiment.record`` as ``<results>/<name>.json``, and a module's optional ``plot(result, path)``
draws ``<results>/<name>.png``.
Errors print ``error: ...`` on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from .base import Experiment

EXPERIMENTS = ("collapse", "revival", "scale", "language", "looping", "applications")


def module(name: str):
    """The experiment module ``name`` (one of ``EXPERIMENTS``)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {EXPERIMENTS}, got {name!r}")
    return importlib.import_module(f"{__package__}.{name}")


def run(name: str, base, out, results, size: str = "laptop", device: str = "auto", quiet: bool = True,
        note: str = "") -> dict:
    """Run experiment ``name`` at ``size`` on the finished study ``base``; record and return its dict."""
    mod = module(name)
    if size not in mod.SIZES:
        raise ValueError(f"size must be one of {sorted(mod.SIZES)}, got {size!r}")
    ex = Experiment(name, base, out, device=device, quiet=quiet)
    result = {"size": size, "settings": mod.SIZES[size], **mod.run(ex, size)}
    ex.record(result, results, note)
    if hasattr(mod, "plot"):
        mod.plot(result, Path(results) / f"{name}.png")
    return result


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nlp_course.diffusion.seed002",
                                description="Seed 002's claims as controlled experiments on a finished study.")
    p.add_argument("experiment", choices=EXPERIMENTS)
    p.add_argument("--base", required=True, help="a finished study's --output-dir (e.g. runs/laptop)")
    p.add_argument("--output-dir", required=True, help="checkpoints and row folders go to OUTPUT_DIR/EXPERIMENT")
    p.add_argument("--results", required=True, help="where EXPERIMENT.json (and its figure) is written")
    p.add_argument("--size", default="laptop", help="smoke (seconds) or laptop (the recorded run)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--note", default="", help="a remark stored in the record (e.g. the CPU was shared)")
    p.add_argument("--progress", action="store_true", help="show training progress bars")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        res = run(args.experiment, args.base, args.output_dir, args.results, args.size, args.device,
                  not args.progress, args.note)
    except (ValueError, TypeError, FileNotFoundError, ImportError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.experiment}: recorded in {args.results} ({len(res)} keys)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
