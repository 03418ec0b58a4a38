"""Benchmark: a fast diffusion-SFT training step vs a Hugging Face ``Trainer`` loop, same process.

    python -m nlp_course.bench.diffusion_train --size base --compile      # BERT-base, seq 512 (GPU)
    python -m nlp_course.bench.diffusion_train --size small               # CPU scale

Both loops train the same randomly initialised ``BertForMaskedLM`` (SDPA attention) on the same
chitchat dialogue examples (``eos_in_loss=False``: padding is hidden) with the same batch size
and the same masked-diffusion loss (``t ~ U(eps, 1)``, mask answer tokens w.p. ``t``, CE weighted
by ``1/t``, normalised by answer length):

- ours: bf16 autocast (CUDA), ``AdamW(fused=True)``, optional ``torch.compile``, batches
  grouped by length (sorted inside mega-batches of 50 batches, padded to a multiple of 64 -- no
  packing, so no attention crosses examples), the noise drawn on the device and no host syncs
  inside the loop (no ``.item()``; one ``synchronize`` at the end).
- ``Trainer``: ``transformers.Trainer`` with ``compute_loss`` overridden to the same loss,
  ``bf16=True`` on CUDA, its default optimizer, padding to the full sequence length.

It prints real (non-pad) tokens per second and, on a GPU with a known peak, MFU = model FLOPs /
(time x peak). Model FLOPs per step: ``6 * N_matmul * tokens + 12 * layers * width * sum(len^2)``
(weights incl. the LM head; attention scores and values; Kaplan et al. 2020, PaLM appendix B).
Peak: H100/H200 SXM dense bf16 = 989 TFLOP/s (NVIDIA datasheet; ``--peak-tflops`` overrides).
On CPU only tokens/s is printed. Taught in notebook 11 (the GPU part).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from nlp_course.diffusion.chat import add_chat_tokens, chat_ids
from nlp_course.diffusion.collate import DiffusionCollator
from nlp_course.diffusion.data import load_examples
from nlp_course.diffusion.models import tiny_tokenizer

SIZES = {  # width, layers, heads, ffn, vocab, seq, batch
    "base": (768, 12, 12, 3072, 30522, 512, 32),
    "small": (256, 4, 4, 1024, 30522, 256, 8),
    "tiny": (64, 2, 2, 128, 2000, 64, 4),
}
PEAKS_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # dense bf16, SXM datasheets
EPS = 1e-3


def build(size: str, seed: int = 0):
    """``(model, tokenizer, seq, batch)``: a random BertForMaskedLM of ``size`` (SDPA attention)."""
    from transformers import BertConfig, BertForMaskedLM

    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    width, layers, heads, ffn, vocab, seq, batch = SIZES[size]
    tok = tiny_tokenizer("bert")
    add_chat_tokens(tok)
    cfg = BertConfig(vocab_size=max(vocab, len(tok)), hidden_size=width, num_hidden_layers=layers,
                     num_attention_heads=heads, intermediate_size=ffn, max_position_embeddings=seq,
                     pad_token_id=tok.pad_token_id, attn_implementation="sdpa")
    torch.manual_seed(seed)
    return BertForMaskedLM(cfg), tok, seq, batch


def matmul_params(model) -> int:
    """Parameters that take part in matmuls (embedding lookups excluded, the tied LM head counted)."""
    emb = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    head = model.get_output_embeddings().weight.numel()
    return sum(p.numel() for p in model.parameters()) - emb + head


def step_flops(model, lengths: list[int]) -> float:
    cfg = model.config
    return 6 * matmul_params(model) * sum(lengths) + 12 * cfg.num_hidden_layers * cfg.hidden_size * sum(
        n * n for n in lengths)


def diffusion_loss_on_device(model, ids, attention, target, mask_id: int) -> torch.Tensor:
    """The masked-diffusion loss with all noise drawn on ``ids.device`` (no host sync)."""
    B, T = ids.shape
    t = torch.rand(B, device=ids.device).clamp_min(EPS)  # (B,)
    masked = (torch.rand(B, T, device=ids.device) < t[:, None]) & target  # (B, T)
    noisy = ids.masked_fill(masked, mask_id)  # (B, T)
    logits = model(input_ids=noisy, attention_mask=attention).logits  # (B, T, V)
    ce = F.cross_entropy(logits.float().transpose(1, 2), ids, reduction="none")  # (B, T)
    n_answer = target.sum(1).clamp(min=1)  # (B,)
    return ((ce * masked).sum(1) / (t * n_answer)).mean()


def grouped_batches(examples: list[dict], collate, batch: int, n_batches: int, seed: int = 0) -> list[dict]:
    """Length-grouped batches: shuffle, sort each mega-batch of 50 batches by length, pad to x64."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(examples), generator=g).tolist()
    out = []
    while len(out) < n_batches:
        for s in range(0, len(order), 50 * batch):
            mega = sorted(order[s:s + 50 * batch], key=lambda i: len(examples[i]["input_ids"]))
            for b in range(0, len(mega) - batch + 1, batch):
                rows = [examples[i] for i in mega[b:b + batch]]
                width = min(collate.max_length, -(-max(len(r["input_ids"]) for r in rows) // 64) * 64)
                out.append(_trim(collate(rows), width))
    perm = torch.randperm(len(out), generator=g).tolist()
    return [out[i] for i in perm][:n_batches]


def _trim(b: dict, width: int) -> dict:
    return {k: v[:, :width].contiguous() for k, v in b.items()}


def run_ours(model, batches: list[dict], mask_id: int, warmup: int, compile_model: bool, lr: float = 1e-4):
    """Train on ``batches`` (the first ``warmup`` untimed); return (seconds for the rest, last loss)."""
    dev = next(model.parameters()).device
    cuda = dev.type == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=lr, fused=True)  # one kernel per step (CPU and CUDA)
    fwd = torch.compile(model, dynamic=False) if compile_model else model
    model.train()
    dev_batches = [{k: v.pin_memory().to(dev, non_blocking=True) if cuda else v for k, v in b.items()}
                   for b in batches]

    def train_step(b):
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
            loss = diffusion_loss_on_device(fwd, b["input_ids"], b["attention_mask"], b["target_mask"].bool(), mask_id)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    if compile_model:  # one graph per padded width (<= 8 at seq 512): compile them all before timing
        torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 16)
        for b in {b["input_ids"].shape[1]: b for b in dev_batches}.values():
            train_step(b)
    start = None
    for i, b in enumerate(dev_batches):
        if i == warmup:
            _sync(dev)
            start = time.perf_counter()
        loss = train_step(b)
    _sync(dev)
    return time.perf_counter() - start, float(loss.detach())


