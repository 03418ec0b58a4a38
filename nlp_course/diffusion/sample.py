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
is EOS and the row stops costing forwards). ``generate`` decodes the answer and cuts it at the
first EOS. ``[MASK]`` is never emitted: it is banned at every step (LLaDA, which does not ban
it, leaves a position that drew ``[MASK]`` masked; the outcome is the same "not committed").

This file is the *exact reference*: one full forward per step. The float64 sampling math
(``pick``) runs only at the still-masked positions of the current block -- the only ones that
can be committed. ``fast_sample`` adds the fast paths (LM head on those positions only,
confidence-threshold parallel decoding, block KV caching) and checks itself against this one.
"""

from __future__ import annotations

import math

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


def uniform_draws(sizes: list[int], width: int, generator) -> torch.Tensor:
    """Float64 uniforms (sum(sizes), width) for the candidate positions of each row, rows in order.

    ``generator`` is ``None`` (global RNG), one ``torch.Generator`` (one draw for all rows) or a
    list of one generator per row -- then each row's draws do not depend on the other rows, so
    a batch samples exactly what the rows would sample one at a time.
    """
    if isinstance(generator, (list, tuple)):
        if len(generator) != len(sizes):
            raise ValueError(f"generator list has {len(generator)} entries for {len(sizes)} rows")
        parts = [torch.rand((k, width), generator=g, dtype=torch.float64) for k, g in zip(sizes, generator)]
        return torch.cat(parts, 0) if parts else torch.zeros(0, width, dtype=torch.float64)
    return torch.rand((sum(sizes), width), generator=generator, dtype=torch.float64)


def pick(logits: torch.Tensor, sizes: list[int], temperature: float = 0.0, top_k: int | None = None,
         top_p: float | None = None, remasking: str = "low_confidence", confidence_temperature: bool = False,
         banned: torch.Tensor | None = None, eos_id: int | None = None, eos_penalty: float = 0.0,
         generator=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidate tokens and their confidences at the N still-masked positions of the current block.

    ``logits`` (N, V) are those positions' logits, row-major (``sizes[b]`` of them for row b).
    Float64 here (Gumbel noise in float16/32 visibly lowers diversity, as LLaDA notes) -- on
    (N, V), not on the whole (B, L, V) canvas. Returns ``x0`` (N,) and ``conf`` (N,).
    """
    logits = logits.double()  # (N, V)
    if banned is not None and len(banned):
        logits[:, banned] = float("-inf")
    if eos_id is not None and eos_penalty:
        logits[:, eos_id] -= eos_penalty
    tempered = filter_logits(logits / max(temperature, 1e-8), top_k, top_p)  # (N, V)
    if temperature > 0:
        u = uniform_draws(sizes, logits.shape[-1], generator).clamp_(1e-300, 1 - 1e-16).to(logits.device)
        x0 = (tempered - torch.log(-torch.log(u))).argmax(-1)  # (N,) Gumbel-max
    else:
        x0 = tempered.argmax(-1)  # (N,)
    probs = (tempered if confidence_temperature else logits).softmax(-1)  # (N, V)
    if remasking == "low_confidence":
        conf = probs.gather(-1, x0[:, None])[:, 0]
    elif remasking == "random":
        conf = uniform_draws(sizes, 1, generator)[:, 0].to(logits.device)
    elif remasking == "entropy":
        conf = (probs * probs.clamp_min(1e-300).log()).sum(-1)  # -H(p)
    else:
        top2 = probs.topk(2, dim=-1).values
        conf = top2[:, 0] - top2[:, 1]
    return x0, conf


