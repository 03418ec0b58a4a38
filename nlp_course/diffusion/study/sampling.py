"""The study's ``sample`` stage: every SFT row answers the same held-out prompts; repetition stats.

Taught in notebook 11.

Diffusion rows sample with ``fast_sample.generate_batch`` (a batch of prompts at once, each prompt
exactly as ``sample.generate`` with its seed; low-confidence remasking, greedy, the preset's
length/steps/blocks); causal rows decode greedily left to right (``causal_generate``) for at most
the same number of tokens. Each row's answers are scored by ``evaluate.generation_stats``
(distinct-n, repeated 3-grams, longest loop, EOS share, sample entropy); the answers themselves
go to ``samples.jsonl``. Prompts are answered a batch at a time (``chunk_size``) by every row until
the next batch would not fit the stage's time share (at least one); the seconds per answer are
recorded (the ``sweep`` stage, which answers its prompts the same way, plans with them).
"""

from __future__ import annotations

import json
import time

from ..causal_baseline import causal_generate
from ..chat import chat_ids
from ..evaluate import generation_stats
from ..fast_sample import generate_batch
from ..models import max_positions
from ..sample import cut_at_eos
from . import corpus, sft


def prompts_of(examples: list[dict], gen_length: int, limit: int | None) -> list[list[int]]:
    """Prompt ids of the examples whose prompt leaves room for ``gen_length`` answer tokens."""
    prompts = [ex["input_ids"][: ex["target"].index(True)] for ex in examples]
    return [p for p in prompts if limit is None or len(p) + gen_length <= limit]


def answers(row: str, model, tokenizer, prompts, gen: dict, seed: int = 0) -> tuple[list[str], float | None]:
    """Answers to every prompt and the mean EOS share (None for causal rows)."""
    texts, rates = _answers(row, model, tokenizer, prompts, gen, seed)
    return texts, (sum(rates) / len(rates) if rates else None)


def _answers(row: str, model, tokenizer, prompts, gen: dict, seed: int) -> tuple[list[str], list[float]]:
    """``(texts cut at EOS, per-prompt EOS shares of the answer slots)``. Diffusion rows answer all
    prompts in one batch (``fast_sample.generate_batch``: prompt ``i`` is sampled exactly as
    ``sample.generate(..., seed=seed + i)``); causal rows decode one prompt at a time, stop at EOS
    (no shares)."""
    if row.startswith("causal"):
        return [causal_generate(model, tokenizer, p, max_new_tokens=gen["gen_length"]) for p in prompts], []
    eos, G = chat_ids(tokenizer)["end"], gen["gen_length"]
    ids, starts = generate_batch(model, tokenizer, list(prompts), seed=seed, return_ids=True, **gen)  # (B, L)
    answer_ids = [ids[b, s:s + G] for b, s in enumerate(starts)]  # B x (G,)
    texts = [tokenizer.decode(cut_at_eos(a.tolist(), eos), skip_special_tokens=True) for a in answer_ids]
    return texts, [float((a == eos).float().mean()) for a in answer_ids]


def chunk_size(study, n: int) -> int:
    """Prompts per batch: the preset's ``sample.batch_size``, else all at once on a GPU and 8 on a CPU
    (where a batch costs about as much as its prompts one by one, and smaller chunks keep the
    stage's time check fine-grained)."""
    return study.P["sample"].get("batch_size") or (n if study.device.type == "cuda" else 8)


def run(study) -> dict:
    d = corpus.load(study)
    tok = d["tokenizer"]
    models = sft.load_models(study)
    gen = {k: study.P["sample"][k] for k in ("gen_length", "steps", "block_length")}
    prompts = prompts_of(d["held"], gen["gen_length"], max_positions(models["diffusion-pretrained"]))
    prompts = prompts[: study.P["sample"]["num_prompts"]]
    if not prompts:
        raise ValueError(f"no held-out prompt leaves room for gen_length={gen['gen_length']} answer tokens")
    texts = {row: [] for row in models}
    eos = {row: [] for row in models}
    seconds = {row: 0.0 for row in models}
    chunk = chunk_size(study, len(prompts))
    for start in range(0, len(prompts), chunk):  # a batch of prompts, every row, until the next would not fit
        t_chunk = time.perf_counter()
        for row, m in models.items():
            t0 = time.perf_counter()
            out, rates = _answers(row, m, tok, prompts[start:start + chunk], gen, seed=start)
            seconds[row] += time.perf_counter() - t0
            texts[row] += out
            eos[row] += rates
        if study.left() < time.perf_counter() - t_chunk:
            break
    n = len(texts["diffusion-pretrained"])
    stats, lines = {}, []
    for row in models:
        stats[row] = generation_stats(texts[row], sum(eos[row]) / len(eos[row]) if eos[row] else None)
        lines += [{"row": row, "prompt": tok.decode(p, skip_special_tokens=True), "answer": t}
                  for p, t in zip(prompts, texts[row])]
    path = study.folder("sample") / "samples.jsonl"
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return {"generation": stats, "prompts": n, "settings": gen,
            "seconds_per_answer": {row: round(v / n, 4) for row, v in seconds.items()}}
