"""BERT written plainly: embeddings, a stack of post-norm encoder layers, a tied MLM head.

Taught in notebook 08 (and turned into a diffusion generator in notebook 11).

The encoder is made of ``nlp_course.transformer.EncoderLayer`` (notebook 07), so BERT is
literally "the transformer encoder from the previous chapter + embeddings + a head". The
module is configured from a ``transformers.BertConfig`` and mirrors Hugging Face's
``modeling_bert.py`` closely enough that ``from_hf``/``to_hf`` move weights both ways:
HF keeps separate query/key/value projections, our attention (like ``torch.nn.MultiheadAttention``)
keeps them stacked in one ``in_proj_weight`` of shape (3C, C).

Outputs are ``transformers`` output dataclasses (``MaskedLMOutput``,
``BaseModelOutput``) so code written for any ``AutoModelForMaskedLM`` -- the diffusion
trainer of chapter 11 -- can call ``model(input_ids=..., attention_mask=...).logits``.

References: Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers";
Hugging Face ``transformers/models/bert/modeling_bert.py``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import BertConfig
from transformers import BertForMaskedLM as HFBertForMaskedLM
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput

from nlp_course.transformer import EncoderLayer

_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}


def _check_config(config) -> BertConfig:
    if not isinstance(config, BertConfig):
        raise TypeError(f"config must be a transformers.BertConfig, got {type(config).__name__}")
    if config.hidden_act not in _ACTIVATIONS:
        raise ValueError(f"config.hidden_act must be one of {sorted(_ACTIVATIONS)}, got {config.hidden_act!r}")
    if config.hidden_size % config.num_attention_heads:
        raise ValueError(
            f"config.hidden_size ({config.hidden_size}) must be divisible by "
            f"config.num_attention_heads ({config.num_attention_heads})"
        )
    return config


class BertEmbeddings(nn.Module):
    """word + position + token-type embeddings, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        T = input_ids.shape[1]
        positions = torch.arange(T, device=input_ids.device)  # (T,)
        x = self.word_embeddings(input_ids)  # (B, T, C)
        x = x + self.position_embeddings(positions)[None] + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))  # (B, T, C)


