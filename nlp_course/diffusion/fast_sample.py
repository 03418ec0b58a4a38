"""A fast masked-diffusion sampler: work only where it matters, decode in parallel by
confidence, cache finished blocks, batch prompts, stop finished rows.

Taught in notebook 11 (fast sampling).

``sample.diffuse`` is the exact reference: a full forward of the (B, L) canvas at every step.
``fast_diffuse`` takes the same arguments and adds, one switch each:

1. *LM head at the still-masked positions of the current block only* (always on): the body runs,
   its hidden states are gathered, and only those N positions go through the (C x V) head and
   the sampling math: float64 ``sample.pick`` when sampling (Gumbel noise), float32
   ``sample.greedy_pick`` at temperature 0 (argmax + a logsumexp-style confidence, no (N, V)
   softmax; 4-7x less time on one CPU thread). With ``threshold=None, cache=None`` the tokens are
   ``diffuse``'s for the same seed (tested, greedy and Gumbel sampling, LLaDA parity; greedy ranks
   positions by float32-derived confidences, equal to ~1e-7, so only a closer tie could differ).
2. ``threshold=tau``: confidence-threshold parallel decoding (Fast-dLLM, Wu et al. 2025,
   arXiv:2505.22618): each step commits every masked position of the block whose confidence
   (``low_confidence``: p(x0); ``margin``: p1 - p2) is >= tau, and at least the most confident
   one, so a block takes between 1 and ``block_length`` steps; ``steps`` is then unused.
3. ``cache="prefix"`` / ``"dual"``: block key/value caching (``block_cache.BertStack``): a full
   forward refreshes the cache when a block starts, then each step recomputes only the block
   plus the still-masked suffix (prefix) or the block alone (dual). Approximate; the course
   BERT and Hugging Face ``BertForMaskedLM`` only.
4. Batched prompts of different lengths: right-padded rows with an ``attention_mask``; each
   row's fill positions give its own block layout. ``generate_batch`` builds such a batch; a
   list of per-row generators makes each row sample what it would sample alone (tested).
5. Rows drop out of the forward as soon as their block is complete (threshold decoding) or their
   answer is (``stop_at_eos``); the loop ends when every row is done.

``stats`` (a dict) receives counters for the bench: forwards, rows and positions forwarded,
attention (query, key) pairs, head positions, steps, tokens committed, and seconds spent in the
body forward, the LM head and the sampling math.
"""

from __future__ import annotations

import math
import time

import torch

from .block_cache import CACHE_MODES, BertStack, split_model
from .chat import chat_ids, find_mask_id
from .models import max_positions
from .sample import (
    banned_tensor,
    block_layout,
    check_sampling,
    commit_top,
    cut_at_eos,
    encode_prompt,
    finish_rows,
    generation_banned_ids,
    greedy_pick,
    mask_id_of,
    pick,
    steps_schedule,
)

COUNTERS = ("forwards", "rows_forwarded", "query_tokens", "key_pairs", "head_tokens", "steps", "committed",
            "forward_s", "head_s", "sample_s", "total_s")


def _check_fast(threshold, cache, remasking) -> None:
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold) \
                or not 0 < threshold <= 1:
            raise ValueError(f"threshold must be a number in (0, 1] or None, got {threshold!r}")
        if remasking not in ("low_confidence", "margin"):
            raise ValueError(f"threshold decoding needs a confidence in [0, 1]: remasking 'low_confidence' or "
                             f"'margin', got {remasking!r}")
    if cache is not None and cache not in CACHE_MODES:
        raise ValueError(f"cache must be None or one of {CACHE_MODES}, got {cache!r}")


