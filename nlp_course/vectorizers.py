"""Bag of words and TF-IDF from scratch, equal to scikit-learn's CountVectorizer/TfidfVectorizer.

Taught in notebook 04 (question 13 of the interview list).

- ``BagOfWords``: ``X[d, t]`` = how often term ``t`` (a word n-gram) occurs in document ``d``.
- ``TfIdf``: ``tf(t, d) * idf(t)`` with scikit-learn's conventions (the library twin the tests
  compare against, see https://scikit-learn.org/stable/modules/feature_extraction.html#tfidf-term-weighting):
  ``tf`` is the raw count (``1 + log(count)`` with ``sublinear_tf``);
  ``idf = ln((1 + N) / (1 + df)) + 1`` with ``smooth_idf`` (as if one extra document held every
  term once: no division by zero for an unseen term at transform time), else ``ln(N / df) + 1``;
  the "+1" keeps terms that occur in every document from being zeroed out; then each row is
  scaled to unit ``norm`` ("l2", "l1" or None).
- ``textbook_tfidf``: the lecture-notes formula ``tf = n_t / sum_k n_k``, ``idf = log(N / df)``,
  which gives 0 to a word present in every document and has no answer for unseen words.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import scipy.sparse as sp

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default: words of 2+ word characters


class BagOfWords:
    """Document-term count matrix (scipy CSR) with scikit-learn's tokenisation and pruning."""

    def __init__(self, lowercase: bool = True, token_pattern: str = TOKEN_PATTERN,
                 ngram_range: tuple[int, int] = (1, 1), min_df: int | float = 1,
                 max_df: int | float = 1.0, binary: bool = False):
        lo, hi = ngram_range
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
            raise ValueError(f"ngram_range must be (min_n, max_n) with 1 <= min_n <= max_n, "
                             f"got {ngram_range!r}")
        for name, v in (("min_df", min_df), ("max_df", max_df)):
            if isinstance(v, float) and not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} as a float must be in [0, 1], got {v}")
            if isinstance(v, int) and v < 0:
                raise ValueError(f"{name} as an int must be >= 0, got {v}")
        self.lowercase, self.ngram_range, self.binary = lowercase, (lo, hi), binary
        self.token_pattern = re.compile(token_pattern)
        self.min_df, self.max_df = min_df, max_df
        self.vocabulary_: dict[str, int] = {}

    def analyze(self, doc: str) -> list[str]:
        """The terms of one document: tokens, then space-joined n-grams for n in ngram_range."""
        if not isinstance(doc, str):
            raise TypeError(f"each document must be a str, got {type(doc).__name__}")
        tokens = self.token_pattern.findall(doc.lower() if self.lowercase else doc)
        lo, hi = self.ngram_range
        return [" ".join(tokens[i:i + n]) for n in range(lo, hi + 1)
                for i in range(len(tokens) - n + 1)]

    def _check_docs(self, docs) -> list[str]:
        if isinstance(docs, str):
            raise TypeError("docs must be a list of str, not one str (wrap it in a list)")
        return list(docs)

    def _counts(self, docs: list[str], vocab: dict[str, int]) -> sp.csr_matrix:
        rows, cols, vals = [], [], []
        for d, doc in enumerate(docs):
            c = Counter(t for t in self.analyze(doc) if t in vocab)
            for term, n in c.items():
                rows.append(d)
                cols.append(vocab[term])
                vals.append(1 if self.binary else n)
        return sp.csr_matrix((np.array(vals, dtype=np.int64), (rows, cols)),
                             shape=(len(docs), len(vocab)))

    def fit(self, docs) -> BagOfWords:
        self.fit_transform(docs)
        return self

    def fit_transform(self, docs) -> sp.csr_matrix:
        docs = self._check_docs(docs)
        if not docs:
            raise ValueError("docs is empty: need at least one document")
        df = Counter(t for doc in docs for t in set(self.analyze(doc)))
        n = len(docs)
        hi = self.max_df if isinstance(self.max_df, int) else self.max_df * n
        lo = self.min_df if isinstance(self.min_df, int) else self.min_df * n
        if hi < lo:
            raise ValueError("max_df corresponds to < documents than min_df")
        terms = sorted(t for t, f in df.items() if lo <= f <= hi)
        if not terms:
            raise ValueError("empty vocabulary: no terms left (documents empty, only stop "
                             "words/short tokens, or min_df/max_df too strict)")
        self.vocabulary_ = {t: i for i, t in enumerate(terms)}
        return self._counts(docs, self.vocabulary_)

    def transform(self, docs) -> sp.csr_matrix:
        if not self.vocabulary_:
            raise RuntimeError("call fit(docs) before transform")
        return self._counts(self._check_docs(docs), self.vocabulary_)

    def get_feature_names_out(self) -> np.ndarray:
        return np.array(sorted(self.vocabulary_, key=self.vocabulary_.get), dtype=object)


class TfIdf(BagOfWords):
    """TF-IDF weighted document-term matrix, equal to ``sklearn.feature_extraction.text.TfidfVectorizer``."""

    def __init__(self, norm: str | None = "l2", use_idf: bool = True, smooth_idf: bool = True,
                 sublinear_tf: bool = False, **bow_kwargs):
        if norm not in ("l1", "l2", None):
            raise ValueError(f"norm must be 'l1', 'l2' or None, got {norm!r}")
        super().__init__(**bow_kwargs)
        self.norm, self.use_idf = norm, use_idf
        self.smooth_idf, self.sublinear_tf = smooth_idf, sublinear_tf

    def fit_transform(self, docs) -> sp.csr_matrix:
        counts = super().fit_transform(docs)
        n_docs = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])  # (V,) documents per term
        s = int(self.smooth_idf)
        self.idf_ = np.log((n_docs + s) / (df + s)) + 1.0  # (V,)
        return self._weight(counts)

    def transform(self, docs) -> sp.csr_matrix:
        return self._weight(super().transform(docs))

    def _weight(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        x = counts.astype(np.float64)
        if self.sublinear_tf:
            x.data = np.log(x.data) + 1.0
        if self.use_idf:
            x = x @ sp.diags(self.idf_)
        x = sp.csr_matrix(x)
        if self.norm is not None:
            ord_ = 2 if self.norm == "l2" else 1
            norms = np.asarray(sp.linalg.norm(x, ord=ord_, axis=1)).ravel()  # (D,)
            norms[norms == 0] = 1.0  # an empty row stays all-zero, as in sklearn
            x = sp.csr_matrix(sp.diags(1.0 / norms) @ x)
        return x


def textbook_tfidf(docs: list[list[str]]) -> tuple[list[str], np.ndarray]:
    """The lecture-notes TF-IDF on token lists: ``(n_t / len(d)) * log(N / df_t)``.

    Returns ``(sorted vocabulary, dense (N, V) array)``. A term in every document gets 0.
    """
    if not docs:
        raise ValueError("docs is empty: need at least one token list")
    vocab = sorted({t for d in docs for t in d})
    if not vocab:
        raise ValueError("docs contain no tokens")
    index = {t: i for i, t in enumerate(vocab)}
    tf = np.zeros((len(docs), len(vocab)))  # (N, V)
    for r, d in enumerate(docs):
        for t, c in Counter(d).items():
            tf[r, index[t]] = c / len(d)
    df = (tf > 0).sum(0)  # (V,)
    idf = np.array([math.log(len(docs) / f) for f in df])
    return vocab, tf * idf