def _sync(dev) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def run_trainer(model, examples: list[dict], collate, batch: int, mask_id: int, warmup: int, steps: int,
                out_dir: str, lr: float = 1e-4):
    """The same loss in ``transformers.Trainer``; return (seconds for the timed steps, their lengths)."""
    from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments

    dev = next(model.parameters()).device
    lengths: list[list[int]] = []

    def counting_collate(rows):
        out = collate(rows)
        lengths.append(out["attention_mask"].sum(1).tolist())
        return out

    class Diffusion(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            return diffusion_loss_on_device(model, inputs["input_ids"], inputs["attention_mask"],
                                            inputs["target_mask"].bool(), mask_id)

    marks: dict = {}

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step in (warmup, warmup + steps):
                _sync(dev)
                marks[state.global_step] = time.perf_counter()

    args = TrainingArguments(output_dir=out_dir, per_device_train_batch_size=batch, max_steps=warmup + steps,
                             learning_rate=lr, max_grad_norm=1.0, bf16=dev.type == "cuda",
                             use_cpu=dev.type != "cuda", report_to=[], logging_steps=10_000, save_strategy="no",
                             remove_unused_columns=False, dataloader_num_workers=0, disable_tqdm=True, seed=0)
    trainer = Diffusion(model=model, args=args, train_dataset=examples, data_collator=counting_collate,
                        callbacks=[Clock()])
    trainer.remove_callback(PrinterCallback)  # no end-of-training metrics dict on stdout
    trainer.train()
    # the dataloader may prefetch one batch ahead: count exactly the timed steps' batches
    return marks[warmup + steps] - marks[warmup], lengths[warmup:warmup + steps], getattr(args.optim, "value", str(args.optim))


def peak_tflops(device, override: float | None) -> float | None:
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAKS_TFLOPS.items() if k in name), None)


