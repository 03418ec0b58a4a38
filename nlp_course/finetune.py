"""Transfer learning: a pretrained BERT encoder + a small head, fine-tuned or frozen.

Taught in notebook 08 (question 26: "What is transfer learning and why does it work in NLP?").

Three ways to use a pretrained encoder for classification:

- fine-tuning: train the head *and* every encoder weight with a small learning rate
  (Devlin et al. 2019; Howard & Ruder 2018, ULMFiT);
- a linear probe: freeze the encoder, fit only a linear classifier on its pooled features --
  measures what pretraining put into the representation (Alain & Bengio 2016);
- from scratch: the same architecture with random weights, the baseline transfer must beat.

Pretraining pays where labels are few, which one small test set cannot show; *learning curves*
can: a task built by ``source_sentences`` (which corpus did a held-out sentence come from?
documents split between train and test, never sentences of one document on both sides) and
``balanced_subset`` draws of 25 ... 200 labelled sentences, several seeds each
(``nlp_course.transfer`` runs them).
"""

from __future__ import annotations

import random

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


def source_sentences(docs_by_source: dict[str, list[str]], test_share: float = 0.5, min_words: int = 5,
                     max_words: int = 40, seed: int = 0) -> dict[str, tuple[list[str], list[int]]]:
    """A "which corpus is this sentence from?" task, split by *document*.

    Each source's documents are shuffled (``seed``) and the first ``test_share`` of them go to
    the test side. Sentences (``nlp_course.nsp.split_sentences``) of ``min_words``..``max_words``
    words are deduplicated over all sources *before* the split, so no sentence is on both sides.
    Returns ``{"train": (sentences, labels, docs), "test": (sentences, labels, docs)}``; label i =
    the i-th key of ``docs_by_source``; ``docs`` names each sentence's document as ``"source/index"``.
    """
    from nlp_course.nsp import split_sentences

    if len(docs_by_source) < 2:
        raise ValueError(f"docs_by_source needs at least two sources, got {len(docs_by_source)}")
    if not 0.0 < test_share < 1.0:
        raise ValueError(f"test_share must be in (0, 1), got {test_share}")
    rng, seen = random.Random(seed), set()
    out = {"train": ([], [], []), "test": ([], [], [])}
    for label, (source, docs) in enumerate(docs_by_source.items()):
        if len(docs) < 2:
            raise ValueError("every source needs at least two documents (one for each side)")
        order = list(range(len(docs)))
        rng.shuffle(order)
        n_test = min(len(docs) - 1, max(1, round(test_share * len(docs))))
        for rank, d in enumerate(order):
            side = out["test" if rank < n_test else "train"]
            for sent in split_sentences(docs[d]):
                if min_words <= len(sent.split()) <= max_words and sent.lower() not in seen:
                    seen.add(sent.lower())
                    side[0].append(sent)
                    side[1].append(label)
                    side[2].append(f"{source}/{d}")
    return out


def balanced_subset(labels: list[int], n: int, seed: int = 0) -> list[int]:
    """Indices of ``n`` items spread evenly over the k classes (the first ``n % k`` classes get one
    more), drawn with ``seed``, sorted."""
    classes = sorted(set(labels))
    if not isinstance(n, int) or n < len(classes):
        raise ValueError(f"n must be an int >= the {len(classes)} classes, got {n!r}")
    rng, picked = random.Random(seed), []
    for rank, c in enumerate(classes):
        members = [i for i, y in enumerate(labels) if y == c]
        want = n // len(classes) + (rank < n % len(classes))
        if len(members) < want:
            raise ValueError(f"class {c} has {len(members)} items, fewer than the {want} asked")
        picked += rng.sample(members, want)
    return sorted(picked)