@torch.no_grad()
def fast_diffuse(model, input_ids: torch.Tensor, fill: torch.Tensor, steps: int | None = None,
                 block_length: int | None = None, temperature: float = 0.0, top_k: int | None = None,
                 top_p: float | None = None, remasking: str = "low_confidence", confidence_temperature: bool = False,
                 banned_ids=(), eos_id: int | None = None, eos_penalty: float = 0.0, stop_at_eos: bool = False,
                 attention_mask: torch.Tensor | None = None, generator=None, threshold: float | None = None,
                 cache: str | None = None, trace: list | None = None, stats: dict | None = None) -> torch.Tensor:
    """``sample.diffuse`` with the fast paths (module docstring); ``steps`` defaults to one per token."""
    check_sampling(temperature, remasking)
    _check_fast(threshold, cache, remasking)
    steps = int(fill[0].sum()) if steps is None and fill.numel() else steps
    n, bl, n_blocks, per_block, order = block_layout(fill, block_length, steps)
    x = input_ids.clone()  # (B, L)
    B, L = x.shape
    banned = banned_tensor(banned_ids, mask_id_of(x, fill), x.device)
    stack = BertStack(model) if cache else None
    split = None if cache else split_model(model)
    head = stack.head if cache else (split[1] if split else None)
    greedy = temperature == 0 and top_k is None and top_p is None and not eos_penalty \
        and not confidence_temperature and remasking in ("low_confidence", "margin")
    st = {k: 0 for k in COUNTERS}
    start = time.perf_counter()
    still = fill.clone()  # (B, L)
    active = torch.ones(B, dtype=torch.bool, device=x.device)
    for blk in range(n_blocks):
        rows = active.nonzero()[:, 0]  # (A,)
        kv = None
        schedule = steps_schedule(bl, per_block) if threshold is None else [None] * bl
        for count in schedule:
            block_pos = order[rows, blk * bl:(blk + 1) * bl]  # (A, bl)
            cand = still[rows].gather(1, block_pos)  # (A, bl) still masked
            live = cand.any(1)
            if not live.any():
                break
            if not live.all():  # rows whose block is complete stop costing forwards
                rows, block_pos, cand = rows[live], block_pos[live], cand[live]
                kv = None if kv is None else [(k[live], v[live]) for k, v in kv]
            A = len(rows)
            t0 = time.perf_counter()
            xs, a = x[rows], (None if attention_mask is None else attention_mask[rows])  # (A, L)
            if stack is None and split is None:  # an architecture we cannot cut: full logits
                logits_all = model(input_ids=xs, attention_mask=a).logits  # (A, L, V)
                hb, n_q, n_k = logits_all.gather(1, block_pos[..., None].expand(-1, -1, logits_all.shape[-1])), L, L
            elif stack is None:
                h = split[0](xs, a)  # (A, L, C)
                hb, n_q, n_k = h.gather(1, block_pos[..., None].expand(-1, -1, h.shape[-1])), L, L  # (A, bl, C)
            elif kv is None:  # a new block: refresh the cache with a full forward
                h, kv = stack.full(xs, a)  # (A, L, C)
                hb, n_q, n_k = h.gather(1, block_pos[..., None].expand(-1, -1, h.shape[-1])), L, L
            else:
                q_pos = order[rows, blk * bl:] if cache == "prefix" else block_pos  # (A, T)
                hb = stack.partial(xs, q_pos, kv, a)[:, :bl]  # (A, bl, C)
                n_q, n_k = q_pos.shape[1], L
            t1 = time.perf_counter()
            r, c = cand.nonzero(as_tuple=True)  # row-major, positions in order (as diffuse draws)
            logits = head(hb[r, c]) if head is not None else hb[r, c]  # (N, V)
            t2 = time.perf_counter()
            sizes = cand.sum(1).tolist()
            gens = [generator[int(i)] for i in rows] if isinstance(generator, (list, tuple)) else generator
            if greedy:
                x0, conf = greedy_pick(logits, banned, remasking)  # (N,), (N,) float32, no softmax
            else:
                x0, conf = pick(logits, sizes, temperature, top_k, top_p, remasking, confidence_temperature,
                                banned, eos_id, eos_penalty, gens)  # (N,), (N,)
            grid = torch.full(cand.shape, float("-inf"), dtype=torch.float64, device=x.device)  # (A, bl)
            grid[r, c] = conf
            if threshold is None:
                chosen = commit_top(grid, cand, count)  # (A, bl)
            else:
                chosen = cand & (grid >= threshold)
                chosen[torch.arange(A, device=x.device), grid.argmax(1)] = True  # at least one per row
            keep = chosen[r, c]  # (N,)
            x[rows[r[keep]], block_pos[r[keep], c[keep]]] = x0[keep]
            still[rows[r[keep]], block_pos[r[keep], c[keep]]] = False
            t3 = time.perf_counter()
            st["forwards"] += 1
            st["rows_forwarded"] += A
            st["query_tokens"] += A * n_q
            st["key_pairs"] += A * n_q * n_k
            st["head_tokens"] += len(r)
            st["steps"] += 1
            st["committed"] += int(keep.sum())
            st["forward_s"] += t1 - t0
            st["head_s"] += t2 - t1
            st["sample_s"] += t3 - t2
            if trace is not None:
                per_row = torch.zeros(B, dtype=torch.long)
                per_row[rows.cpu()] = chosen.sum(1).cpu()
                trace.append(per_row.tolist())
        if stop_at_eos and eos_id is not None:
            active &= ~finish_rows(x, still, fill, eos_id)
        active &= still.any(1)
        if not active.any():
            break
    st["total_s"] = time.perf_counter() - start
    if stats is not None:
        for k, v in st.items():
            stats[k] = stats.get(k, 0) + v
    return x


