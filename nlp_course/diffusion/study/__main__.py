"""``python -m nlp_course.diffusion.study --preset {smoke,laptop,gpu} --output-dir DIR``.

Taught in notebook 11. Errors print ``error: ...`` on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from .presets import PRESETS
from .report import main_summary
from .runner import STAGES, run_study


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m nlp_course.diffusion.study",
        description="Chapter 11's study: pretrain a BERT and a causal twin, SFT four rows, evaluate, sample, "
                    "sweep, and record study.json (resumable: run the same command again to continue).",
        epilog="presets -- " + "; ".join(f"{k}: {v['help']}" for k, v in PRESETS.items()))
    p.add_argument("--preset", required=True, choices=sorted(PRESETS), help="sizes, data and stage shares")
    p.add_argument("--output-dir", required=True, help="stage folders, checkpoints and progress.jsonl")
    p.add_argument("--time-budget", type=float, help="seconds for the whole run (default: the preset's)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: CUDA if present")
    p.add_argument("--results", help="where study.json, samples.jsonl and figures go (default OUTPUT_DIR/results)")
    p.add_argument("--until", choices=STAGES[:-1], help="stop after this stage (run again without it to continue)")
    p.add_argument("--seed", type=int, help="random seed (default: the preset's)")
    p.add_argument("--note", default="", help="a remark stored in study.json (e.g. the CPU was shared)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or console log")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = run_study(args.preset, args.output_dir, args.time_budget, args.device, args.results, args.until,
                           args.quiet, args.seed, args.note)
    except (ValueError, TypeError, FileNotFoundError, ImportError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if report and not args.quiet:
        print(main_summary(report))
        print(json.dumps({"results": str(args.results or f"{args.output_dir}/results"),
                          "elapsed_s": report["elapsed_s"], "hardware": report["hardware"]["name"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
