"""Benchmark: the masked-diffusion sampler vs ``generate`` of a same-size causal LM with KV cache.

    python -m nlp_course.bench.diffusion_sample --size base                 # GPU
    python -m nlp_course.bench.diffusion_sample --size small --batch 8      # CPU scale
    python -m nlp_course.bench.diffusion_sample --run runs/gpu-h100         # + the quality curve

Both models have random weights (speed does not depend on them) and the same widths, depth and
vocabulary: a ``BertForMaskedLM`` and its causal twin (``causal_baseline.causal_twin``, a
``BertLMHeadModel`` with a causal mask; ``generate`` reuses its KV cache). Each writes 128-token
answers to a batch of 32 prompts (32 tokens each). The diffusion sampler is the course's
``sample.diffuse`` (low-confidence remasking, blocks of 32, bf16 autocast on CUDA); each of its
``steps`` runs the full (prompt + answer) sequence through the model -- no cache, since every
position may change -- while the causal model runs one new token per step against its cache.
So diffusion wins only when ``steps`` is well below the answer length: the printed ratios show
where. The causal model is forced to write exactly 128 tokens (``min_new_tokens``), greedy.

``--run DIR`` (a finished ``gpu_run`` output folder) adds the quality curve beside the speed:
distinct-2, repeated-3-gram rate and EOS rate of the trained SFT model's answers to held-out
prompts at the same step counts (``quality_curve``). Taught in notebook 11 (the GPU part).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from nlp_course.bench.diffusion_train import SIZES, build
from nlp_course.diffusion.causal_baseline import causal_twin
from nlp_course.diffusion.chat import chat_ids
from nlp_course.diffusion.sample import diffuse


def _sync(dev) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


@torch.no_grad()
def time_diffusion(model, prompts: torch.Tensor, mask_id: int, gen_length: int, steps: int,
                   block_length: int) -> float:
    """Seconds for ``diffuse`` to fill ``gen_length`` masked positions after each prompt."""
    B, P = prompts.shape
    x = torch.cat([prompts, torch.full((B, gen_length), mask_id, device=prompts.device)], 1)  # (B, P+G)
    fill = torch.zeros_like(x, dtype=torch.bool)
    fill[:, P:] = True
    dev = prompts.device
    _sync(dev)
    start = time.perf_counter()
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
        out = diffuse(model, x, fill, steps, block_length)
    _sync(dev)
    assert not (out[:, P:] == mask_id).any()
    return time.perf_counter() - start


@torch.no_grad()
def time_causal(model, prompts: torch.Tensor, gen_length: int, pad_id: int) -> float:
    """Seconds for greedy ``generate`` with KV cache to write exactly ``gen_length`` tokens."""
    dev = prompts.device
    _sync(dev)
    start = time.perf_counter()
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
        out = model.generate(prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=gen_length,
                             min_new_tokens=gen_length, do_sample=False, use_cache=True, pad_token_id=pad_id)
    _sync(dev)
    assert out.shape[1] == prompts.shape[1] + gen_length
    return time.perf_counter() - start


@torch.no_grad()
def time_forward(model, prompts: torch.Tensor, gen_length: int, repeats: int = 3) -> float:
    """Median seconds of one forward pass over (B, prompt + gen_length) tokens."""
    x = torch.cat([prompts, prompts[:, :1].expand(-1, gen_length)], 1)  # (B, P+G)
    dev, times = prompts.device, []
    for _ in range(repeats):
        _sync(dev)
        start = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            model(input_ids=x)
        _sync(dev)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def quality_curve(model, tokenizer, prompts: list[list[int]], steps_list, gen_length: int,
                  block_length: int) -> list[dict]:
    """Generation statistics of ``model``'s answers to ``prompts`` at each step count."""
    from nlp_course.diffusion.evaluate import generation_stats
    from nlp_course.diffusion.gpu_run import diffusion_samples

    out = []
    for steps in steps_list:
        texts, eos = diffusion_samples(model, tokenizer, prompts, {"gen_length": gen_length, "steps": steps,
                                                                   "block_length": block_length})
        out.append({"steps": steps, **generation_stats(texts, eos)})
    return out


