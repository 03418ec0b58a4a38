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
- ``Trainer``: ``transformers.Trainer`` with ``compute_loss`` overridden to the same loss, the same
  examples already in memory, configured fairly: length-grouped sampling (``group_by_length=True``; v5:
  ``train_sampling_strategy``), the same padding to the
  longest row rounded up to 64, ``bf16=True`` and ``optim="adamw_torch_fused"`` on CUDA, and
  ``torch_compile`` when ours compiles.

``--bundle DIR`` (a study data bundle, ``nlp_course.diffusion.study.bundle``) takes the tokenizer and
the SFT training examples from the bundle instead of chitchat (the GPU machine has no corpora).
It prints real (non-pad) tokens per second and, on a GPU, MFU = model FLOPs / (time x peak). Model
FLOPs per step: ``6 * N_matmul * tokens + 12 * layers * width * sum(len^2)`` (weights incl. the LM
head; attention scores and values; Kaplan et al. 2020, PaLM appendix B). Peak: measured on the card
by a bf16 8192^3 matmul (``measured_peak_tflops``; ~790 TFLOP/s on an H200 vs 989 on the
datasheet), so MFU is against what the card delivers; ``--peak-tflops`` overrides.
On CPU only tokens/s is printed. Taught in notebook 11 (the GPU part).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

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


