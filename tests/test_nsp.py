"""Next-sentence prediction: HF parity of both heads, pair construction without leakage, training."""

import pytest
import torch
from transformers import BertConfig
from transformers import BertForPreTraining as HFBertForPreTraining

from nlp_course.nsp import (
    BertForPreTraining,
    nsp_ablation,
    nsp_pairs,
    pair_scores,
    pretrain_pairs,
    split_sentences,
)
from nlp_course.tokenization import WordPieceTokenizer

ANIMALS = ["the cat sat on the mat. the dog ran to the cat. a bird sang in the tree. the fox hid in the den."] * 6
NUMBERS = ["one plus two is three. four minus one is three. five times two is ten. six and six make twelve."] * 6
HELD = ["red green blue. yellow violet orange. cyan magenta black."] * 3


@pytest.fixture(scope="module")
def tok():
    return WordPieceTokenizer().train(ANIMALS + NUMBERS + HELD, 80).to_hf(model_max_length=32)


def test_split_sentences():
    assert split_sentences("One. Two?  Three!\nFour") == ["One.", "Two?", "Three!", "Four"]
    assert split_sentences("  ") == []


def test_both_heads_equal_hugging_face_on_the_same_weights(one_thread):
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                     max_position_embeddings=16, attn_implementation="eager")
    hf = HFBertForPreTraining(cfg).eval()
    ours = BertForPreTraining.from_hf(hf).eval()
    ids = torch.randint(5, 50, (3, 10))
    types = torch.tensor([[0] * 4 + [1] * 6] * 3)
    attn = torch.ones_like(ids)
    attn[0, 8:] = 0
    labels = ids.masked_fill(torch.rand(ids.shape, generator=torch.Generator().manual_seed(1)) > 0.3, -100)
    nsp = torch.tensor([0, 1, 1])
    with torch.no_grad():
        ref = hf(input_ids=ids, token_type_ids=types, attention_mask=attn, labels=labels, next_sentence_label=nsp)
        got = ours(ids, attn, types, labels=labels, next_sentence_label=nsp)
    torch.testing.assert_close(got.seq_relationship_logits, ref.seq_relationship_logits, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got.prediction_logits, ref.prediction_logits, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got.loss, ref.loss, atol=1e-5, rtol=1e-4)
    with pytest.raises(TypeError, match="BertForPreTraining"):
        BertForPreTraining.from_hf(torch.nn.Linear(2, 2))


def test_pairs_are_half_isnext_and_isnext_continues_the_document(tok):
    docs = ANIMALS[:1] + NUMBERS[:1] + [a + " " + n for a, n in zip(ANIMALS, NUMBERS)]
    pairs = nsp_pairs(docs, tok, seq_len=32, seed=0)  # every sentence fits: no segment is cut short
    ids, types, label = pairs["input_ids"], pairs["token_type_ids"], pairs["next_sentence_label"]
    assert ids.shape == types.shape == pairs["attention_mask"].shape and ids.shape[1] == 32
    assert 0.3 < label.float().mean() < 0.7
    assert (pairs["doc_b"][label == 1] != pairs["doc_a"][label == 1]).all()  # NotNext: another document
    assert (pairs["doc_b"][label == 0] == pairs["doc_a"][label == 0]).all()
    for row, ty, lab, d in zip(ids.tolist(), types.tolist(), label.tolist(), pairs["doc_a"].tolist()):
        seps = [i for i, x in enumerate(row) if x == tok.sep_token_id]
        assert row[0] == tok.cls_token_id and len(seps) == 2
        assert ty[: seps[0] + 1] == [0] * (seps[0] + 1) and ty[seps[0] + 1 : seps[1] + 1] == [1] * (seps[1] - seps[0])
        if lab == 0:  # A then B is a contiguous stretch of the document
            a_b = " ".join(map(str, row[1 : seps[0]] + row[seps[0] + 1 : seps[1]]))
            assert f" {a_b} " in " " + " ".join(map(str, tok(docs[d], add_special_tokens=False)["input_ids"])) + " "


