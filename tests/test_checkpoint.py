"""Checkpoints under faults: kills inside save_checkpoint, corrupted bytes, broken pointers, stale runs.

Every test uses a 2-layer MLP with AdamW and a cosine schedule (milliseconds per save); the
trainers' end-to-end resume guarantees are in test_diffusion_train.py and test_pretrain.py.
"""

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from transformers import get_cosine_schedule_with_warmup

from nlp_course.diffusion import checkpoint
from nlp_course.diffusion.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    set_aside,
    verify_checkpoint,
)


@pytest.fixture(autouse=True)
def no_disk_flush(monkeypatch):
    """os.fsync guards against power loss, which no test simulates (kills are): skip its ~70 ms/save."""
    monkeypatch.setattr(checkpoint.os, "fsync", lambda fd: None)


def _setup(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    return model, opt, get_cosine_schedule_with_warmup(opt, 2, 20)


def _step(model, opt, sched):
    opt.zero_grad()
    model(torch.randn(3, 4)).pow(2).sum().backward()
    opt.step()
    sched.step()


def _weights(model):
    return [p.detach().clone() for p in model.parameters()]


def _save(out, step, model, opt, sched, run_id="run-a", keep=2):
    return save_checkpoint(out, step, model, opt, sched, {"note": step}, keep, run_id=run_id)


def test_roundtrip_restores_everything_and_manifest_holds_sha256(tmp_path):
    model, opt, sched = _setup()
    for _ in range(3):
        _step(model, opt, sched)
    path = _save(tmp_path, 3, model, opt, sched)
    torch.manual_seed(7)
    expected_next = torch.rand(3)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["run_id"] == "run-a" and manifest["step"] == 3
    for name in ("model.safetensors", "optimizer.safetensors", "state.json"):
        assert manifest["files"][name]["sha256"] == hashlib.sha256((path / name).read_bytes()).hexdigest()
    m2, o2, s2 = _setup(seed=1)
    torch.manual_seed(7)  # load must restore the RNG the save saw, not this one
    torch.rand(5)
    state = load_checkpoint(path, m2, o2, s2)
    assert state["step"] == 3 and state["run_id"] == "run-a" and state["meta"] == {"note": 3}
    assert s2.last_epoch == 3 and o2.state_dict()["state"][0]["step"] == 3
    for a, b in zip(model.parameters(), m2.parameters()):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    torch.manual_seed(7)
    torch.testing.assert_close(torch.rand(3), expected_next)


def test_pruning_keeps_only_this_runs_older_checkpoints(tmp_path):
    """The issue's case: a new run into a folder holding checkpoints 30 and 40 of an earlier run."""
    model, opt, sched = _setup()
    for step in (30, 40):
        _save(tmp_path, step, model, opt, sched, run_id="earlier")
    for step in (10, 20, 25):
        _save(tmp_path, step, model, opt, sched, run_id="now")
        assert latest_checkpoint(tmp_path).name == f"checkpoint-{step:07d}"
    names = sorted(p.name for p in tmp_path.glob("checkpoint-*"))
    assert names == ["checkpoint-0000020", "checkpoint-0000025", "checkpoint-0000030", "checkpoint-0000040"]
    _save(tmp_path, 50, model, opt, sched, run_id="earlier", keep=1)  # the earlier run: prunes only its own
    names = sorted(p.name for p in tmp_path.glob("checkpoint-*"))
    assert names == ["checkpoint-0000020", "checkpoint-0000025", "checkpoint-0000050"]


def test_set_aside_moves_an_earlier_run_out_of_the_way(tmp_path):
    model, opt, sched = _setup()
    for step in (30, 40):
        _save(tmp_path, step, model, opt, sched, run_id="earlier")
    moved = set_aside(tmp_path, "now")
    assert moved == tmp_path / "superseded" / "now"
    assert sorted(p.name for p in moved.iterdir()) == ["checkpoint-0000030", "checkpoint-0000040", "latest"]
    assert latest_checkpoint(tmp_path) is None and set_aside(tmp_path, "again") is None
    verify_checkpoint(moved / "checkpoint-0000040")  # kept intact


@pytest.mark.parametrize("pointer", ["", "   \n", "garbage\x00\xff", "checkpoint-0000099", "checkpoint-0000002.old",
                                     None, "incomplete"])
def test_broken_pointer_falls_back_to_newest_intact_with_a_warning(tmp_path, pointer):
    model, opt, sched = _setup()
    _save(tmp_path, 1, model, opt, sched)
    _step(model, opt, sched)
    _save(tmp_path, 2, model, opt, sched)
    want = _weights(model)
    if pointer is None:
        (tmp_path / "latest").unlink()
    elif pointer == "incomplete":  # names a folder whose files are gone: the previous one must serve
        (tmp_path / "checkpoint-0000002" / "model.safetensors").unlink()
        want = None
    else:
        (tmp_path / "latest").write_bytes(pointer.encode("utf-8", "surrogateescape"))
    with pytest.warns(UserWarning, match="newest intact checkpoint"):
        found = latest_checkpoint(tmp_path)
    assert found.name == ("checkpoint-0000001" if want is None else "checkpoint-0000002")
    m2, o2, s2 = _setup(seed=3)
    assert load_checkpoint(found, m2, o2, s2)["step"] == (1 if want is None else 2)
    if want is not None:
        for a, b in zip(want, m2.parameters()):
            torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_broken_pointer_without_an_intact_checkpoint_raises_naming_what_it_found(tmp_path):
    model, opt, sched = _setup()
    _save(tmp_path, 1, model, opt, sched)
    (tmp_path / "latest").write_text("nonsense")
    path = tmp_path / "checkpoint-0000001" / "optimizer.safetensors"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(CheckpointError, match=r"'nonsense'.*no intact checkpoint.*optimizer\.safetensors has"):
        latest_checkpoint(tmp_path)
    shutil.rmtree(tmp_path / "checkpoint-0000001")
    with pytest.raises(CheckpointError, match="nonsense"):  # a pointer alone never means "start at step 0"
        latest_checkpoint(tmp_path)
    assert latest_checkpoint(tmp_path / "empty") is None


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name, damage", [
    ("model.safetensors", "flip"), ("model.safetensors", "truncate"), ("optimizer.safetensors", "flip"),
    ("state.json", "flip"), ("state.json", "truncate"), ("manifest.json", "truncate"), ("model.safetensors", "delete"),
])
def test_damaged_file_is_named(tmp_path, name, damage):
    model, opt, sched = _setup()
    path = _save(tmp_path, 1, model, opt, sched) / name
    if damage == "flip":
        _flip(path, -20)  # inside the tensor data (safetensors) or the JSON text
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    else:
        path.unlink()
    m2, o2, s2 = _setup(seed=1)
    with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
        load_checkpoint(path.parent, m2, o2, s2)