def build(size: str, seed: int = 0, tok=None):
    """``(model, tokenizer, seq, batch)``: a random BertForMaskedLM of ``size`` (SDPA attention), for
    ``tok`` (default: the course's tiny BERT tokenizer with the chat markers)."""
    from transformers import BertConfig, BertForMaskedLM

    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    width, layers, heads, ffn, vocab, seq, batch = SIZES[size]
    if tok is None:
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
                out_dir: str, lr: float = 1e-4, compile_model: bool = False):
    """The same loss in ``transformers.Trainer``, configured fairly: length-grouped sampling (``group_by_length=True``; v5:
  ``train_sampling_strategy``), padding to
    the batch's longest row rounded up to 64 (as ours), bf16 and ``adamw_torch_fused`` on CUDA,
    ``torch_compile`` when ours compiles; return (seconds for the timed steps, their lengths, optim)."""
    from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments

    dev = next(model.parameters()).device
    lengths: list[list[int]] = []

    def counting_collate(rows):
        out = collate(rows)
        width = min(collate.max_length, -(-int(out["attention_mask"].sum(1).max()) // 64) * 64)
        out = _trim(out, width)  # dynamic padding, as ours (the collator pads to max_length)
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

    cuda = dev.type == "cuda"
    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    grouping = ({"train_sampling_strategy": "group_by_length"} if "train_sampling_strategy" in fields  # v5
                else {"group_by_length": True})  # v4
    args = TrainingArguments(output_dir=out_dir, per_device_train_batch_size=batch, max_steps=warmup + steps,
                             learning_rate=lr, max_grad_norm=1.0, bf16=cuda, **grouping,
                             optim="adamw_torch_fused" if cuda else "adamw_torch", torch_compile=compile_model,
                             use_cpu=dev.type != "cuda", report_to=[], logging_steps=10_000, save_strategy="no",
                             remove_unused_columns=False, dataloader_num_workers=0, disable_tqdm=True, seed=0)
    trainer = Diffusion(model=model, args=args, train_dataset=examples, data_collator=counting_collate,
                        callbacks=[Clock()])
    trainer.remove_callback(PrinterCallback)  # no end-of-training metrics dict on stdout
    trainer.train()
    # the dataloader may prefetch one batch ahead: count exactly the timed steps' batches
    return marks[warmup + steps] - marks[warmup], lengths[warmup:warmup + steps], getattr(args.optim, "value", str(args.optim))


def measured_peak_tflops(device, n: int = 8192, reps: int = 20) -> float:
    """Dense bf16 matmul TFLOP/s measured on ``device`` (best of ``reps`` (n x n) @ (n x n) products):
    what this card delivers, the MFU denominator (datasheets quote more: 989 for an H100/H200 SXM,
    ~790 measured on the course's H200)."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)  # (n, n)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)  # (n, n)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(reps):
        _sync(device)
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e12


def peak_tflops(device, override: float | None) -> tuple[float | None, str]:
    """``(peak TFLOP/s, where it comes from)``: ``--peak-tflops``, else measured on a GPU, else None."""
    if override:
        return override, "--peak-tflops"
    if device.type != "cuda":
        return None, "CPU: no bf16 tensor-core peak"
    name = torch.cuda.get_device_name(device)
    sheet = next((v for k, v in PEAKS_TFLOPS.items() if k in name), None)
    return measured_peak_tflops(device), f"measured bf16 8192^3 matmul on {name} (datasheet {sheet})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="base", choices=sorted(SIZES), help="model and shape preset")
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps per loop")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (compile, allocator)")
    parser.add_argument("--batch", type=int, help="override the size's batch")
    parser.add_argument("--compile", action="store_true", help="torch.compile our model")
    parser.add_argument("--peak-tflops", type=float, help="peak dense bf16 TFLOP/s for MFU")
    parser.add_argument("--device", default=None, help="cuda or cpu")
    parser.add_argument("--bundle", help="a data bundle (study.bundle): its tokenizer and SFT training examples")
    parser.add_argument("--bundle-preset", default="gpu", help="which preset of the bundle")
    return parser


def main(argv: list[str] | None = None) -> dict:
    from nlp_course.utils import get_device

    args = build_parser().parse_args(argv)
    import tempfile

    device = get_device(args.device)
    n = (args.warmup + args.steps + 2) * (args.batch or SIZES[args.size][6])
    if args.bundle:  # no corpus on the GPU machine: the bundle's tokenizer and SFT examples, already in memory
        from transformers import PreTrainedTokenizerFast

        from nlp_course.diffusion.study.bundle import load_bundle, unpack_examples

        folder = load_bundle(args.bundle, args.bundle_preset)["folder"]
        tok = PreTrainedTokenizerFast.from_pretrained(str(folder / "tokenizer"))
        examples = unpack_examples(load_file(str(folder / "sft.safetensors")))[0]
        source = f"bundle {args.bundle} ({args.bundle_preset} SFT split)"
    else:
        tok, source = None, "chitchat"
    model, tok, seq, batch = build(args.size, tok=tok)
    batch = args.batch or batch
    ids = chat_ids(tok)
    collate = DiffusionCollator(ids["pad"], ids["end"], seq, eos_in_loss=False)
    if not args.bundle:
        examples = load_examples(tok, "offline:chitchat", seq, None, 0, limit_per_source=max(40, n // 4))
    examples = [e for e in examples if len(e["input_ids"]) <= seq][: max(n, 50 * batch)]
    init = {k: v.clone() for k, v in model.state_dict().items()}
    model.to(device)
    batches = grouped_batches(examples, collate, batch, args.warmup + args.steps)
    lengths = [b["attention_mask"].sum(1).tolist() for b in batches[args.warmup:]]
    t_ours, _ = run_ours(model, batches, ids["mask"], args.warmup, args.compile)
    tok_ours = sum(map(sum, lengths))
    flops_ours = sum(step_flops(model, ln) for ln in lengths)
    model.load_state_dict(init)
    with tempfile.TemporaryDirectory() as tmp:
        t_hf, len_hf, optim = run_trainer(model, examples, collate, batch, ids["mask"], args.warmup, args.steps, tmp,
                                          compile_model=args.compile)
    tok_hf = sum(map(sum, len_hf))
    mean_len = sum(len(e["input_ids"]) for e in examples) / len(examples)
    pad_ours = 1 - tok_ours / sum(b["attention_mask"].numel() for b in batches[args.warmup:])
    print(f"device: {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}); "
          f"torch {torch.__version__}; compile={args.compile}; bf16={device.type == 'cuda'}")
    print(f"model: BERT-{args.size} {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params "
          f"({matmul_params(model) / 1e6:.1f}M in matmuls), seq {seq}, batch {batch}, "
          f"{args.steps} timed steps after {args.warmup} warmup")
    pad_hf = 1 - tok_hf / sum(len(ln) * min(seq, -(-max(ln) // 64) * 64) for ln in len_hf)
    print(f"data: {len(examples)} {source} examples in memory, mean {mean_len:.0f} tokens; padding ours "
          f"{pad_ours:.0%}, Trainer {pad_hf:.0%} (both length-grouped, padded to the longest row rounded up to 64)")
    print(f"optimizers: ours AdamW(fused=True) | Trainer optim={optim}")
    peak, peak_source = peak_tflops(device, args.peak_tflops)
    r_ours, r_hf = tok_ours / t_ours, tok_hf / t_hf
    res = {"tokens_per_s_ours": r_ours, "tokens_per_s_trainer": r_hf, "ratio": r_ours / r_hf}
    line = "real tokens/s  ours {:10.0f} | Trainer {:10.0f} | ratio ours/Trainer {:5.2f}x"
    print(line.format(r_ours, r_hf, r_ours / r_hf))
    if peak:
        flops_hf = sum(step_flops(model, ln) for ln in len_hf)
        res.update(mfu_ours=flops_ours / t_ours / (peak * 1e12), mfu_trainer=flops_hf / t_hf / (peak * 1e12))
        print(f"MFU (peak {peak:.0f} TFLOP/s dense bf16, {peak_source})  ours {res['mfu_ours']:.1%} | "
              f"Trainer {res['mfu_trainer']:.1%}")
    else:
        print(f"MFU: not reported ({peak_source}; pass --peak-tflops)")
    return res


if __name__ == "__main__":
    main()
