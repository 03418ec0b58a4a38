"""The study's ``sample`` stage: every SFT row answers the same held-out prompts; repetition stats.

Taught in notebook 11.

Diffusion rows sample with ``sample.generate`` (low-confidence remasking, greedy, the preset's
length/steps/blocks); causal rows decode greedily left to right (``causal_generate``) for at most
the same number of tokens. Each row's answers are scored by ``evaluate.generation_stats``
(distinct-n, repeated 3-grams, longest loop, EOS share, sample entropy); the answers themselves
go to ``samples.jsonl``. Prompts are answered one at a time by every row until the next one
would not fit the stage's time share (at least one); the seconds per answer are recorded (the
``sweep`` stage plans with them).
"""

from __future__ import annotations

import json
import time

from ..causal_baseline import causal_generate
from ..chat import chat_ids
from ..evaluate import eos_rate, generation_stats
from ..models import max_positions
from ..sample import cut_at_eos, generate
from . import corpus, sft


def prompts_of(examples: list[dict], gen_length: int, limit: int | None) -> list[list[int]]:
    """Prompt ids of the examples whose prompt leaves room for ``gen_length`` answer tokens."""
    prompts = [ex["input_ids"][: ex["target"].index(True)] for ex in examples]
    return [p for p in prompts if limit is None or len(p) + gen_length <= limit]


def answer(row: str, model, tokenizer, prompt: list[int], gen: dict, seed: int = 0) -> tuple[str, float | None]:
    """``(text cut at EOS, EOS share of the budget)``; causal rows stop at EOS (share None)."""
    if row.startswith("causal"):
        return causal_generate(model, tokenizer, prompt, max_new_tokens=gen["gen_length"]), None
    eos = chat_ids(tokenizer)["end"]
    ids = generate(model, tokenizer, prompt, seed=seed, return_ids=True, **gen)  # (1, P + gen_length)
    text = tokenizer.decode(cut_at_eos(ids[0, len(prompt):].tolist(), eos), skip_special_tokens=True)
    return text, eos_rate(ids, len(prompt), eos)


def answers(row: str, model, tokenizer, prompts, gen: dict, seed: int = 0) -> tuple[list[str], float | None]:
    """Answers to every prompt and the mean EOS share (None for causal rows)."""
    out = [answer(row, model, tokenizer, p, gen, seed + i) for i, p in enumerate(prompts)]
    rates = [r for _, r in out if r is not None]
    return [t for t, _ in out], (sum(rates) / len(rates) if rates else None)


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
    for i, p in enumerate(prompts):  # prompt by prompt, every row, until the next prompt would not fit
        t_prompt = time.perf_counter()
        for row, m in models.items():
            t0 = time.perf_counter()
            text, rate = answer(row, m, tok, p, gen, seed=i)
            seconds[row] += time.perf_counter() - t0
            texts[row].append(text)
            eos[row].append(rate)
        if study.left() < time.perf_counter() - t_prompt:
            break
    n = len(texts["diffusion-pretrained"])
    stats, lines = {}, []
    for row in models:
        rates = [r for r in eos[row] if r is not None]
        stats[row] = generation_stats(texts[row], sum(rates) / len(rates) if rates else None)
        lines += [{"row": row, "prompt": tok.decode(p, skip_special_tokens=True), "answer": t}
                  for p, t in zip(prompts, texts[row])]
    path = study.folder("sample") / "samples.jsonl"
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return {"generation": stats, "prompts": n, "settings": gen,
            "seconds_per_answer": {row: round(v / n, 4) for row, v in seconds.items()}}