def greedy_pick(logits: torch.Tensor, banned: torch.Tensor | None = None,
                remasking: str = "low_confidence") -> tuple[torch.Tensor, torch.Tensor]:
    """``pick`` at temperature 0 (no top-k/top-p, no EOS penalty) in float32, without a softmax.

    Float64 matters for Gumbel noise, not for an argmax: ``x0`` is the argmax of the same float32
    logits ``pick`` casts up (exact in float64), so the same token, first index on ties. The
    confidence needs no (N, V) probabilities: with ``m`` the top logit and ``rest = sum_{j != x0}
    exp(l_j - m)``, ``p(x0) = 1 / (1 + rest)`` and the margin ``p1 - p2 = (1 - max_{j != x0}
    exp(l_j - m)) / (1 + rest)``. Summing the *other* terms keeps the relative precision of a
    near-certain position's tiny ``rest`` (``1 + rest`` in float32 would round p(x0) to 1.0 and
    tie them); returned in float64 they differ from ``pick``'s by ~1e-7 (tested), so positions
    are ranked the same unless two confidences tie to that precision.
    """
    if remasking not in ("low_confidence", "margin"):
        raise ValueError(f"greedy_pick covers remasking 'low_confidence' or 'margin', got {remasking!r}")
    logits = logits.float()  # (N, V)
    if banned is not None and len(banned):
        logits = logits.index_fill(-1, banned, float("-inf"))
    x0 = logits.argmax(-1)  # (N,)
    top = logits.gather(-1, x0[:, None])  # (N, 1)
    e = (logits - top).exp_().scatter_(-1, x0[:, None], 0.0)  # (N, V) exp(l_j - m), 0 at x0
    rest = e.sum(-1).double()  # (N,)
    if remasking == "low_confidence":
        return x0, 1.0 / (1.0 + rest)
    return x0, (1.0 - e.amax(-1).double()) / (1.0 + rest)


def mask_id_of(input_ids: torch.Tensor, fill: torch.Tensor) -> int | None:
    """The id every fill position holds (the [MASK] id); the sampler bans it from its output."""
    if fill.shape != input_ids.shape or fill.dtype != torch.bool:
        raise ValueError(f"fill must be a bool tensor of shape {tuple(input_ids.shape)}, got "
                         f"{fill.dtype} {tuple(fill.shape)}")
    held = input_ids[fill].unique()
    if len(held) > 1:
        raise ValueError(f"fill positions must all hold the [MASK] id, got ids {held[:5].tolist()}")
    return int(held[0]) if len(held) else None


def block_layout(fill: torch.Tensor, block_length: int | None, steps: int):
    """``(n, block_length, n_blocks, per_block, order)``: ``order`` (B, n) lists each row's fill
    positions left to right, so block ``j`` of row ``b`` is ``order[b, j*bl:(j+1)*bl]``."""
    counts = fill.sum(1)
    if not torch.all(counts == counts[0]):
        raise ValueError("every row must have the same number of positions to fill")
    n = int(counts[0])
    block_length = block_length or n
    n_blocks, per_block = check_blocks(n, steps, block_length)
    order = torch.sort(fill.long(), dim=1, descending=True, stable=True).indices[:, :n]  # (B, n)
    return n, block_length, n_blocks, per_block, order


def check_sampling(temperature: float, remasking: str) -> None:
    if remasking not in REMASKING:
        raise ValueError(f"remasking must be one of {REMASKING}, got {remasking!r}")
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")


def banned_tensor(banned_ids, mask_id: int | None, device) -> torch.Tensor:
    """``banned_ids`` plus the [MASK] id: a committed [MASK] would be a hole in the answer."""
    ids = {int(i) for i in banned_ids} | ({mask_id} if mask_id is not None else set())
    return torch.tensor(sorted(ids), dtype=torch.long, device=device)


def finish_rows(x: torch.Tensor, still: torch.Tensor, fill: torch.Tensor, eos_id: int) -> torch.Tensor:
    """``stop_at_eos``: rows that committed an EOS get EOS in every remaining position (in place);
    returns the (B,) bool of rows that are now complete."""
    done = ((x == eos_id) & fill & ~still).any(1)  # (B,)
    rest = still & done[:, None]
    x.masked_fill_(rest, eos_id)
    still &= ~rest
    return ~still.any(1)


