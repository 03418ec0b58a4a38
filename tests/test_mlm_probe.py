"""MLM probe: only the head trains; its sparse loss equals the dense masked-LM loss; HF encoders work."""

import copy

import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig

from nlp_course.bert import BertForMaskedLM
from nlp_course.mlm_probe import MLMHeadProbe, train_mlm_head
from nlp_course.pretrain import masked_accuracy, pack_sequences
from nlp_course.tokenization import WordPieceTokenizer

DOCS = ["the cat sat on the mat and the dog sat on the log"] * 20 + ["one two three four five six seven"] * 20


@pytest.fixture(scope="module")
def tok():
    return WordPieceTokenizer().train(DOCS, 60).to_hf(model_max_length=16)


def _bert(tok):
    torch.manual_seed(0)
    return BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                      intermediate_size=32, max_position_embeddings=16))


def test_sparse_loss_equals_dense_and_hf_encoder_agrees(tok, one_thread):
    bert = _bert(tok).eval()
    probe = MLMHeadProbe(copy.deepcopy(bert.bert))
    hf_probe = MLMHeadProbe(bert.to_hf().bert)
    hf_probe.cls.load_state_dict(probe.cls.state_dict())
    ids = pack_sequences(DOCS[:4], tok, 16)
    labels = torch.full_like(ids, -100)
    labels[:, 3:6] = ids[:, 3:6]
    dense = probe(ids).logits  # (B, T, V)
    want = F.cross_entropy(dense.reshape(-1, dense.shape[-1]), labels.reshape(-1), ignore_index=-100)
    torch.testing.assert_close(probe(ids, labels=labels).loss, want)
    torch.testing.assert_close(hf_probe(ids).logits, dense, atol=1e-5, rtol=1e-4)


def test_training_moves_only_the_head_and_learns(tok, one_thread):
    bert = _bert(tok)
    probe = MLMHeadProbe(bert.bert)
    frozen = copy.deepcopy(bert.bert.state_dict())
    ids = pack_sequences(DOCS, tok, 16)
    before = masked_accuracy(probe, tok, ids)["accuracy"]
    train_mlm_head(probe, tok, ids, steps=60, batch_size=16, lr=1e-2)
    after = masked_accuracy(probe, tok, ids)["accuracy"]
    for k, v in frozen.items():
        torch.testing.assert_close(bert.bert.state_dict()[k], v)
    assert after > before + 0.1  # even a random frozen encoder exposes token identity at unmasked positions
    probe.train()
    assert probe.cls.training and not probe.encoder.training


def test_bad_input(tok):
    with pytest.raises(TypeError, match="BERT-like"):
        MLMHeadProbe(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="MLMHeadProbe"):
        train_mlm_head(_bert(tok), tok, torch.zeros(2, 4, dtype=torch.long), 1)
    probe = MLMHeadProbe(_bert(tok).bert)
    with pytest.raises(ValueError, match="labels must have the shape"):
        probe(torch.zeros(2, 4, dtype=torch.long), labels=torch.zeros(2, 3, dtype=torch.long))
