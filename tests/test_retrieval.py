"""retrieval: encode = sentence-transformers (Transformer + mean Pooling), semantic_search = util.semantic_search."""

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer, models, util
from transformers import BertConfig

from nlp_course import retrieval as R
from nlp_course.bert import BertForMaskedLM
from nlp_course.tokenization import WordPieceTokenizer

TEXTS = ["how do i reset my password", "the router needs a restart", "a cat sat on the mat",
         "what is your name", "restart the router and check the cables please", "my screen is flickering"] * 3


@pytest.fixture(scope="module")
def tok():
    return WordPieceTokenizer().train(TEXTS, 80).to_hf(model_max_length=32)


@pytest.fixture(scope="module")
def bert(tok):
    torch.manual_seed(0)
    return BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                      intermediate_size=32, max_position_embeddings=32)).eval()


TEST = ["my password", "restart the router and check the cables please now", "cat", "what is your name", "a"]


def test_encode_equals_sentence_transformers(bert, tok, tmp_path, one_thread):
    bert.to_hf().bert.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    st = SentenceTransformer(modules=[models.Transformer(str(tmp_path), max_seq_length=32),
                                      models.Pooling(16, pooling_mode="mean")], device="cpu")
    want = st.encode(TEST, convert_to_tensor=True, batch_size=2)
    torch.testing.assert_close(R.encode(bert, tok, TEST, batch_size=2), want, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(R.encode(bert, tok, TEST, normalize=True), torch.nn.functional.normalize(want, dim=-1),
                               atol=1e-5, rtol=1e-4)


def test_encode_is_padding_and_order_invariant(bert, tok, one_thread):
    one_by_one = torch.cat([R.encode(bert, tok, [t]) for t in TEST])
    for pooling in ("mean", "cls"):
        solo = torch.cat([R.encode(bert, tok, [t], pooling=pooling) for t in TEST])
        torch.testing.assert_close(R.encode(bert, tok, TEST, pooling=pooling, batch_size=3), solo, atol=1e-5, rtol=1e-4)
    hf = bert.to_hf().eval()  # the transformers twin gives the same vectors (encoder = .bert)
    torch.testing.assert_close(R.encode(hf, tok, TEST), one_by_one, atol=1e-5, rtol=1e-4)
    assert bert.training is False


@pytest.mark.parametrize("k", [1, 3, 50])
def test_semantic_search_equals_sentence_transformers(k):
    g = torch.Generator().manual_seed(k)
    q, c = torch.randn(7, 12, generator=g), torch.randn(40, 12, generator=g)
    c[5] = c[4] * 3  # same direction: a tie (up to rounding), so compare ids as {rounded score: ids}
    ours, want = R.semantic_search(q, c, k), util.semantic_search(q, c, top_k=k)

    def grouped(rows):
        return [sorted((round(h["score"], 5), h["corpus_id"]) for h in row) for row in rows]

    assert grouped(ours) == grouped(want)
    assert [r[0]["corpus_id"] for r in ours] == [r[0]["corpus_id"] for r in want]
    np.testing.assert_allclose([[h["score"] for h in r] for r in ours], [[h["score"] for h in r] for r in want], atol=1e-6)
    assert len(ours[0]) == min(k, 40)
    torch.testing.assert_close(R.cosine_scores(q.numpy(), c), util.cos_sim(q, c))


def test_question_answer_split():
    pairs = [("q1", "a1"), ("q1", "a2"), ("q2", "a2"), ("q3", "a3"), ("q4", "a1"), ("x", "a4"), ("q5", "a5")]
    train, test, corpus, rel = R.question_answer_split(pairs, 2, seed=3, min_chars=2)
    assert corpus == ["a1", "a2", "a3", "a5"]  # "x" is too short
    assert len(test) == 2 and not {q for q, _ in train} & set(test)
    for i, q in enumerate(test):
        assert {corpus[j] for j in np.flatnonzero(rel[i])} == {a for qq, a in pairs if qq == q}
    assert len(train) + sum(len([1 for qq, _ in pairs if qq == q]) for q in test) == 6
    assert R.question_answer_split(pairs, 2, seed=3, min_chars=2)[1] == test  # seeded


def test_retrieval_report_extremes():
    rel = np.eye(4)
    assert R.retrieval_report(np.eye(4), rel) == {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0, "MRR": 1.0}
    worst = R.retrieval_report(-np.eye(4), rel, ks=(1, 4))
    assert worst == {"R@1": 0.0, "R@4": 1.0, "MRR": 0.25}


def test_bad_input(bert, tok):
    with pytest.raises(TypeError, match="texts must be a list"):
        R.encode(bert, tok, "one string")
    with pytest.raises(ValueError, match="texts is empty"):
        R.encode(bert, tok, [])
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        R.encode(bert, tok, ["ok", 3])
    with pytest.raises(ValueError, match="pooling"):
        R.encode(bert, tok, ["ok"], pooling="max")
    with pytest.raises(ValueError, match="batch_size"):
        R.encode(bert, tok, ["ok"], batch_size=0)
    with pytest.raises(ValueError, match="differ in dimension"):
        R.semantic_search(torch.randn(2, 3), torch.randn(4, 5))
    with pytest.raises(ValueError, match="k must be"):
        R.semantic_search(torch.randn(2, 3), torch.randn(4, 3), k=0)
    with pytest.raises(ValueError, match="corpus is empty"):
        R.cosine_scores(torch.randn(2, 3), torch.randn(0, 3))
    with pytest.raises(ValueError, match="n_test"):
        R.question_answer_split([("q1", "a1"), ("q2", "a2")], 2, min_chars=1)
