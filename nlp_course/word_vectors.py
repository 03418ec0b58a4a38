"""Word vectors: a vocabulary, cosine nearest neighbours and the two standard benchmarks.

Shared by ``word2vec.Word2Vec`` and ``glove.GloVe`` (and by the Russian navec vectors in the
notebook). Taught in notebooks/05_word_embeddings.ipynb.

- ``build_vocab`` counts words, drops those rarer than ``min_count`` and sorts by frequency
  (the order gensim uses, so ``restrict_vocab`` means "the N most frequent words").
- ``WordVectors.most_similar`` is 3CosAdd: the cosine of every word with the normalised sum of
  the unit vectors of ``positive`` minus those of ``negative`` (Mikolov et al., 2013b).
- ``evaluate_analogies`` follows gensim's ``KeyedVectors.evaluate_word_analogies`` exactly
  (case-insensitive, the 300,000 most frequent words, questions with an unknown word skipped,
  the three question words excluded from the answer) but scores all questions in one matrix
  product; ``evaluate_word_pairs`` follows ``evaluate_word_pairs`` (Spearman and Pearson of
  cosine vs human scores on WordSim353 / SimLex-999, out-of-vocabulary pairs skipped).

References: Mikolov et al., "Linguistic Regularities in Continuous Space Word Representations"
(2013); Finkelstein et al., WordSim353 (2002); Hill et al., SimLex-999 (2015); gensim docs,
https://radimrehurek.com/gensim/models/keyedvectors.html
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from scipy import stats


class UnknownWordError(KeyError, ValueError):
    """A word that is not in the vocabulary (a KeyError for dict habits, a ValueError too)."""


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_sentences(sentences) -> list[list[str]]:
    """Validate a corpus: a non-empty sequence of token lists (not raw strings)."""
    if isinstance(sentences, (str, bytes)) or not isinstance(sentences, Iterable):
        raise TypeError("sentences must be a list of token lists, e.g. [['the', 'cat'], ...]")
    sentences = list(sentences)
    for i, sent in enumerate(sentences):
        if isinstance(sent, str) or not all(isinstance(w, str) for w in sent):
            raise TypeError(
                f"sentences[{i}] must be a list of str tokens, got {type(sent).__name__}"
                " (split your text into words first)"
            )
    if sum(map(len, sentences)) == 0:
        raise ValueError("sentences is empty: the corpus must contain at least one word")
    return sentences


def build_vocab(sentences: list[list[str]], min_count: int) -> tuple[list[str], np.ndarray]:
    """Words seen at least ``min_count`` times, most frequent first, and their counts."""
    counts = Counter(w for sent in sentences for w in sent)
    kept = [(w, c) for w, c in counts.items() if c >= min_count]
    if not kept:
        raise ValueError(
            f"no word occurs at least min_count={min_count} times in the corpus "
            f"({len(counts)} distinct words): lower min_count or give more text"
        )
    kept.sort(key=lambda wc: -wc[1])  # stable: ties keep first-seen order
    return [w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64)


def encode(sentences: list[list[str]], key_to_index: dict[str, int]):
    """Flat word ids and sentence ids of all in-vocabulary tokens (unknown words dropped)."""
    ids, sent_ids = [], []
    for s, sent in enumerate(sentences):
        row = [key_to_index[w] for w in sent if w in key_to_index]
        ids.extend(row)
        sent_ids.extend([s] * len(row))
    return np.array(ids, dtype=np.int64), np.array(sent_ids, dtype=np.int64)


class WordVectors:
    """A matrix of word vectors with its vocabulary (most frequent word first)."""

    def __init__(self, index_to_key: Sequence[str], vectors: np.ndarray):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(index_to_key):
            raise ValueError(
                f"vectors must have shape (len(index_to_key), dim) = ({len(index_to_key)}, dim),"
                f" got {vectors.shape}"
            )
        self.index_to_key = list(index_to_key)
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.vectors = vectors  # (V, D)

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word: str) -> bool:
        return word in self.key_to_index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self._index(word)]

    def _index(self, word: str) -> int:
        if not isinstance(word, str):
            raise TypeError(f"word must be a str, got {type(word).__name__}")
        if word not in self.key_to_index:
            raise UnknownWordError(f"word {word!r} is not in the vocabulary ({len(self)} words)")
        return self.key_to_index[word]

    def unit_vectors(self) -> np.ndarray:
        """Rows scaled to length 1 (zero rows stay zero), so dot products are cosines."""
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)  # (V, 1)
        return self.vectors / np.maximum(norms, 1e-12)

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        va, vb = self[a], self[b]
        return float(va @ vb / max(np.linalg.norm(va) * np.linalg.norm(vb), 1e-12))

    def most_similar(self, positive, negative=(), topn: int = 10) -> list[tuple[str, float]]:
        """Words closest (cosine) to ``sum(positive) - sum(negative)`` of unit vectors."""
        positive = [positive] if isinstance(positive, str) else list(positive)
        negative = [negative] if isinstance(negative, str) else list(negative)
        topn = _positive_int("topn", topn)
        if not positive and not negative:
            raise ValueError("most_similar needs at least one positive or negative word")
        idx = [self._index(w) for w in positive + negative]
        unit = self.unit_vectors()
        query = unit[idx[: len(positive)]].sum(0) - unit[idx[len(positive) :]].sum(0)  # (D,)
        scores = unit @ (query / max(np.linalg.norm(query), 1e-12))  # (V,)
        scores[idx] = -np.inf  # never answer with a query word
        best = np.argsort(-scores, kind="stable")[: min(topn, len(self) - len(set(idx)))]
        return [(self.index_to_key[i], round(float(scores[i]), 6)) for i in best]

    def _ok_vocab(self, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
        keys = self.index_to_key[: _positive_int("restrict_vocab", restrict_vocab)]
        fold = str.upper if case_insensitive else str
        # reversed, so that the most frequent spelling wins a case collision (as gensim)
        return {fold(k): i for i, k in reversed(list(enumerate(keys)))}

    def evaluate_analogies(
        self, path: str | Path, restrict_vocab: int = 300_000, case_insensitive: bool = True
    ) -> dict:
        """Accuracy on "a is to b as c is to ?" questions (gensim's questions-words.txt format).

        Returns ``{"accuracy", "correct", "total", "oov", "sections": {name: (correct, total)}}``.
        """
        ok = self._ok_vocab(restrict_vocab, case_insensitive)
        fold = str.upper if case_insensitive else str
        names, quads, oov = [], [], 0
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.startswith(": "):
                names.append(line[2:].strip())
                continue
            if not names:
                raise ValueError(f"{path}: the first line must be a section header ': name'")
            words = [fold(w) for w in line.split()]
            if len(words) != 4:
                continue
            if not all(w in ok for w in words):
                oov += 1
                continue
            quads.append([len(names) - 1] + [ok[w] for w in words])
        q = np.array(quads, dtype=np.int64).reshape(-1, 5)  # (Q, 5): section, a, b, c, expected
        unit = self.unit_vectors()[:restrict_vocab]  # (V', D): candidates are frequent words
        correct = np.zeros(len(q), dtype=bool)
        for start in range(0, len(q), 1024):
            a, b, c, d = q[start : start + 1024, 1:].T
            query = unit[b] - unit[a] + unit[c]  # (B, D)
            scores = query @ unit.T  # (B, V')
            rows = np.arange(len(a))
            scores[rows, a] = scores[rows, b] = scores[rows, c] = -np.inf
            correct[start : start + 1024] = scores.argmax(1) == d
        sections = {
            name: (int(correct[q[:, 0] == s].sum()), int((q[:, 0] == s).sum()))
            for s, name in enumerate(names)
        }
        total = len(q)
        return {
            "accuracy": float(correct.mean()) if total else 0.0,
            "correct": int(correct.sum()),
            "total": total,
            "oov": oov,
            "sections": dict(sorted(sections.items())),
        }

    def evaluate_word_pairs(
        self, path: str | Path, restrict_vocab: int = 300_000, case_insensitive: bool = True
    ) -> dict:
        """Spearman/Pearson correlation of cosine similarity with human scores (tab-separated).

        Returns ``{"spearman", "pearson", "pairs", "oov_ratio"}`` (oov_ratio in percent).
        """
        ok = self._ok_vocab(restrict_vocab, case_insensitive)
        fold = str.upper if case_insensitive else str
        unit = self.unit_vectors()
        gold, model, oov = [], [], 0
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                continue
            a, b = fold(fields[0]), fold(fields[1])
            if a not in ok or b not in ok:
                oov += 1
                continue
            gold.append(float(fields[2]))
            model.append(float(unit[ok[a]] @ unit[ok[b]]))
        if len(gold) < 3:
            raise ValueError(f"only {len(gold)} pairs of {path} are in the vocabulary (need 3)")
        return {
            "spearman": float(stats.spearmanr(gold, model).statistic),
            "pearson": float(stats.pearsonr(gold, model).statistic),
            "pairs": len(gold),
            "oov_ratio": 100.0 * oov / (len(gold) + oov),
        }
