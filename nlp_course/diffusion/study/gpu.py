"""The GPU run in one command: smoke check, the budgeted study, both benchmarks, <= 8 small files back.

Taught in notebook 11 (the GPU part)::

    python -m nlp_course.diffusion.study.bundle --preset gpu --out .bundle     # on a CPU, once
    python -m nlp_course.diffusion.study.gpu OUTDIR --bundle .bundle          # on the GPU machine

A lent GPU gives minutes, not hours, and brings back at most 8 files of <= 16 MiB. So the command

1. runs the ``smoke`` preset of the *same* entry point for ~20 s first (``--smoke-budget``) and
   stops at the first error, so a broken run costs seconds, not the budget;
2. runs the study (``--preset``, default ``gpu``, ``--time-budget`` seconds) with every stage on its
   share of the budget, reading only the data bundle (no corpus package is imported);
3. runs the train benchmark (ours vs a fairly configured ``Trainer`` on the bundle's SFT examples)
   and the sample benchmark (the study's trained model vs its causal twin's ``generate``);
4. writes into ``OUTDIR`` the study's ``study.json``, ``samples.jsonl``, ``loss.png``,
   ``sweeps.png``, the two bench outputs and -- only if they fit the 8-file / 16 MiB limits -- the
   pretrained course BERT in fp16 safetensors shards (config and tokenizer in the first shard's
   metadata; ``load_bert_shards`` reads them on a CPU); ``gpu_run.json`` is NOT written: the wall
   times are in ``study.json`` and the table printed last.

Working folders (checkpoints, stage markers) go to ``--work`` (default: a folder beside OUTDIR),
so a second try resumes the study where the first one stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import time
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .presets import PRESETS
from .report import main_summary
from .runner import open_study, run_study

MAX_FILES = 8
MAX_FILE_BYTES = 16 * 2**20
BENCH_FILES = ("bench_diffusion_train.txt", "bench_diffusion_sample.txt")


def _bench(module, argv: list[str], path: Path) -> float:
    """Run a bench's ``main(argv)``, its printout into ``path``; return the wall seconds."""
    t0 = time.perf_counter()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        module.main(argv)
    path.write_text(f"$ python -m {module.__name__} {' '.join(argv)}\n" + buf.getvalue(), encoding="utf-8")
    print(buf.getvalue(), flush=True)
    return time.perf_counter() - t0


TIED = ("cls.decoder.weight",)  # the MLM decoder IS the word-embedding matrix: stored once
SHARD_BUDGET = MAX_FILE_BYTES - 2 * 2**20  # room for the header (config + tokenizer in shard 1)


def pack_shards(sizes: dict[str, int], budget: int = SHARD_BUDGET) -> list[list[str]]:
    """Tensor names per shard, in order, each shard at most ``budget`` bytes (greedy); a tensor
    larger than ``budget`` raises, since no shard could hold it."""
    shards, cur, size = [], [], 0
    for name, n in sizes.items():
        if n > budget:
            raise ValueError(f"tensor {name!r} is {n / 2**20:.1f} MiB, over the {budget / 2**20:.1f} MiB shard budget")
        if cur and size + n > budget:
            shards.append(cur)
            cur, size = [], 0
        cur.append(name)
        size += n
    return shards + [cur] if cur else shards


def export_bert_shards(work: Path, out: Path, files_left: int) -> dict:
    """The pretrained course BERT as fp16 safetensors shards of <= 16 MiB in ``out``, if at most
    ``files_left`` shards hold it; else nothing is written and the reason is returned."""
    from . import corpus, pretrain

    study = open_study(work, device="cpu")
    bert = pretrain.models(study)["mlm"]
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in bert.state_dict().items() if k not in TIED}
    total = sum(v.numel() * v.element_size() for v in state.values())
    try:
        plan = pack_shards({k: v.numel() * v.element_size() for k, v in state.items()})
    except ValueError as e:  # the study's results are already written: report, don't raise
        return {"written": False, "mib": round(total / 2**20, 1), "reason": str(e)}
    if len(plan) > files_left:
        return {"written": False, "mib": round(total / 2**20, 1), "shards_needed": len(plan),
                "reason": f"{total / 2**20:.1f} MiB in fp16 needs {len(plan)} shards of <= 16 MiB; "
                          f"only {files_left} of the {MAX_FILES} files are left"}
    shards = [{k: state[k] for k in names} for names in plan]
    tok = corpus.load(study)["tokenizer"]
    meta = {"model": json.dumps(study.P["model"]), "preset": study.preset,
            "tokenizer": tok.backend_tokenizer.to_str(), "specials": json.dumps(tok.special_tokens_map)}
    names = []
    for i, shard in enumerate(shards):
        name = f"course_bert_fp16-{i + 1:02d}-of-{len(shards):02d}.safetensors"
        save_file(shard, str(out / name), metadata=meta if i == 0 else {"preset": study.preset})
        names.append(name)
    return {"written": True, "mib": round(total / 2**20, 1), "files": names}


