"""Diffusion SFT on several GPUs or machines through Hugging Face ``accelerate`` (DDP).

Taught in notebook 11 (the GPU part). No hand-written process management: a launcher
(``accelerate launch`` or ``torchrun``) starts one process per device and sets ``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``...; ``accelerate.Accelerator`` reads them, picks the backend
(NCCL on GPUs, gloo on CPUs), wraps the model in ``DistributedDataParallel`` and all-reduces
gradients after ``backward``::

    # one machine, 8 GPUs
    accelerate launch --multi_gpu --num_processes 8 -m nlp_course.diffusion.distributed \\
        --preset cpu-course --output-dir runs/ddp --batch-size 256
    torchrun --nproc_per_node 8 -m nlp_course.diffusion.distributed --preset cpu-course ...
    # two machines (run on each, --node_rank 0 / 1)
    torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --master_addr HOST0 --master_port 29500 \\
        -m nlp_course.diffusion.distributed --preset cpu-course --output-dir runs/ddp

``train_distributed`` keeps ``train.train``'s semantics exactly: ``batch_size`` is the *global*
batch; every rank builds the same global batch and the same noise from ``(seed, step)`` (the
collator, ``sample_t`` and ``add_noise`` of the single-process trainer, in the same order) and
keeps its own slice of rows. Each rank's loss is ``sum(per-example loss) * world / B``, so DDP's
gradient *average* equals the gradient of the global mean: with dropout off, N processes give
the single-process losses up to float summation order (tested with 2 gloo processes on CPU).
The LR scheduler is stepped once per optimizer step by hand (``accelerate``'s scheduler wrapper
would step it once per process). Checkpoints are ``checkpoint.py``'s, written by rank 0.

References: Li et al. 2020, "PyTorch Distributed: Experiences on Accelerating Data Parallel
Training"; https://huggingface.co/docs/accelerate ; https://pytorch.org/docs/stable/elastic/run.html
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from .chat import chat_ids, find_mask_id
from .checkpoint import latest_checkpoint, load_checkpoint, new_run_id, save_checkpoint
from .collate import DiffusionCollator, add_noise
from .schedule import loss_weight, sample_t
from .train import TrainConfig, _jsonl_row, _step_generator, batch_indices, make_optimizer


def rank_slice(n_rows: int, rank: int, world: int) -> slice:
    """Rows of a global batch of ``n_rows`` that process ``rank`` of ``world`` owns."""
    if n_rows % world:
        raise ValueError(f"global batch_size={n_rows} must be divisible by the number of processes {world}")
    per = n_rows // world
    return slice(rank * per, (rank + 1) * per)


def shard_loss(model, batch: dict, mask_id: int, generator: torch.Generator, config: TrainConfig,
               rows: slice, world: int) -> tuple[torch.Tensor, torch.Tensor]:
    """This rank's share of the global diffusion loss; returns ``(loss_to_backward, sum_of_rows)``.

    The noise is drawn for the whole global batch (as ``train.diffusion_loss`` does on one
    process), then ``rows`` are kept, so the union over ranks is the single-process batch.
    """
    B = batch["input_ids"].shape[0]
    t = sample_t(B, generator, config.t_sampling, config.eps)  # (B,)
    noisy = add_noise(batch, t, mask_id, config.schedule, generator)
    device = next(model.parameters()).device
    ids = batch["input_ids"][rows].to(device)  # (b, T)
    masked = noisy["masked"][rows].to(device)  # (b, T)
    logits = model(input_ids=noisy["noisy_ids"][rows].to(device),
                   attention_mask=batch["attention_mask"][rows].to(device)).logits  # (b, T, V)
    ce = F.cross_entropy(logits.float().transpose(1, 2), ids, reduction="none")  # (b, T)
    w = loss_weight(t[rows].double(), config.schedule).float().to(device)  # (b,)
    n_answer = batch["target_mask"][rows].sum(1).clamp(min=1).to(device)  # (b,)
    rows_sum = ((ce * masked).sum(1) * w / n_answer).sum()
    return rows_sum * world / B, rows_sum.detach()


def train_distributed(model, tokenizer, examples: list[dict], config: TrainConfig | None = None,
                      out_dir=None, accelerator=None, meta: dict | None = None) -> dict:
    """``train.train`` on every process of an ``accelerate`` launch; returns the same dict.

    ``accelerator`` defaults to ``Accelerator(mixed_precision="bf16")`` on CUDA (plain on CPU).
    Only rank 0 writes ``metrics.jsonl`` and checkpoints; an existing checkpoint is resumed.
    """
    from accelerate import Accelerator

    config = config or TrainConfig()
    if not examples:
        raise ValueError("examples is empty: nothing to train on")
    if accelerator is None:
        cuda = torch.cuda.is_available()
        accelerator = Accelerator(cpu=not cuda, mixed_precision="bf16" if cuda else "no")
    world, rank = accelerator.num_processes, accelerator.process_index
    rows = rank_slice(config.batch_size, rank, world)
    mask_id = find_mask_id(tokenizer)
    ids = chat_ids(tokenizer)
    collate = DiffusionCollator(ids["pad"], ids["end"], config.max_length, config.eos_in_loss, config.crop_prob)
    model.to(accelerator.device)
    optimizer, scheduler = make_optimizer(model, config)
    step, history, run_id, loss_value = 0, [], new_run_id(), float("nan")
    out_dir = Path(out_dir) if out_dir is not None else None
    if out_dir is not None:
        ckpt = latest_checkpoint(out_dir)
        if ckpt is not None:
            state = load_checkpoint(ckpt, model, optimizer, scheduler, restore_rng=False)
            step, run_id = state["step"], state.get("run_id")
            loss_value = state["meta"].get("loss", loss_value)
            log = out_dir / "metrics.jsonl"
            if log.exists():
                history = [r for r in map(json.loads, log.read_text().splitlines()) if r["step"] <= step]
    ddp_model, optimizer = accelerator.prepare(model, optimizer)
    ddp_model.train()
    meta = {"config": asdict(config), "world_size": world, **(meta or {})}
    while step < config.max_steps:
        optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=accelerator.device)
        for micro in range(config.grad_accum):
            m = step * config.grad_accum + micro
            g = _step_generator(config.seed, m)
            idx = batch_indices(len(examples), config.batch_size, m, config.seed)
            batch = collate([examples[i] for i in idx], g)
            last = micro == config.grad_accum - 1
            with accelerator.no_sync(ddp_model) if not last else nullcontext():
                loss, rows_sum = shard_loss(ddp_model, batch, mask_id, g, config, rows, world)
                accelerator.backward(loss / config.grad_accum)
            total += rows_sum / (config.batch_size * config.grad_accum)
        grad_norm = accelerator.clip_grad_norm_(ddp_model.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        step += 1
        loss_value = float(accelerator.reduce(total, reduction="sum"))
        if step % config.log_every == 0 or step == config.max_steps:
            row = {"step": step, "lr": scheduler.get_last_lr()[0], "grad_norm": float(grad_norm),
                   "loss": round(loss_value, 6), "world_size": world}
            history.append(row)
            if out_dir is not None and accelerator.is_main_process:
                out_dir.mkdir(parents=True, exist_ok=True)
                with (out_dir / "metrics.jsonl").open("a") as f:
                    f.write(_jsonl_row(row))
        if out_dir is not None and (step == config.max_steps or config.save_every and step % config.save_every == 0):
            _save(accelerator, out_dir, step, ddp_model, optimizer, scheduler, {**meta, "loss": loss_value},
                  config, run_id)
    model.eval()
    return {"step": step, "loss": loss_value, "history": history}


def _save(accelerator, out_dir, step, ddp_model, optimizer, scheduler, meta, config, run_id) -> None:
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        save_checkpoint(out_dir, step, accelerator.unwrap_model(ddp_model), optimizer, scheduler,
                        meta, config.keep_checkpoints, run_id=run_id)
    accelerator.wait_for_everyone()


def disable_dropout(model) -> None:
    """Set every ``nn.Dropout``'s p to 0 (ranks then match a single process exactly)."""
    for mod in model.modules():
        if isinstance(mod, torch.nn.Dropout):
            mod.p = 0.0


