import pytest
import torch
from transformers import BertConfig

from nlp_course.bert import BertForMaskedLM
from nlp_course.pretrain import load_course_bert, masked_accuracy, pack_sequences, pretrain_mlm
from nlp_course.tokenization import WordPieceTokenizer

TEXTS = ["the cat sat on the mat and the dog sat on the log"] * 30 + ["a bird flew over the house"] * 30


@pytest.fixture(scope="module")
def tokenizer():
    return WordPieceTokenizer(lowercase=True).train(TEXTS, 80).to_hf(model_max_length=16)


def _model(tok):
    torch.manual_seed(0)
    return BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=32, max_position_embeddings=16))


def test_pack_sequences_rows_are_cls_body_sep(tokenizer):
    rows = pack_sequences(TEXTS, tokenizer, 16)
    assert rows.shape[1] == 16 and len(rows) > 10
    assert (rows[:, 0] == tokenizer.cls_token_id).all() and (rows[:, -1] == tokenizer.sep_token_id).all()
    body = rows[:, 1:-1].reshape(-1).tolist()
    stream = []
    for ids in tokenizer(TEXTS, add_special_tokens=False)["input_ids"]:
        stream += ids + [tokenizer.sep_token_id]
    assert body == stream[: len(body)]  # nothing lost or reordered
    with pytest.raises(ValueError, match="seq_len"):
        pack_sequences(TEXTS, tokenizer, 2)


def test_killed_and_resumed_run_equals_uninterrupted(tokenizer, tmp_path):
    ids = pack_sequences(TEXTS, tokenizer, 16)
    a = _model(tokenizer)
    pretrain_mlm(a, tokenizer, ids, tmp_path / "a", steps=8, batch_size=4, warmup=2, progress=False, checkpoint_every=100)
    b = _model(tokenizer)
    pretrain_mlm(b, tokenizer, ids, tmp_path / "b", steps=8, batch_size=4, warmup=2, progress=False, stop_at=3)
    b2 = _model(tokenizer)  # a fresh process would start from scratch weights, then resume
    pretrain_mlm(b2, tokenizer, ids, tmp_path / "b", steps=8, batch_size=4, warmup=2, progress=False)
    for (n, pa), (_, pb) in zip(a.state_dict().items(), b2.state_dict().items()):
        torch.testing.assert_close(pb, pa, atol=1e-6, rtol=0, msg=n)


def test_pretraining_learns_the_toy_corpus(tokenizer, tmp_path):
    ids = pack_sequences(TEXTS, tokenizer, 16)
    model = _model(tokenizer)
    before = masked_accuracy(model, tokenizer, ids)["accuracy"]
    log = pretrain_mlm(model, tokenizer, ids, tmp_path, steps=150, batch_size=16, lr=3e-3, warmup=10, eval_ids=ids,
                       eval_every=75, progress=False)
    assert [e["step"] for e in log] == [75, 150]
    assert log[-1]["eval_accuracy"] > max(0.4, before + 0.2)


def test_smoke_course_bert_builds_and_fills_masks():
    model, tok = load_course_bert(smoke=True, progress=False)
    assert tok.mask_token == "[MASK]" and tok.mask_token_id == 4
    enc = tok(["the united states of [MASK] is a country"], return_tensors="pt")
    logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    assert logits.shape == (1, enc["input_ids"].shape[1], len(tok))
    assert torch.isfinite(logits).all()


def test_course_bert_dropout_override():
    """The FULL model is pretrained without dropout; SimCSE needs it switched on at load time."""
    enc = torch.tensor([[2, 10, 11, 12, 13, 3]])
    for p, differ in [(0.0, False), (0.3, True)]:
        model, _ = load_course_bert(smoke=True, progress=False, dropout=p)
        model.train()
        h1, h2 = model.bert(enc).last_hidden_state, model.bert(enc).last_hidden_state  # (1, T, C) twice
        assert (not torch.allclose(h1, h2)) is differ, p
    with pytest.raises(ValueError, match="dropout"):
        load_course_bert(smoke=True, progress=False, dropout=1.5)


def test_bad_input(tokenizer, tmp_path):
    ids = pack_sequences(TEXTS, tokenizer, 16)
    with pytest.raises(ValueError, match="steps"):
        pretrain_mlm(_model(tokenizer), tokenizer, ids, tmp_path, steps=0)


def test_sparse_mlm_loss_equals_full_loss(tokenizer):
    from nlp_course.pretrain import sparse_mlm_loss

    model = _model(tokenizer).eval()
    ids = pack_sequences(TEXTS, tokenizer, 16)[:4]
    labels = ids.masked_fill(torch.rand(ids.shape, generator=torch.Generator().manual_seed(0)) > 0.3, -100)
    torch.testing.assert_close(sparse_mlm_loss(model, ids, labels), model(input_ids=ids, labels=labels).loss)


def test_mlm_probability_sets_the_share_of_scored_tokens(tokenizer, tmp_path, monkeypatch):
    import nlp_course.pretrain as pretrain

    seen = []

    real = pretrain.sparse_mlm_loss

    def spy(model, x, labels):
        chosen = labels != -100
        candidates = chosen | ~torch.isin(x, torch.tensor(sorted(tokenizer.all_special_ids)))
        seen.append(float(chosen.sum() / candidates.sum()))  # [CLS]/[SEP] are never chosen
        return real(model, x, labels)

    monkeypatch.setattr(pretrain, "sparse_mlm_loss", spy)
    ids = pack_sequences(TEXTS, tokenizer, 16)
    for p in (0.15, 0.4):
        seen.clear()
        pretrain_mlm(_model(tokenizer), tokenizer, ids, tmp_path / str(p), steps=20, batch_size=16, warmup=2,
                     progress=False, mlm_probability=p)
        share = sum(seen) / len(seen)
        assert abs(share - p) < 0.03, (p, share)
    with pytest.raises(ValueError, match="mlm_probability"):
        pretrain_mlm(_model(tokenizer), tokenizer, ids, tmp_path / "bad", steps=2, batch_size=4, mlm_probability=1.5,
                     progress=False)
