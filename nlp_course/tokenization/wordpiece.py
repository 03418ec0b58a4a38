"""WordPiece (BERT's subword tokenizer): training, greedy longest-match encoding, HF export.

API (used by chapter 08's BERT)::

    tok = WordPieceTokenizer(lowercase=True, strip_accents=None, max_input_chars_per_word=100)
    tok.train(texts: Iterable[str], vocab_size: int, min_frequency: int = 0,
              limit_alphabet: int | None = None) -> WordPieceTokenizer     # returns self
    tok.encode(text: str, add_special_tokens: bool = False) -> list[int]   # [CLS] ... [SEP] if True;
                                                  # "[MASK]" etc. written in text -> their ids
    tok.tokenize(text: str) -> list[str]                                    # the pieces, "##" marked
    tok.decode(ids: list[int], skip_special_tokens: bool = True) -> str
    tok.save(path) / WordPieceTokenizer.load(path)                          # one JSON file
    tok.to_hf(model_max_length: int = 512) -> transformers.PreTrainedTokenizerFast
    tok.vocab -> dict[str, int];  tok.vocab_size -> int;  len(tok)
    tok.token_to_id(token) -> int;  tok.id_to_token(i) -> str
    tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id == 0, 1, 2, 3, 4
    SPECIAL_TOKENS == ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")        # ids 0..4

Pipeline: ``bert_normalize`` (clean, CJK spacing, lower-case/strip accents) ->
``bert_pre_tokenize`` (whitespace and punctuation) -> per word, greedy longest match: take the
longest vocabulary prefix, continue on the rest with the "##" prefix; a word with no full cover
(or longer than ``max_input_chars_per_word`` characters) becomes a single ``[UNK]``.

Training follows HF's ``WordPieceTrainer``: it is BPE by pair *frequency* on words spelled
``w ##o ##r ##d`` (see ``_merges.learn_merges``). Google's original WordPiece picks the pair with
the highest likelihood gain ``count(ab) / (count(a) count(b))``; notebook 03 contrasts the two.

References: Schuster & Nakajima (2012), Wu et al. (2016) https://arxiv.org/abs/1609.08144,
Devlin et al. (2019) https://arxiv.org/abs/1810.04805,
https://huggingface.co/learn/llm-course/chapter6/6. Taught in notebook 03.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from nlp_course.tokenization._merges import learn_merges
from nlp_course.tokenization._pretok import bert_normalize, bert_pre_tokenize, check_text

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PREFIX = "##"
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")


def check_texts(texts) -> list[str]:
    """Materialise ``texts`` as a list of str or raise naming the argument."""
    if isinstance(texts, str):
        raise TypeError("texts must be an iterable of strings, not a single str")
    texts = list(texts)
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must contain only str")
    if not any(t.strip() for t in texts):
        raise ValueError("texts is empty: the training corpus needs at least one non-blank text")
    return texts


def check_vocab_size(vocab_size, minimum: int, what: str) -> None:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
    if vocab_size < minimum:
        raise ValueError(f"vocab_size={vocab_size} is smaller than {what} ({minimum})")


def atomic_write_json(path, obj) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path, kind: str) -> dict:
    """The JSON object saved by ``kind.save(path)``; any failure names the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read a saved {kind} from {path}: {e}") from e
    if not isinstance(data, dict) or data.get("type") != kind:
        raise ValueError(f"path {path} does not hold a saved {kind}")
    return data


