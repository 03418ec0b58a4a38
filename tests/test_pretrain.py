import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig

from nlp_course.bert import BertForMaskedLM
from nlp_course.diffusion.splits import normalise_text
from nlp_course.masking import whole_word_mask, word_ids_from_pieces
from nlp_course.pretrain import (
    course_corpus,
    heldout_by_hash,
    load_course_bert,
    masked_accuracy,
    masked_word_accuracy,
    pack_sequences,
    pretrain_mlm,
    seed_local_heads,
    spread_rows,
)
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


def test_course_corpus_deduplicates_then_splits_by_content():
    train, held = course_corpus()  # the real offline corpus (parsing only, no tokenisation)
    keys = [normalise_text(d) for d in train + held]
    assert len(set(keys)) == len(keys)  # deduplicated: no text twice, so none on both sides
    assert not {" ".join(d.lower().split()) for d in train} & {" ".join(d.lower().split()) for d in held}
    assert 0.07 < len(held) / len(keys) < 0.13  # ~10% held out
    waugh = [d for d in train + held if d.startswith("Australian cricket captain Steve Waugh")]
    assert len(waugh) == 1  # the Lee corpus holds this document twice
    assert all(heldout_by_hash(d) for d in held) and not any(heldout_by_hash(d) for d in train)
    assert heldout_by_hash(held[0].upper() + "  ") and not heldout_by_hash(train[0].upper())  # content, not case


def test_spread_rows_samples_first_to_last_evenly():
    ids = torch.arange(100).view(50, 2)  # row r holds (2r, 2r + 1)
    rows = spread_rows(ids, 5)[:, 0] // 2
    assert rows.tolist() == [0, 12, 24, 37, 49]  # first and last row kept, gaps of 12-13
    assert torch.equal(spread_rows(ids, 80), ids)  # fewer rows than asked: all of them
    with pytest.raises(ValueError, match="n must be"):
        spread_rows(ids, 0)


class _Oracle(torch.nn.Module):
    """Returns one-hot logits of the unmasked ``truth``, except where ``wrong`` is set."""

    def __init__(self, truth, vocab_size, wrong):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab_size, 2)
        self.truth, self.vocab_size, self.wrong = truth, vocab_size, wrong

    def get_input_embeddings(self):
        return self.emb

    def forward(self, input_ids):
        target = torch.where(self.wrong, (self.truth + 1) % self.vocab_size, self.truth)
        return type("Out", (), {"logits": F.one_hot(target, self.vocab_size).float()})


def test_masked_word_accuracy_needs_every_piece_of_a_word():
    tokenizer = WordPieceTokenizer(lowercase=True).train(TEXTS, 40).to_hf(model_max_length=16)  # splits words
    ids = pack_sequences(TEXTS, tokenizer, 16)
    pieces = [tokenizer.convert_ids_to_tokens(row) for row in ids.tolist()]
    continuation = torch.tensor([[p.startswith("##") for p in row] for row in pieces])  # (N, T)
    perfect = _Oracle(ids, len(tokenizer), torch.zeros_like(continuation))
    assert masked_word_accuracy(perfect, tokenizer, ids, batch_size=len(ids))["word_accuracy"] == 1.0
    # wrong only at "##" pieces: a multi-piece word fails although its first piece is right
    word_ids = [word_ids_from_pieces(row) for row in pieces]
    chosen = whole_word_mask(ids, word_ids, tokenizer.mask_token_id, len(tokenizer),
                             generator=torch.Generator().manual_seed(1234))[1] != -100
    words = {(r, word_ids[r][t]) for r, t in chosen.nonzero().tolist()}
    split = {(r, word_ids[r][t]) for r, t in (chosen & continuation).nonzero().tolist()}
    got = masked_word_accuracy(_Oracle(ids, len(tokenizer), continuation), tokenizer, ids, batch_size=len(ids))
    assert got["words"] == len(words) and 0 < len(split) < len(words)
    assert got["word_accuracy"] == pytest.approx(1 - len(split) / len(words))


