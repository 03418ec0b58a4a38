"""Diffusion SFT of any masked LM: the loss, and a small resumable training loop.

Taught in notebook 11.

``diffusion_loss`` is the masked-diffusion ELBO of the answer (LLaDA, Nie et al. 2025, eq. 5;
MDLM, Sahoo et al. 2024): draw ``t`` per example (stratified), mask answer tokens with
probability ``1 - alpha(t)``, and average ``w(t) * CE`` over the masked tokens, normalised by
the example's answer length. It works for any model called as
``model(input_ids=..., attention_mask=...).logits`` -- every ``AutoModelForMaskedLM`` and the
course's BERT.

``train(model, tokenizer, examples, config, out_dir)`` runs AdamW with linear warmup + cosine
decay (``transformers.get_cosine_schedule_with_warmup``), gradient accumulation and clipping,
bf16 autocast on CUDA, a tqdm progress bar, a ``metrics.jsonl`` log and atomic checkpoints
(``checkpoint.py``). The data order and the noise of step ``s`` depend only on ``(seed, s)``, and
dropout's RNG is checkpointed, so killing a run and resuming it gives the same losses. A run that
does not resume sets the folder's earlier checkpoints aside (``checkpoint.set_aside``) instead of
mixing with them; re-running a finished run changes nothing.
``loss_fn`` can be swapped (``causal_baseline.causal_loss`` trains the causal twin).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from nlp_course.utils import check_number, check_positive

from .chat import chat_ids, find_mask_id
from .checkpoint import latest_checkpoint, load_checkpoint, new_run_id, save_checkpoint, set_aside
from .collate import DiffusionCollator, add_noise
from .models import max_positions
from .schedule import SCHEDULES, T_SAMPLERS, loss_weight, sample_t


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def _jsonl_row(row: dict) -> str:
    """One strict-JSON line: a non-finite number is written as null (JSON has no NaN)."""
    clean = {k: v if not isinstance(v, float) or math.isfinite(v) else None for k, v in row.items()}
    return json.dumps(clean, allow_nan=False) + "\n"


@dataclass
class TrainConfig:
    """Hyper-parameters of ``train`` (presets in ``presets.py`` fill these)."""

    max_steps: int = 100
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup_steps: int = 10
    max_grad_norm: float = 1.0
    max_length: int = 128
    schedule: str = "linear"
    t_sampling: str = "stratified"
    eps: float = 1e-3
    eos_in_loss: bool = True
    crop_prob: float = 0.0
    seed: int = 0
    log_every: int = 10
    save_every: int = 0
    keep_checkpoints: int = 2
    bf16: bool | None = None
    progress: bool = True

    def __post_init__(self):
        for name in ("max_steps", "batch_size", "grad_accum", "max_length", "log_every", "keep_checkpoints"):
            _check_int(name, getattr(self, name), 1)
        for name in ("warmup_steps", "save_every", "seed"):
            _check_int(name, getattr(self, name), 0)
        check_positive("lr", self.lr)
        check_number("weight_decay", self.weight_decay, low=0.0)
        check_positive("max_grad_norm", self.max_grad_norm)
        check_number("eps", self.eps, 0.0, 1.0, low_open=True, high_open=True)
        check_number("crop_prob", self.crop_prob, 0.0, 1.0)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.t_sampling not in T_SAMPLERS:
            raise ValueError(f"t_sampling must be one of {T_SAMPLERS}, got {self.t_sampling!r}")
        if self.bf16 not in (None, True, False):
            raise TypeError(f"bf16 must be None, True or False, got {self.bf16!r}")

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}; valid: {sorted(names)}")
        return cls(**d)


def diffusion_loss(model, batch: dict, mask_id: int, generator: torch.Generator | None = None,
                   schedule: str = "linear", t_sampling: str = "stratified", eps: float = 1e-3,
                   t: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """ELBO loss of a batch from ``DiffusionCollator``; returns ``(loss, stats)`` (0-dim tensors)."""
    B = batch["input_ids"].shape[0]
    if t is None:
        t = sample_t(B, generator, t_sampling, eps)  # (B,)
    noisy = add_noise(batch, t, mask_id, schedule, generator)
    logits = model(input_ids=noisy["noisy_ids"], attention_mask=batch["attention_mask"]).logits  # (B, T, V)
    ce = F.cross_entropy(logits.float().transpose(1, 2), batch["input_ids"], reduction="none")  # (B, T)
    masked = noisy["masked"]
    w = loss_weight(t.double(), schedule).float().to(ce.device)  # (B,)
    n_answer = batch["target_mask"].sum(1).clamp(min=1)  # (B,)
    per_example = (ce * masked).sum(1) * w / n_answer  # (B,)
    loss = per_example.mean()
    with torch.no_grad():
        hits = (logits.argmax(-1) == batch["input_ids"]) & masked
        n_masked = masked.sum()
        stats = {"masked_acc": hits.sum() / n_masked.clamp(min=1),  # 0-dim tensors: no host sync
                 "masked_ce": (ce * masked).sum() / n_masked.clamp(min=1),
                 "n_masked": n_masked}
    return loss, stats


def batch_indices(n_examples: int, batch_size: int, micro_step: int, seed: int) -> list[int]:
    """Example indices of micro-batch ``micro_step``: epochs are seeded permutations."""
    start = micro_step * batch_size
    out = []
    while len(out) < batch_size:
        epoch, offset = divmod(start + len(out), n_examples)
        perm = torch.randperm(n_examples, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
        take = min(batch_size - len(out), n_examples - offset)
        out += perm[offset:offset + take].tolist()
    return out


def _step_generator(seed: int, micro_step: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + micro_step) % (2**63))


def _to(batch: dict, device) -> dict:
    return {k: v.to(device) for k, v in batch.items()}


def make_optimizer(model, config: TrainConfig):
    """AdamW (no weight decay on biases/norms; fused on CUDA) and linear warmup + cosine decay to 0."""
    from transformers import get_cosine_schedule_with_warmup

    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    fused = all(p.is_cuda for p in decay + no_decay)  # one fused kernel per step on a GPU
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr,
                                  fused=True if fused else None)
    return optimizer, get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.max_steps)


def train(model, tokenizer, examples: list[dict], config: TrainConfig | None = None, out_dir=None,
          resume: bool = True, loss_fn=None, stop_after: int | None = None,
          meta: dict | None = None) -> dict:
    """Train ``model`` on collator ``examples``; return ``{"step", "loss", "history"}``.

    ``out_dir`` (optional) receives ``metrics.jsonl`` and checkpoints (every ``save_every``
    steps and at the end, each step saved once); with ``resume=True`` an existing checkpoint
    there is continued (a finished run returns its last loss without training or saving), with
    ``resume=False`` the folder's checkpoints are moved to ``superseded/<run id>/`` first.
    ``stop_after`` stops after that many optimizer steps of this call (a simulated kill: no
    final checkpoint). ``loss_fn(model, batch, generator) -> (loss, stats)`` defaults to the
    diffusion loss; ``stats`` values may be numbers or 0-dim tensors. The loop reads numbers back
    from the device (``float``) only at logged, saved or last steps, so a GPU is never stalled by a
    per-step host sync; a non-finite loss is caught there, before anything is saved.
    """
    config = config or TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not examples:
        raise ValueError("examples is empty: nothing to train on")
    if stop_after is not None:
        _check_int("stop_after", stop_after, 1)
    mask_id = find_mask_id(tokenizer)
    ids = chat_ids(tokenizer)
    n_emb = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > n_emb:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens but the model embeds {n_emb}: "
                         "call chat.add_chat_tokens(tokenizer, model) first")
    n_pos = max_positions(model)
    if n_pos is not None and config.max_length > n_pos:
        raise ValueError(f"max_length={config.max_length} exceeds the model's {n_pos} positions: "
                         f"use max_length <= {n_pos}")
    device = next(model.parameters()).device
    use_bf16 = device.type == "cuda" if config.bf16 is None else config.bf16
    collate = DiffusionCollator(ids["pad"], ids["end"], config.max_length, config.eos_in_loss, config.crop_prob)
    if loss_fn is None:
        def loss_fn(m, b, g):
            return diffusion_loss(m, b, mask_id, g, config.schedule, config.t_sampling, config.eps)

    optimizer, scheduler = make_optimizer(model, config)
    step, history, run_id, loss_value = 0, [], None, float("nan")
    out_dir = Path(out_dir) if out_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        ckpt = latest_checkpoint(out_dir) if resume else None
        if ckpt is not None:
            state = load_checkpoint(ckpt, model, optimizer, scheduler)
            step, run_id = state["step"], state.get("run_id")
            loss_value = state["meta"].get("loss", loss_value)
        else:
            run_id = new_run_id()
            moved = set_aside(out_dir, run_id)
            if moved is not None:
                warnings.warn(f"starting a new run in {out_dir}: its earlier checkpoints were moved to {moved}",
                              stacklevel=2)
        log = out_dir / "metrics.jsonl"
        if log.exists():
            history = [r for r in map(json.loads, log.read_text().splitlines()) if r["step"] <= step]
        log.write_text("".join(map(_jsonl_row, history)))
    meta = {"config": asdict(config), **(meta or {})}
    model.train()
    bar = tqdm(total=config.max_steps, initial=step, disable=not config.progress, desc="train")
    done_here = 0
    while step < config.max_steps:
        optimizer.zero_grad(set_to_none=True)
        totals: dict = {}
        for micro in range(config.grad_accum):
            m = step * config.grad_accum + micro
            g = _step_generator(config.seed, m)
            idx = batch_indices(len(examples), config.batch_size, m, config.seed)
            batch = _to(collate([examples[i] for i in idx], g), device)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss, stats = loss_fn(model, batch, g)
            (loss / config.grad_accum).backward()
            for k, v in {"loss": loss.detach(), **stats}.items():  # tensors stay on the device
                totals[k] = totals.get(k, 0.0) + v / config.grad_accum
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        step += 1
        done_here += 1
        bar.update(1)
        logging_ = step % config.log_every == 0 or step == config.max_steps
        saving = out_dir is not None and (step == config.max_steps or bool(config.save_every)
                                          and step % config.save_every == 0)
        stopping = stop_after is not None and done_here >= stop_after
        if not (logging_ or saving or stopping):
            continue  # no host sync between logged steps: a GPU queues the next step meanwhile
        totals = {k: float(v) for k, v in totals.items()}  # the one sync of this step
        loss_value = totals["loss"]
        bar.set_postfix(loss=f"{loss_value:.4f}")
        if logging_:
            row = {"step": step, "lr": scheduler.get_last_lr()[0], "grad_norm": float(grad_norm),
                   **{k: round(v, 6) for k, v in sorted(totals.items())}}
            history.append(row)
            if out_dir is not None:
                with (out_dir / "metrics.jsonl").open("a") as f:
                    f.write(_jsonl_row(row))
        if not math.isfinite(loss_value):  # NaN weights stay NaN: caught at the next sync, before any save
            raise FloatingPointError(f"loss became {loss_value} at step {step}: lower lr?")
        if saving:
            save_checkpoint(out_dir, step, model, optimizer, scheduler, {**meta, "loss": loss_value},
                            config.keep_checkpoints, run_id=run_id)
        if stopping:
            bar.close()
            return {"step": step, "loss": loss_value, "history": history}
    bar.close()
    model.eval()
    return {"step": step, "loss": loss_value, "history": history}
