"""word2vec's reference loop: SGD on one (input, target) pair at a time, compiled with numba.

Taught in notebooks/05_word_embeddings.ipynb; ``Word2Vec(batch_size=1)`` trains with it.

The word2vec C code and gensim (``word2vec_inner.pyx``: ``fast_sentence_sg_neg``,
``fast_sentence_cbow_neg``) do not batch: every pair's update reads the vectors the previous
pair wrote. ``nlp_course.word2vec`` batches thousands of pairs per torch step, and on Wikipedia
+ Lee that alone costs about 20 points of analogy accuracy in corpus order (-12% vs gensim at
batch 8192, 12 seeds; its module docstring). This loop takes batching out of the comparison: in
gensim's pair order (``shuffle=False``) it runs the algorithm gensim runs, only the random draws
differ, and it lands within 10% of gensim (+9.5% +- 4.3%).

One pair -- input vector ``v``, true word ``o``, noise words ``n_1 .. n_K`` -- as gensim does it::

    e = 0
    for w, label in (o, 1), (n_1, 0), ..., (n_K, 0):    # a noise word equal to o is skipped
        f = u_w . v                                      # skipped if |f| >= MAX_EXP
        g = lr * (label - sigmoid(f))
        e += g * u_w
        u_w += g * v                                     # the output vector moves at once
    v += e                                               # the input vector after all K + 1

Skip-gram's ``v`` is the context word's input vector. CBOW's is the mean of the window's input
vectors, and ``e`` is added to each of them (gensim's ``cbow_mean=1``). When a pair's noise
words are distinct this is exactly ``sgns_update`` on a batch of one (tested against it).

numba compiles the loops on first use (a few seconds, then cached in ``__pycache__``).

References: Mikolov et al. 2013 (the C code, ``word2vec.c``); gensim ``word2vec_inner.pyx``;
Lam et al., "Numba: a LLVM-based Python JIT compiler" (2015).
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np


@numba.njit(cache=True, fastmath=True)
def _one_pair(v, w_out, target, noise, lr, max_exp, err):
    """The K + 1 logistic updates of one pair; fills ``err`` (D,) with the step for ``v``."""
    err[:] = 0.0
    for j in range(noise.shape[0] + 1):
        if j == 0:
            word, label = target, 1.0
        else:
            word, label = noise[j - 1], 0.0
            if word == target:
                continue
        u = w_out[word]  # (D,) a view: written in place
        f = v.dtype.type(0.0)  # float32 sums, like gensim's sdot
        for d in range(v.shape[0]):
            f += v[d] * u[d]
        if abs(f) >= max_exp:
            continue
        g = v.dtype.type(lr * (label - 1.0 / (1.0 + np.exp(-f))))
        for d in range(v.shape[0]):
            err[d] += g * u[d]
            u[d] += g * v[d]


@numba.njit(cache=True)
def skipgram_pairs(w_in, w_out, inputs, targets, noise, lrs, max_exp):
    """Skip-gram, pair by pair: ``w_in[inputs[p]]`` predicts ``targets[p]`` against ``noise[p]``.

    w_in, w_out (V, D) float32, updated in place; inputs, targets (N,); noise (N, K); lrs (N,).
    """
    err = np.empty(w_in.shape[1], dtype=w_in.dtype)  # (D,)
    for p in range(targets.shape[0]):
        v = w_in[inputs[p]]  # (D,) a view
        _one_pair(v, w_out, targets[p], noise[p], lrs[p], max_exp, err)
        v += err


@numba.njit(cache=True)
def cbow_pairs(w_in, w_out, contexts, targets, noise, lrs, max_exp):
    """CBOW, pair by pair: the mean of the row ``contexts[p]`` (N, 2W), padded with -1,
    predicts ``targets[p]``; every context word gets the whole error back."""
    dim = w_in.shape[1]
    mean = np.empty(dim, dtype=w_in.dtype)  # (D,)
    err = np.empty(dim, dtype=w_in.dtype)  # (D,)
    for p in range(targets.shape[0]):
        mean[:] = 0.0
        count = 0
        for c in contexts[p]:
            if c >= 0:
                mean += w_in[c]
                count += 1
        mean /= count
        _one_pair(mean, w_out, targets[p], noise[p], lrs[p], max_exp, err)
        for c in contexts[p]:
            if c >= 0:
                w_in[c] += err


def train_pairs(w_in: np.ndarray, w_out: np.ndarray, inputs: np.ndarray, targets: np.ndarray,
                lrs: np.ndarray, draw_noise: Callable[[int], np.ndarray], max_exp: float,
                chunk: int = 1 << 16) -> None:  # fmt: skip
    """Train on all pairs in order, one at a time, in place.

    ``inputs`` (N,) is skip-gram, (N, 2W) CBOW context rows; ``lrs`` (N,) the learning rate
    of each pair; ``draw_noise(n)`` returns (n, K) noise words for the next ``n`` pairs (drawn
    ``chunk`` pairs at a time, so the noise never needs N x K memory).
    """
    kernel = cbow_pairs if inputs.ndim == 2 else skipgram_pairs
    for start in range(0, len(targets), chunk):
        stop = min(start + chunk, len(targets))
        kernel(w_in, w_out, inputs[start:stop], targets[start:stop], draw_noise(stop - start),
               lrs[start:stop], max_exp)  # fmt: skip
