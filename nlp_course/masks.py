"""Attention masks: causal, padding and the sparse patterns of long-context transformers.

Taught in notebook 07.

Every function returns a bool tensor where True = "this query may attend to this key", the
convention of ``F.scaled_dot_product_attention`` (and of ``nlp_course.attention``'s functions).
``torch.nn.MultiheadAttention`` and our ``MultiHeadAttention`` module take the opposite
(True = masked out): pass ``~mask`` there.

- ``sliding_window_mask``: each token sees ``window`` neighbours on each side (Longformer local,
  Mistral's SWA is the causal variant).
- ``longformer_mask``: local window + global tokens that see and are seen by everyone
  (Beltagy et al. 2020, arXiv:2004.05150).
- ``bigbird_mask``: local + global + ``num_random`` random keys per query (Zaheer et al. 2020,
  arXiv:2007.14062), seeded so the picture is reproducible.
- ``attention_cost``: FLOPs and score-matrix memory of a pattern (4 * nnz * d FLOPs for
  QK^T and AV; one score per allowed pair).
"""

from __future__ import annotations

import torch


def _check_len(name: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")
    return n


def causal_mask(seq_len: int, key_len: int | None = None) -> torch.Tensor:
    """(T, S) lower-triangular mask: query i sees keys j <= i (aligned to the top-left, like torch)."""
    T = _check_len("seq_len", seq_len)
    S = T if key_len is None else _check_len("key_len", key_len)
    return torch.ones(T, S, dtype=torch.bool).tril()


def padding_mask(lengths, max_len: int | None = None) -> torch.Tensor:
    """(B, S) mask, True on real tokens, from per-sequence lengths."""
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.is_floating_point() or (lengths < 0).any():
        raise ValueError(f"lengths must be a 1-D sequence of non-negative ints, got {lengths.tolist()}")
    S = int(lengths.max()) if max_len is None else max_len
    if lengths.numel() and int(lengths.max()) > S:
        raise ValueError(f"max_len={S} is shorter than the longest sequence ({int(lengths.max())})")
    return torch.arange(S)[None, :] < lengths[:, None]  # (B, S)


def sliding_window_mask(seq_len: int, window: int, causal: bool = False) -> torch.Tensor:
    """(T, T): |i - j| <= window (or 0 <= i - j <= window when causal)."""
    T, w = _check_len("seq_len", seq_len), _check_len("window", window)
    d = torch.arange(T)[:, None] - torch.arange(T)[None, :]  # (T, T) i - j
    return (d >= 0) & (d <= w) if causal else d.abs() <= w


def _global(seq_len: int, global_tokens) -> torch.Tensor:
    idx = torch.as_tensor(list(global_tokens), dtype=torch.long)
    if idx.numel() and (idx.min() < 0 or idx.max() >= seq_len):
        raise ValueError(f"global_tokens must be positions in [0, {seq_len}), got {idx.tolist()}")
    return idx


def longformer_mask(seq_len: int, window: int, global_tokens=(0,)) -> torch.Tensor:
    """(T, T): sliding window plus global tokens (rows and columns fully on)."""
    mask = sliding_window_mask(seq_len, window)
    idx = _global(seq_len, global_tokens)
    mask[idx, :] = True  # global tokens attend everywhere
    mask[:, idx] = True  # everyone attends to global tokens
    return mask


def bigbird_mask(seq_len: int, window: int, global_tokens=(0,), num_random: int = 2,
                 seed: int = 0) -> torch.Tensor:
    """(T, T): Longformer pattern plus ``num_random`` random keys per query (seeded)."""
    if isinstance(num_random, bool) or not isinstance(num_random, int) or num_random < 0:
        raise ValueError(f"num_random must be an int >= 0, got {num_random!r}")
    mask = longformer_mask(seq_len, window, global_tokens)
    g = torch.Generator().manual_seed(seed)
    for i in range(seq_len):
        extra = torch.randperm(seq_len, generator=g)[:num_random]
        mask[i, extra] = True
    return mask


def attention_cost(mask: torch.Tensor, head_dim: int, bytes_per_score: int = 4) -> dict[str, int]:
    """FLOPs of QK^T and AV restricted to the pattern, and memory of the stored scores."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.dim() != 2:
        raise ValueError("mask must be a 2-D bool tensor (T, S)")
    nnz = int(mask.sum())
    return {"flops": 4 * nnz * head_dim, "memory_bytes": nnz * bytes_per_score, "nnz": nnz}
