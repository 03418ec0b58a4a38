"""Byte-level BPE (GPT-2 style): training, encoding by merge rank, lossless decoding.

API::

    tok = BPETokenizer()
    tok.train(texts, vocab_size, min_frequency=0, special_tokens=()) -> BPETokenizer   # self
    tok.encode(text) -> list[int];  tok.decode(ids) -> str;  tok.tokenize(text) -> list[str]
    tok.save(path) / BPETokenizer.load(path)            # one JSON file: vocab and merges
    BPETokenizer.from_vocab_merges(vocab: dict[str, int], merges: list[tuple[str, str]])
    tok.to_hf_tokenizer() -> tokenizers.Tokenizer       # the same model inside HF
    tok.vocab, tok.merges, tok.vocab_size

Text is split by GPT-2's regex, each chunk's UTF-8 bytes are spelled with 256 printable
characters (``bytes_to_unicode``), and merges are applied lowest rank first. Because the base
alphabet is all 256 bytes, there is no unknown token and ``decode(encode(x)) == x`` for every
Unicode string. Training is ``_merges.learn_merges``: the same merges, in the same order, as
HF ``BpeTrainer`` with ``ByteLevel.alphabet()`` as the initial alphabet.

References: Sennrich et al. (2016) https://arxiv.org/abs/1508.07909; Radford et al. (2019)
GPT-2; https://huggingface.co/learn/llm-course/chapter6/5. Taught in notebook 03.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from nlp_course.tokenization._merges import learn_merges
from nlp_course.tokenization._pretok import byte_level_pre_tokenize, bytes_to_unicode, check_text
from nlp_course.tokenization.wordpiece import (
    atomic_write_json,
    check_texts,
    check_vocab_size,
    read_json,
)


class BPETokenizer:
    """GPT-2-style byte-level BPE."""

    def __init__(self) -> None:
        alphabet = sorted(bytes_to_unicode().values())
        self._id_to_token: list[str] = alphabet
        self._token_to_id = {t: i for i, t in enumerate(alphabet)}
        self.merges: list[tuple[str, str]] = []
        self._ranks: dict[tuple[str, str], int] = {}
        self._cache: dict[str, list[int]] = {}
        self._byte_of = {c: b for b, c in bytes_to_unicode().items()}

    @property
    def vocab(self) -> dict[str, int]:
        return dict(self._token_to_id)

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_token)

    def __len__(self) -> int:
        return len(self._id_to_token)

    @classmethod
    def from_vocab_merges(cls, vocab: dict[str, int], merges: Iterable) -> BPETokenizer:
        """Build from a GPT-2-style ``vocab.json`` dict and merge list (pairs or "a b" lines)."""
        tok = cls()
        ids = sorted(vocab.values())
        if ids != list(range(len(ids))):
            raise ValueError("vocab ids must be exactly 0..len(vocab)-1")
        id_to_token = [""] * len(vocab)
        for t, i in vocab.items():
            id_to_token[i] = t
        pairs = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]
        tok._set(id_to_token, pairs)
        return tok

    def _set(self, id_to_token: list[str], merges: list[tuple[str, str]]) -> None:
        self._id_to_token = list(id_to_token)
        self._token_to_id = {t: i for i, t in enumerate(self._id_to_token)}
        for a, b in merges:
            if a + b not in self._token_to_id:
                raise ValueError(f"merges has ({a!r}, {b!r}) whose result is not in the vocab")
        self.merges = [(a, b) for a, b in merges]
        self._ranks = {}
        for r, pair in enumerate(self.merges):
            self._ranks.setdefault(pair, r)
        self._cache = {}

    def train(self, texts: Iterable[str], vocab_size: int, min_frequency: int = 0,
              special_tokens: Iterable[str] = ()) -> BPETokenizer:  # fmt: skip
        """Learn merges until the vocabulary (specials + 256 bytes + merges) has ``vocab_size``."""
        texts = check_texts(texts)
        specials = list(special_tokens)
        alphabet = specials + sorted(bytes_to_unicode().values())
        check_vocab_size(vocab_size, len(alphabet), "the 256-byte alphabet plus special tokens")
        index = {t: i for i, t in enumerate(alphabet)}
        word_counts = Counter(w for t in texts for w in byte_level_pre_tokenize(t))
        words = [[index[c] for c in w] for w in word_counts]
        counts = list(word_counts.values())
        id_to_token = list(alphabet)
        merges = learn_merges(words, counts, id_to_token, vocab_size, None, min_frequency)
        self._set(id_to_token, [(id_to_token[a], id_to_token[b]) for a, b in merges])
        return self

    def _bpe(self, word: str) -> list[int]:
        """Merge the pieces of one pre-token, lowest-rank pair first (leftmost on ties)."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        parts = list(word)
        ranks = self._ranks
        while len(parts) > 1:
            best, best_rank = -1, len(ranks)
            for i in range(len(parts) - 1):
                r = ranks.get((parts[i], parts[i + 1]), best_rank)
                if r < best_rank:
                    best, best_rank = i, r
            if best < 0:
                break
            a, b = parts[best], parts[best + 1]
            merged, i = [], 0
            while i < len(parts):
                if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        ids = [self._token_to_id[p] for p in parts]
        if len(self._cache) < 100_000:
            self._cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        check_text(text)
        return [i for w in byte_level_pre_tokenize(text) for i in self._bpe(w)]

    def tokenize(self, text: str) -> list[str]:
        return [self._id_to_token[i] for i in self.encode(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Bytes of the tokens, decoded as UTF-8 (invalid sequences become U+FFFD, as in HF)."""
        out = bytearray()
        for i in ids:
            if not 0 <= int(i) < len(self._id_to_token):
                raise ValueError(f"ids contains {i}, outside the vocabulary [0, {len(self)})")
            token = self._id_to_token[int(i)]
            out.extend(self._byte_of[c] for c in token if c in self._byte_of)
        return out.decode("utf-8", errors="replace")

    def save(self, path) -> None:
        atomic_write_json(path, {"type": "BPETokenizer", "vocab": self._id_to_token,
                                 "merges": [list(m) for m in self.merges]})  # fmt: skip

    @classmethod
    def load(cls, path) -> BPETokenizer:
        data = read_json(path, "BPETokenizer")
        tok = cls()
        tok._set(data["vocab"], [tuple(m) for m in data["merges"]])
        return tok

    def to_hf_tokenizer(self):
        """The same vocabulary and merges as an HF ``ByteLevel`` BPE ``tokenizers.Tokenizer``."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers

        tok = Tokenizer(models.BPE(self.vocab, list(self.merges)))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        return tok
