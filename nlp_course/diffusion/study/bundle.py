"""The data bundle: everything the study's ``data`` stage makes, prepared on a CPU and carried to a GPU.

Taught in notebook 11.

A GPU machine lent for a few minutes has torch/transformers/safetensors but none of the offline
corpora (gensim's test data, chitchat, chatterbot). ``build_bundle`` runs the ``data`` stage's
recipe (``corpus.build_data``: prose -> tokenizer, the clean SFT/held-out split, packed pretraining
windows) here, for the asked preset and always for ``smoke`` (the GPU
command's 20-second check runs the same code on it), and writes per preset::

    <out>/<preset>/tokenizer/...          the WordPiece tokenizer (HF fast tokenizer files)
    <out>/<preset>/windows.safetensors    (N, max_length) packed pretraining ids
    <out>/<preset>/sft.safetensors        SFT + held-out examples, flattened (ids, target, offsets)
    <out>/<preset>/prompts.json           the held-out prompts (ids) the sample stage answers
    <out>/manifest.json                   sha256 + size of every file, each preset's data settings
                                          and the data stage's report (dedup counts, overlap = 0)

``load_bundle`` verifies every sha256 and that the preset's data settings still equal the ones the
bundle was built with (a stale bundle is an error, never silently used). all-MiniLM-L6-v2 (the
laptop preset's extra row, ~45 MB in fp16) does not fit the 40 MiB bundle: the GPU study has no
such row. Run: ``python -m nlp_course.diffusion.study.bundle --preset gpu --out .bundle``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..checkpoint import sha256_file
from . import corpus
from .presets import PRESETS, get_preset

FORMAT = 1
MAX_BYTES = 40 * 2**20
DATA_KEYS = ("seed", "text", "vocab_size", "sft_data", "num_examples", "held_out", "limit_per_source", "max_turns")


def data_settings(P: dict) -> dict:
    """The preset fields the data stage depends on (a bundle is valid for a preset iff these match)."""
    return {**{k: P[k] for k in DATA_KEYS}, "max_position_embeddings": P["model"]["max_position_embeddings"],
            "pretrain_max_length": P["pretrain"]["max_length"], "sft_max_length": P["sft"]["max_length"]}


def pack_examples(train: list[dict], held: list[dict]) -> dict[str, torch.Tensor]:
    """Examples as flat tensors: ``ids`` (int32), ``target`` (uint8), ``offsets`` (int64, n + 1), ``n_train``."""
    rows = train + held
    lengths = torch.tensor([len(ex["input_ids"]) for ex in rows], dtype=torch.int64)  # (n,)
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), lengths.cumsum(0)])  # (n + 1,)
    ids = torch.tensor([i for ex in rows for i in ex["input_ids"]], dtype=torch.int32)  # (sum lengths,)
    target = torch.tensor([bool(t) for ex in rows for t in ex["target"]], dtype=torch.uint8)  # (sum lengths,)
    return {"ids": ids, "target": target, "offsets": offsets, "n_train": torch.tensor([len(train)])}


def unpack_examples(tensors: dict[str, torch.Tensor]) -> tuple[list[dict], list[dict]]:
    """Inverse of ``pack_examples``: ``(train, held)`` lists of ``{"input_ids", "target"}``."""
    ids, target, offsets = tensors["ids"].tolist(), tensors["target"].tolist(), tensors["offsets"].tolist()
    rows = [{"input_ids": ids[a:b], "target": [bool(t) for t in target[a:b]]} for a, b in zip(offsets, offsets[1:])]
    n_train = int(tensors["n_train"][0])
    return rows[:n_train], rows[n_train:]


def _build_preset(name: str, folder: Path) -> dict:
    P = get_preset(name)
    t0 = time.perf_counter()
    d = corpus.build_data(P)
    d["tokenizer"].save_pretrained(str(folder / "tokenizer"))
    save_file({"windows": d["windows"].contiguous()}, str(folder / "windows.safetensors"))
    split = d["split"]
    save_file(pack_examples(split.train, split.held), str(folder / "sft.safetensors"))
    prompts = [ex["input_ids"][: ex["target"].index(True)] for ex in split.held]
    (folder / "prompts.json").write_text(json.dumps(prompts), encoding="utf-8")
    return {"settings": data_settings(P), "report": d["report"], "build_s": round(time.perf_counter() - t0, 2)}


def build_bundle(preset: str, out, max_bytes: int = MAX_BYTES) -> dict:
    """Build the bundle for ``preset`` (and ``smoke``) in ``out`` (replaced); return its manifest."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; available: {', '.join(sorted(PRESETS))}")
    out = Path(out)
    if out.exists():
        if not (out / "manifest.json").is_file():
            raise ValueError(f"--out {str(out)!r} exists and is not a bundle: refusing to replace it")
        shutil.rmtree(out)
    presets = {}
    for name in dict.fromkeys(["smoke", preset]):
        folder = out / name
        folder.mkdir(parents=True)
        presets[name] = _build_preset(name, folder)
    files = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        files[path.relative_to(out).as_posix()] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    total = sum(f["bytes"] for f in files.values())
    if total > max_bytes:
        raise ValueError(f"the bundle is {total / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB limit")
    manifest = {"format": FORMAT, "presets": presets, "files": files, "total_bytes": total}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    return manifest


