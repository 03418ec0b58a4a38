"""The study's ``data`` stage: pretraining text, tokenizer, packed windows, and clean SFT splits.

Taught in notebook 11.

- Pretraining text is English prose that ships in installed packages (Wikipedia articles, the Lee
  news corpus, newsgroup posts; ``nlp_course.data``). With the preset's ``text.dialogues`` (the
  ``gpu`` preset: its model could read the prose ~200 times) the *training side* of the SFT split
  is added -- the dialogue items the training pool was made from (``SplitResult.train_texts``), so
  no held-out item ever reaches pretraining (a test checks it).
- The tokenizer is the course's own WordPiece (notebook 03; deterministic, unlike the ``tokenizers``
  trainer, which breaks ties in hash order) trained on that prose, with the chat markers added.
- ``text_windows`` packs the prose into ``[CLS] window [SEP]`` examples whose window is all target:
  masked-LM pretraining is the diffusion loss at one fixed masking rate, and the causal twin
  trains next-token prediction on the very same windows.
- The SFT examples come from ``splits.split_examples``: dialogue corpora deduplicated on
  normalised text, split by source item, training mixes drawn from the training side only;
  its dedup report and the overlap counts (zero) are recorded in ``study.json``.
"""

from __future__ import annotations

import json
import string
from contextlib import contextmanager

import torch
from safetensors.torch import load_file, save_file
from transformers import PreTrainedTokenizerFast

from nlp_course import data as corpora
from nlp_course.tokenization import WordPieceTokenizer

from ..chat import add_chat_tokens


def prose_texts(cfg: dict) -> list[str]:
    """The pretraining documents named by a preset's ``text`` section (cut at ``max_words``)."""
    texts = []
    if cfg.get("wikipedia_articles", 0) != 0:
        texts += corpora.wikipedia_articles(limit=cfg["wikipedia_articles"])
    if cfg.get("lee"):
        texts += corpora.lee_corpus()
    if cfg.get("newsgroups"):
        texts += corpora.newsgroup_posts()[0]
    if cfg.get("max_words") is not None:
        out, n = [], 0
        for t in texts:
            words = t.split()[: cfg["max_words"] - n]
            out.append(" ".join(words))
            n += len(words)
            if n >= cfg["max_words"]:
                break
        texts = out
    if not texts:
        raise ValueError("the preset's text section selects no pretraining text")
    return texts


def build_tokenizer(texts: list[str], vocab_size: int, max_length: int):
    """A lower-cased WordPiece ``PreTrainedTokenizerFast`` with BERT specials and the chat markers.

    Printable ASCII is added to the training text once, so every letter, digit and punctuation
    mark is in the alphabet: a small prose sample (news has few "?" and "!") would otherwise turn
    the chat data's question marks into [UNK].
    """
    alphabet = " ".join(string.ascii_lowercase + string.digits + string.punctuation)
    tok = WordPieceTokenizer(lowercase=True).train(texts + [alphabet], vocab_size).to_hf(model_max_length=max_length)
    add_chat_tokens(tok)
    return tok


def text_windows(tokenizer, texts: list[str], max_length: int) -> torch.Tensor:
    """``(N, max_length)`` ids: the texts' tokens packed into full ``[CLS] window [SEP]`` rows."""
    encoded = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]  # batched, in Rust
    ids = [i for row in encoded for i in row]
    w = max_length - 2
    n = len(ids) // w
    if n == 0:
        raise ValueError(f"the pretraining text holds {len(ids)} tokens: shorter than one window of {w}")
    body = torch.tensor(ids[: n * w]).view(n, w)  # (N, W)
    cls = torch.full((n, 1), tokenizer.cls_token_id)
    sep = torch.full((n, 1), tokenizer.sep_token_id)
    return torch.cat([cls, body, sep], 1)  # (N, W + 2)


@contextmanager
def frozen_vocab(tokenizer):
    """Serve ``get_vocab()`` from one snapshot while a fixed tokenizer encodes a corpus: fast
    tokenizers rebuild the whole dict per call and the chat helpers call it per example (most of
    the time of tokenising chitchat)."""
    vocab = tokenizer.get_vocab()
    tokenizer.get_vocab = lambda: vocab
    try:
        yield tokenizer
    finally:
        del tokenizer.get_vocab


def window_examples(windows: torch.Tensor) -> list[dict]:
    """Collator examples of packed windows: every token but [CLS]/[SEP] is a target."""
    L = windows.shape[1]
    target = [False] + [True] * (L - 2) + [False]
    return [{"input_ids": row, "target": target} for row in windows.tolist()]


def build_data(P: dict) -> dict:
    """A preset's data: ``{"tokenizer", "windows", "split", "report"}`` (the ``data`` stage and
    ``bundle.py`` both call this one recipe). The tokenizer is trained on the prose only."""
    from ..splits import split_examples

    texts = prose_texts(P["text"])
    tok = build_tokenizer(texts, P["vocab_size"], P["model"]["max_position_embeddings"])
    with frozen_vocab(tok):
        split = split_examples(tok, P["sft_data"], P["sft"]["max_length"], held_out=P["held_out"],
                               total=P["num_examples"], seed=P["seed"], limit_per_source=P["limit_per_source"],
                               max_turns=P["max_turns"])
    extra = split.train_texts if P["text"].get("dialogues") else []
    windows = text_windows(tok, texts + extra, P["pretrain"]["max_length"])
    report = {"pretrain_docs": len(texts), "pretrain_dialogues": len(extra),
              "pretrain_words": sum(len(t.split()) for t in texts + extra),
              "pretrain_windows": int(windows.shape[0]), "pretrain_tokens": int(windows.numel()),
              "vocab_size": len(tok), "sft_train": len(split.train), "held_out": len(split.held),
              "split_report": split.report, "overlap": split.report["overlap"]}
    return {"tokenizer": tok, "windows": windows, "split": split, "report": report}


def run(study) -> dict:
    """Build and save the tokenizer, windows and splits under ``<out>/data`` (or copy them from ``--bundle``)."""
    P, folder = study.P, study.folder("data")
    if study.bundle is not None:  # prepared on a CPU (bundle.py): no corpus is read here
        from .bundle import install

        return install(study.bundle, study.preset, folder, P)
    d = build_data(P)
    d["tokenizer"].save_pretrained(str(folder / "tokenizer"))
    save_file({"windows": d["windows"].contiguous()}, str(folder / "windows.safetensors"))
    split = d["split"]
    (folder / "sft.json").write_text(json.dumps({"train": split.train, "held": split.held}), encoding="utf-8")
    return d["report"]


def load(study) -> dict:
    """The saved data: ``{"tokenizer", "windows", "train", "held"}`` (cached per process)."""
    def build():
        folder = study.out / "data"
        sft = json.loads((folder / "sft.json").read_text(encoding="utf-8"))
        return {"tokenizer": PreTrainedTokenizerFast.from_pretrained(str(folder / "tokenizer")),
                "windows": load_file(str(folder / "windows.safetensors"))["windows"],
                "train": sft["train"], "held": sft["held"]}

    return study.cached("data", build)