def load_bert_shards(folder) -> tuple:
    """``(bert, tokenizer)`` from ``export_bert_shards``' files in ``folder`` (fp32 on the CPU)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    from .pretrain import new_bert

    files = sorted(Path(folder).glob("course_bert_fp16-*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{str(folder)!r} holds no course_bert_fp16-*.safetensors shards")
    state = {}
    for f in files:
        with safe_open(str(f), "pt") as s:
            if f == files[0]:
                meta = s.metadata()
            state.update({k: s.get_tensor(k).float() for k in s.keys()})
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(meta["tokenizer"]),
                                  **json.loads(meta["specials"]))
    bert = new_bert(tok, json.loads(meta["model"]), seed=0)
    missing, unexpected = bert.load_state_dict(state, strict=False)
    if unexpected or set(missing) - set(TIED):  # the tied decoder comes with the word embeddings
        raise ValueError(f"{str(folder)!r}: shards do not match the model (missing {missing}, unexpected {unexpected})")
    return bert.eval(), tok


def check_outputs(out: Path) -> list[str]:
    """Problems with ``out`` against the limits (more than 8 files, a file over 16 MiB, a folder)."""
    entries = list(out.iterdir())
    bad = [f"{p.name} is not a file" for p in entries if not p.is_file()]
    bad += [f"{p.name} is {p.stat().st_size / 2**20:.1f} MiB" for p in entries
            if p.is_file() and p.stat().st_size > MAX_FILE_BYTES]
    if len(entries) > MAX_FILES:
        bad.append(f"{len(entries)} files (limit {MAX_FILES})")
    return bad


def run_gpu(out, bundle, preset: str = "gpu", time_budget: float | None = None, smoke_budget: float = 20.0,
            work=None, device: str = "auto", benches: bool = True, bench_steps: int = 30) -> dict:
    """Smoke check, study, benches, weights; return the summary (also printed as a table)."""
    from nlp_course.bench import diffusion_sample, diffusion_train

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"OUTDIR {str(out)!r} is not empty: the limits count every file in it")
    out.mkdir(parents=True, exist_ok=True)
    work = Path(work) if work is not None else out.parent / f"{out.name}-work"
    summary: dict = {"preset": preset, "stages": {}}
    t0 = time.perf_counter()
    if smoke_budget > 0:
        shutil.rmtree(work / "smoke-check", ignore_errors=True)  # the check always runs afresh
        run_study("smoke", work / "smoke-check", smoke_budget, device, work / "smoke-check" / "results",
                  quiet=True, bundle=bundle)
        summary["stages"]["smoke check"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    report = run_study(preset, work / preset, time_budget, device, out, bundle=bundle,
                       note=f"python -m nlp_course.diffusion.study.gpu (bundle {bundle})")
    summary["stages"]["study"] = time.perf_counter() - t1
    summary["budget_s"] = report["time_budget_s"]
    if benches:
        study_dir = str(work / preset)
        summary["stages"]["train bench"] = _bench(diffusion_train, [
            "--size", "base" if torch.cuda.is_available() else "tiny", "--bundle", str(bundle), "--bundle-preset", preset,
            "--steps", str(bench_steps), "--warmup", "5"] + (["--compile"] if torch.cuda.is_available() else []),
            out / BENCH_FILES[0])
        summary["stages"]["sample bench"] = _bench(diffusion_sample, [
            "--run", study_dir, "--batch", "32" if torch.cuda.is_available() else "4",
            "--gen-length", "128" if torch.cuda.is_available() else "16",
            "--block-length", "32" if torch.cuda.is_available() else "8",
            "--quality-prompts", "32" if torch.cuda.is_available() else "4", "--repeats", "1"],
            out / BENCH_FILES[1])
    summary["weights"] = export_bert_shards(work / preset, out, MAX_FILES - len(list(out.iterdir())))
    summary["total_s"] = time.perf_counter() - t0
    summary["problems"] = check_outputs(out)
    print(table(summary, report))
    return summary


def table(summary: dict, report: dict) -> str:
    """The short table printed last: wall time per part, hardware, the headline numbers."""
    lines = [f"GPU command: preset {summary['preset']} on {report.get('hardware', {}).get('name', '?')}"]
    lines += [f"  {k:14s} {v:8.1f} s" for k, v in summary["stages"].items()]
    lines.append(f"  {'total':14s} {summary['total_s']:8.1f} s")
    w = summary["weights"]
    lines.append(f"  weights: {', '.join(w['files']) if w['written'] else 'not written -- ' + w['reason']}")
    lines.append(f"  study budget {summary['budget_s']:.0f} s, study wall {summary['stages']['study']:.1f} s")
    lines += ["  " + line for line in main_summary(report).splitlines()]
    lines.append("  output limits: " + ("ok" if not summary["problems"] else "; ".join(summary["problems"])))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nlp_course.diffusion.study.gpu",
                                description="Smoke check, the budgeted study, both benches; <= 8 files in OUTDIR.")
    p.add_argument("outdir", help="an empty (or new) folder for the <= 8 result files")
    p.add_argument("--bundle", required=True, help="the data bundle (python -m nlp_course.diffusion.study.bundle)")
    p.add_argument("--preset", default="gpu", choices=sorted(PRESETS))
    p.add_argument("--time-budget", type=float, help="seconds for the study (default: the preset's)")
    p.add_argument("--smoke-budget", type=float, default=20.0, help="seconds for the smoke check (0: skip)")
    p.add_argument("--work", help="checkpoints and stage folders (default: OUTDIR-work beside OUTDIR)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--no-bench", action="store_true", help="skip both benchmarks")
    p.add_argument("--bench-steps", type=int, default=30, help="timed steps of the train bench")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = run_gpu(args.outdir, args.bundle, args.preset, args.time_budget, args.smoke_budget, args.work,
                          args.device, not args.no_bench, args.bench_steps)
    except (ValueError, TypeError, FileNotFoundError, ImportError, OSError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