@pytest.mark.parametrize("name", ["model.safetensors", "optimizer.safetensors", "state.json"])
def test_checkpoint_without_manifest_loads_with_a_warning_and_names_a_bad_file(tmp_path, name):
    model, opt, sched = _setup()
    path = _save(tmp_path, 1, model, opt, sched)
    (path / "manifest.json").unlink()  # as written before manifests existed
    m2, _, _ = _setup(seed=1)
    with pytest.warns(UserWarning, match="unverified"):
        assert load_checkpoint(path, m2)["step"] == 1
    (path / name).write_bytes((path / name).read_bytes()[:30])
    with pytest.warns(UserWarning, match="unverified"), pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
        load_checkpoint(path, m2, *_setup(seed=1)[1:])


_RMTREE = shutil.rmtree  # the real one, before any test patches it


class _Killed(BaseException):
    """A kill: BaseException, so no ``except Exception`` in the code under test can swallow it."""


def _arm(monkeypatch, kill_at):
    """Make the ``kill_at``-th file-system step of a save raise ``_Killed``; return the step counter."""
    calls = [0]

    def wrap(fn):
        def inner(*a, **k):
            calls[0] += 1
            if calls[0] == kill_at:
                if fn is _RMTREE and Path(a[0]).is_dir():  # killed half-way through deleting a folder
                    for f in sorted(Path(a[0]).iterdir())[::2]:
                        f.unlink()
                raise _Killed
            return fn(*a, **k)
        return inner

    for owner, name in [(checkpoint, "save_model"), (checkpoint, "save_file"), (checkpoint, "_fsync"),
                        (checkpoint.os, "replace"), (checkpoint.shutil, "rmtree")]:
        monkeypatch.setattr(owner, name, wrap(getattr(owner, name)))
    return calls