def main(argv: list[str] | None = None) -> dict:
    from nlp_course.utils import get_device

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="base", choices=sorted(SIZES), help="model and shape preset")
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps per loop")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (compile, allocator)")
    parser.add_argument("--batch", type=int, help="override the size's batch")
    parser.add_argument("--compile", action="store_true", help="torch.compile our model")
    parser.add_argument("--peak-tflops", type=float, help="peak dense bf16 TFLOP/s for MFU")
    parser.add_argument("--device", default=None, help="cuda or cpu")
    args = parser.parse_args(argv)
    import tempfile

    device = get_device(args.device)
    model, tok, seq, batch = build(args.size)
    batch = args.batch or batch
    ids = chat_ids(tok)
    collate = DiffusionCollator(ids["pad"], ids["end"], seq, eos_in_loss=False)
    n = (args.warmup + args.steps + 2) * batch
    examples = load_examples(tok, "offline:chitchat", seq, None, 0, limit_per_source=max(40, n // 4))[: max(n, 50 * batch)]
    init = {k: v.clone() for k, v in model.state_dict().items()}
    model.to(device)
    batches = grouped_batches(examples, collate, batch, args.warmup + args.steps)
    lengths = [b["attention_mask"].sum(1).tolist() for b in batches[args.warmup:]]
    t_ours, _ = run_ours(model, batches, ids["mask"], args.warmup, args.compile)
    tok_ours = sum(map(sum, lengths))
    flops_ours = sum(step_flops(model, ln) for ln in lengths)
    model.load_state_dict(init)
    with tempfile.TemporaryDirectory() as tmp:
        t_hf, len_hf, optim = run_trainer(model, examples, collate, batch, ids["mask"], args.warmup, args.steps, tmp)
    tok_hf = sum(map(sum, len_hf))
    mean_len = sum(len(e["input_ids"]) for e in examples) / len(examples)
    pad_ours = 1 - tok_ours / sum(b["attention_mask"].numel() for b in batches[args.warmup:])
    print(f"device: {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}); "
          f"torch {torch.__version__}; compile={args.compile}; bf16={device.type == 'cuda'}")
    print(f"model: BERT-{args.size} {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params "
          f"({matmul_params(model) / 1e6:.1f}M in matmuls), seq {seq}, batch {batch}, "
          f"{args.steps} timed steps after {args.warmup} warmup")
    print(f"data: {len(examples)} chitchat examples, mean {mean_len:.0f} tokens; padding ours "
          f"{pad_ours:.0%} (length-grouped), Trainer {1 - tok_hf / (args.steps * batch * seq):.0%} (pad to {seq})")
    print(f"optimizers: ours AdamW(fused=True) | Trainer optim={optim}")
    peak = peak_tflops(device, args.peak_tflops)
    r_ours, r_hf = tok_ours / t_ours, tok_hf / t_hf
    res = {"tokens_per_s_ours": r_ours, "tokens_per_s_trainer": r_hf, "ratio": r_ours / r_hf}
    line = "real tokens/s  ours {:10.0f} | Trainer {:10.0f} | ratio ours/Trainer {:5.2f}x"
    print(line.format(r_ours, r_hf, r_ours / r_hf))
    if peak:
        flops_hf = sum(step_flops(model, ln) for ln in len_hf)
        res.update(mfu_ours=flops_ours / t_ours / (peak * 1e12), mfu_trainer=flops_hf / t_hf / (peak * 1e12))
        print(f"MFU (peak {peak:.0f} TFLOP/s dense bf16)  ours {res['mfu_ours']:.1%} | "
              f"Trainer {res['mfu_trainer']:.1%}")
    else:
        print("MFU: not reported (no known bf16 peak for this device; pass --peak-tflops)")
    return res


if __name__ == "__main__":
    main()