def load_bundle(bundle, preset: str, P: dict | None = None) -> dict:
    """Verify ``bundle`` (every sha256, the data settings of ``P``, default the preset's) and return
    ``{"folder", "report"}``."""
    bundle = Path(bundle)
    mf = bundle / "manifest.json"
    if not mf.is_file():
        raise FileNotFoundError(f"bundle {str(bundle)!r} has no manifest.json: build it with "
                                f"python -m nlp_course.diffusion.study.bundle --preset {preset} --out {bundle}")
    manifest = json.loads(mf.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise ValueError(f"bundle {str(bundle)!r} has format {manifest.get('format')!r}, expected {FORMAT}")
    if preset not in manifest["presets"]:
        raise ValueError(f"bundle {str(bundle)!r} holds presets {sorted(manifest['presets'])}, not {preset!r}")
    expected = json.loads(json.dumps(data_settings(P or get_preset(preset))))  # JSON round trip: tuples -> lists
    if manifest["presets"][preset]["settings"] != expected:
        raise ValueError(f"bundle {str(bundle)!r} was built for other {preset!r} data settings: rebuild it")
    for rel, info in manifest["files"].items():
        path = bundle / rel
        if not path.is_file() or sha256_file(path) != info["sha256"]:
            raise ValueError(f"bundle file {rel!r} is missing or its sha256 differs from the manifest")
    return {"folder": bundle / preset, "report": manifest["presets"][preset]["report"]}


def install(bundle, preset: str, data_folder: Path, P: dict | None = None) -> dict:
    """Fill a study's ``data`` folder from a verified bundle; return the data stage's report."""
    b = load_bundle(bundle, preset, P)
    src = b["folder"]
    shutil.copytree(src / "tokenizer", data_folder / "tokenizer", dirs_exist_ok=True)
    shutil.copyfile(src / "windows.safetensors", data_folder / "windows.safetensors")
    train, held = unpack_examples(load_file(str(src / "sft.safetensors")))
    (data_folder / "sft.json").write_text(json.dumps({"train": train, "held": held}), encoding="utf-8")
    return {**b["report"], "bundle": str(bundle)}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nlp_course.diffusion.study.bundle",
                                description="Prepare on a CPU the data a study preset reads (tokenizer, packed "
                                            "windows, clean SFT/held-out split, prompts), with a sha256 manifest.")
    p.add_argument("--preset", required=True, choices=sorted(PRESETS))
    p.add_argument("--out", required=True, help="bundle folder (replaced if it is a bundle)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    t0 = time.perf_counter()
    try:
        manifest = build_bundle(args.preset, args.out)
    except (ValueError, TypeError, OSError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"out": args.out, "mib": round(manifest["total_bytes"] / 2**20, 2),
                      "build_s": round(time.perf_counter() - t0, 1),
                      "presets": {k: v["report"]["pretrain_tokens"] for k, v in manifest["presets"].items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
