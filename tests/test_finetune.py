import numpy as np
import pytest
import torch
from transformers import BertConfig

from nlp_course.bert import BertForMaskedLM
from nlp_course.finetune import (
    BertClassifier,
    balanced_subset,
    encode_texts,
    pool,
    predict,
    source_sentences,
    train_classifier,
)
from nlp_course.tokenization import WordPieceTokenizer
from nlp_course.variants import distill_mlm, student_from_teacher

POS = ["what a great happy film", "lovely and great acting", "happy wonderful story"] * 8
NEG = ["a dull boring film", "terrible and boring plot", "awful dull acting"] * 8


@pytest.fixture(scope="module")
def tok():
    return WordPieceTokenizer().train(POS + NEG, 60).to_hf(model_max_length=16)


def _bert(tok, layers=2):
    torch.manual_seed(0)
    return BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=layers,
                                      num_attention_heads=2, intermediate_size=32, max_position_embeddings=16))


def test_pool_mean_ignores_padding():
    h = torch.arange(24.0).view(2, 3, 4)
    m = torch.tensor([[1, 1, 0], [1, 1, 1]])
    torch.testing.assert_close(pool(h, m), torch.stack([h[0, :2].mean(0), h[1].mean(0)]))
    torch.testing.assert_close(pool(h, m, "cls"), h[:, 0])
    with pytest.raises(ValueError, match="how"):
        pool(h, m, "max")


def test_fine_tuning_learns_a_separable_task(tok, one_thread):
    clf = BertClassifier(_bert(tok).bert, 2)
    losses = train_classifier(clf, tok, POS + NEG, [1] * len(POS) + [0] * len(NEG), epochs=8, lr=3e-3)
    assert losses[-1] < 0.5 * losses[0]
    assert (predict(clf, tok, POS[:3] + NEG[:3]) == np.array([1, 1, 1, 0, 0, 0])).all()
    feats = encode_texts(clf.encoder, tok, POS[:3])
    assert feats.shape == (3, 16)
    with pytest.raises(ValueError, match="equally long"):
        train_classifier(clf, tok, POS, [1])


def test_student_from_teacher_keeps_alternate_layers_and_distills(tok, one_thread):
    teacher = _bert(tok, layers=4)
    student = student_from_teacher(teacher)
    assert len(student.bert.layers) == 2
    torch.testing.assert_close(student.bert.layers[1].linear1.weight, teacher.bert.layers[2].linear1.weight)
    ids = tok(POS + NEG, padding="max_length", max_length=16, return_tensors="pt")["input_ids"]
    losses = distill_mlm(teacher, student, tok, ids, steps=30, batch_size=8, lr=3e-3, alpha=1.0)
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    triple = distill_mlm(teacher, student_from_teacher(teacher), tok, ids, steps=2, batch_size=8, alpha=5 / 7,
                         cosine=1 / 7)  # DistilBERT's 5 : 2 : 1
    two = distill_mlm(teacher, student_from_teacher(teacher), tok, ids, steps=2, batch_size=8, alpha=5 / 7)
    assert triple[0] > two[0]  # same batch and mask: the cosine term adds a positive loss
    with pytest.raises(ValueError, match="cosine"):
        distill_mlm(teacher, student, tok, ids, steps=1, cosine=-1.0)


def test_source_sentences_split_by_document_without_shared_sentences():
    docs = {"a": [f"doc {d} of a says hello world. the same line in every doc here." for d in range(6)],
            "b": [f"doc {d} of b says good bye now. another line only b docs have." for d in range(4)]}
    task = source_sentences(docs, test_share=0.5, seed=1)
    (tr, ytr, dtr), (te, yte, dte) = task["train"], task["test"]
    assert not set(tr) & set(te)  # deduplicated before the split
    assert not set(dtr) & set(dte) and len(dtr) == len(tr)  # split by document
    assert all(d.startswith("a/") == (y == 0) for d, y in zip(dtr + dte, ytr + yte))
    doc_of = lambda s: s.split(" says")[0]  # noqa: E731
    assert not {doc_of(s) for s in tr if "says" in s} & {doc_of(s) for s in te if "says" in s}
    assert sorted(set(ytr)) == sorted(set(yte)) == [0, 1]
    assert sum("the same line" in s for s in tr + te) == 1  # a repeated sentence is kept once
    with pytest.raises(ValueError, match="two sources"):
        source_sentences({"a": docs["a"]})


def test_balanced_subset():
    labels = [0] * 10 + [1] * 5 + [2] * 7
    idx = balanced_subset(labels, 12, seed=3)
    assert [labels[i] for i in idx].count(0) == 4 and len(set(idx)) == 12 and idx == sorted(idx)
    assert idx == balanced_subset(labels, 12, seed=3) != balanced_subset(labels, 12, seed=4)
    assert sorted(labels[i] for i in balanced_subset(labels, 13)) == [0] * 5 + [1] * 4 + [2] * 4
    with pytest.raises(ValueError, match=">= the 3 classes"):
        balanced_subset(labels, 2)
    with pytest.raises(ValueError, match="fewer"):
        balanced_subset(labels, 18)
