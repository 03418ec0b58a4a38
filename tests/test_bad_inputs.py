"""Bad inputs get a ValueError/TypeError that names the argument (the probe of issue 19).

One parametrised case per line: (module, the call, the error type, a word the message must
contain). Cases where the library twin answers instead of raising are checked for equality
with it at the bottom.
"""

import math
from functools import cache

import numpy as np
import pytest
import torch

from nlp_course import activations, bart_noise, contrastive, optim, rnn
from nlp_course.bert import BertConfig, BertModel
from nlp_course.diffusion import schedule
from nlp_course.glove import GloVe
from nlp_course.metrics import corpus_bleu, corpus_ter, meteor, perplexity, roc_auc, roc_curve
from nlp_course.ngrams import NGramLM
from nlp_course.tokenization import BPETokenizer, UnigramTokenizer, WordPieceTokenizer
from nlp_course.utils import check_number, check_positive

INF, NAN = math.inf, math.nan
TEXTS = ["hello world, hello there", "the world is wide"] * 3


@cache
def lm():
    return NGramLM(2).fit(["a b c", "a b d"])


@cache
def tokenizers():
    return {"wordpiece": WordPieceTokenizer().train(TEXTS, vocab_size=60),
            "bpe": BPETokenizer().train(TEXTS, vocab_size=270),
            "unigram": UnigramTokenizer().train(TEXTS, vocab_size=30)}


@cache
def bert():
    return BertModel(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=16,
                                max_position_embeddings=16, type_vocab_size=2))


def params():
    return [torch.nn.Parameter(torch.zeros(2))]


def truncated(tmp_path, cls):
    path = tmp_path / "tok.json"
    path.write_text('{"type": "' + cls.__name__ + '", "voc', encoding="utf-8")
    return cls.load(path)


IDS = torch.ones(1, 4, dtype=torch.long)
CASES = [
    # utils: the shared checks
    ("utils", lambda: check_positive("lr", INF), ValueError, "lr"),
    ("utils", lambda: check_positive("lr", NAN), ValueError, "lr"),
    ("utils", lambda: check_positive("lr", 0), ValueError, "lr"),
    ("utils", lambda: check_number("p", True), TypeError, "p"),
    ("utils", lambda: check_number("p", "0.5"), TypeError, "p"),
    ("utils", lambda: check_number("p", 1.5, 0, 1), ValueError, "p"),
    # ngrams
    ("ngrams", lambda: NGramLM(k=INF), ValueError, "k"),
    ("ngrams", lambda: NGramLM(k=NAN), ValueError, "k"),
    ("ngrams", lambda: lm().sample(temperature=INF), ValueError, "temperature"),
    ("ngrams", lambda: lm().sample(temperature=NAN), ValueError, "temperature"),
    ("ngrams", lambda: lm().sample(temperature=0), ValueError, "temperature"),
    ("ngrams", lambda: lm().sample(max_words=-1), ValueError, "max_words"),
    # glove
    ("glove", lambda: GloVe(learning_rate=INF), ValueError, "learning_rate"),
    ("glove", lambda: GloVe(x_max=NAN), ValueError, "x_max"),
    ("glove", lambda: GloVe(alpha=-1), ValueError, "alpha"),
    # optim
    ("optim", lambda: optim.SGD(params(), lr=NAN), ValueError, "lr"),
    ("optim", lambda: optim.Adam(params(), lr=INF), ValueError, "lr"),
    ("optim", lambda: optim.AdamW(params(), weight_decay=NAN), ValueError, "weight_decay"),
    ("optim", lambda: optim.RMSProp(params(), eps=0.0), ValueError, "eps"),
    ("optim", lambda: optim.Adam(params(), betas=(0.9, NAN)), ValueError, "betas"),
    ("optim", lambda: optim.SGD(params(), lr="0.1"), TypeError, "lr"),
    # activations
    ("activations", lambda: activations.softmax(torch.ones(3, dtype=torch.long)), TypeError, "floating"),
    ("activations", lambda: activations.softmax(torch.tensor(1.0)), ValueError, "dimension"),
    ("activations", lambda: activations.leaky_relu(torch.ones(2), NAN), ValueError, "negative_slope"),
    # bart_noise
    ("bart_noise", lambda: bart_noise.text_infilling(list("abc"), poisson_lambda=NAN), ValueError, "poisson_lambda"),
    ("bart_noise", lambda: bart_noise.text_infilling(list("abc"), poisson_lambda=INF), ValueError, "poisson_lambda"),
    ("bart_noise", lambda: bart_noise.text_infilling(list("abc"), mask_ratio=NAN), ValueError, "mask_ratio"),
    ("bart_noise", lambda: bart_noise.token_masking(list("abc"), p=NAN), ValueError, "p"),
    # diffusion schedule
    ("schedule", lambda: schedule.alpha(NAN), ValueError, "t"),
    ("schedule", lambda: schedule.alpha(torch.tensor([0.5, NAN])), ValueError, "t"),
    ("schedule", lambda: schedule.loss_weight(NAN), ValueError, "t"),
    ("schedule", lambda: schedule.mask_prob(1.5), ValueError, "t"),
    ("schedule", lambda: schedule.sample_t(4, eps=NAN), ValueError, "eps"),
    # rnn
    ("rnn", lambda: rnn.RNN(3, 4)(torch.ones(2, 1, 3, dtype=torch.long)), TypeError, "x"),
    ("rnn", lambda: rnn.RNN(3, 4)(torch.ones(0, 1, 3)), ValueError, "time step"),
    ("rnn", lambda: rnn.LSTM(3, 4, batch_first=True)(torch.ones(1, 0, 3)), ValueError, "time step"),
    ("rnn", lambda: rnn.GRUCell(3, 4)(torch.ones(1, 3, dtype=torch.long)), TypeError, "x"),
    # bert (validation at the top of forward)
    ("bert", lambda: bert()(IDS, token_type_ids=torch.full((1, 4), 5)), ValueError, "token_type_ids"),
    ("bert", lambda: bert()(IDS, token_type_ids=torch.full((1, 4), -1)), ValueError, "token_type_ids"),
    ("bert", lambda: bert()(IDS, token_type_ids=torch.zeros(1, 4)), TypeError, "token_type_ids"),
    ("bert", lambda: bert()(torch.full((1, 4), 99)), ValueError, "input_ids"),
    # metrics
    ("metrics", lambda: roc_auc([0, 1, 0, 1], [0.1, NAN, 0.3, 0.4]), ValueError, "scores"),
    ("metrics", lambda: roc_auc([0, 1, 0, 1], [0.1, INF, 0.3, 0.4]), ValueError, "scores"),
    ("metrics", lambda: roc_curve([0, 1], ["a", "b"]), TypeError, "scores"),
    ("metrics", lambda: corpus_bleu([], [[]]), ValueError, "hypotheses"),
    ("metrics", lambda: corpus_ter([], [[]]), ValueError, "hypotheses"),
    ("metrics", lambda: corpus_bleu(["a"], [["a"]], smooth_method="floor", smooth_value=NAN), ValueError, "smooth_value"),
    ("metrics", lambda: perplexity(INF), ValueError, "mean_nll"),
    ("metrics", lambda: perplexity(NAN), ValueError, "mean_nll"),
    ("metrics", lambda: meteor("a", ["a"], beta=NAN), ValueError, "beta"),
    ("metrics", lambda: meteor("a", ["a"], gamma=INF), ValueError, "gamma"),
    # tokenizers: lone surrogates cannot be UTF-8 encoded
    ("tokenization", lambda: tokenizers()["bpe"].encode("a\ud800b"), ValueError, "text"),
    ("tokenization", lambda: tokenizers()["wordpiece"].encode("a\udfffb"), ValueError, "text"),
    ("tokenization", lambda: tokenizers()["unigram"].encode("\ud800"), ValueError, "text"),
]


