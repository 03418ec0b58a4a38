import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import BertConfig  # noqa: E402

from nlp_course.bert import BertForMaskedLM  # noqa: E402
from nlp_course.interpret import (  # noqa: E402
    attention_maps,
    gradient_x_input,
    masked_token_score,
    occlusion,
    plot_attention,
    word_vectors_in_context,
)
from nlp_course.tokenization import WordPieceTokenizer  # noqa: E402

TEXTS = ["the bank of the river was muddy", "she paid money into the bank account", "the cat sat on the mat"] * 20


@pytest.fixture(scope="module")
def model_and_tok():
    tok = WordPieceTokenizer().train(TEXTS, 60).to_hf(model_max_length=32)
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                       intermediate_size=32, max_position_embeddings=32)).eval()
    return model, tok


def test_attention_maps_are_distributions(model_and_tok):
    model, tok = model_and_tok
    tokens, attn = attention_maps(model, tok, "the cat sat on the mat")
    assert tokens[0] == "[CLS]" and attn.shape == (2, 2, len(tokens), len(tokens))
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 2, len(tokens)))
    fig = plot_attention(attn, tokens)
    assert len(fig.axes) == 4


def test_gradient_x_input_equals_hf_inputs_embeds_gradient(model_and_tok):
    model, tok = model_and_tok
    ids = tok("the bank of the [MASK] was muddy", return_tensors="pt")["input_ids"]
    pos, target = 5, tok.convert_tokens_to_ids("river")
    ours = gradient_x_input(model, ids, masked_token_score(pos, target))
    hf = model.to_hf().eval()
    emb = hf.bert.embeddings.word_embeddings(ids).detach().requires_grad_(True)
    score = hf(inputs_embeds=emb).logits[:, pos].log_softmax(-1)[:, target].sum()
    score.backward()
    torch.testing.assert_close(ours, (emb * emb.grad).sum(-1), atol=1e-5, rtol=1e-4)


def test_occlusion_equals_manual_loop(model_and_tok):
    model, tok = model_and_tok
    ids = tok("the cat sat on the [MASK]", return_tensors="pt")["input_ids"]
    score = masked_token_score(6, tok.convert_tokens_to_ids("mat"))
    drops = occlusion(model, ids, score, tok.mask_token_id, skip_ids=[tok.cls_token_id, tok.sep_token_id])
    with torch.no_grad():
        base = score(model(input_ids=ids))[0]
        for t in range(ids.shape[1]):
            x = ids.clone()
            if int(x[0, t]) not in (tok.cls_token_id, tok.sep_token_id):
                x[0, t] = tok.mask_token_id
            torch.testing.assert_close(drops[t], base - score(model(input_ids=x))[0])
    with pytest.raises(ValueError, match="input_ids"):
        occlusion(model, ids[0], score, tok.mask_token_id)


def test_contextual_vectors_differ_by_sentence(model_and_tok):
    model, tok = model_and_tok
    vecs = word_vectors_in_context(model, tok, TEXTS[:2] + TEXTS[:1], "bank")
    assert vecs.shape == (3, 16)
    assert abs(vecs[0] - vecs[2]).max() < 1e-6 and abs(vecs[0] - vecs[1]).max() > 1e-3
    with pytest.raises(ValueError, match="not found"):
        word_vectors_in_context(model, tok, ["the cat"], "bank")
