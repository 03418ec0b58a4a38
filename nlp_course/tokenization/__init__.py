"""Tokenization from scratch: word/char/sentence splitting and three subword schemes.

- ``basic``: ``word_tokenize``, ``char_tokenize``, ``sentence_split`` (rule-based, with their
  failure cases shown in notebook 03).
- ``wordpiece.WordPieceTokenizer``: BERT's WordPiece (used by chapter 08), exportable to HF.
- ``bpe.BPETokenizer``: GPT-2-style byte-level BPE; its trainer reproduces HF's ``BpeTrainer``.
- ``unigram.UnigramTokenizer``: SentencePiece's unigram LM with Viterbi decoding.

Every encoder is tested id-for-id against HF ``tokenizers`` (tests/test_tokenization*.py).
Taught in notebook 03.
"""

from nlp_course.tokenization.basic import char_tokenize, sentence_split, word_tokenize
from nlp_course.tokenization.bpe import BPETokenizer
from nlp_course.tokenization.unigram import UnigramTokenizer
from nlp_course.tokenization.wordpiece import SPECIAL_TOKENS, WordPieceTokenizer

__all__ = [
    "BPETokenizer",
    "SPECIAL_TOKENS",
    "UnigramTokenizer",
    "WordPieceTokenizer",
    "char_tokenize",
    "sentence_split",
    "word_tokenize",
]