@pytest.mark.parametrize("resave", [False, True], ids=["new-step", "same-step"])
def test_a_kill_anywhere_inside_save_leaves_the_old_or_the_new_checkpoint(tmp_path, monkeypatch, resave):
    """Kill at each file-system step of saving step 3 (or re-saving step 2) over checkpoints 1, 2."""
    model, opt, sched = _setup()
    _save(tmp_path / "probe", 1, model, opt, sched)
    _save(tmp_path / "probe", 2, model, opt, sched)
    with monkeypatch.context() as mp:  # count the steps of one save
        n_steps = _arm(mp, 0)
        _save(tmp_path / "probe", 2 if resave else 3, model, opt, sched)
    assert n_steps[0] >= 15
    for kill_at in range(1, n_steps[0] + 1):
        out = tmp_path / f"kill{kill_at}"
        model, opt, sched = _setup()
        _save(out, 1, model, opt, sched)
        _step(model, opt, sched)
        _save(out, 2, model, opt, sched)
        old = _weights(model)
        _step(model, opt, sched)
        new = _weights(model)
        with monkeypatch.context() as mp:
            _arm(mp, kill_at)
            with pytest.raises(_Killed):
                _save(out, 2 if resave else 3, model, opt, sched)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a kill between the swap's renames falls back (and warns)
            found = latest_checkpoint(out)
        m2, o2, s2 = _setup(seed=5)
        step = load_checkpoint(found, m2, o2, s2)["step"]  # verifies every byte
        got = _weights(m2)
        is_old, is_new = (all(torch.equal(a, b) for a, b in zip(got, ref)) for ref in (old, new))
        assert (is_old or is_new) and step in (2, 3), (kill_at, found)
        assert resave or (step == 2) == is_old, (kill_at, found)
        _save(out, 4, model, opt, sched)  # the next save clears what the kill left behind
        left = sorted(p.name for p in out.glob("checkpoint-*"))
        assert len(left) == 2 and left[-1] == "checkpoint-0000004" and not any("." in n for n in left), left
        assert latest_checkpoint(out).name == "checkpoint-0000004"


def test_every_file_and_folder_is_flushed_before_it_is_published(tmp_path, monkeypatch):
    model, opt, sched = _setup()
    _save(tmp_path, 1, model, opt, sched)
    events = []
    fsync, replace = checkpoint._fsync, checkpoint.os.replace
    monkeypatch.setattr(checkpoint, "_fsync", lambda p: (events.append(("fsync", p.name)), fsync(p)))
    monkeypatch.setattr(checkpoint.os, "replace", lambda a, b: (events.append(("rename", a.name, b.name)), replace(a, b)))
    _save(tmp_path, 1, model, opt, sched)  # a re-save: swap aside, rename in, publish
    names = ["model.safetensors", "optimizer.safetensors", "state.json", "manifest.json", "checkpoint-0000001.tmp"]
    first_rename = next(i for i, e in enumerate(events) if e[0] == "rename")
    assert sorted(e[1] for e in events[:first_rename]) == sorted(names)
    assert [e for e in events if e[0] == "rename"] == [
        ("rename", "checkpoint-0000001", "checkpoint-0000001.old"),
        ("rename", "checkpoint-0000001.tmp", "checkpoint-0000001"),
        ("rename", "latest.tmp", "latest"),
        ("rename", "checkpoint-0000001.old", "checkpoint-0000001.old.tmp")]  # deleted only after publishing
    i, j = events.index(("rename", "checkpoint-0000001.tmp", "checkpoint-0000001")), events.index(("fsync", "latest.tmp"))
    assert events[i + 1] == ("fsync", tmp_path.name) and events[j + 2] == ("fsync", tmp_path.name)


def test_save_refuses_bad_arguments_before_writing(tmp_path):
    model, opt, sched = _setup()
    with pytest.raises(ValueError, match="NaN"):
        save_checkpoint(tmp_path, 1, model, meta={"loss": float("nan")})
    with pytest.raises(ValueError, match="step"):
        save_checkpoint(tmp_path, -1, model)
    with pytest.raises(ValueError, match="keep"):
        save_checkpoint(tmp_path, 1, model, keep=0)
    assert list(tmp_path.iterdir()) == []
