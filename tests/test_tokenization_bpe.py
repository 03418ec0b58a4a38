"""Byte-level BPETokenizer against HF tokenizers: trainer merges, encoder ids, round trip."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from nlp_course.data import chatterbot_pairs, russian_text
from nlp_course.tokenization import BPETokenizer
from nlp_course.tokenization.pretrained import gpt2_hf, gpt2_ours


@pytest.fixture(scope="module")
def corpus(wiki12):
    arts = wiki12[:8]
    ru = russian_text()
    return arts[:6] + [ru[: len(ru) // 2]], arts[6:] + [ru[len(ru) // 2 :]]


def hf_train(texts, vocab_size, special_tokens=()):
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(special_tokens), show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    hf.train_from_iterator(texts, trainer)
    merges = json.loads(hf.to_str())["model"]["merges"]
    return hf, [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]


@pytest.fixture(scope="module")
def trained(corpus):
    return BPETokenizer().train(corpus[0], vocab_size=2000)


@pytest.mark.parametrize("vocab_size", [257, 300, 2000])
def test_trainer_learns_hf_merges_exactly(corpus, trained, vocab_size):
    ours = trained if vocab_size == 2000 else BPETokenizer().train(corpus[0], vocab_size)
    hf, hf_merges = hf_train(corpus[0], vocab_size)
    assert ours.merges == hf_merges
    assert ours.vocab == hf.get_vocab()


def test_trainer_with_special_tokens_and_tiny_corpus():
    texts = ["aaa aaa ab ab ba", "abab baba aaaa", "ёё ёж"]
    ours = BPETokenizer().train(texts, 280, special_tokens=["<pad>", "<eos>"])
    hf, hf_merges = hf_train(texts, 280, special_tokens=["<pad>", "<eos>"])
    assert ours.merges == hf_merges and ours.vocab == hf.get_vocab()


def test_encode_matches_hf_on_held_out_text(trained, corpus):
    hf = trained.to_hf_tokenizer()
    held = corpus[1] + [q + "\n" + a for q, a in chatterbot_pairs("russian")[:200]]
    for text in held:
        assert trained.encode(text) == hf.encode(text).ids


def test_gpt2_vocabulary_matches_gpt2_tokenizer_fast(corpus):
    ours, theirs = gpt2_ours(), gpt2_hf()
    assert len(ours) == len(theirs) == 50257
    for text in corpus[1]:
        assert ours.encode(text) == theirs(text)["input_ids"]


ASSIGNED = st.characters(exclude_categories=("Cs",))


@pytest.fixture(scope="module")
def trained_hf(trained):
    return trained.to_hf_tokenizer()  # once per module, not once per example


@settings(max_examples=300)
@given(st.text(ASSIGNED, max_size=60))
def test_round_trip_and_hf_ids_for_any_unicode(trained, trained_hf, text):
    ids = trained.encode(text)
    assert trained.decode(ids) == text
    assert ids == trained_hf.encode(text).ids


def test_save_load(trained, tmp_path, corpus):
    trained.save(tmp_path / "bpe.json")
    back = BPETokenizer.load(tmp_path / "bpe.json")
    assert back.merges == trained.merges and back.vocab == trained.vocab
    assert back.encode(corpus[1][0]) == trained.encode(corpus[1][0])


def test_bad_input():
    with pytest.raises(ValueError, match="texts"):
        BPETokenizer().train([], 300)
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer().train(["hello"], 100)
    with pytest.raises(TypeError, match="vocab_size"):
        BPETokenizer().train(["hello"], 300.0)
    with pytest.raises(ValueError, match="ids"):
        BPETokenizer().decode([256])
    with pytest.raises(ValueError, match="merges"):
        BPETokenizer.from_vocab_merges({"a": 0, "b": 1}, ["a b"])


def test_sentencepiece_model_from_mistral_common_loads_and_round_trips():
    from nlp_course.tokenization.pretrained import sentencepiece_processor

    sp = sentencepiece_processor()
    text = "Привет, мир! Hello, world."
    assert sp.get_piece_size() == 32000
    assert sp.decode(sp.encode(text)) == text
    assert len(sp.encode(text)) < len(gpt2_ours().encode(text))


def test_bench_bpe_matches_hf_and_writes_its_record(tmp_path, capsys):
    import json

    from nlp_course.bench import bpe

    result = bpe.main(["--megabytes", "0.005", "--vocab-size", "300", "--json", str(tmp_path / "bpe.json")])
    assert result["identical_merges"] and result["identical_encodings"]  # the timed models are the same model
    record = json.loads((tmp_path / "bpe.json").read_text())
    assert record["result"]["train_ratio"] == result["train_ratio"] > 0
    assert record["settings"]["vocab_size"] == 300 and record["hardware"]["kind"] == "cpu"
    assert record["versions"]["tokenizers"]
    assert "ratio ours/HF" in capsys.readouterr().out