def main(argv=None) -> int:
    from .chat import add_chat_tokens
    from .data import load_examples
    from .models import load_mlm
    from .presets import get_preset

    p = argparse.ArgumentParser(prog="python -m nlp_course.diffusion.distributed",
                                description="Diffusion SFT on every process of an accelerate/torchrun launch.")
    p.add_argument("--preset", default="cpu-smoke", help="defaults for model, data and TrainConfig")
    p.add_argument("--model", help="masked-LM name/folder, 'course-bert' or 'tiny-random:<arch>'")
    p.add_argument("--data", help="comma-separated source[:ratio] (as in the train CLI)")
    p.add_argument("--output-dir", help="checkpoints + metrics.jsonl (rank 0 writes them)")
    p.add_argument("--max-steps", type=int, help="optimizer steps")
    p.add_argument("--batch-size", type=int, help="GLOBAL examples per micro-batch (divisible by processes)")
    p.add_argument("--grad-accum", type=int, help="micro-batches per optimizer step")
    p.add_argument("--lr", type=float, help="peak AdamW learning rate")
    p.add_argument("--log-every", type=int, help="log the loss every N steps")
    p.add_argument("--num-examples", type=int, help="size of the training set")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--no-dropout", action="store_true", help="p=0 everywhere (exact multi-process parity)")
    p.add_argument("--cpu", action="store_true", help="train on CPU with gloo even if CUDA exists")
    args = p.parse_args(argv)
    try:
        from accelerate import Accelerator

        preset = get_preset(args.preset)
        cfg = dict(preset["train"], seed=args.seed, progress=False)
        for k in ("max_steps", "batch_size", "grad_accum", "lr", "log_every"):
            if getattr(args, k) is not None:
                cfg[k] = getattr(args, k)
        config = TrainConfig.from_dict(cfg)
        cuda = torch.cuda.is_available() and not args.cpu
        accelerator = Accelerator(cpu=not cuda, mixed_precision="bf16" if cuda else "no")
        model, tok = load_mlm(args.model or preset["model"], args.seed)
        add_chat_tokens(tok, model)
        if args.no_dropout:
            disable_dropout(model)
        held = preset["held_out"]
        num = args.num_examples if args.num_examples is not None else preset.get("num_examples")
        examples = load_examples(tok, args.data or preset["data"], config.max_length,
                                 None if num is None else num + held, args.seed)[held:]
        result = train_distributed(model, tok, examples, config, args.output_dir, accelerator)
    except (ValueError, FileNotFoundError, ImportError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if accelerator.is_main_process:
        print(json.dumps({"world_size": accelerator.num_processes, "step": result["step"],
                          "losses": [r["loss"] for r in result["history"]]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
