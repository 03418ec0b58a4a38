"""Named configurations for ``python -m nlp_course.diffusion ... --preset NAME``.

Taught in notebook 11.

A preset fills defaults for the model, the data spec, ``TrainConfig`` fields, sampling and
evaluation; any CLI flag overrides it. ``cpu-smoke`` runs end to end in seconds on a tiny random
BERT (CI uses it); ``cpu-course`` SFTs chapter 08's pretrained course BERT on the offline
dialogues in minutes on a laptop. ``register_preset`` lets other modules (the GPU chapter's
presets) add their own without editing this file.

``HUB_PRESETS`` are the notes' public runs (seed 002), one per encoder they tried --
``hub-rumodernbert`` (deepvk/RuModernBERT-base, 150M, Russian + English), ``hub-mmbert``
(jhu-clsp/mmBERT-base, 307M, multilingual) and ``hub-ettin-1b`` (jhu-clsp/ettin-encoder-1b, 1B,
English) -- each SFT'd on Tulu 3 SFT (English, ``messages`` column) mixed 1:1 with GrandMaster-PRO-MAX
(Russian, ``conversation`` column), 750K examples as in the notes. They need internet (the hub),
``pip install datasets`` and a GPU, so they are kept apart from ``PRESETS`` (whose data every test
splits offline); ``get_preset`` finds both. All three encoders are ModernBERT
(``ModernBertForMaskedLM``); ``architecture`` records what the offline tests build a tiny random
twin of (``tests/test_diffusion_hub.py``): the model type, the global-attention period and the
style of special tokens (``[MASK]`` as in BERT, or ``<mask>`` as in XLM-R/Gemma).
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


HUB_DATA = "allenai/tulu-3-sft-mixture:0.5,Vikhrmodels/GrandMaster-PRO-MAX:0.5"


def _hub(model: str, about: str, batch_size: int, grad_accum: int, lr: float, specials: str) -> dict:
    """A hub preset: the notes' data mix and budget (750K examples, 12K steps of 64 x 512 tokens)."""
    return {
        "help": f"GPU + internet: {model} ({about}), Tulu 3 SFT + GrandMaster-PRO-MAX 1:1, 750K examples",
        "model": model,
        "data": HUB_DATA,
        "num_examples": 750_000,
        "held_out": 2000,
        "train": {"max_steps": 12_000, "batch_size": batch_size, "grad_accum": grad_accum, "lr": lr,
                  "warmup_steps": 500, "max_length": 512, "log_every": 50, "save_every": 1000,
                  "crop_prob": 0.1},
        "sample": {"gen_length": 128, "steps": 128, "block_length": 32},
        "eval": {"n_t": 8, "num_prompts": 64},
        "architecture": {"model_type": "modernbert", "global_attn_every_n_layers": 3, "specials": specials},
    }


HUB_PRESETS: dict[str, dict] = {
    # effective batch 64 everywhere; the 256K-token vocabulary of mmBERT and the 1B encoder get
    # smaller micro-batches (logits and activations), the 1B a lower learning rate
    "hub-rumodernbert": _hub("deepvk/RuModernBERT-base", "150M, Russian + English", 32, 2, 1e-4, "bert"),
    "hub-mmbert": _hub("jhu-clsp/mmBERT-base", "307M, 1,800+ languages", 16, 4, 1e-4, "xlm-roberta"),
    "hub-ettin-1b": _hub("jhu-clsp/ettin-encoder-1b", "1B, English only", 16, 4, 5e-5, "bert"),
}


def register_preset(name: str, preset: dict, overwrite: bool = False) -> None:
    """Add a preset (same keys as ``PRESETS['cpu-smoke']``)."""
    if (name in PRESETS or name in HUB_PRESETS) and not overwrite:
        raise ValueError(f"preset {name!r} already exists")
    missing = {"help", "model", "data", "train", "sample", "eval"} - set(preset)
    if missing:
        raise ValueError(f"preset {name!r} lacks keys {sorted(missing)}")
    PRESETS[name] = copy.deepcopy(preset)


def get_preset(name: str) -> dict:
    """A deep copy of preset ``name`` (``PRESETS`` or ``HUB_PRESETS``); unknown names list the valid ones."""
    if not isinstance(name, str) or name not in {**HUB_PRESETS, **PRESETS}:
        raise ValueError(f"unknown preset {name!r}; available: {', '.join(sorted({**PRESETS, **HUB_PRESETS}))}")
    return copy.deepcopy(PRESETS[name] if name in PRESETS else HUB_PRESETS[name])