def run_prompts(run_dir, n: int) -> tuple:
    """``(model, tokenizer, prompts)``: a finished ``gpu_run`` folder's SFT model and held-out prompts."""
    from nlp_course.diffusion.data import examples_from_dialogues
    from nlp_course.diffusion.gpu_run import PRESETS, prompts_of, split_dialogues
    from nlp_course.diffusion.models import load_trained

    run_dir = Path(run_dir)
    if not (run_dir / "sft" / "done.json").is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} has no finished sft stage (run nlp_course.diffusion.gpu_run)")
    P = PRESETS[json.loads((run_dir / "run.json").read_text())["preset"]]
    model, tok, meta = load_trained(run_dir / "sft")
    _, _, held = split_dialogues(P["sft_data"], P["held_out"], meta.get("seed", 0), P["dialogue_limit"],
                                 P["max_turns"])
    return model, tok, prompts_of(examples_from_dialogues(tok, held, P["sft"]["max_length"], all_turns=False)[:n])


def main(argv: list[str] | None = None) -> dict:
    from nlp_course.utils import get_device

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="base", choices=sorted(SIZES), help="model widths (as diffusion_train)")
    parser.add_argument("--batch", type=int, default=32, help="answers written at once")
    parser.add_argument("--gen-length", type=int, default=128, help="answer tokens")
    parser.add_argument("--prompt-length", type=int, default=32, help="prompt tokens")
    parser.add_argument("--block-length", type=int, default=32, help="diffusion block size")
    parser.add_argument("--steps", default="128,64,32", help="comma-separated diffusion step counts")
    parser.add_argument("--run", help="a finished gpu_run folder: also print the quality curve")
    parser.add_argument("--quality-prompts", type=int, default=32, help="held-out prompts for --run")
    parser.add_argument("--device", default=None, help="cuda or cpu")
    args = parser.parse_args(argv)
    steps_list = [int(s) for s in args.steps.split(",")]
    device = get_device(args.device)
    mlm, tok, _, _ = build(args.size)
    vocab = mlm.config.vocab_size
    if args.prompt_length + args.gen_length > mlm.config.max_position_embeddings:
        raise ValueError(f"--prompt-length + --gen-length must be <= {mlm.config.max_position_embeddings} "
                         f"(positions of size {args.size!r})")
    causal = causal_twin(mlm).to(device).eval()
    mlm = mlm.to(device).eval()
    ids = chat_ids(tok)
    g = torch.Generator().manual_seed(0)
    prompts = torch.randint(len(ids) + 10, min(vocab, len(tok)), (args.batch, args.prompt_length), generator=g)
    prompts = prompts.to(device)  # (B, P)
    n_tokens = args.batch * args.gen_length
    time_causal(causal, prompts[:, :8], 4, ids["pad"])  # warm up kernels and the allocator
    time_diffusion(mlm, prompts[:, :8], ids["mask"], args.block_length, 1, args.block_length)
    t_causal = time_causal(causal, prompts, args.gen_length, ids["pad"])
    print(f"device: {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}); "
          f"torch {torch.__version__}; bf16={device.type == 'cuda'}")
    print(f"models: BERT-{args.size} masked LM and its causal twin, {sum(p.numel() for p in mlm.parameters()) / 1e6:.1f}M "
          f"params each, random weights; batch {args.batch}, prompt {args.prompt_length}, answer {args.gen_length} tokens")
    print(f"causal generate (KV cache): {n_tokens / t_causal:9.0f} tokens/s")
    res = {"causal_tokens_per_s": n_tokens / t_causal, "diffusion": {}}
    t_fwd = time_forward(mlm, prompts, args.gen_length)
    res["forward_s"] = t_fwd
    print(f"one forward of the full (B, prompt + answer) batch: {t_fwd * 1e3:.1f} ms -- the floor per diffusion "
          f"step; the rest of a step is the sampler's float64 work over (B, L, vocab)")
    for steps in steps_list:
        t = time_diffusion(mlm, prompts, ids["mask"], args.gen_length, steps, args.block_length)
        res["diffusion"][steps] = n_tokens / t
        print(f"diffusion steps={steps:4d} (block {args.block_length}): {n_tokens / t:9.0f} tokens/s | "
              f"ratio diffusion/causal {t_causal / t:5.2f}x | forward-only bound {t_causal / (steps * t_fwd):5.2f}x")
    if args.run:
        model, rtok, qprompts = run_prompts(args.run, args.quality_prompts)
        curve = quality_curve(model.to(device), rtok, qprompts, steps_list, args.gen_length, args.block_length)
        res["quality"] = curve
        for row in curve:
            print(f"quality steps={row['steps']:4d}: distinct-2 {row['distinct_2']:.3f} | repeated 3-grams "
                  f"{row['repeated_3gram_rate']:.3f} | EOS rate {row['eos_rate']:.3f} | mean words {row['mean_words']:.1f}")
    else:
        print("quality curve: pass --run DIR (a finished gpu_run folder) to measure it at these steps")
    return res


if __name__ == "__main__":
    main()
