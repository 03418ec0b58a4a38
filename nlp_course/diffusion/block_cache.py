"""Selective forwards of a BERT for masked-diffusion sampling: the LM head at chosen positions
only, and a block-wise key/value cache (Fast-dLLM's prefix and dual cache).

Taught in notebook 11 (fast sampling).

A masked-diffusion sampler changes only the current block between steps, yet a plain forward
recomputes every position. Two savings, in the spirit of Fast-dLLM (Wu et al. 2025,
arXiv:2505.22618):

- **Head only where it matters.** ``split_model`` cuts a masked LM into ``body`` (ids ->
  last hidden states) and ``head`` (hidden -> logits), so the (C x V) projection -- at small
  widths the biggest matmul of the model -- runs at the still-masked positions of the block only.
- **Block cache.** ``BertStack`` exposes a BERT's layers one by one (the course's
  ``nlp_course.bert.BertForMaskedLM`` and Hugging Face's ``BertForMaskedLM``). ``full`` runs
  every position and keeps each layer's keys and values; ``partial`` then runs only some
  positions (the block, or block + suffix) through the layers while they attend to the cached
  keys/values of all the others. When nothing outside those positions changed since ``full``,
  ``partial`` gives the same hidden states as a full forward (a test checks it); once tokens of
  the block are committed, the cached keys/values of the rest are slightly stale (attention
  is bidirectional) -- that is the approximation, bounded and reported by ``cache_error``.

Prefix cache: ``partial`` over block + suffix (the prompt and finished blocks come from the
cache). Dual cache: ``partial`` over the block alone (the masked suffix comes from the cache too).
The cache is refreshed with a ``full`` forward at the start of every block.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import BertForMaskedLM as HFBertForMaskedLM

from nlp_course.bert import BertForMaskedLM

CACHE_MODES = ("prefix", "dual")


def split_model(model):
    """``(body, head)`` of a masked LM, or ``None`` for an architecture not listed here.

    ``body(input_ids, attention_mask)`` -> last hidden states (B, L, C); ``head(h)`` -> logits
    (..., V); ``head(body(x))`` equals ``model(x).logits``.
    """
    name = type(model).__name__
    if isinstance(model, BertForMaskedLM):
        return (lambda ids, att: model.bert(ids, att).last_hidden_state), model.cls
    parts = {"BertForMaskedLM": ("bert", lambda h: model.cls(h)),
             "RobertaForMaskedLM": ("roberta", lambda h: model.lm_head(h)),
             "XLMRobertaForMaskedLM": ("roberta", lambda h: model.lm_head(h)),
             "ModernBertForMaskedLM": ("model", lambda h: model.decoder(model.head(h))),
             "DistilBertForMaskedLM": ("distilbert", lambda h: model.vocab_projector(
                 model.vocab_layer_norm(model.activation(model.vocab_transform(h)))))}
    if name not in parts:
        return None
    base = getattr(model, parts[name][0])
    return (lambda ids, att: base(input_ids=ids, attention_mask=att)[0]), parts[name][1]


def _heads(t: torch.Tensor, n_heads: int) -> torch.Tensor:
    B, T, C = t.shape
    return t.view(B, T, n_heads, C // n_heads).transpose(1, 2)  # (B, H, T, D)


class BertStack:
    """A BERT masked LM seen layer by layer: ``embed``, per-layer ``qkv`` / ``finish``, ``head``."""

    def __init__(self, model):
        if isinstance(model, BertForMaskedLM):
            if any(layer.norm_first for layer in model.bert.layers):
                raise ValueError("model: BertStack expects post-norm layers (BERT's)")
            self.kind, self.layers = "course", list(model.bert.layers)
            self.embeddings = model.bert.embeddings
        elif isinstance(model, HFBertForMaskedLM):
            self.kind, self.layers = "hf", list(model.bert.encoder.layer)
            self.embeddings = model.bert.embeddings
        else:
            raise ValueError(f"model: block caching supports the course's BertForMaskedLM and transformers' "
                             f"BertForMaskedLM, got {type(model).__name__} (use cache=None)")
        self.n_heads = model.config.num_attention_heads
        self.head = model.cls

    def embed(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Embeddings of tokens ``ids`` (B, T) sitting at ``positions`` (B, T)."""
        if self.kind == "hf":
            return self.embeddings(input_ids=ids, position_ids=positions)  # (B, T, C)
        e = self.embeddings
        x = e.word_embeddings(ids) + e.position_embeddings(positions) + e.token_type_embeddings.weight[0]
        return e.dropout(e.LayerNorm(x))  # (B, T, C)

    def qkv(self, i: int, h: torch.Tensor):
        layer = self.layers[i]
        if self.kind == "hf":
            sa = layer.attention.self
            return tuple(_heads(f(h), self.n_heads) for f in (sa.query, sa.key, sa.value))  # (B, H, T, D) x3
        attn = layer.self_attn
        bias = attn.in_proj_bias.chunk(3) if attn.in_proj_bias is not None else (None,) * 3
        return tuple(_heads(F.linear(h, w, b), self.n_heads)
                     for w, b in zip(attn.in_proj_weight.chunk(3), bias))  # (B, H, T, D) x3

    def finish(self, i: int, h: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """Output projection, residual + norm, feed-forward, residual + norm: (B, T, C)."""
        layer = self.layers[i]
        if self.kind == "hf":
            a = layer.attention.output(attended, h)  # (B, T, C)
            return layer.output(layer.intermediate(a), a)  # (B, T, C)
        a = layer.norm1(h + layer.dropout1(layer.self_attn.out_proj(attended)))  # (B, T, C)
        return layer.norm2(a + layer._ff(a))  # (B, T, C)

    def _attend(self, q, k, v, key_bias) -> torch.Tensor:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=key_bias)  # (B, H, T, D)
        B, H, T, D = out.shape
        return out.transpose(1, 2).reshape(B, T, H * D)  # (B, T, C)

    def full(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        """Every position: ``(hidden (B, L, C), cache)`` where cache holds each layer's (K, V)."""
        B, L = ids.shape
        positions = torch.arange(L, device=ids.device).expand(B, L)  # (B, L)
        bias = key_bias(attention_mask, ids)
        h, cache = self.embed(ids, positions), []
        for i in range(len(self.layers)):
            q, k, v = self.qkv(i, h)
            cache.append((k, v))
            h = self.finish(i, h, self._attend(q, k, v, bias))
        return h, cache

    def partial(self, ids: torch.Tensor, positions: torch.Tensor, cache: list, attention_mask=None):
        """Run only ``positions`` (B, T) of the canvas ``ids`` (B, L); every other position's keys and
        values come from ``cache`` (refreshed in place at ``positions``). Returns (B, T, C)."""
        bias = key_bias(attention_mask, ids)
        h = self.embed(ids.gather(1, positions), positions)  # (B, T, C)
        for i, (K, V) in enumerate(cache):
            q, k, v = self.qkv(i, h)
            at = positions[:, None, :, None].expand(-1, K.shape[1], -1, K.shape[3])  # (B, H, T, D)
            K.scatter_(2, at, k)
            V.scatter_(2, at, v)
            h = self.finish(i, h, self._attend(q, K, V, bias))
        return h


def key_bias(attention_mask: torch.Tensor | None, ids: torch.Tensor) -> torch.Tensor | None:
    """Additive attention bias (B, 1, 1, L): -inf on padding keys (None when nothing is padded)."""
    if attention_mask is None:
        return None
    bias = torch.zeros(attention_mask.shape, dtype=torch.float32, device=ids.device)
    return bias.masked_fill(attention_mask == 0, float("-inf"))[:, None, None, :]  # (B, 1, 1, L)


@torch.no_grad()
def cache_error(model, before: torch.Tensor, after: torch.Tensor, positions: torch.Tensor,
                attention_mask: torch.Tensor | None = None) -> dict:
    """How far a cached forward drifts: cache built on canvas ``before``, positions ``positions``
    recomputed on canvas ``after`` (the block after some commits). Compares with the exact
    forward of ``after`` at those positions: max |logit difference| and argmax agreement."""
    stack = BertStack(model)
    _, cache = stack.full(before, attention_mask)
    approx = stack.head(stack.partial(after, positions, cache, attention_mask))  # (B, T, V)
    exact = model(input_ids=after, attention_mask=attention_mask).logits  # (B, L, V)
    exact = exact.gather(1, positions[..., None].expand(-1, -1, exact.shape[-1]))  # (B, T, V)
    return {"max_abs_logit_error": float((approx - exact).abs().max()),
            "argmax_agreement": float((approx.argmax(-1) == exact.argmax(-1)).double().mean())}
