"""GloVe from scratch: a distance-weighted co-occurrence matrix, weighted least squares, AdaGrad.

Taught in notebooks/05_word_embeddings.ipynb (re-exported as
``nlp_course.word2vec.GloVe``).

- ``cooccurrence_matrix``: ``X[i, j] = Σ 1/d`` over every time word j appears d <= window
  words from word i in a sentence (symmetric), as in the GloVe C tool.
- ``glove_weight``: ``f(x) = (x / x_max) ** alpha`` for ``x < x_max``, else 1 (paper: 100, 3/4).
- ``glove_loss``: ``J = ½ Σ_ij f(X_ij) (w_i·w̃_j + b_i + b̃_j - log X_ij)²`` over the non-zero
  entries (the ½ is the C code's; the paper drops it). Two vector sets, w (word) and w̃
  (context), and two biases; the final vectors are ``w + w̃``. The seed notes' ``w_i·w_j`` with
  a single set is a simplification: GloVe keeps two sets because X is only nearly symmetric and
  two randomly initialised sets average out noise.
- ``GloVe.fit`` shuffles the non-zeros each epoch and takes AdaGrad steps on big batches with
  hand-written gradients scattered by ``index_add_``; one step equals ``torch.optim.Adagrad``
  (``initial_accumulator_value=1`` as GloVe's ``gradsq``) on sparse embeddings.

Reference: Pennington, Socher & Manning, "GloVe: Global Vectors for Word Representation" (2014),
https://nlp.stanford.edu/projects/glove/ and its C code (``cooccur.c``, ``glove.c``).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse

from nlp_course.utils import check_positive
from nlp_course.word_vectors import WordVectors, _positive_int, build_vocab, check_sentences, encode


def cooccurrence_matrix(ids: np.ndarray, sent: np.ndarray, vocab_size: int, window: int):
    """Sparse (V, V) CSR matrix of 1/distance-weighted counts within ``window`` (symmetric)."""
    window = _positive_int("window", window)
    rows, cols, vals = [], [], []
    for d in range(1, window + 1):
        same = sent[:-d] == sent[d:]
        left, right = ids[:-d][same], ids[d:][same]
        rows += [left, right]
        cols += [right, left]
        vals += [np.full(2 * len(left), 1.0 / d)]
    rows, cols = np.concatenate(rows or [ids[:0]]), np.concatenate(cols or [ids[:0]])
    vals = np.concatenate(vals or [np.zeros(0)])
    return sparse.coo_matrix((vals, (rows, cols)), shape=(vocab_size, vocab_size)).tocsr()


def glove_weight(x, x_max: float = 100.0, alpha: float = 0.75):
    """The weighting f(x): small counts count less, counts above x_max count fully."""
    return torch.clamp(x / x_max, max=1.0) ** alpha


def glove_loss(w, w_ctx, b, b_ctx, rows, cols, counts, x_max: float = 100.0, alpha: float = 0.75):
    """½ Σ f(X_ij) (w_i·w̃_j + b_i + b̃_j - log X_ij)² over the given non-zero entries."""
    diff = (w[rows] * w_ctx[cols]).sum(-1) + b[rows] + b_ctx[cols] - torch.log(counts)  # (N,)
    return 0.5 * (glove_weight(counts, x_max, alpha) * diff**2).sum()


class GloVe(WordVectors):
    """GloVe word vectors; ``fit(sentences)`` then use like any ``WordVectors``."""

    def __init__(self, vector_size: int = 100, window: int = 10, min_count: int = 5,
                 epochs: int = 15, learning_rate: float = 0.05, x_max: float = 100.0,
                 alpha: float = 0.75, batch_size: int = 16384, seed: int = 1):  # fmt: skip
        self.vector_size = _positive_int("vector_size", vector_size)
        self.window = _positive_int("window", window)
        self.min_count = _positive_int("min_count", min_count)
        self.epochs = _positive_int("epochs", epochs)
        self.batch_size = _positive_int("batch_size", batch_size)
        self.seed = _positive_int("seed", seed, 0)
        self.learning_rate = check_positive("learning_rate", learning_rate)
        self.x_max = check_positive("x_max", x_max)
        self.alpha = check_positive("alpha", alpha)
        self.losses: list[float] = []

    def fit(self, sentences) -> GloVe:
        """Count co-occurrences, then minimise the weighted least squares loss with AdaGrad."""
        sentences = check_sentences(sentences)
        keys, self.counts = build_vocab(sentences, self.min_count)
        ids, sent = encode(sentences, {w: i for i, w in enumerate(keys)})
        coo = cooccurrence_matrix(ids, sent, len(keys), self.window).tocoo()
        if coo.nnz == 0:
            raise ValueError("no two vocabulary words co-occur: give longer sentences or more text")
        self.cooccurrence = coo.tocsr()
        rows, cols = (
            torch.from_numpy(coo.row.astype(np.int64)),
            torch.from_numpy(coo.col.astype(np.int64)),
        )
        counts = torch.from_numpy(coo.data.astype(np.float32))
        gen = torch.Generator().manual_seed(self.seed)
        v, dim = len(keys), self.vector_size
        params = [(torch.rand(v, dim, generator=gen) - 0.5) / dim for _ in range(2)]  # w, w̃
        params += [(torch.rand(v, generator=gen) - 0.5) / dim for _ in range(2)]  # b, b̃
        sums = [torch.ones_like(p) for p in params]  # AdaGrad accumulators start at 1 (as gradsq)
        self.losses = []
        for _ in range(self.epochs):
            order = torch.randperm(coo.nnz, generator=gen)
            total = 0.0
            for start in range(0, coo.nnz, self.batch_size):
                sel = order[start : start + self.batch_size]
                total += self.step(params, sums, rows[sel], cols[sel], counts[sel])
            self.losses.append(total)
        self.word_vectors, self.context_vectors = params[0].numpy(), params[1].numpy()
        super().__init__(keys, (params[0] + params[1]).numpy())
        return self

    def step(self, params, sums, rows, cols, counts) -> float:
        """One AdaGrad step on a batch of non-zeros (in place); returns the batch loss."""
        w, w_ctx, b, b_ctx = params
        diff = (w[rows] * w_ctx[cols]).sum(-1) + b[rows] + b_ctx[cols] - torch.log(counts)  # (N,)
        fdiff = glove_weight(counts, self.x_max, self.alpha) * diff  # (N,) = dJ/d(diff)
        grads = [fdiff[:, None] * w_ctx[cols], fdiff[:, None] * w[rows], fdiff, fdiff]
        for p, s, idx, g in zip(params, sums, (rows, cols, rows, cols), grads):
            touched, slot = torch.unique(idx, return_inverse=True)  # (U,), (N,)
            total = g.new_zeros((len(touched),) + g.shape[1:]).index_add_(0, slot, g)  # (U, ...)
            s[touched] += total**2  # only touched rows change, like sparse AdaGrad
            p[touched] -= self.learning_rate * total / (s[touched].sqrt() + 1e-10)
        return float(0.5 * (fdiff * diff).sum())
