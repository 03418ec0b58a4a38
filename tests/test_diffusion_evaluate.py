"""Evaluation: the ELBO bound is unbiased on a model with known likelihood; loops; gen. PPL."""

import math

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from nlp_course.diffusion.causal_baseline import causal_nll, causal_twin
from nlp_course.diffusion.chat import add_chat_tokens
from nlp_course.diffusion.data import load_examples
from nlp_course.diffusion.evaluate import (
    elbo,
    eos_rate,
    generation_stats,
    generative_perplexity,
    longest_loop,
    sample_entropy,
)
from nlp_course.diffusion.models import tiny_random

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny():
    model, tok = tiny_random("bert")
    add_chat_tokens(tok, model)
    return model.eval(), tok, load_examples(tok, "offline:chatterbot", 48, limit_per_source=40)


class Uniform(torch.nn.Module):
    """p(x) = 1/V for every token: its exact NLL is log V per token."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask=None):
        B, T = input_ids.shape
        return type("Out", (), {"logits": torch.zeros(B, T, self.vocab)})()


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_elbo_is_unbiased_for_a_known_model(tiny, schedule):
    _, tok, exs = tiny
    res = elbo(Uniform(len(tok)), tok, exs, n_t=16, seed=0, schedule=schedule, max_length=48)
    assert res["nll"] == pytest.approx(math.log(len(tok)), rel=0.03)
    assert res["n_tokens"] == sum(sum(e["target"]) for e in exs)


def test_elbo_is_deterministic_and_bounds_bert_accuracy(tiny):
    model, tok, exs = tiny
    a = elbo(model, tok, exs[:8], n_t=4, seed=3, max_length=48)
    b = elbo(model, tok, exs[:8], n_t=4, seed=3, max_length=48)
    assert a == b
    fixed = elbo(model, tok, exs[:8], n_t=2, t_fixed=0.15, max_length=48)
    assert 0.0 <= fixed["masked_acc"] <= 1.0 and fixed["ppl_bound"] > 1.0


def test_causal_twin_same_size_and_exact_nll(tiny):
    model, tok, exs = tiny
    twin = causal_twin(model).eval()
    n_mlm = sum(p.numel() for p in model.parameters())
    n_causal = sum(p.numel() for p in twin.parameters())
    assert abs(n_causal - n_mlm) / n_mlm < 0.05
    res = causal_nll(twin, tok, exs[:1], max_length=48)
    ids = torch.tensor([exs[0]["input_ids"]])
    labels = ids.masked_fill(~torch.tensor([exs[0]["target"]]), -100)
    ref = twin(input_ids=ids, labels=labels).loss  # transformers' own shifted loss
    assert res["nll"] == pytest.approx(float(ref), abs=1e-5)


@pytest.mark.parametrize("seq,expected", [("a b c b c b c d", 6), ("a a a", 3), ("a b", 0), ("", 0),
                                          ("x y x y x", 5), ("i am i am i am so", 6)])
def test_longest_loop(seq, expected):
    assert longest_loop(seq.split()) == expected


def test_sample_entropy_and_eos_rate():
    assert sample_entropy(["a a a a"]) == 0.0
    assert sample_entropy(["a b c d"]) == pytest.approx(math.log(4))
    ids = torch.tensor([[1, 2, 9, 9], [1, 2, 3, 9]])
    assert eos_rate(ids, prompt_length=2, eos_id=9) == pytest.approx(0.75)


def test_generation_stats_from_metrics():
    from nlp_course import metrics

    texts = ["the cat the cat the cat", "a dog runs"]
    s = generation_stats(texts, eos_fraction=0.5)
    assert s["distinct_2"] == metrics.distinct_n(texts, 2)
    assert s["longest_loop"] == pytest.approx((6 + 0) / 2) and s["eos_rate"] == 0.5


def test_generative_perplexity_matches_transformers_loss():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<bos>", "the", "cat", "sat", "on", "mat", "<unk>"]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<bos>", unk_token="<unk>")
    torch.manual_seed(0)
    lm = GPT2LMHeadModel(GPT2Config(vocab_size=len(words), n_embd=16, n_layer=1, n_head=2)).eval()
    text = "the cat sat on the mat"
    ids = torch.tensor([[0] + tok(text)["input_ids"]])
    ref = math.exp(float(lm(ids, labels=ids).loss))
    assert generative_perplexity([text], (lm, tok)) == pytest.approx(ref, rel=1e-5)
    with pytest.raises(ValueError, match="empty"):
        generative_perplexity([""], (lm, tok))
