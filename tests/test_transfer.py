"""Transfer-learning curves: the offline four-source task (no leakage) and the four methods."""

import pytest
import torch
from transformers import BertConfig

from nlp_course.bert import BertForMaskedLM
from nlp_course.pretrain import heldout_by_hash
from nlp_course.tokenization import WordPieceTokenizer
from nlp_course.transfer import METHODS, learning_curves, newsgroup_body, source_task


def test_newsgroup_body_drops_header_quotes_and_signature():
    post = ("Newsgroups: sci.space\nSubject: Re: orbits\n\nIn article <1@x.edu> bob@x.edu writes:\n"
            "> quoted text here\nMB> and more\nTo: Newsgroups: sci.space\nThe shuttle reached\norbit today.\n-- \nBob, NASA")
    assert newsgroup_body(post) == "The shuttle reached orbit today."
    with pytest.raises(TypeError, match="post"):
        newsgroup_body(None)


def test_source_task_is_split_by_document_and_never_seen_in_pretraining():
    task = source_task(test_per_class=50)
    (tr, ytr, dtr), (te, yte, dte) = task["train"], task["test"]
    assert task["names"][:2] == ["Wikipedia", "Lee news"] and len(task["names"]) == 4
    assert not set(dtr) & set(dte)  # no test sentence's document is trained on
    assert not set(tr) & set(te)
    assert sorted(yte.count(c) for c in range(4)) == [50] * 4  # fixed, balanced test set
    assert min(ytr.count(c) for c in range(4)) >= 50  # room for 200 balanced labels
    assert not any("Newsgroups:" in s or s.startswith(">") for s in tr + te)  # the header names the label
    # Wikipedia / Lee sentences come from documents the course BERT's pretraining held out
    from nlp_course import data

    held_lee = " ".join(d for d in data.lee_corpus() if heldout_by_hash(d))
    assert all(s in held_lee for s, y in zip(tr + te, ytr + yte) if y == 1)


def test_learning_curves_shape_and_bad_input(one_thread):
    sents = {0: "the cat sat on the mat near the dog", 1: "stocks fell as the market closed lower",
             2: "the rocket reached orbit around the moon", 3: "god and faith and the bible say so"}
    texts = [f"{sents[c]} {w}" for c in range(4) for w in ("one", "two", "three", "four", "five", "six")]
    labels = [c for c in range(4) for _ in range(6)]
    task = {"names": ["a", "b", "c", "d"], "train": (texts, labels, [str(i) for i in range(24)]),
            "test": (texts[::3], labels[::3], [str(i) for i in range(0, 24, 3)])}
    tok = WordPieceTokenizer().train(texts, 80).to_hf(model_max_length=16)
    torch.manual_seed(0)
    bert = BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=32, max_position_embeddings=16))
    before = {k: v.clone() for k, v in bert.state_dict().items()}
    out = learning_curves(bert, tok, task, sizes=(4, 8), seeds=(0, 1), steps=3, max_length=16)
    assert list(out) == list(METHODS) and all(list(v) == ["4", "8"] for v in out.values())
    assert all(len(accs) == 2 and all(0 <= a <= 1 for a in accs) for v in out.values() for accs in v.values())
    assert out["TF-IDF + logistic regression"]["8"] == [1.0, 1.0]  # one keyword sentence per class: separable
    assert all(torch.equal(before[k], v) for k, v in bert.state_dict().items())  # fine-tuning works on a copy
    assert out == learning_curves(bert, tok, task, sizes=(4, 8), seeds=(0, 1), steps=3, max_length=16)
    with pytest.raises(ValueError, match="steps"):
        learning_curves(bert, tok, task, sizes=(4,), steps=0)
