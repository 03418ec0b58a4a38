"""word2vec from scratch: skip-gram and CBOW with negative sampling, vectorised over big batches.

Taught in notebooks/05_word_embeddings.ipynb. ``GloVe`` lives in ``nlp_course.glove`` and is
re-exported here.

- ``keep_probabilities``: subsampling of frequent words, gensim's (= the word2vec C code's)
  formula ``p_keep(w) = (sqrt(c_w / t) + 1) * t / c_w`` with ``t = sample * total``, capped at 1.
  (The paper's ``1 - sqrt(t / f)`` is the *discard* probability of an older version.)
- ``negative_distribution``: the noise distribution ``P_n(w) ∝ count(w)^0.75``.
- ``negative_sampling_loss`` / ``softmax_loss``: the two objectives as torch functions; the
  full softmax costs O(V) per pair, which is why negative sampling (O(k)) exists.
- ``sgns_update``: one SGD step of the negative-sampling loss on a batch, with hand-written
  gradients (``g = lr * (label - sigmoid(u·v))``) scattered with ``index_add_`` so repeated
  words get the sum of their updates, as in the sequential code. Like gensim, a pair whose
  score is outside (-6, 6) is skipped (``MAX_EXP``); CBOW (``cbow_mean=1``) feeds the mean of
  the context vectors and adds the whole error back to each of them, as gensim does.
- ``Word2Vec``: builds the vocabulary, then each epoch subsamples, draws gensim's "reduced
  window" (a random effective width in ``1..window`` per centre word), makes all (input, target)
  pairs with numpy in gensim's order (centre by centre, contexts left to right), shuffles them
  (``shuffle=True``) and trains in batches with the learning rate decayed linearly from
  ``alpha`` to ``min_alpha`` like gensim. Defaults are gensim's.

Pair order and batching both move the scores. gensim (like the C code) updates one pair at a
time, streaming pairs in corpus order, so consecutive updates share a centre word and a sentence.
``batch_size=1`` runs that loop (``nlp_course.word2vec_sequential``, numba). Measured on
Wikipedia + Lee (skip-gram, 5 epochs, analogy accuracy vs gensim's mean over the same 12 seeds,
+- one standard error of the seed-paired difference; ``python -m nlp_course.bench.word2vec --seeds
12 --modes sg --json``, committed as ``notebooks/results/bench_word2vec_cpu.json``):

    one pair at a time, gensim's order (gensim's algorithm)   +3%  +- 4%
    one pair at a time, shuffled                             +37%  +- 4%
    batches of 8192, gensim's order (``shuffle=False``)      -17%  +- 3%
    batches of 8192, shuffled (the default)                  +30%  +- 5%

Ours is deterministic, gensim's two workers are not: a 6-seed run of the same benchmark (seeds
1..6, same code) put gensim at 0.0154 and the first row at +14% +- 5%, the 12-seed run gensim at
0.0168 and the first row at +3%. So the algorithm matches gensim within the noise (and within
10%); shuffling is worth about +35 points (SGD learns more from decorrelated steps); batching
costs little on shuffled pairs (7 points, under two standard errors) but about 20 in corpus
order, where a batch holds thousands of stale, correlated updates. The default shuffles and
batches because that is fast in torch and scores higher. Notebook 05 shows all three.

References: Mikolov et al., "Efficient Estimation of Word Representations in Vector Space"
(2013) and "Distributed Representations of Words and Phrases and their Compositionality"
(2013); Goldberg & Levy, "word2vec Explained" (2014); gensim ``word2vec_inner.pyx``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from nlp_course.glove import GloVe
from nlp_course.word2vec_sequential import train_pairs
from nlp_course.word_vectors import (
    WordVectors,
    _positive_int,
    build_vocab,
    check_sentences,
    encode,
)

__all__ = [
    "GloVe",
    "Word2Vec",
    "keep_probabilities",
    "negative_distribution",
    "negative_sampling_loss",
    "sgns_update",
    "softmax_loss",
]

MAX_SOFTMAX_VOCAB = 20_000
MAX_EXP = 6.0  # gensim / word2vec.c skip a pair whose score is outside (-6, 6)


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each occurrence of a word with these counts (1 = always)."""
    counts = np.asarray(counts, dtype=np.float64)
    if not 0 <= sample < 1:
        raise ValueError(f"sample must be in [0, 1), got {sample!r}")
    if sample == 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    return np.minimum((np.sqrt(counts / threshold) + 1) * threshold / counts, 1.0)


