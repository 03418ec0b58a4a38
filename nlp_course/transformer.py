"""Transformer encoder and decoder layers, equal to torch's given the same weights.

Taught in notebook 07 (BERT in notebook 08 is a stack of ``EncoderLayer``s).

Batch-first layers whose submodules are named exactly like ``torch.nn.TransformerEncoderLayer``
and ``torch.nn.TransformerDecoderLayer`` (``self_attn``, ``linear1``, ``dropout``, ``linear2``,
``norm1``..., ``dropout1``...), so ``load_state_dict(torch_layer.state_dict())`` works.

Post-norm (Vaswani et al. 2017, BERT):  x = LN(x + Sublayer(x)).
Pre-norm  (GPT-2, Xiong et al. 2020):    x = x + Sublayer(LN(x)) -- trains without warm-up tricks.
Masks follow torch.nn.MultiheadAttention: bool True = masked out, float = added to the scores.
References: https://pytorch.org/docs/stable/generated/torch.nn.TransformerEncoderLayer.html,
https://arxiv.org/abs/1706.03762, https://arxiv.org/abs/2002.04745
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nlp_course.attention import MultiHeadAttention

ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,  # exact erf GELU (BERT)
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),  # GPT-2's approximation
}


def _activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def _check_x(x, name: str, d_model: int) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != d_model:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a (B, T, {d_model}) tensor (batch_first), got {shape}")


class EncoderLayer(nn.Module):
    """Self-attention + feed-forward block; forward(src (B, T, C)) -> (B, T, C)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float = 0.1,
                 activation: str = "relu", layer_norm_eps: float = 1e-5, norm_first: bool = False,
                 bias: bool = True):
        super().__init__()
        self.d_model, self.norm_first, self.activation_name = d_model, norm_first, activation
        self.activation = _activation(activation)
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout, bias=bias)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def _sa(self, x, mask, padding, need_weights):
        out, weights = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding,
                                      need_weights=need_weights)  # (B, T, C), (B, H, T, T)
        return self.dropout1(out), weights

    def _ff(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))  # (B, T, C)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, need_weights: bool = False):
        _check_x(src, "src", self.d_model)
        x = src
        if self.norm_first:
            a, weights = self._sa(self.norm1(x), src_mask, src_key_padding_mask, need_weights)
            x = x + a
            x = x + self._ff(self.norm2(x))
        else:
            a, weights = self._sa(x, src_mask, src_key_padding_mask, need_weights)
            x = self.norm1(x + a)
            x = self.norm2(x + self._ff(x))
        return (x, weights) if need_weights else x


class DecoderLayer(nn.Module):
    """Masked self-attention + cross-attention + feed-forward; forward(tgt, memory) -> (B, T, C)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float = 0.1,
                 activation: str = "relu", layer_norm_eps: float = 1e-5, norm_first: bool = False,
                 bias: bool = True):
        super().__init__()
        self.d_model, self.norm_first, self.activation_name = d_model, norm_first, activation
        self.activation = _activation(activation)
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout, bias=bias)
        self.multihead_attn = MultiHeadAttention(d_model, nhead, dropout=dropout, bias=bias)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def _sa(self, x, mask, padding, is_causal):
        out, _ = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding,
                                is_causal=is_causal and mask is None)
        return self.dropout1(out)  # (B, T, C)

    def _mha(self, x, memory, mask, padding, need_weights):
        out, weights = self.multihead_attn(x, memory, memory, attn_mask=mask, key_padding_mask=padding,
                                           need_weights=need_weights)  # (B, T, C), (B, H, T, S)
        return self.dropout2(out), weights

    def _ff(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))  # (B, T, C)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False, need_weights: bool = False):
        """``tgt_is_causal=True`` without ``tgt_mask`` applies the causal mask; with a mask it is a hint.

        With ``need_weights=True`` returns (out, cross-attention weights (B, H, T, S)).
        """
        _check_x(tgt, "tgt", self.d_model)
        _check_x(memory, "memory", self.d_model)
        x = tgt
        if self.norm_first:
            x = x + self._sa(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            a, weights = self._mha(self.norm2(x), memory, memory_mask, memory_key_padding_mask, need_weights)
            x = x + a
            x = x + self._ff(self.norm3(x))
        else:
            x = self.norm1(x + self._sa(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            a, weights = self._mha(x, memory, memory_mask, memory_key_padding_mask, need_weights)
            x = self.norm2(x + a)
            x = self.norm3(x + self._ff(x))
        return (x, weights) if need_weights else x


def forward_with_memory(layer: EncoderLayer, x: torch.Tensor, memory: torch.Tensor | None):
    """Transformer-XL segment recurrence (Dai et al. 2019, arXiv:1901.02860) for one layer.

    The current segment x (B, T, C) attends causally to [memory; x] where memory (B, M, C) holds
    the previous segment's inputs to this layer, detached (no gradient across segments). Returns
    (out (B, T, C), new memory = x.detach()). XL's relative positional scheme is left out here.
    """
    _check_x(x, "x", layer.d_model)
    M = 0 if memory is None else memory.shape[1]
    ctx = x if memory is None else torch.cat([memory.detach(), x], dim=1)  # (B, M+T, C)
    T = x.shape[1]
    blocked = torch.ones(T, M + T, dtype=torch.bool, device=x.device).triu(M + 1)  # True = masked out
    if layer.norm_first:
        q, kv = layer.norm1(x), layer.norm1(ctx)
        x = x + layer.dropout1(layer.self_attn(q, kv, kv, attn_mask=blocked)[0])
        out = x + layer._ff(layer.norm2(x))
    else:
        x2 = layer.norm1(x + layer.dropout1(layer.self_attn(x, ctx, ctx, attn_mask=blocked)[0]))
        out = layer.norm2(x2 + layer._ff(x2))
    return out, ctx[:, M:].detach()