class BertModel(nn.Module):
    """The BERT encoder: embeddings followed by ``num_hidden_layers`` post-norm EncoderLayers."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = _check_config(config)
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(
            EncoderLayer(
                config.hidden_size,
                config.num_attention_heads,
                config.intermediate_size,
                dropout=config.hidden_dropout_prob,
                activation=_ACTIVATIONS[config.hidden_act],
                layer_norm_eps=config.layer_norm_eps,
                norm_first=False,
            )
            for _ in range(config.num_hidden_layers)
        )
        # HF uses one dropout for attention probabilities and another for hidden states;
        # torch's layer (and ours) applies the same p to both, so the two must agree.
        if config.attention_probs_dropout_prob != config.hidden_dropout_prob:
            for layer in self.layers:
                layer.self_attn.dropout = config.attention_probs_dropout_prob

    def _check_inputs(self, input_ids, attention_mask, token_type_ids):
        if not isinstance(input_ids, torch.Tensor) or input_ids.dtype not in (torch.int64, torch.int32):
            raise TypeError("input_ids must be an integer torch.Tensor of shape (B, T)")
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must have shape (B, T), got {tuple(input_ids.shape)}")
        T, cfg = input_ids.shape[1], self.config
        if T > cfg.max_position_embeddings:
            raise ValueError(f"sequence length {T} exceeds max_position_embeddings={cfg.max_position_embeddings}")
        if input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= cfg.vocab_size):
            raise ValueError(f"input_ids must be in [0, vocab_size={cfg.vocab_size}), got max {int(input_ids.max())}")
        for name, t in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
            if t is not None and tuple(t.shape) != tuple(input_ids.shape):
                raise ValueError(f"{name} must have the shape of input_ids {tuple(input_ids.shape)}, got {tuple(t.shape)}")
        if token_type_ids is not None and token_type_ids.numel():
            if token_type_ids.is_floating_point() or token_type_ids.is_complex():
                raise TypeError(f"token_type_ids must be an integer tensor, got {token_type_ids.dtype}")
            lo, hi = int(token_type_ids.min()), int(token_type_ids.max())
            if lo < 0 or hi >= cfg.type_vocab_size:
                raise ValueError(f"token_type_ids must be in [0, type_vocab_size={cfg.type_vocab_size}), "
                                 f"got values in [{lo}, {hi}]")

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BaseModelOutput:
        self._check_inputs(input_ids, attention_mask, token_type_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        padding = None if attention_mask is None else attention_mask == 0  # (B, T), True = ignore
        x = self.embeddings(input_ids, token_type_ids)  # (B, T, C)
        hidden, attentions = [x], []
        for layer in self.layers:
            if output_attentions:
                x, weights = layer(x, src_key_padding_mask=padding, need_weights=True)
                attentions.append(weights)  # (B, H, T, T)
            else:
                x = layer(x, src_key_padding_mask=padding)  # (B, T, C)
            hidden.append(x)
        return BaseModelOutput(
            last_hidden_state=x,
            hidden_states=tuple(hidden) if output_hidden_states else None,
            attentions=tuple(attentions) if output_attentions else None,
        )


class BertMLMHead(nn.Module):
    """dense -> GELU -> LayerNorm -> decoder tied to the word embeddings (+ its own bias)."""

    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = _ACTIVATIONS[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.decoder.weight = word_embeddings.weight  # tied: one matrix reads and writes tokens
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = self.dense(h)  # (B, T, C)
        h = F.gelu(h, approximate="tanh") if self.act == "gelu_tanh" else getattr(F, self.act)(h)
        return self.decoder(self.LayerNorm(h)) + self.bias  # (B, T, V)


class BertForMaskedLM(nn.Module):
    """BERT with the masked-language-model head. ``labels`` use -100 for unscored positions."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = _check_config(config)
        self.bert = BertModel(config)
        self.cls = BertMLMHead(config, self.bert.embeddings.word_embeddings)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
        if hasattr(module, "in_proj_weight"):
            nn.init.normal_(module.in_proj_weight, std=std)
            if module.in_proj_bias is not None:
                nn.init.zeros_(module.in_proj_bias)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> MaskedLMOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, output_attentions, output_hidden_states)
        logits = self.cls(out.last_hidden_state)  # (B, T, V)
        loss = None
        if labels is not None:
            if labels.shape != input_ids.shape:
                raise ValueError(f"labels must have the shape of input_ids {tuple(input_ids.shape)}, got {tuple(labels.shape)}")
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100)
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions)

    # --- the small part of the Hugging Face model API that the course's trainers use ---
    def get_input_embeddings(self) -> nn.Embedding:
        return self.bert.embeddings.word_embeddings

    def resize_token_embeddings(self, new_num_tokens: int) -> nn.Embedding:
        """Grow/shrink the vocabulary; new rows start at the mean embedding (keeps the head tied)."""
        old = self.get_input_embeddings()
        if not isinstance(new_num_tokens, int) or new_num_tokens < 1:
            raise ValueError(f"new_num_tokens must be a positive int, got {new_num_tokens!r}")
        n = min(old.num_embeddings, new_num_tokens)
        new = nn.Embedding(new_num_tokens, old.embedding_dim, padding_idx=old.padding_idx).to(old.weight)
        with torch.no_grad():
            new.weight[:] = old.weight.mean(0)
            new.weight[:n] = old.weight[:n]
            bias = self.cls.bias.new_zeros(new_num_tokens)
            bias[:n] = self.cls.bias[:n]
        self.bert.embeddings.word_embeddings = new
        self.cls.decoder = nn.Linear(old.embedding_dim, new_num_tokens, bias=False).to(old.weight)
        self.cls.decoder.weight = new.weight
        self.cls.bias = nn.Parameter(bias)
        self.config.vocab_size = new_num_tokens
        return new

    @property
    def device(self) -> torch.device:
        return self.cls.bias.device

    @classmethod
    def from_hf(cls, hf_model: HFBertForMaskedLM) -> BertForMaskedLM:
        """Copy a ``transformers`` BertForMaskedLM into our layout (same numbers, same outputs)."""
        if not isinstance(hf_model, HFBertForMaskedLM):
            raise TypeError(f"hf_model must be a transformers BertForMaskedLM, got {type(hf_model).__name__}")
        model = cls(BertConfig.from_dict(hf_model.config.to_dict()))
        model.load_state_dict(_hf_to_ours(hf_model.state_dict(), model.config.num_hidden_layers))
        return model.to(hf_model.dtype)

    def to_hf(self) -> HFBertForMaskedLM:
        """The same weights as a ``transformers`` BertForMaskedLM (opens in the HF ecosystem)."""
        hf = HFBertForMaskedLM(BertConfig.from_dict(self.config.to_dict()))
        missing, unexpected = hf.load_state_dict(_ours_to_hf(self.state_dict(), self.config.num_hidden_layers), strict=False)
        if unexpected or any("decoder" not in k for k in missing):
            raise RuntimeError(f"weight mapping is incomplete: missing={missing}, unexpected={unexpected}")
        hf.tie_weights()
        return hf.to(self.cls.bias.dtype)


