"""Transfer learning: a pretrained BERT encoder + a small head, fine-tuned or frozen.

Taught in notebook 08 (question 26: "What is transfer learning and why does it work in NLP?").

Three ways to use a pretrained encoder for classification:

- fine-tuning: train the head *and* every encoder weight with a small learning rate
  (Devlin et al. 2019; Howard & Ruder 2018, ULMFiT);
- a linear probe: freeze the encoder, fit only a linear classifier on its pooled features --
  measures what pretraining put into the representation (Alain & Bengio 2016);
- from scratch: the same architecture with random weights, the baseline transfer must beat.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """(B, T, C) -> (B, C): the [CLS] vector or the mean over real (unpadded) tokens."""
    if how == "cls":
        return hidden[:, 0]
    if how != "mean":
        raise ValueError(f"how must be 'mean' or 'cls', got {how!r}")
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1)


class BertClassifier(nn.Module):
    """Encoder (our ``BertModel``) -> pooling -> dropout -> linear layer over ``num_labels``."""

    def __init__(self, encoder: nn.Module, num_labels: int, pooling: str = "mean", dropout: float = 0.1):
        super().__init__()
        if num_labels < 2:
            raise ValueError(f"num_labels must be >= 2, got {num_labels}")
        self.encoder, self.pooling = encoder, pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.encoder(input_ids, attention_mask).last_hidden_state  # (B, T, C)
        return self.head(self.dropout(pool(h, attention_mask, self.pooling)))  # (B, num_labels)


def train_classifier(model: BertClassifier, tokenizer, texts: list[str], labels: list[int], epochs: int = 3,
                     lr: float = 5e-4, batch_size: int = 16, max_length: int = 128, seed: int = 0) -> list[float]:
    """Fine-tune ``model`` (every parameter that requires grad); returns the mean loss per epoch."""
    if len(texts) != len(labels) or not texts:
        raise ValueError(f"texts and labels must be non-empty and equally long, got {len(texts)} and {len(labels)}")
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    y = torch.tensor(labels)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    history = []
    model.train()
    for _ in range(epochs):
        order, total = torch.randperm(len(texts), generator=g), 0.0
        for i in range(0, len(texts), batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(enc["input_ids"][idx], enc["attention_mask"][idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item() * len(idx)
        history.append(total / len(texts))
    model.eval()
    return history


@torch.no_grad()
def predict(model: BertClassifier, tokenizer, texts: list[str], max_length: int = 128, batch_size: int = 64) -> np.ndarray:
    """Predicted label for each text."""
    model.eval()
    out = []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(texts[i : i + batch_size], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        out.append(model(enc["input_ids"], enc["attention_mask"]).argmax(-1))
    return torch.cat(out).numpy()


@torch.no_grad()
def encode_texts(encoder: nn.Module, tokenizer, texts: list[str], pooling: str = "mean", max_length: int = 128,
                 batch_size: int = 64) -> np.ndarray:
    """Frozen-encoder features (N, C) for a linear probe."""
    was_training = encoder.training
    encoder.eval()
    out = []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(texts[i : i + batch_size], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        h = encoder(enc["input_ids"], enc["attention_mask"]).last_hidden_state
        out.append(pool(h, enc["attention_mask"], pooling))
    encoder.train(was_training)
    return torch.cat(out).numpy()
