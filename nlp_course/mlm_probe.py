"""A masked-LM probe: a fresh BERT MLM head trained on top of a frozen encoder. Taught in notebook 09.

Seed 002 (the FRIDA experiment) found that a strongly contrastively trained encoder made a poor
start for diffusion generation, which needs masked-token prediction. Sentence encoders such as
all-MiniLM-L6-v2 ship without any MLM head. ``MLMHeadProbe`` asks how much masked-token
information is still readable from such an encoder: the head of ``nlp_course.bert.BertMLMHead``
(dense -> GELU -> LayerNorm -> decoder tied to the encoder's own, frozen, word embeddings) is the
only thing trained, with ``nlp_course.pretrain.pretrain_mlm`` for a fixed number of steps, and
scored with ``nlp_course.pretrain.masked_accuracy``.

References: Devlin et al. 2019 (the MLM head); Alain & Bengio 2016 (probes on frozen features).
"""

from __future__ import annotations

import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers.modeling_outputs import MaskedLMOutput

from .bert import BertMLMHead
from .pretrain import pretrain_mlm

__all__ = ["MLMHeadProbe", "train_mlm_head"]


class MLMHeadProbe(nn.Module):
    """Frozen BERT-like ``encoder`` (ours or a ``transformers`` BertModel) + a trainable MLM head."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        config = getattr(encoder, "config", None)
        if config is None or not hasattr(config, "hidden_size") or not hasattr(config, "vocab_size"):
            raise TypeError(f"encoder must be a BERT-like model with a .config, got {type(encoder).__name__}")
        self.encoder = encoder.eval()
        for p in encoder.parameters():
            p.requires_grad_(False)
        self.cls = BertMLMHead(config, self.get_input_embeddings())  # decoder tied to frozen embeddings

    def get_input_embeddings(self) -> nn.Embedding:
        if hasattr(self.encoder, "get_input_embeddings"):
            return self.encoder.get_input_embeddings()
        return self.encoder.embeddings.word_embeddings

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()  # frozen means frozen: no dropout in the encoder either
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> MaskedLMOutput:
        with torch.no_grad():
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, C)
        if labels is None:
            return MaskedLMOutput(logits=self.cls(hidden))  # (B, T, V)
        if labels.shape != input_ids.shape:
            raise ValueError(f"labels must have the shape of input_ids {tuple(input_ids.shape)}, got {tuple(labels.shape)}")
        chosen = labels != -100  # (B, T): score only masked positions (sparse prediction)
        logits = self.cls(hidden[chosen])  # (N, V)
        return MaskedLMOutput(loss=F.cross_entropy(logits.float(), labels[chosen]), logits=logits)


def train_mlm_head(probe: MLMHeadProbe, tokenizer, train_ids: torch.Tensor, steps: int, batch_size: int = 32,
                   lr: float = 1e-3, seed: int = 0) -> MLMHeadProbe:
    """Train ``probe.cls`` for exactly ``steps`` steps of dynamic masking (the course's MLM recipe)."""
    if not isinstance(probe, MLMHeadProbe):
        raise TypeError(f"probe must be an MLMHeadProbe, got {type(probe).__name__}")
    with tempfile.TemporaryDirectory() as tmp:  # pretrain_mlm checkpoints; the probe is not kept on disk
        pretrain_mlm(probe, tokenizer, train_ids, tmp, steps, batch_size, lr=lr, warmup=max(1, steps // 10),
                     seed=seed, progress=False, checkpoint_every=10**9)
    return probe.eval()