def test_killed_and_resumed_run_equals_uninterrupted(tokenizer, tmp_path):
    ids = pack_sequences(TEXTS, tokenizer, 16)
    kw = dict(steps=8, batch_size=4, warmup=2, progress=False, eval_ids=ids[:8], eval_every=3)
    a = _model(tokenizer)
    log_a = pretrain_mlm(a, tokenizer, ids, tmp_path / "a", checkpoint_every=100, **kw)
    b = _model(tokenizer)
    pretrain_mlm(b, tokenizer, ids, tmp_path / "b", stop_at=4, **kw)  # killed inside the window of steps 4-6
    b2 = _model(tokenizer)  # a fresh process would start from scratch weights, then resume
    log_b = pretrain_mlm(b2, tokenizer, ids, tmp_path / "b", **kw)
    for (n, pa), (_, pb) in zip(a.state_dict().items(), b2.state_dict().items()):
        torch.testing.assert_close(pb, pa, atol=1e-6, rtol=0, msg=n)
    assert [e["step"] for e in log_b] == [3, 6, 8]
    for ea, eb in zip(log_a, log_b):  # the running train loss resumes exactly (its window is checkpointed)
        assert {k: v for k, v in eb.items() if k != "seconds"} == pytest.approx(
            {k: v for k, v in ea.items() if k != "seconds"}, abs=1e-6)


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


@pytest.mark.parametrize("field, value", [
    ("steps", 0), ("weight_decay", -1.0), ("weight_decay", float("inf")), ("lr", float("nan")), ("lr", float("inf")),
    ("lr", 0.0), ("mlm_probability", float("nan")), ("warmup", -1), ("checkpoint_every", 0), ("stop_at", 0),
    ("train_ids", torch.empty(0, 16, dtype=torch.long)), ("train_ids", [[1, 2, 3]]),
])
def test_bad_input(tokenizer, tmp_path, field, value):
    kw = {"train_ids": pack_sequences(TEXTS, tokenizer, 16), "steps": 2, field: value}
    with pytest.raises(ValueError, match=field):
        pretrain_mlm(_model(tokenizer), tokenizer, out_dir=tmp_path, **kw)
    assert not tmp_path.joinpath("latest").exists()


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


def _attention_to_offsets(attn, offsets):
    """Mean attention weight from position i to i - offset, per head (attn: (B, H, T, T))."""
    T = attn.shape[-1]
    out = []
    for h, o in enumerate(offsets):
        i = torch.arange(max(o, 0), T + min(o, 0))
        out.append(float(attn[:, h, i, i - o].mean()))
    return out


@pytest.mark.parametrize("offsets", [(1, -1), (1, -1, 2, -2), (3,)])
def test_seed_local_heads_attend_to_the_chosen_neighbour(offsets):
    """At init, seeded head h puts most of its weight on position i - offsets[h], for any tokens."""
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=500, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=256, max_position_embeddings=64, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0)
    plain = BertForMaskedLM(cfg).eval()
    seeded = seed_local_heads(BertForMaskedLM(cfg), offsets).eval()
    x = torch.randint(5, 500, (4, 64))
    with torch.no_grad():
        a_seeded = seeded(input_ids=x, output_attentions=True).attentions[0]  # (B, H, T, T)
        a_plain = plain(input_ids=x, output_attentions=True).attentions[0]
    assert min(_attention_to_offsets(a_seeded, offsets)) > 0.8
    assert max(_attention_to_offsets(a_plain, offsets)) < 0.05  # standard init: about uniform (1/64)
    # still a standard BERT: the HF twin loaded from it attends the same way
    hf = seeded.to_hf().eval()
    hf.set_attn_implementation("eager")
    with torch.no_grad():
        a_hf = hf(input_ids=x, output_attentions=True).attentions[0]
    torch.testing.assert_close(a_hf, a_seeded, atol=1e-5, rtol=0)


def test_seed_local_heads_bad_offsets():
    model = BertForMaskedLM(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=32, max_position_embeddings=16))
    for bad in [(), (0,), (1, -1, 2), (1.5,)]:
        with pytest.raises(ValueError, match="offsets"):
            seed_local_heads(model, bad)


def test_mask_accuracy_scores_only_mask_positions(tokenizer):
    """A model that copies its input gets every kept token right and no [MASK] position."""

    class Copier(torch.nn.Module):
        def __init__(self, vocab):
            super().__init__()
            self.emb = torch.nn.Embedding(vocab, 1)

        def get_input_embeddings(self):
            return self.emb

        def forward(self, input_ids):
            return type("Out", (), {"logits": F.one_hot(input_ids, len(tokenizer)).float()})()

    ids = pack_sequences(TEXTS, tokenizer, 16)
    res = masked_accuracy(Copier(len(tokenizer)), tokenizer, ids)
    assert res["mask_accuracy"] == 0.0
    assert 0.05 < res["accuracy"] < 0.2  # the ~10% kept in place (+ random draws of the same id)
