"""SimCSE: the loss is InfoNCE of two dropout passes; training lowers it; only the encoder moves."""

import copy

import pytest
import torch
from transformers import BertConfig

from nlp_course import simcse
from nlp_course.bert import BertForMaskedLM
from nlp_course.contrastive import info_nce, pool
from nlp_course.retrieval import encode
from nlp_course.tokenization import WordPieceTokenizer

QS = ["how do i reset my password", "my router is broken", "what is your name", "my screen is flickering",
      "the printer does not print", "can you tell a joke", "where is the bank", "i lost my phone"]
AS = ["use the reset option", "restart the router", "i am a bot", "update the graphics driver",
      "check the paper tray", "why did the chicken cross", "turn left at the corner", "call your number"]


@pytest.fixture(scope="module")
def tok():
    return WordPieceTokenizer().train(QS + AS, 120).to_hf(model_max_length=16)


def _bert(tok, dropout=0.1):
    torch.manual_seed(0)
    return BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                      intermediate_size=32, max_position_embeddings=16, hidden_dropout_prob=dropout,
                                      attention_probs_dropout_prob=dropout))


def _manual(model, tok, texts):
    enc = tok(texts, padding=True, return_tensors="pt")
    return pool(model.bert(enc["input_ids"], enc["attention_mask"]).last_hidden_state, enc["attention_mask"])


def test_simcse_loss_is_info_nce_of_two_dropout_passes(tok, one_thread):
    model = _bert(tok).train()
    torch.manual_seed(1)
    loss = simcse.simcse_loss(model, tok, QS, temperature=0.1)
    torch.manual_seed(1)
    z1, z2 = _manual(model, tok, QS), _manual(model, tok, QS)
    assert not torch.allclose(z1, z2)  # dropout really made two views
    torch.testing.assert_close(loss, info_nce(z1, z2, 0.1))
    no_dropout = _bert(tok, dropout=0.0).train()
    z = _manual(no_dropout, tok, QS)
    torch.testing.assert_close(simcse.simcse_loss(no_dropout, tok, QS, 0.1), info_nce(z, z, 0.1))


def test_supervised_loss_equals_info_nce_of_encodings(tok, one_thread):
    model = _bert(tok).eval()
    want = info_nce(encode(model, tok, QS), encode(model, tok, AS), 0.05, symmetric=True)
    torch.testing.assert_close(simcse.supervised_loss(model, tok, QS, AS), want, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("supervised", [False, True])
def test_training_lowers_the_loss_and_keeps_the_head(tok, supervised, one_thread):
    model = _bert(tok)
    head = copy.deepcopy(model.cls.dense.state_dict())
    args = dict(positives=AS * 2 if supervised else None, steps=40, batch_size=8, lr=3e-3, temperature=0.1, seed=0)
    losses = simcse.train_contrastive(model, tok, QS * 2, **args)
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert not model.training
    for k, v in head.items():
        torch.testing.assert_close(model.cls.dense.state_dict()[k], v)  # only the encoder was optimised
    again = simcse.train_contrastive(_bert(tok), tok, QS * 2, **args)
    assert again == losses  # seeded: data order and dropout masks


def test_duplicates_are_never_negatives(tok, one_thread):
    model = _bert(tok)
    # every batch of 4 from these pairs holds repeats; training must still run on the distinct ones
    losses = simcse.train_contrastive(model, tok, ["a b", "a b", "c d", "c d"], positives=["x", "x", "y", "y"],
                                      steps=3, batch_size=4, lr=1e-3)
    assert len(losses) == 3 and all(0 < x < torch.log(torch.tensor(2.0)).item() * 2 for x in losses)


def test_bad_input(tok):
    model = _bert(tok)
    with pytest.raises(ValueError, match="eval mode"):
        simcse.simcse_loss(model.eval(), tok, QS)
    with pytest.raises(ValueError, match="equally long"):
        simcse.supervised_loss(model, tok, QS, AS[:3])
    with pytest.raises(ValueError, match="batch_size"):
        simcse.train_contrastive(model, tok, QS, batch_size=9)
    with pytest.raises(ValueError, match="steps"):
        simcse.train_contrastive(model, tok, QS, steps=0)
    with pytest.raises(ValueError, match="equally long"):
        simcse.train_contrastive(model, tok, QS, positives=AS[:2])
    with pytest.raises(TypeError, match="anchors must be a list"):
        simcse.supervised_loss(model, tok, "text", AS)
