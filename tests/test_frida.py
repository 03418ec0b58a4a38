"""FRIDA collapse measurement: one point per step count, step 0 is the starting model, high lr erodes MLM skill."""

import copy

import pytest
import torch
from _toy_mlm import HELD, TRAIN, toy_bert, toy_tokenizer

from nlp_course.diffusion.frida import contrastive_collapse
from nlp_course.pretrain import masked_accuracy, pack_sequences

TEXTS = sorted(set(TRAIN))  # SimCSE: no duplicate may serve as its own negative


@pytest.fixture(scope="module")
def tok():
    return toy_tokenizer()


@pytest.fixture(scope="module")
def mlm(tok, one_thread):
    return toy_bert(tok)  # held-out masked accuracy 0.68 on the 25 scored tokens


def test_high_lr_collapses_the_mlm_head_deterministically(tok, mlm, one_thread):
    held = pack_sequences(HELD, tok, 16)
    start = masked_accuracy(mlm, tok, held)["accuracy"]
    runs = [contrastive_collapse(copy.deepcopy(mlm), tok, held, TEXTS, steps=(0, 5, 20), lr=3e-2, head="free",
                                 batch_size=8) for _ in range(2)]
    points = runs[0]["points"]
    assert [p["steps"] for p in points] == [0, 5, 20]
    assert points[0]["accuracy"] == start and points[0]["contrastive_loss"] is None
    assert points[-1]["accuracy"] < start - 0.2, points  # measured: 0.68 -> 0.28
    strip = [[{k: v for k, v in p.items() if k != "seconds"} for p in r["points"]] for r in runs]
    assert strip[0] == strip[1]


def test_frozen_head_keeps_embeddings_and_head(tok, mlm, one_thread):
    model = copy.deepcopy(mlm)
    held = pack_sequences(HELD, tok, 16)
    pairs = [t.replace("the", "a") for t in TEXTS]
    r = contrastive_collapse(model, tok, held, TEXTS, positives=pairs, steps=[3], lr=1e-2, head="frozen", batch_size=8)
    assert r["objective"] == "supervised" and len(r["points"]) == 1 and r["points"][0]["contrastive_loss"] > 0
    for k, v in mlm.cls.state_dict().items():  # decoder weight is the tied word-embedding matrix
        torch.testing.assert_close(model.cls.state_dict()[k], v)
    assert any(not torch.equal(a, b) for a, b in zip(model.bert.layers.parameters(), mlm.bert.layers.parameters()))
    assert model.get_input_embeddings().weight.requires_grad  # flag restored


def test_bad_input(tok, mlm):
    held = pack_sequences(HELD, tok, 16)
    for steps, err in (([5, 5], ValueError), ([-1], ValueError), ([], ValueError), ("10", TypeError), ([1.5], ValueError)):
        with pytest.raises(err, match="steps"):
            contrastive_collapse(mlm, tok, held, TEXTS, steps=steps)
    with pytest.raises(ValueError, match="head"):
        contrastive_collapse(mlm, tok, held, TEXTS, steps=[0], head="thawed")
    with pytest.raises(ValueError, match="lr"):
        contrastive_collapse(mlm, tok, held, TEXTS, steps=[0], lr=float("inf"))
    with pytest.raises(ValueError, match="eval_ids"):
        contrastive_collapse(mlm, tok, held[0], TEXTS, steps=[0])
