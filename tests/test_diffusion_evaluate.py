"""Evaluation: the ELBO bound is unbiased on a model with known likelihood; loops; gen. PPL."""

import math

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from nlp_course.diffusion.causal_baseline import causal_nll, causal_twin
from nlp_course.diffusion.chat import add_chat_tokens, chat_ids
from nlp_course.diffusion.data import load_examples
from nlp_course.diffusion.evaluate import (
    elbo,
    eos_rate,
    generation_stats,
    generative_perplexity,
    longest_loop,
    sample_entropy,
    sampler_canvases,
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


def _answers(tok, exs):
    end = chat_ids(tok)["end"]
    return [[i for i, m in zip(e["input_ids"], e["target"]) if m and i != end] for e in exs]


def _scored(tok, exs, G):
    """Answer + first EOS inside G slots; an answer cut by max_length (no closing EOS) has no EOS."""
    end = chat_ids(tok)["end"]
    return sum(min(len(a) + 1, G) if e["input_ids"][-1] == end else min(len(a), G)
               for a, e in zip(_answers(tok, exs), exs))


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_elbo_is_unbiased_for_a_known_model(tiny, schedule):
    """p = 1/V everywhere: the canvas costs log V per answer slot, EOS tail included."""
    _, tok, exs = tiny
    G = 16
    res = elbo(Uniform(len(tok)), tok, exs, n_t=16, seed=0, schedule=schedule, max_length=48, gen_length=G)
    end = chat_ids(tok)["end"]
    slots = sum(G if e["input_ids"][-1] == end else min(len(a), G) for a, e in zip(_answers(tok, exs), exs))
    assert res["nats"] == pytest.approx(math.log(len(tok)) * slots, rel=0.03)
    assert res["n_tokens"] == _scored(tok, exs, G)
    assert res["n_cut"] == sum(len(a) >= G or e["input_ids"][-1] != end
                               for a, e in zip(_answers(tok, exs), exs)) > 0 and res["gen_length"] == G
    assert res["nll_len_conditioned"] == pytest.approx(math.log(len(tok)), rel=0.03)  # answer + EOS only


def test_elbo_is_deterministic_and_bounds_bert_accuracy(tiny):
    model, tok, exs = tiny
    a = elbo(model, tok, exs[:8], n_t=4, seed=3, max_length=48)
    b = elbo(model, tok, exs[:8], n_t=4, seed=3, max_length=48)
    assert a == b
    fixed = elbo(model, tok, exs[:8], n_t=2, t_fixed=0.15, max_length=48)
    assert 0.0 <= fixed["masked_acc"] <= 1.0 and fixed["ppl_bound"] > 1.0


def _direct_canvas_elbo(model, tok, exs, G, n_t, seed):
    """The bound written out: prompt + (answer, EOS, EOS...)[:G], every slot maskable at stratified t."""
    ids_ = chat_ids(tok)
    rows, fills = [], []
    for e in exs:
        first = e["target"].index(True)
        answer = [i for i in e["input_ids"][first:] if i != ids_["end"]]
        region = (answer + [ids_["end"]] * G)[:G]
        rows.append(e["input_ids"][:first] + region)
        fills.append([False] * first + [True] * G)
    T = max(len(r) for r in rows)
    ids = torch.tensor([r + [ids_["pad"]] * (T - len(r)) for r in rows])
    att = torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in rows])
    fill = torch.tensor([f + [False] * (T - len(f)) for f in fills])
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(len(rows), generator=gen)
    nats = 0.0
    for k in range(n_t):
        t = (k + u) / n_t
        masked = (torch.rand(ids.shape, generator=gen) < t[:, None]) & fill
        logits = model(input_ids=torch.where(masked, ids_["mask"], ids), attention_mask=att).logits
        logp = logits.float().log_softmax(-1).gather(-1, ids[..., None])[..., 0]
        nats += float((-(logp * masked).sum(1) / t).sum().detach()) / n_t
    return nats


def test_canvas_elbo_equals_direct_computation_and_differs_from_length_conditioned(tiny):
    model, tok, exs = tiny
    end = chat_ids(tok)["end"]
    G, held = 12, [e for e in exs if e["input_ids"][-1] == end][:6]  # complete answers (with EOS)
    res = elbo(model, tok, held, n_t=3, seed=5, batch_size=len(held), max_length=48, gen_length=G)
    assert res["nats"] == pytest.approx(_direct_canvas_elbo(model, tok, held, G, 3, 5), rel=1e-5)
    assert abs(res["nll"] - res["nll_len_conditioned"]) > 0.1


def test_per_word_and_per_token_denominators_agree_with_causal(tiny):
    model, tok, exs = tiny
    twin = causal_twin(model).eval()
    G = 10  # some answers are cut: both sides must score the same cut answers
    d = elbo(model, tok, exs, n_t=1, max_length=48, gen_length=G, length_conditioned=False)
    c = causal_nll(twin, tok, exs, max_length=48, gen_length=G)
    words = [len(tok.decode(a[:G], skip_special_tokens=True).split()) for a in _answers(tok, exs)]
    assert d["n_words"] == c["n_words"] == sum(words) > 0
    assert d["n_tokens"] == c["n_tokens"] == _scored(tok, exs, G) and d["n_cut"] > 0
    assert d["nll_per_word"] == pytest.approx(d["nats"] / sum(words))
    assert c["nll_per_word"] == pytest.approx(c["nll"] * c["n_tokens"] / sum(words))
    assert d["gen_length"] == c["gen_length"] == G


def test_sampler_canvases_layout(tiny):
    _, tok, exs = tiny
    end = chat_ids(tok)["end"]
    ex = next(e for e in exs if e["input_ids"][-1] == end)
    first = ex["target"].index(True)
    (row,) = sampler_canvases(tok, [ex], gen_length=len(ex["input_ids"]) - first + 3)
    assert row["ids"] == ex["input_ids"] + [end] * 3 and sum(row["fill"]) == sum(ex["target"]) + 3
    assert row["score"] == ex["target"] + [False] * 3 and row["eos"] and not row["cut"]
    (cut,) = sampler_canvases(tok, [ex], gen_length=1)
    assert cut["ids"] == ex["input_ids"][: first + 1] and cut["cut"]
    long = next(e for e in exs if e["input_ids"][-1] != end)  # cut by max_length: no EOS, no padding
    (row,) = sampler_canvases(tok, [long], gen_length=64)
    assert row["ids"] == long["input_ids"] and row["score"] == long["target"] and row["cut"]
    with pytest.raises(ValueError, match="gen_length"):
        sampler_canvases(tok, [ex], gen_length=0)


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
    assert res["nll"] == pytest.approx(float(ref.detach()), abs=1e-5)


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