def negative_distribution(counts: np.ndarray, exponent: float = 0.75) -> np.ndarray:
    """Noise distribution for negative sampling: ``count ** exponent``, normalised."""
    weights = np.asarray(counts, dtype=np.float64) ** exponent
    return weights / weights.sum()


def negative_sampling_loss(inputs, positives, negatives) -> torch.Tensor:
    """Mean over the batch of ``-log σ(u_o·v) - Σ_k log σ(-u_k·v)``.

    inputs (B, D) input vectors v; positives (B, D) output vectors u_o; negatives (B, K, D).
    """
    pos = (inputs * positives).sum(-1)  # (B,)
    neg = torch.bmm(negatives, inputs.unsqueeze(-1)).squeeze(-1)  # (B, K)
    return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).mean()


def softmax_loss(inputs, output_matrix, targets) -> torch.Tensor:
    """Mean of ``-log softmax(U v)[target]``: inputs (B, D), output_matrix (V, D), targets (B,)."""
    logits = inputs @ output_matrix.T  # (B, V): every word of the vocabulary, every pair
    return (torch.logsumexp(logits, -1) - logits.gather(1, targets[:, None])[:, 0]).mean()


def sgns_update(v, w_out, positives, noise, lr: float, max_exp: float = MAX_EXP) -> torch.Tensor:
    """One in-place SGD step on the summed negative-sampling loss; returns the gradient step
    for the input vectors ``v`` (B, D) (the caller scatters it).

    Pairs whose score ``|u·v|`` is at least ``max_exp`` are skipped, as in gensim and the C code
    (their sigmoid table stops at 6): without it, a large batch of stale summed updates can
    blow the vectors up (CBOW at ``alpha=0.05`` did); ``max_exp=inf`` gives the plain gradient.

    ``positives`` (B,) true output words; ``noise`` (G, K) noise words, each row shared by a
    group of ``ceil(B / G)`` consecutive pairs (G = B: every pair has its own, as in gensim).
    Sharing turns the noise scores into batched matrix products and cuts the gathered rows by
    the group size (Ji et al. 2016); each pair still sees K fresh samples of P_n.
    """
    n_pairs, dim = v.shape
    groups = noise.shape[0]
    size = -(-n_pairs // groups)
    u_pos, u_neg = w_out[positives], w_out[noise]  # (B, D), (G, K, D)
    s_pos = (v * u_pos).sum(-1)  # (B,)
    g_pos = (1.0 - torch.sigmoid(s_pos)) * lr * (s_pos.abs() < max_exp)  # (B,): label 1
    v_grp = torch.cat([v, v.new_zeros(groups * size - n_pairs, dim)]).view(groups, size, dim)
    s_neg = torch.bmm(v_grp, u_neg.transpose(1, 2))  # (G, S, K)
    g_neg = -torch.sigmoid(s_neg) * lr * (s_neg.abs() < max_exp)  # (G, S, K): label 0
    pos_grp = torch.cat([positives, positives.new_full((groups * size - n_pairs,), -1)])
    g_neg *= noise.unsqueeze(1) != pos_grp.view(groups, size, 1)  # skip noise == true word
    grad_in = g_pos.unsqueeze(1) * u_pos + torch.bmm(g_neg, u_neg).view(-1, dim)[:n_pairs]
    w_out.index_add_(0, positives, g_pos.unsqueeze(1) * v)
    w_out.index_add_(0, noise.reshape(-1), torch.bmm(g_neg.transpose(1, 2), v_grp).flatten(0, 1))
    return grad_in


def _softmax_update(w_out, v, targets, lr: float) -> torch.Tensor:
    """Full-softmax SGD step: every output vector moves for every pair (O(V) each)."""
    probs = torch.softmax(v @ w_out.T, -1)  # (B, V)
    g = -probs * lr
    g[torch.arange(len(targets)), targets] += lr  # (onehot - p) * lr
    grad_in = g @ w_out  # (B, D)
    w_out += g.T @ v  # (V, D)
    return grad_in


class Word2Vec(WordVectors):
    """Skip-gram (``sg=1``) or CBOW (``sg=0``) word2vec; ``loss="softmax"`` for tiny vocabularies.

    ``shuffle=False`` trains on the pairs in corpus order, as gensim does (its parity setting);
    the default shuffles each epoch's pairs, which scores higher on analogies (module docstring).
    ``batch_size=1`` runs gensim's one-pair-at-a-time loop (``nlp_course.word2vec_sequential``,
    numba) instead of torch batches; ``shared_negatives`` then does not apply.
    """

    def __init__(self, sg: int = 0, vector_size: int = 100, window: int = 5, negative: int = 5,
                 min_count: int = 5, epochs: int = 5, sample: float = 1e-3, alpha: float = 0.025,
                 min_alpha: float = 1e-4, batch_size: int = 8192, shared_negatives: int = 16,
                 loss: str = "negative", shuffle: bool = True, seed: int = 1):  # fmt: skip
        if sg not in (0, 1) or isinstance(sg, float):
            raise ValueError(f"sg must be 0 (CBOW) or 1 (skip-gram), got {sg!r}")
        if loss not in ("negative", "softmax"):
            raise ValueError(f"loss must be 'negative' or 'softmax', got {loss!r}")
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        self.shuffle = shuffle
        self.sg, self.loss = int(sg), loss
        self.vector_size = _positive_int("vector_size", vector_size)
        self.window = _positive_int("window", window)
        self.negative = _positive_int("negative", negative, 0 if loss == "softmax" else 1)
        self.min_count = _positive_int("min_count", min_count)
        self.epochs = _positive_int("epochs", epochs)
        self.batch_size = _positive_int("batch_size", batch_size)
        self.shared_negatives = _positive_int("shared_negatives", shared_negatives)
        self.seed = _positive_int("seed", seed, 0)
        keep_probabilities(np.ones(1), sample)  # validates sample
        if not 0 < min_alpha <= alpha:
            raise ValueError(
                f"need 0 < min_alpha <= alpha, got alpha={alpha}, min_alpha={min_alpha}"
            )
        self.sample, self.alpha, self.min_alpha = float(sample), float(alpha), float(min_alpha)

    def fit(self, sentences) -> Word2Vec:
        """Train on a list of token lists; returns self (vectors in ``self.vectors``)."""
        sentences = check_sentences(sentences)
        keys, self.counts = build_vocab(sentences, self.min_count)
        if self.loss == "softmax" and len(keys) > MAX_SOFTMAX_VOCAB:
            raise ValueError(f"loss='softmax' costs O(V) per pair; vocabulary has {len(keys)} "
                             f"words > {MAX_SOFTMAX_VOCAB}: use loss='negative'")  # fmt: skip
        rng = np.random.default_rng(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        dim = self.vector_size
        w_in = (torch.rand(len(keys), dim, generator=gen) * 2 - 1) / dim  # (V, D), gensim 4's U(-1/D, 1/D)
        w_out = torch.zeros(len(keys), dim)  # (V, D)
        super().__init__(keys, w_in.numpy())  # shares memory with w_in: trained in place
        ids, sent = encode(sentences, self.key_to_index)
        keep = keep_probabilities(self.counts, self.sample)
        cum = torch.from_numpy(np.cumsum(negative_distribution(self.counts)))
        for epoch in range(self.epochs):
            kept = rng.random(len(ids)) < keep[ids]
            inputs, targets = self._examples(ids[kept], sent[kept], rng)
            n_pairs = len(targets)
            order = torch.from_numpy(rng.permutation(n_pairs)) if self.shuffle else torch.arange(n_pairs)
            n_batches = -(-len(order) // self.batch_size)
            progress = (epoch + np.arange(n_batches) / n_batches) / self.epochs  # (n_batches,)
            lrs = self.alpha - (self.alpha - self.min_alpha) * progress  # gensim's linear decay
            if self.batch_size == 1 and self.loss == "negative":  # the reference loop, compiled
                train_pairs(w_in.numpy(), w_out.numpy(), inputs[order].numpy(), targets[order].numpy(), lrs,
                            lambda n: self._noise(cum, gen, n).numpy(), MAX_EXP)  # fmt: skip
                continue
            for b in range(n_batches):
                rows = order[b * self.batch_size : (b + 1) * self.batch_size]
                groups = -(-len(rows) // self.shared_negatives)
                noise = self._noise(cum, gen, groups) if self.loss == "negative" else None
                self._step(w_in, w_out, inputs[rows], targets[rows], noise, float(lrs[b]))
        self.output_vectors = w_out.numpy()
        return self

    def _examples(self, ids: np.ndarray, sent: np.ndarray, rng):
        """Skip-gram: (input word, target word) pairs. CBOW: (padded contexts (N, 2W), centre).

        Both come in gensim's order: by centre position, then context position.
        """
        n, win = len(ids), self.window
        reach = win - rng.integers(0, win, n)  # gensim's reduced window, in 1..window
        if self.sg:
            centre, context = [], []  # positions in ids
            for d in range(1, min(win, n - 1) + 1):
                p = np.arange(n - d)
                same = sent[:-d] == sent[d:]
                right = p[same & (d <= reach[:-d])]  # centre p, context p + d
                left = p[same & (d <= reach[d:])]  # centre p + d, context p
                centre += [right, left + d]
                context += [right + d, left]
            none = np.zeros(0, dtype=np.int64)
            centre, context = np.concatenate(centre or [none]), np.concatenate(context or [none])
            order = np.lexsort((context, centre))  # gensim's loop: centre by centre, left to right
            return torch.from_numpy(ids[context[order]]), torch.from_numpy(ids[centre[order]])
        offsets = np.r_[-win:0, 1 : win + 1]  # (2W,)
        pos = np.arange(n)[:, None] + offsets  # (N, 2W)
        inside = (pos >= 0) & (pos < n)
        pos = np.clip(pos, 0, max(n - 1, 0))
        mask = inside & (sent[pos] == sent[:, None]) & (np.abs(offsets) <= reach[:, None])
        has = mask.any(1)
        ctx = np.where(mask, ids[pos], -1)[has]  # (N', 2W), -1 = padding
        return torch.from_numpy(ctx), torch.from_numpy(ids[has])

    def _noise(self, cum, gen, rows: int) -> torch.Tensor:
        """(rows, negative) noise words drawn from ``P_n`` (``cum``: its cumulative sums)."""
        uniform = torch.rand(rows * self.negative, dtype=torch.float64, generator=gen)
        return torch.searchsorted(cum, uniform).clamp(max=len(cum) - 1).view(rows, self.negative)

    def _step(self, w_in, w_out, inputs, centre, noise, lr: float) -> None:
        """One batched SGD step; ``noise`` (G, K) is shared by groups of consecutive pairs."""
        if self.sg:
            v = w_in[inputs]  # (B, D)
        else:  # inputs (B, 2W) padded with -1: mean of each row's real context words
            lengths = (inputs >= 0).sum(1)  # (B,)
            flat = inputs[inputs >= 0]  # (L,) row by row
            offsets = torch.cumsum(lengths, 0) - lengths  # (B,)
            v = F.embedding_bag(flat, w_in, offsets, mode="mean")  # (B, D)
        if self.loss == "softmax":
            grad_in = _softmax_update(w_out, v, centre, lr)
        else:
            grad_in = sgns_update(v, w_out, centre, noise, lr)
        if self.sg:
            w_in.index_add_(0, inputs, grad_in)
        else:  # gensim (cbow_mean=1) adds the whole error to every context word
            w_in.index_add_(0, flat, grad_in.repeat_interleave(lengths, 0))  # (L, D)