class WordPieceTokenizer:
    """BERT-style WordPiece with special tokens ``[PAD] [UNK] [CLS] [SEP] [MASK]`` = ids 0..4."""

    def __init__(self, lowercase: bool = True, strip_accents: bool | None = None,
                 max_input_chars_per_word: int = 100) -> None:  # fmt: skip
        self.lowercase = bool(lowercase)
        self.strip_accents = strip_accents
        self.max_input_chars_per_word = int(max_input_chars_per_word)
        self._id_to_token: list[str] = list(SPECIAL_TOKENS)
        self._token_to_id = {t: i for i, t in enumerate(self._id_to_token)}
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = range(5)

    # ---- vocabulary -------------------------------------------------------------------------
    @property
    def vocab(self) -> dict[str, int]:
        return dict(self._token_to_id)

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_token)

    def __len__(self) -> int:
        return len(self._id_to_token)

    def token_to_id(self, token: str) -> int:
        return self._token_to_id.get(token, self.unk_id)

    def id_to_token(self, i: int) -> str:
        return self._id_to_token[i]

    def _set_vocab(self, tokens: list[str]) -> None:
        if list(tokens[:5]) != list(SPECIAL_TOKENS):
            raise ValueError(f"vocab must start with {SPECIAL_TOKENS}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocab has duplicate tokens")
        self._id_to_token = list(tokens)
        self._token_to_id = {t: i for i, t in enumerate(tokens)}

    # ---- pipeline ---------------------------------------------------------------------------
    def pre_tokenize(self, text: str) -> list[str]:
        check_text(text)
        return bert_pre_tokenize(bert_normalize(text, self.lowercase, self.strip_accents))

    def train(self, texts: Iterable[str], vocab_size: int, min_frequency: int = 0,
              limit_alphabet: int | None = None) -> WordPieceTokenizer:  # fmt: skip
        """Learn a vocabulary of ``vocab_size`` tokens (specials and alphabet included)."""
        texts = check_texts(texts)
        word_counts = Counter(w for t in texts for w in self.pre_tokenize(t))
        char_counts: Counter[str] = Counter()
        for w, c in word_counts.items():
            for ch in w:
                char_counts[ch] += c
        if limit_alphabet is not None:
            if limit_alphabet < 1:
                raise ValueError(f"limit_alphabet must be >= 1, got {limit_alphabet}")
            chars = sorted(char_counts, key=lambda ch: (-char_counts[ch], ch))[:limit_alphabet]
        else:
            chars = list(char_counts)
        chars = sorted(chars)
        keep = set(chars)
        continuing = sorted({ch for w in word_counts for ch in w[1:] if ch in keep})
        alphabet = [*SPECIAL_TOKENS, *chars, *(PREFIX + ch for ch in continuing)]
        check_vocab_size(vocab_size, len(alphabet), "the special tokens plus the alphabet")
        index = {t: i for i, t in enumerate(alphabet)}
        words, counts = [], []
        for w, c in word_counts.items():
            if all(ch in keep for ch in w):
                words.append([index[w[0]], *(index[PREFIX + ch] for ch in w[1:])])
                counts.append(c)
        id_to_token = list(alphabet)
        learn_merges(words, counts, id_to_token, vocab_size, PREFIX, min_frequency)
        self._set_vocab(id_to_token)
        return self

    def _encode_word(self, word: str) -> list[int]:
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_id]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else PREFIX + word[start:end]
                if piece in self._token_to_id:
                    ids.append(self._token_to_id[piece])
                    break
                end -= 1
            if end == start:  # no prefix of the rest is in the vocabulary
                return [self.unk_id]
            start = end
        return ids

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Ids of ``text``; special tokens written in it ("[MASK]") map to their ids, as in HF."""
        check_text(text)
        ids = []
        for k, chunk in enumerate(_SPECIAL_RE.split(text)):
            if k % 2:
                ids.append(self._token_to_id[chunk])
            else:
                ids.extend(i for w in self.pre_tokenize(chunk) for i in self._encode_word(w))
        return [self.cls_id, *ids, self.sep_id] if add_special_tokens else ids

    def tokenize(self, text: str) -> list[str]:
        return [self._id_to_token[i] for i in self.encode(text)]

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        """Glue "##" pieces to their left neighbour, words with one space (no cleanup)."""
        parts: list[str] = []
        for i in ids:
            if not 0 <= int(i) < len(self._id_to_token):
                raise ValueError(f"ids contains {i}, outside the vocabulary [0, {len(self)})")
            token = self._id_to_token[int(i)]
            if skip_special_tokens and int(i) < len(SPECIAL_TOKENS) and token != "[UNK]":
                continue
            if token.startswith(PREFIX) and parts:
                parts[-1] += token[len(PREFIX) :]
            else:
                parts.append(token)
        return " ".join(parts)

    # ---- persistence and export -------------------------------------------------------------
    def save(self, path) -> None:
        """Write one JSON file (atomically: temp file, then ``os.replace``)."""
        atomic_write_json(path, {
            "type": "WordPieceTokenizer", "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "max_input_chars_per_word": self.max_input_chars_per_word,
            "vocab": self._id_to_token,
        })  # fmt: skip

    @classmethod
    def load(cls, path) -> WordPieceTokenizer:
        data = read_json(path, "WordPieceTokenizer")
        tok = cls(data["lowercase"], data["strip_accents"], data["max_input_chars_per_word"])
        tok._set_vocab(data["vocab"])
        return tok

    def to_hf_tokenizer(self):
        """The same pipeline as a raw ``tokenizers.Tokenizer`` (with the BERT post-processor)."""
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

        model = models.WordPiece(self.vocab, unk_token="[UNK]",
                                 max_input_chars_per_word=self.max_input_chars_per_word)  # fmt: skip
        tok = Tokenizer(model)
        tok.normalizer = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=True,
            strip_accents=self.strip_accents, lowercase=self.lowercase)  # fmt: skip
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", self.cls_id), ("[SEP]", self.sep_id)])  # fmt: skip
        tok.decoder = decoders.WordPiece(prefix=PREFIX)
        tok.add_special_tokens(list(SPECIAL_TOKENS))
        return tok

    def to_hf(self, model_max_length: int = 512):
        """A ``transformers.PreTrainedTokenizerFast`` with pad/unk/cls/sep/mask set: call it
        with ``padding=``/``truncation=``/``return_tensors=`` like any HF tokenizer."""
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast(
            tokenizer_object=self.to_hf_tokenizer(), model_max_length=model_max_length,
            pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
            mask_token="[MASK]", padding_side="right",
            model_input_names=["input_ids", "token_type_ids", "attention_mask"])  # fmt: skip
