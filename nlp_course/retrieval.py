"""Sentence embeddings for search: encode texts, rank a corpus, score the ranking. Taught in notebook 09.

- ``encode``: any BERT-like encoder (ours, or a ``transformers`` ``BertModel`` such as
  all-MiniLM-L6-v2) -> one vector per text by mean or [CLS] pooling (Reimers & Gurevych 2019,
  "Sentence-BERT"). Texts are batched by length so little compute goes to padding.
- ``semantic_search``: top-k corpus entries per query by cosine similarity, in the same output
  format as ``sentence_transformers.util.semantic_search`` (and equal to it).
- ``question_answer_split``: a retrieval benchmark from (question, answer) pairs -- held-out
  questions must find their answers among all distinct answers; the rest is training data.
- ``retrieval_report``: recall@k and MRR via ``nlp_course.metrics.ranking``.
"""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F

from .finetune import pool
from .metrics.ranking import mrr, recall_at_k

__all__ = ["cosine_scores", "encode", "question_answer_split", "retrieval_report", "semantic_search"]


def _check_texts(texts, name: str = "texts") -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise TypeError(f"{name} must be a list of strings, got {type(texts).__name__}")
    if not texts:
        raise ValueError(f"{name} is empty: expected at least one string")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"{name}[{bad[0]}] must be a string, got {type(texts[bad[0]]).__name__}")
    return list(texts)


def _encoder(model):
    """Our/HF BertForMaskedLM carry the encoder in ``.bert``; a bare encoder is used as is."""
    return model.bert if hasattr(model, "bert") else model


def _max_length(encoder, tokenizer, max_length: int | None) -> int:
    limit = getattr(getattr(encoder, "config", None), "max_position_embeddings", None) or 10**9
    limit = min(limit, tokenizer.model_max_length or 10**9)
    if max_length is None:
        return min(limit, 512)
    if max_length < 2:
        raise ValueError(f"max_length must be >= 2, got {max_length}")
    return min(max_length, limit)


def embed_batch(model, tokenizer, texts: list[str], pooling: str = "mean", max_length: int | None = None) -> torch.Tensor:
    """Pooled (B, C) embeddings of one batch, with gradients and in the model's current mode.

    The building block of ``encode`` (inference) and of contrastive training (``nlp_course.simcse``).
    """
    encoder = _encoder(model)
    enc = tokenizer(texts, padding=True, truncation=True, max_length=_max_length(encoder, tokenizer, max_length),
                    return_tensors="pt")
    device = next(encoder.parameters()).device
    ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)  # (B, T)
    hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, T, C)
    return pool(hidden, mask, pooling)  # (B, C)


@torch.no_grad()
def encode(model, tokenizer, texts: list[str], pooling: str = "mean", batch_size: int = 64,
           max_length: int | None = None, normalize: bool = False) -> torch.Tensor:
    """(N, C) float CPU tensor: one pooled vector per text, in input order (eval mode, no dropout)."""
    texts = _check_texts(texts)
    if pooling not in ("mean", "cls"):
        raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    was_training = model.training
    model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
    parts = []
    for i in range(0, len(texts), batch_size):
        batch = [texts[j] for j in order[i : i + batch_size]]
        parts.append(embed_batch(model, tokenizer, batch, pooling, max_length).float().cpu())
    model.train(was_training)
    out = torch.empty(len(texts), parts[0].shape[1])
    out[torch.tensor(order)] = torch.cat(parts)  # (N, C) back in input order
    return F.normalize(out, dim=-1) if normalize else out


def _check_embeddings(x, name: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or not x.is_floating_point():
        raise ValueError(f"{name} must be a floating (N, D) tensor or array")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: expected at least one row")
    return x


def cosine_scores(queries, corpus) -> torch.Tensor:
    """(Q, N) cosine similarities between every query and every corpus embedding."""
    q, c = _check_embeddings(queries, "queries"), _check_embeddings(corpus, "corpus")
    if q.shape[1] != c.shape[1]:
        raise ValueError(f"queries and corpus differ in dimension: {q.shape[1]} != {c.shape[1]}")
    return F.normalize(q.float(), dim=-1) @ F.normalize(c.float(), dim=-1).T  # (Q, N)


def semantic_search(queries, corpus, k: int = 10) -> list[list[dict]]:
    """Per query, the top-k corpus hits as ``{"corpus_id": int, "score": float}``, best first."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    scores = cosine_scores(queries, corpus)  # (Q, N)
    top = torch.topk(scores, min(k, scores.shape[1]), dim=1, largest=True, sorted=True)
    return [[{"corpus_id": int(i), "score": float(s)} for s, i in zip(vals, idx)]
            for vals, idx in zip(top.values, top.indices)]


def question_answer_split(pairs: list[tuple[str, str]], n_test: int, seed: int = 0, min_chars: int = 3):
    """A question -> answer retrieval benchmark from (question, answer) pairs.

    Pairs with a side shorter than ``min_chars`` are dropped. ``n_test`` distinct questions are held
    out (seeded); every answer ever given to a held-out question counts as relevant to it.
    Returns ``(train_pairs, test_questions, corpus, relevance)``: training pairs never contain a
    held-out question; ``corpus`` is every distinct answer (sorted); ``relevance`` is a 0/1 array
    (n_test, len(corpus)).
    """
    if not isinstance(n_test, int) or n_test < 1:
        raise ValueError(f"n_test must be a positive int, got {n_test!r}")
    pairs = [(q.strip(), a.strip()) for q, a in pairs]
    pairs = [(q, a) for q, a in pairs if len(q) >= min_chars and len(a) >= min_chars]
    questions = sorted({q for q, _ in pairs})
    if n_test >= len(questions):
        raise ValueError(f"n_test must be smaller than the {len(questions)} distinct questions, got {n_test}")
    test = sorted(random.Random(seed).sample(questions, n_test))
    held = set(test)
    corpus = sorted({a for _, a in pairs})
    where = {a: j for j, a in enumerate(corpus)}
    row = {q: i for i, q in enumerate(test)}
    relevance = np.zeros((n_test, len(corpus)))
    for q, a in pairs:
        if q in held:
            relevance[row[q], where[a]] = 1
    train = [(q, a) for q, a in pairs if q not in held]
    return train, test, corpus, relevance


def retrieval_report(scores, relevance, ks=(1, 5, 10)) -> dict[str, float]:
    """``{"MRR": ..., "R@1": ..., ...}`` (recall@k averaged over queries), rounded to 4 decimals."""
    scores = scores.numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores)
    out = {f"R@{k}": round(recall_at_k(scores, relevance, k), 4) for k in ks}
    out["MRR"] = round(mrr(scores, relevance), 4)
    return out
