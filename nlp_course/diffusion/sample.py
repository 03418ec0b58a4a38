"""Sampling from a masked-diffusion LM: start from all-[MASK] answers and unmask step by step.

Taught in notebook 11.

``diffuse`` is the core reverse process (LLaDA's low-confidence remasking sampler, Nie et al.
2025, Alg. 4/5; the MaskGIT schedule of Chang et al. 2022): the positions to fill are split into
semi-autoregressive *blocks* decoded left to right; each block gets ``steps / n_blocks`` steps and
each step commits a fixed number of tokens (``n // s`` plus one for the first ``n % s`` steps).
At every step the model predicts all masked tokens at once; a candidate ``x0`` is drawn per
position (greedy, or Gumbel-max at a temperature -- in float64, since float16/32 Gumbel noise
visibly lowers diversity, as LLaDA notes), then the most *confident* masked positions of the
current block are committed and the rest stay masked. Confidence (``remasking``):

- ``low_confidence`` (default): ``p(x0)``; ``random``: uniform scores (the original MDLM/D3PM
  ancestral order); ``entropy``: ``-H(p)``; ``margin``: ``p_top1 - p_top2`` (Kim et al. 2025).
- ``confidence_temperature=True`` scores with the tempered, top-k/top-p filtered distribution
  instead of the raw ``softmax(logits)``.

EOS controls: ``allow_eos``, ``eos_penalty`` (a logit bias against EOS, for models trained with
EOS padding that stop too early) and ``stop_at_eos`` (once a finished block holds an EOS, the rest
is EOS). ``generate`` decodes the answer and cuts it at the first EOS.
"""

from __future__ import annotations

import torch

from .chat import chat_ids, find_mask_id, prompt_ids
from .models import max_positions

REMASKING = ("low_confidence", "random", "entropy", "margin")


def steps_schedule(n_tokens: int, steps: int) -> list[int]:
    """How many tokens each of ``steps`` steps commits so that all ``n_tokens`` are filled."""
    if steps < 1 or n_tokens < 0:
        raise ValueError(f"need steps >= 1 and n_tokens >= 0, got steps={steps}, n_tokens={n_tokens}")
    base, extra = divmod(n_tokens, steps)
    return [base + (1 if i < extra else 0) for i in range(steps)]


