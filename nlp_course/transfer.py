"""Transfer-learning curves: where does pretraining pay, and where does it not?

Taught in notebook 08 (question 26). Builds on ``nlp_course.finetune`` (classifier, probe features,
``source_sentences``, ``balanced_subset``).

One small test set and one label budget cannot show the value of pretraining (notebook 08 once
measured the pretrained model *below* the same network from scratch on 140 newsgroup posts).
Learning curves can (Howard & Ruder 2018, ULMFiT, Fig. 3; Devlin et al. 2019 on small GLUE tasks):

- ``source_task``: "which source is this sentence from?" over four sources -- Wikipedia, Lee news,
  alt.atheism and sci.space posts (headers, quotes and signatures stripped: the ``Newsgroups:``
  header names the label). Wikipedia and Lee documents come from the course corpus's *held-out*
  side only (``pretrain.heldout_by_hash``), so pretraining never saw a sentence of the task.
  Sentences are split by *document* (``finetune.source_sentences``) and the test set is fixed
  and balanced.
- ``learning_curves``: for each label budget n and seed, a balanced draw of n training sentences,
  and four methods on it: the pretrained encoder fine-tuned, the *same architecture and init
  recipe* (``pretrain.seed_local_heads``) from scratch with the same steps and learning rate, a
  logistic-regression probe on the frozen pretrained encoder's mean-pooled features, and TF-IDF +
  logistic regression.
"""

from __future__ import annotations

import copy
import math
import re

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from transformers import BertConfig

from nlp_course import data
from nlp_course.bert import BertForMaskedLM
from nlp_course.finetune import (
    BertClassifier,
    balanced_subset,
    encode_texts,
    predict,
    source_sentences,
    train_classifier,
)
from nlp_course.utils import set_seed

METHODS = ("fine-tuned pretrained", "same network from scratch", "linear probe (frozen pretrained)",
           "TF-IDF + logistic regression")
_ATTRIBUTION = re.compile(r"(writes|wrote|says):\s*$|^In article <", re.IGNORECASE)
_HEADER = re.compile(r"^(To|From|Subject|Newsgroups|Message-ID|Organization|Date|Lines|Path|Reply-To|Sender|"
                     r"References|Distribution|Keywords|Summary|NNTP-Posting-Host|X-[\w-]+):", re.IGNORECASE)
_QUOTE = re.compile(r"^\s*(\w{0,3}>|\|)")  # "> ", "|" and initials-style "MB>" quotes


def newsgroup_body(post: str) -> str:
    """A Usenet post without its header block (and forwarded header lines), quoted lines (``>``,
    ``|``, ``MB>``), attribution lines ("... writes:") and signature (after a ``--`` line), its
    hard-wrapped lines joined by spaces."""
    if not isinstance(post, str):
        raise TypeError(f"post must be a str, got {type(post).__name__}")
    _, blank, body = post.partition("\n\n")
    lines = []
    for line in (body if blank else post).splitlines():
        if line.strip() in ("--", "-- "):
            break
        if _QUOTE.match(line) or _HEADER.match(line.strip()) or _ATTRIBUTION.search(line.strip()):
            continue
        lines.append(line.strip())
    return " ".join(" ".join(lines).split())


def source_task(test_per_class: int = 100, seed: int = 0) -> dict:
    """The four-source sentence task: ``{"names", "train": (texts, labels, docs), "test": (...)}``.

    ``docs`` names each sentence's document (``"source/index"``); no document has sentences on
    both sides. The test side is a fixed balanced draw of up to ``test_per_class`` per class
    (fewer if a class has fewer test sentences).
    """
    from nlp_course.pretrain import heldout_by_hash

    posts, labels, names = data.newsgroup_posts()
    sources = {"Wikipedia": [d for d in data.wikipedia_articles() if heldout_by_hash(d)],
               "Lee news": [d for d in data.lee_corpus() if heldout_by_hash(d)]}
    for k, name in enumerate(names):
        sources[name] = [newsgroup_body(p) for p, y in zip(posts, labels) if y == k]
    task = source_sentences(sources, test_share=0.5, seed=seed)
    texts, ys, docs = task["test"]
    per_class = min(test_per_class, *(ys.count(c) for c in range(len(sources))))
    keep = balanced_subset(ys, per_class * len(sources), seed=seed)
    task["test"] = ([texts[i] for i in keep], [ys[i] for i in keep], [docs[i] for i in keep])
    task["names"] = list(sources)
    return task


def _accuracy(pred, truth) -> float:
    return float(np.mean(np.asarray(pred) == np.asarray(truth)))


def learning_curves(pretrained: BertForMaskedLM, tokenizer, task: dict, sizes=(25, 50, 100, 200), seeds=(0, 1, 2),
                    steps: int = 60, lr: float = 3e-4, batch_size: int = 16, max_length: int = 64,
                    init=None) -> dict:
    """Test accuracy of the four ``METHODS`` per label budget: ``{method: {str(n): [acc per seed]}}``.

    Every method sees the same n sentences for a given (n, seed) and is scored on the same test set.
    Fine-tuning and from-scratch training run ``ceil(steps / batches per epoch)`` epochs (at least
    ``steps`` optimiser steps) at ``lr``; the scratch model is ``BertForMaskedLM(pretrained.config)``
    after ``set_seed(seed)`` and ``init(model)`` (the pretraining's own init, e.g. ``seed_local_heads``).
    """
    if not sizes or not seeds:
        raise ValueError("sizes and seeds must be non-empty")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    (texts, ys, _), (test_x, test_y, _) = task["train"], task["test"]
    k = len(task["names"])
    train_feats = encode_texts(pretrained.bert, tokenizer, texts, max_length=max_length)  # (N, C) frozen features
    test_feats = encode_texts(pretrained.bert, tokenizer, test_x, max_length=max_length)
    out = {m: {str(n): [] for n in sizes} for m in METHODS}
    for n in sizes:
        epochs = math.ceil(steps / math.ceil(n / batch_size))
        for seed in seeds:
            idx = balanced_subset(ys, n, seed=seed)
            x, y = [texts[i] for i in idx], [ys[i] for i in idx]
            for method in ("fine-tuned pretrained", "same network from scratch"):
                if method == "fine-tuned pretrained":
                    encoder = copy.deepcopy(pretrained).bert
                else:
                    encoder = _scratch(pretrained.config, seed, init).bert
                set_seed(seed)
                clf = BertClassifier(encoder, k)
                train_classifier(clf, tokenizer, x, y, epochs=epochs, lr=lr, batch_size=batch_size,
                                 max_length=max_length, seed=seed)
                out[method][str(n)].append(_accuracy(predict(clf, tokenizer, test_x, max_length=max_length), test_y))
            probe = LogisticRegression(max_iter=2000).fit(train_feats[idx], y)
            out["linear probe (frozen pretrained)"][str(n)].append(_accuracy(probe.predict(test_feats), test_y))
            tfidf = TfidfVectorizer(sublinear_tf=True)
            lr_model = LogisticRegression(max_iter=2000).fit(tfidf.fit_transform(x), y)
            out["TF-IDF + logistic regression"][str(n)].append(_accuracy(lr_model.predict(tfidf.transform(test_x)), test_y))
    return out


def _scratch(config, seed: int, init) -> BertForMaskedLM:
    set_seed(seed)
    model = BertForMaskedLM(BertConfig.from_dict(config.to_dict()))
    return init(model) if init is not None else model