_SAME = [
    ("bert.embeddings.", "bert.embeddings."),
    ("cls.dense.", "cls.predictions.transform.dense."),
    ("cls.LayerNorm.", "cls.predictions.transform.LayerNorm."),
]
_LAYER = [  # (ours, HF) inside layer i, except the stacked q/k/v
    ("self_attn.out_proj.", "attention.output.dense."),
    ("norm1.", "attention.output.LayerNorm."),
    ("linear1.", "intermediate.dense."),
    ("linear2.", "output.dense."),
    ("norm2.", "output.LayerNorm."),
]


def _hf_to_ours(sd: dict, n_layers: int) -> dict:
    out = {}
    for k, v in sd.items():
        for ours, hf in _SAME:
            if k.startswith(hf) and "position_ids" not in k and "token_type_ids" not in k:
                out[ours + k[len(hf):]] = v
    out["cls.bias"] = sd["cls.predictions.bias"]
    out["cls.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"]
    for i in range(n_layers):
        hf, ours = f"bert.encoder.layer.{i}.", f"bert.layers.{i}."
        for part in ("weight", "bias"):
            qkv = [sd[f"{hf}attention.self.{n}.{part}"] for n in ("query", "key", "value")]
            out[f"{ours}self_attn.in_proj_{part}"] = torch.cat(qkv, 0)  # (3C, C) or (3C,)
            for o, h in _LAYER:
                out[f"{ours}{o}{part}"] = sd[f"{hf}{h}{part}"]
    return out


def _ours_to_hf(sd: dict, n_layers: int) -> dict:
    out = {}
    for k, v in sd.items():
        for ours, hf in _SAME:
            if k.startswith(ours):
                out[hf + k[len(ours):]] = v
    out["cls.predictions.bias"] = sd["cls.bias"]
    out["cls.predictions.decoder.bias"] = sd["cls.bias"]
    for i in range(n_layers):
        hf, ours = f"bert.encoder.layer.{i}.", f"bert.layers.{i}."
        for part in ("weight", "bias"):
            q, k_, v = sd[f"{ours}self_attn.in_proj_{part}"].chunk(3, 0)
            for name, t in (("query", q), ("key", k_), ("value", v)):
                out[f"{hf}attention.self.{name}.{part}"] = t
            for o, h in _LAYER:
                out[f"{hf}{h}{part}"] = sd[f"{ours}{o}{part}"]
    return out
