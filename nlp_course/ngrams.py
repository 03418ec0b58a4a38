"""N-gram language models: add-k and interpolated Kneser-Ney smoothing, perplexity, autocomplete.

Taught in notebook 04 (question 12 of the interview list).

An n-gram model predicts the next word from the previous ``n - 1`` words only:
``P(w_i | w_1..w_{i-1}) ~ P(w_i | w_{i-n+1}..w_{i-1})``. Counts alone give zero probability to
any n-gram not seen in training, so the model is *smoothed*:

- add-k (Lidstone; k = 1 is Laplace): ``(c(h, w) + k) / (c(h) + k |V|)``.
- interpolated Kneser-Ney (Kneser & Ney 1995; Chen & Goodman 1998, "An Empirical Study of
  Smoothing Techniques for Language Modeling", TR-10-98, eq. 26): subtract a discount
  ``D = n1 / (n1 + 2 n2)`` from every seen count and give the freed mass to a lower-order
  model built from *continuation* counts ``N1+(. h w)`` (how many distinct words precede
  ``h w``), recursing down to a unigram that is itself interpolated with the uniform
  distribution, so that ``<unk>`` keeps some mass. As in KenLM, n-grams that start with
  ``<s>`` keep their raw counts (nothing can precede the sentence start).

The prediction vocabulary is every training word with ``count >= min_count`` plus ``<unk>`` and
``</s>``; ``prob(w, context)`` sums to 1 over it for every context (tested with hypothesis).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from nlp_course.utils import check_positive

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
_WORD = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-case regex word tokenizer: words (with inner ' or -) and single punctuation marks."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _WORD.findall(text.lower())


def _as_sentences(sentences) -> list[list[str]]:
    if isinstance(sentences, str):
        raise TypeError("sentences must be a list of token lists or strings, not one str")
    out = []
    for s in sentences:
        if isinstance(s, str):
            out.append(tokenize(s))
        elif isinstance(s, Sequence) and all(isinstance(t, str) for t in s):
            out.append(list(s))
        else:
            raise TypeError(f"each sentence must be a str or a list of str, got {s!r:.60}")
    return out


class NGramLM:
    """An order-``n`` word language model with ``smoothing`` in {"add-k", "kneser-ney"}."""

    def __init__(self, n: int = 3, smoothing: str = "kneser-ney", k: float = 1.0,
                 min_count: int = 1):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        if smoothing not in ("add-k", "kneser-ney"):
            raise ValueError(f"smoothing must be 'add-k' or 'kneser-ney', got {smoothing!r}")
        k = check_positive("k", k)
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")
        self.n, self.smoothing, self.k, self.min_count = n, smoothing, float(k), min_count
        self.vocab: list[str] = []

    # ---------------------------------------------------------------- fitting
    def fit(self, sentences: Iterable) -> NGramLM:
        """Count n-grams of every order 1..n in ``sentences`` (token lists or raw strings)."""
        sents = [s for s in _as_sentences(sentences) if s]
        if not sents:
            raise ValueError("sentences is empty: need at least one non-empty sentence")
        freq = Counter(t for s in sents for t in s)
        kept = sorted(w for w, c in freq.items() if c >= self.min_count and w not in (BOS, EOS, UNK))
        self.vocab = [*kept, UNK, EOS]
        self.index = {w: i for i, w in enumerate(self.vocab)}
        # counts[m][context] = Counter(next word) for context length m = 0..n-1
        self.counts = [defaultdict(Counter) for _ in range(self.n)]
        for s in sents:
            padded = [BOS] * (self.n - 1) + [self._known(t) for t in s] + [EOS]
            for i in range(self.n - 1, len(padded)):
                for m in range(self.n):
                    self.counts[m][tuple(padded[i - m:i])][padded[i]] += 1
        # c(h) for add-k, computed once (summing a 40K-word Counter per query is slow)
        self.ctx_count = [{c: sum(nx.values()) for c, nx in self.counts[m].items()}
                          for m in range(self.n)]
        if self.smoothing == "kneser-ney":
            self._fit_kneser_ney()
        return self

    def _fit_kneser_ney(self) -> None:
        n = self.n
        # adjusted counts: raw counts for the top order and for n-grams starting with <s>,
        # continuation counts N1+(. h w) for lower orders (Chen & Goodman 1998, section 3.5)
        self.adj = [defaultdict(Counter) for _ in range(n)]
        for ctx, nxt in self.counts[n - 1].items():
            self.adj[n - 1][ctx] = Counter(nxt)
        for m in range(n - 2, -1, -1):
            for ctx, nxt in self.counts[m + 1].items():
                for w in nxt:
                    self.adj[m][ctx[1:]][w] += 1  # one more distinct left neighbour ctx[0]
            for ctx, nxt in self.counts[m].items():
                if ctx and ctx[0] == BOS:
                    self.adj[m][ctx] = Counter(nxt)
        self.discount, self.ctx_total, self.ctx_types = [], [], []
        for m in range(n):
            coc = Counter(c for nxt in self.adj[m].values() for c in nxt.values())
            n1, n2 = coc[1], coc[2]
            self.discount.append(n1 / (n1 + 2 * n2) if n1 and n2 else 0.5)
            self.ctx_total.append({c: sum(nx.values()) for c, nx in self.adj[m].items()})
            self.ctx_types.append({c: len(nx) for c, nx in self.adj[m].items()})

    def _known(self, word: str) -> str:
        return word if word in self.index else UNK

    def _check_fitted(self) -> None:
        if not self.vocab:
            raise RuntimeError("call fit(sentences) before using the model")

    def _context(self, context) -> tuple[str, ...]:
        if isinstance(context, str):
            context = tokenize(context)
        ctx = [BOS] * (self.n - 1) + [t if t == BOS else self._known(t) for t in context]
        return tuple(ctx[len(ctx) - (self.n - 1):]) if self.n > 1 else ()

    # ------------------------------------------------------------ probability
    def prob(self, word: str, context: Sequence[str] | str = ()) -> float:
        """P(word | last n-1 words of context); unknown words are scored as ``<unk>``."""
        self._check_fitted()
        if not isinstance(word, str):
            raise TypeError(f"word must be a str, got {type(word).__name__}")
        return float(self._prob(self._known(word), self._context(context)))

    def _prob(self, w: str, ctx: tuple[str, ...]) -> float:
        if self.smoothing == "add-k":
            nxt = self.counts[len(ctx)].get(ctx)
            total = self.ctx_count[len(ctx)].get(ctx, 0)
            return ((nxt[w] if nxt else 0) + self.k) / (total + self.k * len(self.vocab))
        return self._kn(w, ctx)

    def _kn(self, w: str, ctx: tuple[str, ...]) -> float:
        m = len(ctx)
        lower = 1.0 / len(self.vocab) if m == 0 else self._kn(w, ctx[1:])
        total = self.ctx_total[m].get(ctx, 0)
        if total == 0:
            return lower  # unseen context: all mass goes to the shorter context
        d = self.discount[m]
        c = self.adj[m][ctx][w]
        return max(c - d, 0.0) / total + d * self.ctx_types[m][ctx] / total * lower

    def distribution(self, context: Sequence[str] | str = ()) -> np.ndarray:
        """P(. | context) over ``self.vocab`` as a float64 array that sums to 1.

        The same numbers as ``prob`` word by word, computed for the whole vocabulary at once:
        one vector update per context length instead of one Python call per word.
        """
        self._check_fitted()
        ctx = self._context(context)
        size = len(self.vocab)
        if self.smoothing == "add-k":
            counts = self._count_vector(self.counts[len(ctx)].get(ctx))  # (V,)
            total = self.ctx_count[len(ctx)].get(ctx, 0)
            return (counts + self.k) / (total + self.k * size)
        p = np.full(size, 1.0 / size)  # (V,) the uniform floor
        for m in range(len(ctx) + 1):  # unigram first, then ever longer contexts
            h = ctx[len(ctx) - m:]
            total = self.ctx_total[m].get(h, 0)
            if total == 0:
                continue  # unseen context: keep the lower-order distribution
            d = self.discount[m]
            counts = self._count_vector(self.adj[m].get(h))  # (V,)
            p = np.maximum(counts - d, 0.0) / total + d * self.ctx_types[m][h] / total * p
        return p

    def _count_vector(self, nxt: Counter | None) -> np.ndarray:
        vec = np.zeros(len(self.vocab))  # (V,)
        if nxt:
            vec[[self.index[w] for w in nxt]] = list(nxt.values())
        return vec

    def perplexity(self, sentences: Iterable) -> float:
        """exp of the mean negative log-likelihood per predicted token (words and ``</s>``)."""
        self._check_fitted()
        sents = [s for s in _as_sentences(sentences) if s]
        if not sents:
            raise ValueError("sentences is empty: need at least one non-empty sentence")
        nll, count = 0.0, 0
        for s in sents:
            padded = [BOS] * (self.n - 1) + [self._known(t) for t in s] + [EOS]
            for i in range(self.n - 1, len(padded)):
                p = self._prob(padded[i], tuple(padded[i - self.n + 1:i]))
                nll -= math.log(p) if p > 0 else -math.inf
                count += 1
        return math.exp(nll / count)

    # ------------------------------------------------------- generation / T9
    def complete(self, prefix: str, k: int = 5) -> list[tuple[str, float]]:
        """Top-``k`` next words for ``prefix``; a partial last word restricts to its completions.

        ``"the united st"`` -> words starting with "st" after "the united"; ``"the united "``
        (trailing space) -> any next word. Probabilities are renormalised over the candidates.
        """
        self._check_fitted()
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an int >= 1, got {k!r}")
        tokens = tokenize(prefix)
        partial = "" if (not tokens or prefix[-1:].isspace()) else tokens.pop()
        probs = self.distribution(tokens)
        cands = [(w, p) for w, p in zip(self.vocab, probs)
                 if w.startswith(partial) and w != UNK and (w != EOS or not partial)]
        total = sum(p for _, p in cands)
        cands.sort(key=lambda wp: (-wp[1], wp[0]))
        return [(w, float(p / total)) for w, p in cands[:k]] if total > 0 else []

    def sample(self, context: Sequence[str] | str = (), max_words: int = 20,
               temperature: float = 1.0, seed: int | None = None) -> list[str]:
        """Sample words after ``context`` until ``</s>`` or ``max_words``; never emits ``<unk>``.

        ``p ** (1 / temperature)`` is computed in log space, so a tiny temperature is (nearly)
        greedy rather than 0/0; ``temperature`` must be finite and > 0.
        """
        self._check_fitted()
        temperature = check_positive("temperature", temperature)
        if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 0:
            raise ValueError(f"max_words must be an int >= 0, got {max_words!r}")
        rng = np.random.default_rng(seed)
        words = list(tokenize(context) if isinstance(context, str) else context)
        out: list[str] = []
        unk = self.index[UNK]
        for _ in range(max_words):
            with np.errstate(divide="ignore"):
                logits = np.log(self.distribution(words)) / temperature  # (V,)
            logits[unk] = -np.inf
            p = np.exp(logits - logits.max())  # (V,) the largest is 1: no 0/0 at tiny temperature
            w = self.vocab[rng.choice(len(p), p=p / p.sum())]
            if w == EOS:
                break
            out.append(w)
            words.append(w)
        return out