def check_blocks(n_tokens: int, steps: int, block_length: int) -> tuple[int, int]:
    """Validate the block layout; return ``(n_blocks, steps_per_block)``."""
    for name, v in (("gen_length", n_tokens), ("steps", steps), ("block_length", block_length)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if n_tokens % block_length:
        raise ValueError(f"gen_length={n_tokens} must be divisible by block_length={block_length}")
    n_blocks = n_tokens // block_length
    if steps < n_blocks or steps % n_blocks:
        raise ValueError(f"steps={steps} must be a multiple of the number of blocks ({n_blocks} = "
                         f"gen_length / block_length) and at least that many")
    if steps > n_tokens:
        raise ValueError(f"steps={steps} exceeds gen_length={n_tokens}: some steps would commit nothing")
    return n_blocks, steps // n_blocks


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Set logits outside the top-k / nucleus (top-p) set to -inf (always keeps the argmax)."""
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        drop = probs.cumsum(-1) - probs > top_p  # tokens after the nucleus is full
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def _gumbel(shape, generator, device) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, dtype=torch.float64).clamp_(1e-300, 1 - 1e-16)
    return (-torch.log(-torch.log(u))).to(device)


@torch.no_grad()
def diffuse(model, input_ids: torch.Tensor, fill: torch.Tensor, steps: int, block_length: int | None = None,
            temperature: float = 0.0, top_k: int | None = None, top_p: float | None = None,
            remasking: str = "low_confidence", confidence_temperature: bool = False,
            banned_ids=(), eos_id: int | None = None, eos_penalty: float = 0.0, stop_at_eos: bool = False,
            attention_mask: torch.Tensor | None = None, generator: torch.Generator | None = None,
            trace: list | None = None) -> torch.Tensor:
    """Fill the ``fill`` positions (B, L) of ``input_ids`` (already [MASK] there); return the ids.

    Every row must have the same number of positions to fill; they are decoded in blocks of
    ``block_length`` (in position order). ``trace`` (a list) receives the per-row number of
    tokens committed at each step.
    """
    if remasking not in REMASKING:
        raise ValueError(f"remasking must be one of {REMASKING}, got {remasking!r}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    counts = fill.sum(1)
    if not torch.all(counts == counts[0]):
        raise ValueError("every row must have the same number of positions to fill")
    n = int(counts[0])
    block_length = block_length or n
    n_blocks, per_block = check_blocks(n, steps, block_length)
    x = input_ids.clone()  # (B, L)
    B, L = x.shape
    order = torch.sort(fill.long(), dim=1, descending=True, stable=True).indices[:, :n]  # (B, n)
    block_of = torch.full((B, L), -1, dtype=torch.long, device=x.device)
    block_of.scatter_(1, order, (torch.arange(n, device=x.device) // block_length).expand(B, n))
    banned = torch.tensor(sorted(set(int(i) for i in banned_ids)), dtype=torch.long, device=x.device)
    still = fill.clone()  # (B, L) positions not yet committed
    rows = torch.arange(B, device=x.device)
    for blk in range(n_blocks):
        for count in steps_schedule(block_length, per_block):
            logits = model(input_ids=x, attention_mask=attention_mask).logits.double()  # (B, L, V)
            if len(banned):
                logits[..., banned] = float("-inf")
            if eos_id is not None and eos_penalty:
                logits[..., eos_id] -= eos_penalty
            tempered = filter_logits(logits / max(temperature, 1e-8), top_k, top_p)  # (B, L, V)
            if temperature > 0:
                x0 = (tempered + _gumbel(tempered.shape, generator, x.device)).argmax(-1)  # (B, L)
            else:
                x0 = tempered.argmax(-1)  # (B, L)
            probs = (tempered if confidence_temperature else logits).softmax(-1)  # (B, L, V)
            if remasking == "low_confidence":
                conf = probs.gather(-1, x0[..., None])[..., 0]
            elif remasking == "random":
                conf = torch.rand((B, L), generator=generator, dtype=torch.float64).to(x.device)
            elif remasking == "entropy":
                conf = (probs * probs.clamp_min(1e-300).log()).sum(-1)  # -H(p)
            else:
                top2 = probs.topk(2, dim=-1).values
                conf = top2[..., 0] - top2[..., 1]
            candidate = still & (block_of == blk)  # (B, L)
            conf = conf.masked_fill(~candidate, float("-inf"))
            k = torch.minimum(candidate.sum(1), torch.tensor(count, device=x.device))  # (B,)
            chosen = torch.zeros_like(still)
            top = conf.topk(count, dim=1).indices if count else conf[:, :0].long()  # (B, count)
            for j in range(count):
                chosen[rows, top[:, j]] |= j < k
            x = torch.where(chosen, x0, x)
            still &= ~chosen
            if trace is not None:
                trace.append(chosen.sum(1).tolist())
        if stop_at_eos and eos_id is not None:
            done = ((x == eos_id) & fill & ~still).any(1)  # (B,)
            rest = still & done[:, None]
            x = torch.where(rest, torch.full_like(x, eos_id), x)
            still &= ~rest
    return x


def generation_banned_ids(tokenizer, allow_eos: bool = True) -> list[int]:
    """Ids the sampler must never emit: mask, pad, cls, sep, unk, role markers (and EOS if asked)."""
    ids = chat_ids(tokenizer)
    out = {ids["mask"], ids["system"], ids["user"], ids["assistant"], ids["cls"], ids["sep"],
           tokenizer.unk_token_id, tokenizer.pad_token_id}
    out.discard(ids["end"])
    if not allow_eos:
        out.add(ids["end"])
    return sorted(i for i in out if i is not None)


def encode_prompt(tokenizer, prompt, chat: bool = True) -> list[int]:
    """A str (a user turn, or raw text with ``chat=False``), a messages list, or token ids."""
    if isinstance(prompt, str):
        if chat:
            return prompt_ids(tokenizer, [{"role": "user", "content": prompt}])
        ids = tokenizer(prompt, add_special_tokens=True, verbose=False)["input_ids"]
        return ids[:-1] if ids and ids[-1] == tokenizer.sep_token_id else ids
    if torch.is_tensor(prompt):
        return [int(i) for i in prompt.reshape(-1)]
    if isinstance(prompt, (list, tuple)) and prompt and isinstance(prompt[0], dict):
        return prompt_ids(tokenizer, prompt)
    if isinstance(prompt, (list, tuple)) and all(isinstance(i, int) for i in prompt):
        return list(prompt)
    raise TypeError(f"prompt must be a str, a messages list or token ids, got {type(prompt).__name__}")


def cut_at_eos(ids: list[int], eos_id: int) -> list[int]:
    """Everything before the first EOS."""
    return ids[: ids.index(eos_id)] if eos_id in ids else ids


def generate(model, tokenizer, prompt, gen_length: int = 64, steps: int | None = None,
             block_length: int | None = None, temperature: float = 0.0, top_k: int | None = None,
             top_p: float | None = None, remasking: str = "low_confidence",
             confidence_temperature: bool = False, allow_eos: bool = True, eos_penalty: float = 0.0,
             stop_at_eos: bool = False, chat: bool = True, seed: int | None = 0,
             num_samples: int = 1, return_ids: bool = False, trace: list | None = None):
    """Answer ``prompt`` with ``gen_length`` tokens decoded in ``steps`` steps (default one per
    token) and blocks of ``block_length`` (default: one block). Returns the answer text cut at
    the first EOS (a list of ``num_samples`` texts when ``num_samples > 1``; with
    ``return_ids=True`` the full (num_samples, L) id tensor instead).
    """
    mask_id = find_mask_id(tokenizer)
    ids = encode_prompt(tokenizer, prompt, chat)
    steps = gen_length if steps is None else steps
    block_length = gen_length if block_length is None else block_length
    check_blocks(gen_length, steps, block_length)
    limit = max_positions(model)
    if limit is not None and len(ids) + gen_length > limit:
        raise ValueError(f"prompt ({len(ids)} tokens) + gen_length ({gen_length}) exceeds the model's "
                         f"maximum length {limit}: shorten the prompt or gen_length")
    device = next(model.parameters()).device
    eos = chat_ids(tokenizer)["end"]
    x = torch.tensor([ids + [mask_id] * gen_length] * num_samples, device=device)  # (S, L)
    fill = torch.zeros_like(x, dtype=torch.bool)
    fill[:, len(ids):] = True
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    was_training = model.training
    model.eval()
    out = diffuse(model, x, fill, steps, block_length, temperature, top_k, top_p, remasking,
                  confidence_temperature, generation_banned_ids(tokenizer, allow_eos), eos, eos_penalty,
                  stop_at_eos, generator=gen, trace=trace)
    model.train(was_training)
    if return_ids:
        return out
    texts = [tokenizer.decode(cut_at_eos(row[len(ids):].tolist(), eos), skip_special_tokens=True)
             for row in out]
    return texts if num_samples > 1 else texts[0]
