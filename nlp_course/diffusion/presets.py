"""Named configurations for ``python -m nlp_course.diffusion ... --preset NAME``.

Taught in notebook 11.

A preset fills defaults for the model, the data spec, ``TrainConfig`` fields, sampling and
evaluation; any CLI flag overrides it. ``cpu-smoke`` runs end to end in seconds on a tiny random
BERT (CI uses it); ``cpu-course`` SFTs chapter 08's pretrained course BERT on the offline
dialogues in minutes on a laptop. ``register_preset`` lets other modules (the GPU chapter's
presets) add their own without editing this file.
"""

from __future__ import annotations

import copy

PRESETS: dict[str, dict] = {
    "cpu-smoke": {
        "help": "seconds on a CPU: tiny random BERT, chatterbot Q/A, 20 steps (CI)",
        "model": "tiny-random:bert",
        "data": "offline:chatterbot",
        "num_examples": None,
        "held_out": 32,
        "train": {"max_steps": 20, "batch_size": 8, "lr": 1e-3, "warmup_steps": 2, "max_length": 64,
                  "log_every": 5, "save_every": 10},
        "sample": {"gen_length": 16, "steps": 8, "block_length": 8},
        "eval": {"n_t": 4, "num_prompts": 4},
    },
    "cpu-course": {
        "help": "minutes on a laptop: chapter 08's course BERT, chitchat + chatterbot 1:1",
        "model": "course-bert",
        "data": "offline:chitchat:0.5,offline:chatterbot:0.5",
        "num_examples": 4000,
        "held_out": 200,
        "train": {"max_steps": 600, "batch_size": 16, "lr": 3e-4, "warmup_steps": 30, "max_length": 96,
                  "log_every": 20, "save_every": 100, "crop_prob": 0.1},
        "sample": {"gen_length": 32, "steps": 32, "block_length": 16},
        "eval": {"n_t": 8, "num_prompts": 16},
    },
}


def register_preset(name: str, preset: dict, overwrite: bool = False) -> None:
    """Add a preset (same keys as ``PRESETS['cpu-smoke']``)."""
    if name in PRESETS and not overwrite:
        raise ValueError(f"preset {name!r} already exists")
    missing = {"help", "model", "data", "train", "sample", "eval"} - set(preset)
    if missing:
        raise ValueError(f"preset {name!r} lacks keys {sorted(missing)}")
    PRESETS[name] = copy.deepcopy(preset)


def get_preset(name: str) -> dict:
    """A deep copy of preset ``name``; unknown names list the valid ones."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; available: {', '.join(sorted(PRESETS))}")
    return copy.deepcopy(PRESETS[name])
