"""Scaled dot-product attention and multi-head attention, written out and equal to torch's.

Taught in notebook 07 (and used by the BERT encoder of notebook 08 and the trainer of 11).

- ``self_attention(X, W_q, W_k, W_v)``: the single-head textbook formula on raw matrices.
- ``scaled_dot_product_attention(q, k, v, mask, dropout_p, is_causal)``: same contract as
  ``torch.nn.functional.scaled_dot_product_attention`` (bool mask True = may attend, float mask
  is added to the scores), written as explicit math; ``attention_weights`` returns the softmax.
- ``MultiHeadAttention``: batch-first, parameters named like ``torch.nn.MultiheadAttention``
  (``in_proj_weight`` (3E, E), ``in_proj_bias`` (3E,), ``out_proj``) so torch's state_dict loads.
  Its masks follow torch's *module* convention (bool True = masked OUT, float = added).

softmax(Q K^T / sqrt(d_k) + M) V -- Vaswani et al. 2017, "Attention Is All You Need", sec. 3.2.
References: https://pytorch.org/docs/stable/generated/torch.nn.functional.scaled_dot_product_attention.html,
https://pytorch.org/docs/stable/generated/torch.nn.MultiheadAttention.html
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def self_attention(X, W_q, W_k, W_v) -> torch.Tensor:
    """Single-head self-attention softmax(X W_q (X W_k)^T / sqrt(d_k)) X W_v on (T, d) matrices."""
    X, W_q, W_k, W_v = (torch.as_tensor(m, dtype=torch.float64) for m in (X, W_q, W_k, W_v))
    if X.dim() != 2:
        raise ValueError(f"X must be a (T, d_model) matrix, got shape {tuple(X.shape)}")
    for name, W in (("W_q", W_q), ("W_k", W_k), ("W_v", W_v)):
        if W.dim() != 2 or W.shape[0] != X.shape[1]:
            raise ValueError(f"{name} must have shape ({X.shape[1]}, d), got {tuple(W.shape)}")
    if W_q.shape[1] != W_k.shape[1]:
        raise ValueError(f"W_q and W_k must have the same width, got {W_q.shape[1]} and {W_k.shape[1]}")
    Q, K, V = X @ W_q, X @ W_k, X @ W_v  # (T, d_k), (T, d_k), (T, d_v)
    scores = Q @ K.T / math.sqrt(K.shape[1])  # (T, T)
    return scores.softmax(dim=-1) @ V  # (T, d_v)


def _check_qkv(q, k, v) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() < 2:
            raise ValueError(f"{name} must have shape (..., L, E), got {tuple(t.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same head dim, got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same length, got {k.shape[-2]} and {v.shape[-2]}")


def _additive(mask: torch.Tensor | None, L: int, S: int, dtype, is_causal: bool, device):
    """Turn an sdpa-style mask (bool True = keep, or float) into an additive float mask."""
    if mask is not None and is_causal:
        raise ValueError("pass either mask or is_causal=True, not both (torch forbids it too)")
    if is_causal:
        keep = torch.ones(L, S, dtype=torch.bool, device=device).tril()  # (L, S)
        mask = keep
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dim() < 2 or mask.shape[-2] not in (1, L) or mask.shape[-1] != S:
        raise ValueError(f"mask must be broadcastable to (..., L, S) = (..., {L}, {S}), got {tuple(mask.shape)}")
    if mask.dtype == torch.bool:
        zero = torch.zeros((), dtype=dtype, device=device)
        return torch.where(mask, zero, torch.tensor(float("-inf"), dtype=dtype, device=device))
    if not mask.is_floating_point():
        raise TypeError(f"mask must be bool or floating point, got {mask.dtype}")
    return mask.to(dtype)


def attention_weights(q, k, mask=None, is_causal: bool = False) -> torch.Tensor:
    """softmax(q k^T / sqrt(E) + mask) of shape (..., L, S); rows with no allowed key are 0."""
    _check_qkv(q, k, k)
    L, S = q.shape[-2], k.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., L, S)
    add = _additive(mask, L, S, scores.dtype, is_causal, q.device)
    if add is not None:
        scores = scores + add
    dead = torch.isneginf(scores).all(dim=-1, keepdim=True)  # (..., L, 1) fully masked rows
    weights = scores.masked_fill(dead, 0.0).softmax(dim=-1)
    return weights.masked_fill(dead, 0.0)  # torch's math backend returns 0 there too


def scaled_dot_product_attention(q, k, v, mask=None, dropout_p: float = 0.0, is_causal: bool = False):
    """Explicit softmax(q k^T / sqrt(E) + mask) v with F.scaled_dot_product_attention's contract.

    q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev). ``mask``: bool (True = attend)
    or float (added to the scores), broadcastable to (..., L, S). Dropout acts on the weights.
    """
    _check_qkv(q, k, v)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout_p must be in [0, 1], got {dropout_p}")
    weights = attention_weights(q, k, mask, is_causal)  # (..., L, S)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v  # (..., L, Ev)


def _module_mask(mask, name: str, B: int, H: int, L: int, S: int, dtype):
    """torch.nn.MultiheadAttention mask (bool True = masked out, or float added) -> (B|1, H|1, L, S)."""
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if name == "key_padding_mask":
        if tuple(mask.shape) != (B, S):
            raise ValueError(f"key_padding_mask must have shape (B, S) = ({B}, {S}), got {tuple(mask.shape)}")
        mask = mask[:, None, None, :]  # (B, 1, 1, S)
    elif mask.dim() == 2 and tuple(mask.shape) == (L, S):
        mask = mask[None, None]  # (1, 1, L, S)
    elif mask.dim() == 3 and tuple(mask.shape) == (B * H, L, S):
        mask = mask.view(B, H, L, S)
    elif mask.dim() == 4 and mask.shape[0] in (1, B) and mask.shape[1] in (1, H) and tuple(mask.shape[2:]) == (L, S):
        pass
    else:
        raise ValueError(
            f"attn_mask must have shape (L, S), (B*H, L, S) or (B|1, H|1, L, S) with B={B}, H={H}, "
            f"L={L}, S={S}; got {tuple(mask.shape)}"
        )
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    if not mask.is_floating_point():
        raise TypeError(f"{name} must be bool or floating point, got {mask.dtype}")
    return mask.to(dtype)


class MultiHeadAttention(nn.Module):
    """Batch-first multi-head attention with torch.nn.MultiheadAttention's parameter names.

    forward(query (B, T, E), key (B, S, E), value (B, S, E)) -> (out (B, T, E), weights (B, H, T, S)
    or None). Without weights it calls torch's fused ``F.scaled_dot_product_attention``; with
    ``need_weights=True`` it runs the explicit path and returns per-head (not averaged) weights.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be positive, got {embed_dim}, {num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout = dropout  # a float, like torch's
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))  # (3E, E)
        self.register_parameter("in_proj_bias", nn.Parameter(torch.zeros(3 * embed_dim)) if bias else None)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)
        if bias:
            nn.init.zeros_(self.out_proj.bias)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)

    def forward(self, query, key, value, attn_mask=None, key_padding_mask=None,
                need_weights: bool = False, is_causal: bool = False):
        E = self.embed_dim
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, torch.Tensor) or t.dim() != 3 or t.shape[-1] != E:
                shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(f"{name} must be a (B, L, {E}) tensor (batch_first), got {shape}")
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0]:
            raise ValueError(f"query/key/value batch or key/value length mismatch: {tuple(query.shape)}, "
                             f"{tuple(key.shape)}, {tuple(value.shape)}")
        B, T, S, H = query.shape[0], query.shape[1], key.shape[1], self.num_heads
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)  # (E, E) each
        b_q = b_k = b_v = None
        if self.in_proj_bias is not None:
            b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        q = self._split(F.linear(query, w_q, b_q))  # (B, H, T, D)
        k = self._split(F.linear(key, w_k, b_k))  # (B, H, S, D)
        v = self._split(F.linear(value, w_v, b_v))  # (B, H, S, D)
        dtype = q.dtype
        mask = _module_mask(attn_mask, "attn_mask", B, H, T, S, dtype)
        pad = _module_mask(key_padding_mask, "key_padding_mask", B, H, T, S, dtype)
        if is_causal:
            causal = torch.full((T, S), float("-inf"), dtype=dtype, device=q.device).triu(1)  # (T, S)
            mask = causal if mask is None else mask + causal
        if pad is not None:
            mask = pad if mask is None else mask + pad  # (B, H|1, T, S)
        p = self.dropout if self.training else 0.0
        if need_weights:
            weights = attention_weights(q, k, mask)  # (B, H, T, S)
            out = F.dropout(weights, p=p) @ v if p > 0 else weights @ v  # (B, H, T, D)
        else:
            weights = None
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # (B, H, T, D)
        out = out.transpose(1, 2).reshape(B, T, E)  # (B, T, E)
        return self.out_proj(out), weights