@torch.no_grad()
def diffuse(model, input_ids: torch.Tensor, fill: torch.Tensor, steps: int, block_length: int | None = None,
            temperature: float = 0.0, top_k: int | None = None, top_p: float | None = None,
            remasking: str = "low_confidence", confidence_temperature: bool = False,
            banned_ids=(), eos_id: int | None = None, eos_penalty: float = 0.0, stop_at_eos: bool = False,
            attention_mask: torch.Tensor | None = None, generator=None,
            trace: list | None = None) -> torch.Tensor:
    """Fill the ``fill`` positions (B, L) of ``input_ids`` (already [MASK] there); return the ids.

    Every row must have the same number of positions to fill; they are decoded in blocks of
    ``block_length`` (in position order). The [MASK] id itself is always banned (with
    ``banned_ids``). ``trace`` (a list) receives the per-row number of tokens committed at each
    step. Rows finished by ``stop_at_eos`` leave the batch; the loop ends when all are done.
    ``generator``: see ``uniform_draws``. This is the reference path: a full forward per step.
    """
    check_sampling(temperature, remasking)
    n, block_length, n_blocks, per_block, order = block_layout(fill, block_length, steps)
    x = input_ids.clone()  # (B, L)
    B, L = x.shape
    banned = banned_tensor(banned_ids, mask_id_of(x, fill), x.device)
    block_of = torch.full((B, L), -1, dtype=torch.long, device=x.device)
    block_of.scatter_(1, order, (torch.arange(n, device=x.device) // block_length).expand(B, n))
    still = fill.clone()  # (B, L) positions not yet committed
    active = torch.ones(B, dtype=torch.bool, device=x.device)
    gens = generator
    for blk in range(n_blocks):
        for count in steps_schedule(block_length, per_block):
            rows = active.nonzero()[:, 0]  # (A,)
            if not len(rows):
                break
            sub = rows if len(rows) < B else slice(None)
            att = None if attention_mask is None else attention_mask[sub]
            logits = model(input_ids=x[sub], attention_mask=att).logits  # (A, L, V)
            candidate = still[sub] & (block_of[sub] == blk)  # (A, L)
            r, c = candidate.nonzero(as_tuple=True)  # row-major
            sizes = candidate.sum(1).tolist()
            if isinstance(generator, (list, tuple)):
                gens = [generator[int(i)] for i in rows]
            x0, conf = pick(logits[r, c], sizes, temperature, top_k, top_p, remasking, confidence_temperature,
                            banned, eos_id, eos_penalty, gens)  # (N,), (N,)
            full_conf = torch.full(candidate.shape, float("-inf"), dtype=torch.float64, device=x.device)
            full_conf[r, c] = conf
            chosen = commit_top(full_conf, candidate, count)  # (A, L)
            xs = x[sub]
            xs[r, c] = torch.where(chosen[r, c], x0, xs[r, c])
            x[sub] = xs
            still[sub] &= ~chosen
            if trace is not None:
                per_row = torch.zeros(B, dtype=torch.long, device=x.device)
                per_row[rows] = chosen.sum(1)
                trace.append(per_row.tolist())
        if stop_at_eos and eos_id is not None:
            active &= ~finish_rows(x, still, fill, eos_id)
        active &= still.any(1)
    return x


def commit_top(conf: torch.Tensor, candidate: torch.Tensor, count: int) -> torch.Tensor:
    """The ``count`` most confident candidates of each row (fewer if a row has fewer): (B, L) bool."""
    k = torch.clamp(candidate.sum(1), max=count)  # (B,)
    if count == 0:
        return torch.zeros_like(candidate)
    top = conf.topk(min(count, conf.shape[1]), dim=1).indices  # (B, count)
    keep = torch.arange(top.shape[1], device=conf.device)[None] < k[:, None]  # (B, count)
    return torch.zeros_like(candidate).scatter_(1, top, keep)


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
        bad = next((i for i, ch in enumerate(prompt) if "\ud800" <= ch <= "\udfff"), None)
        if bad is not None:
            raise ValueError(f"prompt holds a lone surrogate {prompt[bad]!r} at character {bad}: not valid "
                             f"Unicode text (decode the bytes with errors='replace' first)")
        if chat:
            return prompt_ids(tokenizer, [{"role": "user", "content": prompt}])
        ids = tokenizer(prompt, add_special_tokens=True, verbose=False)["input_ids"]
        return ids[:-1] if ids and ids[-1] == tokenizer.sep_token_id else ids
    if torch.is_tensor(prompt):
        return _check_ids([int(i) for i in prompt.reshape(-1)], len(tokenizer))
    if isinstance(prompt, (list, tuple)) and prompt and isinstance(prompt[0], dict):
        return prompt_ids(tokenizer, prompt)
    if isinstance(prompt, (list, tuple)) and all(isinstance(i, int) for i in prompt):
        return _check_ids(list(prompt), len(tokenizer))
    raise TypeError(f"prompt must be a str, a messages list or token ids, got {type(prompt).__name__}")


def _check_ids(ids: list[int], vocab: int) -> list[int]:
    bad = [i for i in ids if not 0 <= i < vocab]
    if bad:
        raise ValueError(f"prompt token ids must be in [0, {vocab}) (the tokenizer's vocabulary), got {bad[:5]}")
    return ids


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
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
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
