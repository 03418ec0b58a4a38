"""Atomic, verified, exactly resumable training checkpoints in safetensors.

Taught in notebook 11.

A checkpoint is a folder ``checkpoint-<step>/`` holding

- ``model.safetensors`` -- the weights (``safetensors.torch.save_model`` handles tied embeddings);
- ``optimizer.safetensors`` -- every tensor of the optimizer state (AdamW moments, step counts)
  and the RNG states (torch CPU, CUDA, NumPy as tensors);
- ``state.json`` -- the step, the run id, the optimizer's param groups, the LR scheduler's state,
  Python's ``random`` state and free-form metadata (config, base model name, running losses);
- ``manifest.json`` -- the size and sha256 of the three files above, written last.

Crash safety (each rule is a fault-injection test in ``tests/test_checkpoint.py``):

- Write, then publish: the files go to ``checkpoint-<step>.tmp/``, each is ``fsync``-ed, then the
  folder is renamed into place and the ``latest`` pointer file is replaced (``os.replace``, the
  folder fsync-ed), so a kill at any moment leaves the old or the new checkpoint, never a torn one.
- Re-saving a step swaps: the old ``checkpoint-<step>`` is renamed to ``checkpoint-<step>.old``,
  the new one renamed in, and only then is the old one deleted. A folder is deleted by renaming it
  to ``*.tmp`` first, so a kill half-way through a deletion leaves no torn ``checkpoint-*`` folder.
- Runs own their checkpoints: each records a ``run_id``; pruning (``keep``) deletes only older
  checkpoints *of the same run*. A trainer that starts afresh in a folder that holds checkpoints
  calls ``set_aside`` first, which moves them (and ``latest``) into ``superseded/<run id>/``:
  nothing is deleted, and every ``checkpoint-*`` left in the folder belongs to one run.
- Loading verifies every file against the manifest and raises ``CheckpointError`` naming the file
  (flipped bytes, truncation). ``latest_checkpoint`` follows the pointer; a broken pointer (empty,
  garbage, dangling, or naming an incomplete folder) falls back to the newest checkpoint that
  verifies, with a warning, or raises naming what it found -- it never silently means "step 0".

Restoring all of it makes a resumed run bit-identical to an uninterrupted one. Checkpoints written
before manifests existed still load, with a warning. References: the write-fsync-rename protocol of Pillai et al. 2014, "All File Systems Are Not
Created Equal" (OSDI); ``safetensors`` (https://huggingface.co/docs/safetensors).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import uuid
import warnings
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, load_model, save_file, save_model

FILES = ("model.safetensors", "optimizer.safetensors", "state.json")
MANIFEST = "manifest.json"
_NAME = re.compile(r"checkpoint-(\d+)(\.old)?")


class CheckpointError(ValueError):
    """A checkpoint (or the ``latest`` pointer) is damaged; the message names the file."""


def new_run_id() -> str:
    """A fresh random id for one training run (recorded in every checkpoint it writes)."""
    return uuid.uuid4().hex[:12]


def _rng_state() -> tuple[dict, dict]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(keys.astype(np.int64))
    meta = {"python": random.getstate(), "numpy": [kind, int(pos), int(has_gauss), float(gauss)]}
    return tensors, meta


def _set_rng_state(tensors: dict, meta: dict) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    kind, pos, has_gauss, gauss = meta["numpy"]
    np.random.set_state((kind, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, state, gauss_next = meta["python"]
    random.setstate((version, tuple(state), gauss_next))


def _optimizer_split(optimizer) -> tuple[dict, dict]:
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"state.{idx}.{key}"] = val.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{key}"] = val
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_join(tensors: dict, meta: dict, device) -> dict:
    state: dict = {}
    for name, val in tensors.items():
        if name.startswith("state."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = val.to(device) if val.dim() else val
    for name, val in meta["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = val
    return {"state": state, "param_groups": meta["param_groups"]}


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries, on POSIX) to disk."""
    if path.is_dir() and os.name == "nt":
        return  # Windows cannot open folders; its renames are journaled
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (checkpoint and bundle manifests)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _publish_pointer(out_dir: Path, name: str) -> None:
    tmp = out_dir / "latest.tmp"
    tmp.write_text(name, encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, out_dir / "latest")
    _fsync(out_dir)


def _step_of(path: Path) -> int:
    return int(_NAME.fullmatch(path.name).group(1))


