"""revive_mlm: full-parameter MLM revives a re-initialised head on held-out text; head-only moves only the head."""

import copy

import pytest
import torch
from _toy_mlm import HELD, TRAIN, toy_bert, toy_tokenizer

from nlp_course.revive import fill_mask_examples, revive_mlm


@pytest.fixture(scope="module")
def tok():
    return toy_tokenizer()


@pytest.fixture(scope="module")
def trained(tok, one_thread):
    """The toy BERT with its head transform re-initialised (the MiniLM situation: body trained, head new)."""
    model = toy_bert(tok)
    torch.manual_seed(1)
    for m in (model.cls.dense, model.cls.LayerNorm):
        m.reset_parameters()
    torch.nn.init.zeros_(model.cls.bias)
    return model


def test_full_revival_raises_held_out_accuracy_and_is_deterministic(tok, trained, one_thread):
    a, b = copy.deepcopy(trained), copy.deepcopy(trained)
    ra = revive_mlm(a, tok, TRAIN, steps=60, eval_texts=HELD, seq_len=16, lr=3e-3)
    rb = revive_mlm(b, tok, TRAIN, steps=60, eval_texts=HELD, seq_len=16, lr=3e-3)
    assert ra["after"]["accuracy"] > ra["before"]["accuracy"] + 0.2, ra
    assert ra["after"] == rb["after"]
    assert ra["trained_parameters"] == sum(p.numel() for p in trained.parameters())
    assert [r["step"] for r in ra["log"]] == [15, 30, 45, 60]
    assert all(p.requires_grad for p in a.parameters())  # flags restored


def test_head_only_moves_only_the_head(tok, trained, one_thread):
    model = copy.deepcopy(trained)
    body = copy.deepcopy(model.bert.state_dict())
    r = revive_mlm(model, tok, TRAIN, steps=20, train="head", eval_texts=HELD, seq_len=16, lr=3e-3)
    for k, v in body.items():
        torch.testing.assert_close(model.bert.state_dict()[k], v)
    c = trained.config.hidden_size
    assert r["trained_parameters"] == c * c + c + 2 * c + len(tok)  # dense, LayerNorm, decoder bias
    assert not torch.equal(model.cls.dense.weight, trained.cls.dense.weight)


def test_fill_mask_examples(tok, trained, one_thread):
    texts = ["the cat sat [MASK] the mat", "the dog [MASK] on the [MASK]"]
    before = fill_mask_examples(trained, tok, texts, k=3)
    model = copy.deepcopy(trained)
    revive_mlm(model, tok, TRAIN, steps=60, seq_len=16, lr=3e-3)
    after = fill_mask_examples(model, tok, texts, k=3)
    assert [len(x) for x in after] == [1, 2] and all(len(top) == 3 for x in after for top in x)
    assert [after[0][0][0], after[1][0][0]] == ["on", "sat"]
    assert [before[0][0][0], before[1][0][0]] != ["on", "sat"]


def test_bad_input(tok, trained):
    with pytest.raises(ValueError, match="train"):
        revive_mlm(trained, tok, TRAIN, steps=1, train="all")
    with pytest.raises(ValueError, match="steps"):
        revive_mlm(trained, tok, TRAIN, steps=0)
    with pytest.raises(TypeError, match="texts"):
        revive_mlm(trained, tok, "the cat", steps=1)
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        fill_mask_examples(trained, tok, ["no mask here"])
    with pytest.raises(ValueError, match="lr"):
        revive_mlm(trained, tok, TRAIN, steps=1, lr=float("nan"))
