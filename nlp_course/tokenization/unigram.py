"""Unigram language-model tokenizer (SentencePiece's default): EM training, Viterbi encoding.

API::

    tok = UnigramTokenizer()
    tok.train(texts, vocab_size, max_piece_length=16, shrinking_factor=0.75,
              em_iterations=2) -> UnigramTokenizer          # returns self
    tok.encode(text) -> list[int];  tok.decode(ids) -> str;  tok.tokenize(text) -> list[str]
    tok.save(path) / UnigramTokenizer.load(path)            # JSON: pieces and log-probabilities
    UnigramTokenizer.from_pieces([(piece, log_prob), ...])  # piece 0 must be "<unk>"
    tok.to_hf_tokenizer() -> tokenizers.Tokenizer           # HF Unigram + Metaspace, same pieces

Model: a text is a sequence of independent pieces, ``P(x) = prod_i p(x_i)``. Encoding picks the
most probable segmentation with Viterbi (dynamic programming over end positions). Training
(Kudo, 2018): start from many frequent substrings, then repeat (a) EM — expected piece counts
under the current model by forward-backward over each word's lattice, new ``log p = log(count /
total)`` — and (b) pruning: drop the pieces whose removal costs the least likelihood
(approximated, as in SentencePiece, by re-segmenting the piece itself without it), keeping
``shrinking_factor`` of them per round; single characters are never dropped.

Pre-tokenization is SentencePiece's: spaces become "▁", one "▁" is prepended, and text is split
before each "▁". Characters never seen in training map to ``<unk>`` (consecutive ones fused, as
in HF), so ``decode(encode(x)) == x`` only for text over the training alphabet without "▁" and
without a leading space (the prepended "▁" is stripped on decoding).

References: Kudo (2018) https://arxiv.org/abs/1804.10959; Kudo & Richardson (2018)
https://arxiv.org/abs/1808.06226; https://huggingface.co/learn/llm-course/chapter6/7.
Taught in notebook 03.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from nlp_course.tokenization._pretok import check_text
from nlp_course.tokenization.wordpiece import (
    atomic_write_json,
    check_texts,
    check_vocab_size,
    read_json,
)

SPACE = "▁"
UNK = "<unk>"
UNK_PENALTY = 10.0  # HF/SentencePiece: unknown characters score min(log p) - 10


def metaspace_split(text: str) -> list[str]:
    """Spaces -> "▁", prepend "▁" unless present, split before every "▁" (HF ``Metaspace``)."""
    if not text:
        return []
    text = text.replace(" ", SPACE)
    if not text.startswith(SPACE):
        text = SPACE + text
    words, start = [], 0
    for i in range(1, len(text)):
        if text[i] == SPACE:
            words.append(text[start:i])
            start = i
    words.append(text[start:])
    return words


def _logaddexp(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    return a if b == -math.inf else a + math.log1p(math.exp(b - a))


class UnigramTokenizer:
    """Unigram LM over pieces; id 0 is ``<unk>``."""

    def __init__(self) -> None:
        self._set([(UNK, 0.0)])

    def _set(self, pieces: list[tuple[str, float]]) -> None:
        if not pieces or pieces[0][0] != UNK:
            raise ValueError(f"pieces must start with {UNK!r}")
        if len({p for p, _ in pieces}) != len(pieces):
            raise ValueError("pieces has duplicates")
        self.pieces = [(str(p), float(s)) for p, s in pieces]
        self._id = {p: i for i, (p, _) in enumerate(self.pieces)}
        self._score = {p: s for p, s in self.pieces[1:]}
        self._max_len = max(len(p) for p, _ in self.pieces)
        scores = [s for _, s in self.pieces[1:]]
        self._unk_score = (min(scores) if scores else 0.0) - UNK_PENALTY

    @classmethod
    def from_pieces(cls, pieces: Iterable[tuple[str, float]]) -> UnigramTokenizer:
        tok = cls()
        tok._set(list(pieces))
        return tok

    @property
    def vocab_size(self) -> int:
        return len(self.pieces)

    def __len__(self) -> int:
        return len(self.pieces)

    # ---- encoding -----------------------------------------------------------------------------
    def _viterbi(self, word: str, score: dict[str, float]) -> tuple[list[str | None], float]:
        """Best segmentation of ``word`` (``None`` marks an unknown character) and its score."""
        n = len(word)
        best = [-math.inf] * (n + 1)
        back: list[tuple[int, str | None]] = [(0, None)] * (n + 1)
        best[0] = 0.0
        for start in range(n):  # same visiting order and strict ">" as HF: ties keep the first
            if best[start] == -math.inf:
                continue
            single = False
            for end in range(start + 1, min(n, start + self._max_len) + 1):
                piece = word[start:end]
                s = score.get(piece)
                if s is None:
                    continue
                single |= end == start + 1
                if best[start] + s > best[end]:
                    best[end], back[end] = best[start] + s, (start, piece)
            if not single and best[start] + self._unk_score > best[start + 1]:
                best[start + 1], back[start + 1] = best[start] + self._unk_score, (start, None)
        out: list[str | None] = []
        end = n
        while end > 0:
            start, piece = back[end]
            out.append(piece)
            end = start
        return out[::-1], best[n]

    def encode(self, text: str) -> list[int]:
        check_text(text)
        ids: list[int] = []
        for word in metaspace_split(text):
            for piece in self._viterbi(word, self._score)[0]:
                if piece is None:
                    if not ids or ids[-1] != 0:  # fuse consecutive unknowns
                        ids.append(0)
                else:
                    ids.append(self._id[piece])
        return ids

    def tokenize(self, text: str) -> list[str]:
        return [self.pieces[i][0] for i in self.encode(text)]

    def decode(self, ids: Iterable[int]) -> str:
        parts = []
        for i in ids:
            if not 0 <= int(i) < len(self.pieces):
                raise ValueError(f"ids contains {i}, outside the vocabulary [0, {len(self)})")
            parts.append(self.pieces[int(i)][0])
        text = "".join(parts).replace(SPACE, " ")
        return text[1:] if text.startswith(" ") else text

    # ---- training -----------------------------------------------------------------------------
    def train(self, texts: Iterable[str], vocab_size: int, max_piece_length: int = 16,
              shrinking_factor: float = 0.75, em_iterations: int = 2) -> UnigramTokenizer:  # fmt: skip
        texts = check_texts(texts)
        if not 0 < shrinking_factor < 1:
            raise ValueError(f"shrinking_factor must be in (0, 1), got {shrinking_factor}")
        if max_piece_length < 1:
            raise ValueError(f"max_piece_length must be >= 1, got {max_piece_length}")
        words = Counter(w for t in texts for w in metaspace_split(t))
        chars = Counter()
        for w, c in words.items():
            for ch in w:
                chars[ch] += c
        check_vocab_size(vocab_size, len(chars) + 1, "the alphabet plus <unk>")
        # Seed: every substring up to max_piece_length, ranked by frequency x length.
        subs: Counter[str] = Counter()
        for w, c in words.items():
            for i in range(len(w)):
                for j in range(i + 2, min(len(w), i + max_piece_length) + 1):
                    subs[w[i:j]] += c
        seed = [s for s, _ in sorted(subs.items(), key=lambda kv: (-kv[1] * len(kv[0]), kv[0]))]
        seed = seed[: max(4 * vocab_size, 1000)]
        freq = {**{s: subs[s] for s in seed}, **chars}
        total = sum(freq.values())
        score = {p: math.log(f / total) for p, f in freq.items()}
        word_list = list(words.items())
        while True:
            for _ in range(em_iterations):
                score = self._em_step(word_list, score)
            if len(score) + 1 <= vocab_size:
                break
            score = self._prune(word_list, score, chars, vocab_size, shrinking_factor)
        ordered = sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))
        self._set([(UNK, 0.0), *ordered])
        return self

    def _em_step(self, words: list[tuple[str, int]], score: dict[str, float]) -> dict[str, float]:
        """Expected counts by forward-backward on each word's lattice, then re-normalise."""
        expected: dict[str, float] = dict.fromkeys(score, 0.0)
        L = max(map(len, score))
        for w, c in words:
            n = len(w)
            alpha = [-math.inf] * (n + 1)
            alpha[0] = 0.0
            edges = []
            for start in range(n):
                for end in range(start + 1, min(n, start + L) + 1):
                    s = score.get(w[start:end])
                    if s is not None:
                        edges.append((start, end, s))
                        alpha[end] = _logaddexp(alpha[end], alpha[start] + s)
            beta = [-math.inf] * (n + 1)
            beta[n] = 0.0
            for start, end, s in reversed(edges):
                beta[start] = _logaddexp(beta[start], s + beta[end])
            z = alpha[n]
            for start, end, s in edges:
                expected[w[start:end]] += c * math.exp(alpha[start] + s + beta[end] - z)
        kept = {p: e for p, e in expected.items() if e > 0.5 or len(p) == 1}
        total = sum(kept.values())
        return {p: math.log(max(e, 1e-9) / total) for p, e in kept.items()}

    def _prune(self, words, score, chars, vocab_size, shrinking_factor) -> dict[str, float]:
        """Drop the pieces whose loss (count x (own log p - best alternative)) is smallest."""
        counts: Counter[str] = Counter()
        for w, c in words:
            for piece in self._viterbi_with(w, score):
                counts[piece] += c
        losses = {}
        for p, s in score.items():
            if len(p) == 1:
                continue
            without = dict(score)
            del without[p]
            alt = self._viterbi_with(p, without, total=True)
            losses[p] = counts[p] * (s - alt)
        target = max(vocab_size - 1, int(len(score) * shrinking_factor))
        keep_multi = sorted(losses, key=lambda p: (-losses[p], p))[: max(target - len(chars), 0)]
        return {p: score[p] for p in [*chars, *keep_multi]}

    def _viterbi_with(self, word, score, total=False):
        saved = self._max_len, self._unk_score
        self._max_len, self._unk_score = max(map(len, score)), min(score.values()) - UNK_PENALTY
        pieces, best = self._viterbi(word, score)
        self._max_len, self._unk_score = saved
        return best if total else [p for p in pieces if p is not None]

    # ---- persistence and export ---------------------------------------------------------------
    def save(self, path) -> None:
        atomic_write_json(path, {"type": "UnigramTokenizer", "pieces": self.pieces})

    @classmethod
    def load(cls, path) -> UnigramTokenizer:
        data = read_json(path, "UnigramTokenizer")
        return cls.from_pieces([tuple(p) for p in data["pieces"]])

    def to_hf_tokenizer(self):
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers

        tok = Tokenizer(models.Unigram(self.pieces, unk_id=0, byte_fallback=False))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="always")
        tok.decoder = decoders.Metaspace(replacement=SPACE, prepend_scheme="always")
        return tok