@pytest.mark.parametrize(("module", "call", "error", "names"), CASES,
                         ids=[f"{c[0]}-{k}" for k, c in enumerate(CASES)])
def test_bad_input_raises_naming_the_argument(module, call, error, names):
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error  # not a library subclass (JSONDecodeError, UnicodeEncodeError)
    assert names in str(info.value), f"{module}: {info.value!r} does not name {names!r}"


@pytest.mark.parametrize("cls", [WordPieceTokenizer, BPETokenizer, UnigramTokenizer])
def test_truncated_tokenizer_file_names_the_file(tmp_path, cls):
    with pytest.raises(ValueError, match="tok.json") as info:
        truncated(tmp_path, cls)
    assert type(info.value) is ValueError and cls.__name__ in str(info.value)
    with pytest.raises(ValueError, match="missing.json"):
        cls.load(tmp_path / "missing.json")


# ---- where the library twin answers, ours answers the same ------------------------------------
@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3)])
def test_softmax_of_empty_equals_torch(shape):
    x = torch.empty(shape)
    got = activations.softmax(x, dim=-1)
    assert got.shape == torch.softmax(x, dim=-1).shape == x.shape


def test_perplexity_overflow_is_inf_like_torch():
    assert perplexity(1000) == math.inf == float(torch.exp(torch.tensor(1000.0, dtype=torch.float64)))
    assert perplexity(709.0) == pytest.approx(math.exp(709.0))


def test_roc_auc_nan_refused_like_sklearn():
    from sklearn.metrics import roc_auc_score

    with pytest.raises(ValueError, match="NaN"):
        roc_auc_score([0, 1, 0, 1], [0.1, NAN, 0.3, 0.4])


def test_sample_at_extreme_temperatures_never_emits_unk():
    model = lm()
    for temperature in (1e-300, 1e-3, 1e6):
        words = model.sample(temperature=temperature, max_words=30, seed=0)
        assert "<unk>" not in words and all(w in model.vocab for w in words)
    # a tiny temperature is greedy: after "a" the most likely word is "b" every time
    assert model.sample("a", temperature=1e-9, max_words=1, seed=3) == ["b"]
    assert np.isclose(model.distribution(["a"]).sum(), 1.0)


@pytest.mark.parametrize("value", [0.0, -1.0, NAN, INF])
@pytest.mark.parametrize(("call", "name"), [
    (lambda v: contrastive.info_nce(torch.ones(2, 3), torch.ones(2, 3), temperature=v), "temperature"),
    (lambda v: contrastive.triplet_loss(torch.ones(2, 3), torch.ones(2, 3), torch.ones(2, 3), margin=v), "margin"),
    (lambda v: contrastive.alignment(torch.ones(2, 3), torch.ones(2, 3), alpha=v), "alpha"),
    (lambda v: contrastive.uniformity(torch.ones(2, 3), t=v), "t"),
])
def test_contrastive_refuses_non_positive_and_non_finite(call, name, value):
    with pytest.raises(ValueError, match=f"^{name} ") as info:  # not x > 0 used to let inf through
        call(value)
    assert type(info.value) is ValueError