def test_pairs_never_mix_two_lists_of_documents(tok):
    train = ANIMALS + NUMBERS
    held_ids = set(tok(" ".join(HELD), add_special_tokens=False)["input_ids"]) - set(
        tok(" ".join(train), add_special_tokens=False)["input_ids"])
    assert held_ids  # the held-out documents have words of their own
    for seed in range(3):
        pairs = nsp_pairs(train, tok, seq_len=24, seed=seed)
        assert not set(pairs["input_ids"].unique().tolist()) & held_ids
        assert pairs["doc_b"].max() < len(train)
    with pytest.raises(ValueError, match="two"):
        nsp_pairs(HELD[:1], tok)
    with pytest.raises(ValueError, match="seq_len"):
        nsp_pairs(train, tok, seq_len=4)


def test_nsp_loss_trains_the_nsp_layer_and_weight_zero_leaves_it(tok, one_thread):
    pairs = nsp_pairs(ANIMALS[:3] + NUMBERS[:3], tok, seq_len=24, seed=0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=24, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    with_nsp = BertForPreTraining(cfg)
    without = BertForPreTraining(cfg)
    without.load_state_dict(with_nsp.state_dict())
    head = {k: v.clone() for k, v in without.seq_relationship.state_dict().items()}
    a = pretrain_pairs(with_nsp, tok, pairs, steps=10, batch_size=8, lr=1e-2, warmup=2, nsp_weight=1.0)
    b = pretrain_pairs(without, tok, pairs, steps=10, batch_size=8, lr=1e-2, warmup=2, nsp_weight=0.0)
    assert a[0] == pytest.approx(b[0])  # same init, same first batch and mask
    assert a[-1] != pytest.approx(b[-1])  # then the NSP gradient makes them differ
    assert not torch.allclose(with_nsp.seq_relationship.weight, head["weight"])
    for k, v in without.seq_relationship.state_dict().items():
        torch.testing.assert_close(v, head[k])  # no NSP loss: the NSP layer is untouched
    with torch.no_grad():  # nsp_accuracy = argmax of the forward pass's NSP logits
        logits = with_nsp(pairs["input_ids"], pairs["attention_mask"], pairs["token_type_ids"]).seq_relationship_logits
    want = (logits.argmax(-1) == pairs["next_sentence_label"]).float().mean().item()
    scores = pair_scores(with_nsp, tok, pairs, batch_size=5)
    assert scores["nsp_accuracy"] == pytest.approx(want)
    assert scores == pair_scores(with_nsp, tok, pairs, batch_size=5)  # a fixed, seeded mask
    assert 0.0 <= scores["mlm_accuracy"] <= 1.0 and scores["pairs"] == len(pairs["input_ids"])
    with pytest.raises(ValueError, match="nsp_weight"):
        pretrain_pairs(without, tok, pairs, steps=1, nsp_weight=float("nan"))
    with pytest.raises(TypeError, match="BertForPreTraining"):
        pretrain_pairs(torch.nn.Linear(2, 2), tok, pairs, steps=1)


def test_nsp_ablation_runs_three_arms_per_seed_and_refuses_shared_documents(tok, one_thread):
    cfg = BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=24)
    train, held = [ANIMALS[0], NUMBERS[0], HELD[0]], [ANIMALS[0] + " " + NUMBERS[0], NUMBERS[0] + " " + HELD[0]]
    rows = tok(held, padding="max_length", max_length=24, truncation=True, return_tensors="pt")["input_ids"]
    table = nsp_ablation(cfg, tok, train, held, rows, steps=2, seeds=(0, 1), batch_size=4)
    assert list(table) == ["pairs + NSP", "pairs, no NSP loss", "contiguous, no NSP"]
    assert all(len(v) == 2 and all(0 <= x <= 1 for x in v) for arm in table.values() for v in arm.values())
    with pytest.raises(ValueError, match="share documents"):
        nsp_ablation(cfg, tok, train, train[:2], rows, steps=1)
