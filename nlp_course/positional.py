"""Positional information for transformers: sinusoidal, learned, rotary (RoPE).

Taught in notebook 07.

Self-attention is permutation-equivariant, so order must be injected:
- sinusoidal (Vaswani et al. 2017): PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same);
  PE[p + k] is a fixed rotation of PE[p] (``sinusoidal_shift``), so relative offsets are linear
  functions; ``nlp_course.pretrain.seed_local_heads`` builds previous/next-token heads from it.
- learned absolute positions (BERT, GPT-2): an ``nn.Embedding(max_len, d)`` added to tokens;
  cannot go past ``max_len``.
- RoPE (Su et al. 2021, arXiv:2104.09864; Llama, Mistral): rotate q and k pair-wise by angle
  p * theta_i, so <R_m q, R_n k> depends only on m - n. We use the "rotate_half" layout of
  Hugging Face Llama (``transformers.models.llama.modeling_llama.apply_rotary_pos_emb``).
"""

from __future__ import annotations

import torch
from torch import nn


def _check_dims(seq_len: int, dim: int) -> None:
    if seq_len < 1:
        raise ValueError(f"seq_len must be >= 1, got {seq_len}")
    if dim < 2 or dim % 2:
        raise ValueError(f"dim must be a positive even number, got {dim}")


def _sinusoid_frequencies(dim: int, base: float) -> torch.Tensor:
    return base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (d/2,)


def sinusoidal_encoding(seq_len: int, dim: int, base: float = 10000.0, dtype=torch.float32) -> torch.Tensor:
    """(T, d) table with sin on even and cos on odd features."""
    _check_dims(seq_len, dim)
    pos = torch.arange(seq_len, dtype=torch.float64)[:, None]  # (T, 1)
    angles = pos * _sinusoid_frequencies(dim, base)  # (T, d/2)
    pe = torch.empty(seq_len, dim, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = angles.sin(), angles.cos()
    return pe.to(dtype)


def sinusoidal_shift(offset: int, dim: int, base: float = 10000.0, dtype=torch.float32) -> torch.Tensor:
    """(d, d) block rotation R with ``R @ PE[p] == PE[p + offset]`` for every position p.

    Each (sin, cos) pair of frequency w turns by the angle ``offset * w``:
    sin(a + b) = sin a cos b + cos a sin b, cos(a + b) = cos a cos b - sin a sin b.
    """
    _check_dims(1, dim)
    angle = offset * _sinusoid_frequencies(dim, base)  # (d/2,)
    cos, sin = torch.diag(angle.cos()), torch.diag(angle.sin())
    rot = torch.zeros(dim, dim, dtype=torch.float64)
    rot[0::2, 0::2], rot[0::2, 1::2] = cos, sin
    rot[1::2, 0::2], rot[1::2, 1::2] = -sin, cos
    return rot.to(dtype)


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal table to (B, T, d) inputs (a buffer, no parameters)."""

    def __init__(self, dim: int, max_len: int = 4096):
        super().__init__()
        self.register_buffer("pe", sinusoidal_encoding(max_len, dim), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.pe.shape[1] or x.shape[1] > self.pe.shape[0]:
            raise ValueError(f"x must be (B, T<={self.pe.shape[0]}, {self.pe.shape[1]}), got {tuple(x.shape)}")
        return x + self.pe[: x.shape[1]].to(x.dtype)  # (B, T, d)


class LearnedPositionalEmbedding(nn.Module):
    """BERT/GPT-2 style: a trainable vector per absolute position, added to (B, T, d) inputs."""

    def __init__(self, max_len: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, dim) * 0.02)  # (max_len, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        if T > self.weight.shape[0]:
            raise ValueError(f"sequence length {T} exceeds max_len={self.weight.shape[0]}: learned "
                             "positions cannot extrapolate")
        return x + self.weight[:T]  # (B, T, d)


def rope_cos_sin(seq_len: int, dim: int, base: float = 10000.0, offset: int = 0, dtype=torch.float32):
    """cos, sin tables (T, d) for positions offset..offset+T-1 in the rotate_half layout."""
    _check_dims(seq_len, dim)
    inv_freq = 1.0 / base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (d/2,)
    pos = torch.arange(offset, offset + seq_len, dtype=torch.float64)  # (T,)
    freqs = torch.outer(pos, inv_freq)  # (T, d/2)
    emb = torch.cat([freqs, freqs], dim=-1)  # (T, d)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (..., T, d) position-wise: x * cos + rotate_half(x) * sin."""
    if x.shape[-2:] != cos.shape[-2:] or cos.shape != sin.shape:
        raise ValueError(f"x (..., T, d) = {tuple(x.shape)} must end in cos/sin's shape {tuple(cos.shape)}")
    return x * cos + rotate_half(x) * sin  # (..., T, d)
