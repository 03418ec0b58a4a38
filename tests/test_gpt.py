"""Tests for nlp_course.gpt: GPT == Hugging Face GPT-2, KV cache == no cache, char-LM helpers."""

import math

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from nlp_course.gpt import GPT, CharLSTM, bits_per_char, generate, random_batch, train_lm
from nlp_course.rnn import count_parameters


def tiny_gpt(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=8) | kw
    return GPT(**cfg).eval()


def test_logits_equal_hugging_face_gpt2():
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=13, n_positions=12, n_embd=16, n_layer=2, n_head=4, resid_pdrop=0.0,
                     embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
    hf = GPT2LMHeadModel(cfg).double().eval()
    with torch.no_grad():  # non-trivial LayerNorm and bias values, so a mismatch cannot hide
        for name, p in hf.named_parameters():
            if name.endswith("bias") or "ln_" in name:
                p.add_(0.1 * torch.randn_like(p))
    ours = GPT.from_gpt2(hf).eval()
    ids = torch.randint(0, 13, (3, 12))
    torch.testing.assert_close(ours(ids), hf(ids).logits, rtol=0, atol=1e-10)
    assert count_parameters(ours) == sum(p.numel() for p in hf.parameters())


def test_forward_is_causal_and_shaped():
    model = tiny_gpt()
    ids = torch.randint(0, 11, (2, 9))
    logits = model(ids)
    assert logits.shape == (2, 9, 11)
    changed = ids.clone()
    changed[:, 5] = (changed[:, 5] + 1) % 11
    torch.testing.assert_close(model(changed)[:, :5], logits[:, :5], rtol=0, atol=0)
    assert not torch.allclose(model(changed)[:, 5:], logits[:, 5:])


def test_cache_gives_the_same_logits_step_by_step():
    model = tiny_gpt(1).double()
    ids = torch.randint(0, 11, (2, 14))
    full = model(ids)  # (B, T, V), no cache
    cache = []
    steps = [model(ids[:, :5], cache=cache)]  # prefill 5 positions, then one at a time
    for t in range(5, 14):
        steps.append(model(ids[:, t:t + 1], cache=cache))
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=0, atol=1e-12)
    assert cache[0][0].shape == (2, 2, 14, 4)  # (B, H, T, D) per layer


@pytest.mark.parametrize("prompt_len, new", [(3, 10), (4, 20)])  # 20 new tokens run past block_size=16
def test_generate_with_cache_equals_without(prompt_len, new):
    model = tiny_gpt(2)
    prompt = torch.randint(0, 11, (2, prompt_len))
    cached = generate(model, prompt, new, greedy=True, use_cache=True)
    plain = generate(model, prompt, new, greedy=True, use_cache=False)
    assert cached.shape == (2, prompt_len + new)
    assert torch.equal(cached, plain)
    assert torch.equal(cached[:, :prompt_len], prompt)
    sampled = [generate(model, prompt, new, temperature=0.8, use_cache=c, seed=3) for c in (True, False)]
    assert torch.equal(*sampled)


def test_bad_input_is_named():
    model = tiny_gpt()
    with pytest.raises(ValueError, match="ids must be"):
        model(torch.zeros(2, 3))  # float ids
    with pytest.raises(ValueError, match="ids must be in"):
        model(torch.full((1, 3), 11))
    with pytest.raises(ValueError, match="exceed block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="temperature"):
        generate(model, torch.zeros(1, 2, dtype=torch.long), 3, temperature=float("nan"))
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, torch.zeros(1, 2, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="n_embd"):
        GPT(11, n_embd=0)


class Bigram(torch.nn.Module):
    """A model whose log-probabilities are known exactly, to check bits_per_char's bookkeeping."""

    def __init__(self, table):
        super().__init__()
        self.table = table  # (V, V) log-probabilities of next given current

    def forward(self, ids):
        return self.table[ids]  # (B, T, V)


@pytest.mark.parametrize("block, stride", [(8, 4), (8, 8), (5, 1), (64, 32)])
def test_bits_per_char_scores_every_target_once(block, stride):
    torch.manual_seed(0)
    table = torch.randn(6, 6, dtype=torch.float64).log_softmax(-1)
    ids = torch.randint(0, 6, (41,))
    expected = -table[ids[:-1], ids[1:]].mean().item() / math.log(2)
    assert math.isclose(bits_per_char(Bigram(table), ids, block, stride), expected, rel_tol=1e-12)


def test_tiny_models_learn_a_repeating_text():
    ids = torch.tensor([0, 1, 2, 3, 4, 2, 1] * 40)
    for model in (tiny_gpt(3, vocab_size=5, n_layer=1, n_embd=16), CharLSTM(5, emb=8, hidden=16)):
        before = bits_per_char(model, ids, block=16)
        curve = []

        def score(done, model=model, curve=curve):
            if done % 30 == 0:
                curve.append(bits_per_char(model, ids, block=16))

        train_lm(model, ids, steps=60, batch_size=8, block=16, lr=2e-2, seed=0, callback=score)
        after = bits_per_char(model, ids, block=16)
        assert len(curve) == 2 and curve[-1] == after  # called after steps 30 and 60
        assert after < 0.5 < 2.0 < before  # the cycle is deterministic after two characters of context


def test_random_batch_targets_are_shifted_inputs():
    ids = torch.arange(100)
    x, y = random_batch(ids, 4, 10, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 10)
    assert torch.equal(y, x + 1)


def test_char_lstm_carried_state_equals_one_pass():
    torch.manual_seed(0)
    model = CharLSTM(7, emb=5, hidden=6, layers=2).double().eval()
    ids = torch.randint(0, 7, (3, 12))
    whole, (h, c) = model(ids, return_state=True)  # (B, T, V); (layers, B, H) each
    assert h.shape == c.shape == (2, 3, 6)
    torch.testing.assert_close(model(ids), whole, rtol=0, atol=0)  # default: logits only
    first, state = model(ids[:, :5], return_state=True)
    pieces = [first]
    for t in range(5, 12):  # one character at a time, as sampling does
        logits, state = model(ids[:, t:t + 1], state, return_state=True)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, 1), whole, rtol=0, atol=1e-12)
    torch.testing.assert_close(state[0], h, rtol=0, atol=1e-12)
    torch.testing.assert_close(state[1], c, rtol=0, atol=1e-12)