def _checkpoints(out_dir: Path) -> list[Path]:
    """``checkpoint-<step>`` (and ``.old``) folders, newest first; at one step the new before the old."""
    found = [p for p in out_dir.glob("checkpoint-*") if p.is_dir() and _NAME.fullmatch(p.name)]
    return sorted(found, key=lambda p: (_step_of(p), not p.name.endswith(".old")), reverse=True)


def _run_id_of(path: Path) -> str | None:
    try:
        return json.loads((path / MANIFEST).read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError):
        return None


def save_checkpoint(out_dir, step: int, model, optimizer=None, scheduler=None,
                    meta: dict | None = None, keep: int = 2, *, run_id: str | None = None) -> Path:
    """Write ``out_dir/checkpoint-<step>`` atomically and point ``out_dir/latest`` at it.

    Afterwards only the ``keep`` newest checkpoints of run ``run_id`` (this one included) remain
    among that run's; checkpoints of other runs are never touched. ``meta`` must be JSON
    (non-finite floats are refused).
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"keep must be an int >= 1, got {keep!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"checkpoint-{step:07d}"
    tmp, aside = final.with_name(final.name + ".tmp"), final.with_name(final.name + ".old")
    tensors, rng_meta = _rng_state()
    state = {"step": step, "run_id": run_id, "rng": rng_meta, "meta": meta or {}}
    if optimizer is not None:
        opt_tensors, state["optimizer"] = _optimizer_split(optimizer)
        tensors.update(opt_tensors)
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    try:
        state_text = json.dumps(state, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"meta must be JSON without NaN/Infinity: {e}") from None
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(model, str(tmp / "model.safetensors"))
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    (tmp / "state.json").write_text(state_text, encoding="utf-8")
    files = {name: {"bytes": (tmp / name).stat().st_size, "sha256": sha256_file(tmp / name)} for name in FILES}
    (tmp / MANIFEST).write_text(json.dumps({"step": step, "run_id": run_id, "files": files}), encoding="utf-8")
    for name in (*FILES, MANIFEST, "."):
        _fsync(tmp / name)  # every file, then the folder's entries
    if final.exists():  # re-saving a step: swap, so a complete copy exists at every moment
        shutil.rmtree(aside, ignore_errors=True)
        os.replace(final, aside)
    os.replace(tmp, final)
    _fsync(out_dir)
    _publish_pointer(out_dir, final.name)
    if aside.exists():
        _discard(aside)
    ours = [p for p in _checkpoints(out_dir) if _step_of(p) < step and _run_id_of(p) == run_id]
    kept = [p for p in ours if not p.name.endswith(".old")][: keep - 1]
    for p in [p for p in ours if p not in kept] + list(out_dir.glob("checkpoint-*.tmp")):
        _discard(p)  # older checkpoints of this run, leftovers of killed saves
    return final


def _discard(path: Path) -> None:
    """Delete a folder by renaming it to ``*.tmp`` first: a kill half-way through leaves no torn
    ``checkpoint-*`` folder, only a ``.tmp`` leftover that the next save removes."""
    if not path.name.endswith(".tmp"):
        doomed = path.with_name(path.name + ".tmp")
        shutil.rmtree(doomed, ignore_errors=True)
        os.replace(path, doomed)
        path = doomed
    shutil.rmtree(path, ignore_errors=True)


def set_aside(out_dir, run_id: str) -> Path | None:
    """Move ``out_dir``'s checkpoints and ``latest`` into ``out_dir/superseded/<run_id>/``.

    A run that starts afresh (``train(resume=False)``) calls this so an earlier run's checkpoints
    can neither be resumed by mistake nor pruned: they are kept, out of the way. Returns the
    folder they went to, or None when there was nothing to move.
    """
    out_dir = Path(out_dir)
    old = [p for p in out_dir.glob("checkpoint-*") if p.is_dir()] + [p for p in [out_dir / "latest"] if p.exists()]
    if not old:
        return None
    dest = out_dir / "superseded" / run_id
    dest.mkdir(parents=True, exist_ok=True)
    for p in old:
        os.replace(p, dest / p.name)
    _fsync(out_dir)
    return dest


def verify_checkpoint(path) -> dict:
    """Check every file of checkpoint ``path`` against its manifest; return the manifest.

    Raises ``CheckpointError`` naming the first file that is missing, truncated or altered.
    """
    path = Path(path)
    manifest_path = path / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except FileNotFoundError:
        raise CheckpointError(f"{manifest_path} is missing: {path.name} is incomplete") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{manifest_path} is unreadable ({type(e).__name__}: {e})") from None
    for name in FILES:
        file = path / name
        if name not in files:
            raise CheckpointError(f"{manifest_path} does not list {name}")
        if not file.is_file():
            raise CheckpointError(f"{file} is missing")
        size, want = file.stat().st_size, files[name]["bytes"]
        if size != want:
            raise CheckpointError(f"{file} has {size} bytes, the manifest says {want} (truncated or overwritten)")
        if sha256_file(file) != files[name]["sha256"]:
            raise CheckpointError(f"{file} does not match its sha256 in the manifest (corrupted bytes)")
    return manifest


def _pointer_problem(out_dir: Path) -> tuple[Path | None, str]:
    """(the checkpoint ``latest`` names, "") when it names a complete folder, else (None, why)."""
    pointer = out_dir / "latest"
    if not pointer.is_file():
        return None, f"{pointer} is missing"
    name = pointer.read_text(encoding="utf-8", errors="replace").strip()
    if not _NAME.fullmatch(name) or name.endswith(".old"):
        return None, f"{pointer} holds {name[:80]!r}, not a checkpoint-<step> name"
    target = out_dir / name
    if not target.is_dir():
        return None, f"{pointer} names {name}, which does not exist"
    missing = [f for f in FILES if not (target / f).is_file()]
    if missing:
        return None, f"{pointer} names {name}, which lacks {missing}"
    return target, ""


def latest_checkpoint(out_dir) -> Path | None:
    """The checkpoint to resume from in ``out_dir``, or None when it holds none yet.

    Normally the folder ``out_dir/latest`` names (``load_checkpoint`` verifies its bytes). If the
    pointer is broken, warns and returns the newest checkpoint that verifies; if none does, raises
    ``CheckpointError`` listing what it found.
    """
    out_dir = Path(out_dir)
    found = _checkpoints(out_dir)
    if not found and not (out_dir / "latest").exists():
        return None
    target, problem = _pointer_problem(out_dir)
    if target is not None:
        return target
    failures = []
    for candidate in found:
        try:
            verify_checkpoint(candidate)
        except CheckpointError as e:
            failures.append(str(e))
            continue
        warnings.warn(f"{problem}; resuming from {candidate}, the newest intact checkpoint", stacklevel=2)
        return candidate
    raise CheckpointError(f"{problem}, and {out_dir} holds no intact checkpoint to fall back to"
                          + (f": {'; '.join(failures)}" if failures else "")
                          + " (to start afresh, train with resume=False: they are moved aside, not deleted)")


def _read(path: Path, reader):
    """``reader(path)``, with a damaged file reported by name."""
    try:
        return reader(path)
    except (OSError, ValueError, SafetensorError) as e:
        raise CheckpointError(f"cannot read {path}: {type(e).__name__}: {e}") from None


def read_state(path) -> dict:
    """``state.json`` of checkpoint ``path`` (step, run id, meta...), after verifying the whole folder."""
    path = Path(path)
    if not (path / "state.json").is_file():
        raise FileNotFoundError(f"{str(path)!r} is not a checkpoint folder (no state.json)")
    if (path / MANIFEST).exists():
        verify_checkpoint(path)
    else:
        warnings.warn(f"{path} has no {MANIFEST} (written by an older version): loading it unverified",
                      stacklevel=3)
    return _read(path / "state.json", lambda p: json.loads(p.read_text(encoding="utf-8")))


def load_checkpoint(path, model, optimizer=None, scheduler=None, restore_rng: bool = True, *,
                    state: dict | None = None) -> dict:
    """Verify, then restore weights (and optimizer, scheduler, RNG when given); return ``state.json``.

    ``state``: what ``read_state(path)`` returned, when the caller has already read (and verified) it.
    """
    path = Path(path)
    state = read_state(path) if state is None else state
    try:
        missing, unexpected = _read(path / "model.safetensors", lambda p: load_model(model, str(p), strict=False))
    except RuntimeError as e:  # shapes differ: another model's checkpoint
        raise ValueError(f"{path / 'model.safetensors'} does not match the model: {e}") from None
    if unexpected or any("position_ids" not in m for m in missing):
        raise ValueError(f"checkpoint does not match the model: missing {missing}, unexpected {unexpected}")
    tensors = _read(path / "optimizer.safetensors", lambda p: load_file(str(p)))
    if optimizer is not None and "optimizer" in state:
        device = next(model.parameters()).device
        optimizer.load_state_dict(_optimizer_join(tensors, state["optimizer"], device))
    if scheduler is not None and "scheduler" in state:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        _set_rng_state(tensors, state["rng"])
    return state
