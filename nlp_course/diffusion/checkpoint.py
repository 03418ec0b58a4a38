"""Atomic, exactly resumable training checkpoints in safetensors.

Taught in notebook 11.

A checkpoint is a folder ``checkpoint-<step>/`` holding

- ``model.safetensors`` -- the weights (``safetensors.torch.save_model`` handles tied embeddings);
- ``optimizer.safetensors`` -- every tensor of the optimizer state (AdamW moments, step counts)
  and the RNG states (torch CPU, CUDA, NumPy as tensors);
- ``state.json`` -- the step, the optimizer's param groups, the LR scheduler's state, Python's
  ``random`` state and free-form metadata (config, base model name).

It is written to ``checkpoint-<step>.tmp/`` first and renamed in one ``os.replace``, and the
``latest`` pointer file is replaced atomically last, so a run killed at any moment leaves either the
old or the new checkpoint -- never a torn one. Restoring all of it (weights, moments, schedule,
RNG) makes a resumed run bit-identical to an uninterrupted one (tested to 1e-4 on CPU).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model


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


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save_checkpoint(out_dir, step: int, model, optimizer=None, scheduler=None,
                    meta: dict | None = None, keep: int = 2) -> Path:
    """Write ``out_dir/checkpoint-<step>`` atomically and point ``out_dir/latest`` at it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"checkpoint-{step:07d}"
    tmp = out_dir / f"checkpoint-{step:07d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(model, str(tmp / "model.safetensors"))
    tensors, rng_meta = _rng_state()
    state = {"step": int(step), "rng": rng_meta, "meta": meta or {}}
    if optimizer is not None:
        opt_tensors, state["optimizer"] = _optimizer_split(optimizer)
        tensors.update(opt_tensors)
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _write_text(out_dir / "latest", final.name)
    old = sorted(p for p in out_dir.glob("checkpoint-*") if p.is_dir() and not p.name.endswith(".tmp"))
    for p in old[: max(0, len(old) - keep)]:
        shutil.rmtree(p, ignore_errors=True)
    return final


def latest_checkpoint(out_dir) -> Path | None:
    """The folder ``out_dir/latest`` points at, or None when there is none yet."""
    pointer = Path(out_dir) / "latest"
    if not pointer.is_file():
        return None
    path = Path(out_dir) / pointer.read_text(encoding="utf-8").strip()
    return path if (path / "state.json").is_file() else None


def load_checkpoint(path, model, optimizer=None, scheduler=None, restore_rng: bool = True) -> dict:
    """Restore weights (and optimizer, scheduler, RNG when given); return ``state.json``'s dict."""
    path = Path(path)
    if not (path / "state.json").is_file():
        raise FileNotFoundError(f"{str(path)!r} is not a checkpoint folder (no state.json)")
    state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    missing, unexpected = load_model(model, str(path / "model.safetensors"), strict=False)
    if unexpected or any("position_ids" not in m for m in missing):
        raise ValueError(f"checkpoint does not match the model: missing {missing}, unexpected {unexpected}")
    tensors = load_file(str(path / "optimizer.safetensors"))
    if optimizer is not None and "optimizer" in state:
        device = next(model.parameters()).device
        optimizer.load_state_dict(_optimizer_join(tensors, state["optimizer"], device))
    if scheduler is not None and "scheduler" in state:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        _set_rng_state(tensors, state["rng"])
    return state