def generate_batch(model, tokenizer, prompts: list, gen_length: int = 64, steps: int | None = None,
                   block_length: int | None = None, threshold: float | None = None, cache: str | None = None,
                   allow_eos: bool = True, chat: bool = True, seed: int | None = 0, return_ids: bool = False,
                   stats: dict | None = None, **kw):
    """Answer several prompts at once (right padding + attention mask). Row ``i`` samples with its
    own generator seeded ``seed + i``, so it equals ``sample.generate(..., seed=seed + i)`` in exact
    mode. Returns the answers cut at the first EOS, or ``(ids (B, L), prompt lengths)`` with
    ``return_ids=True``. ``kw`` go to ``fast_diffuse`` (temperature, remasking, stop_at_eos, ...).
    """
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise ValueError(f"prompts must be a non-empty list, got {type(prompts).__name__}")
    mask_id = find_mask_id(tokenizer)
    ids = [encode_prompt(tokenizer, p, chat) for p in prompts]
    steps = gen_length if steps is None else steps
    block_length = gen_length if block_length is None else block_length
    longest = max(len(p) for p in ids) + gen_length
    limit = max_positions(model)
    if limit is not None and longest > limit:
        raise ValueError(f"the longest prompt + gen_length ({longest} tokens) exceeds the model's maximum length "
                         f"{limit}: shorten the prompts or gen_length")
    device = next(model.parameters()).device
    special = chat_ids(tokenizer)
    rows = [p + [mask_id] * gen_length + [special["pad"]] * (longest - len(p) - gen_length) for p in ids]
    x = torch.tensor(rows, device=device)  # (B, L)
    att = torch.tensor([[1] * (len(p) + gen_length) + [0] * (longest - len(p) - gen_length) for p in ids],
                       device=device)  # (B, L)
    fill = torch.zeros_like(x, dtype=torch.bool)
    for b, p in enumerate(ids):
        fill[b, len(p):len(p) + gen_length] = True
    gens = [torch.Generator().manual_seed(seed + b) for b in range(len(ids))] if seed is not None else None
    was_training = model.training
    model.eval()
    out = fast_diffuse(model, x, fill, steps, block_length, banned_ids=generation_banned_ids(tokenizer, allow_eos),
                       eos_id=special["end"], attention_mask=att, generator=gens, threshold=threshold, cache=cache,
                       stats=stats, **kw)
    model.train(was_training)
    if return_ids:
        return out, [len(p) for p in ids]
    return [tokenizer.decode(cut_at_eos(out[b, len(p):len(p) + gen_length].tolist(), special["end"]),
                             skip_special_tokens=True) for b, p in enumerate(ids)]
