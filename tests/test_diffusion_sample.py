"""Sampler invariants, remasking order, filters vs transformers, infill/bridge/edit."""

import pytest
import torch
from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

from nlp_course.diffusion.chat import chat_ids
from nlp_course.diffusion.edit import bridge, detox, edit, fill_ids, infill, rude_spans
from nlp_course.diffusion.sample import (
    check_blocks,
    cut_at_eos,
    diffuse,
    encode_prompt,
    filter_logits,
    generate,
    steps_schedule,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("remasking", ["low_confidence", "random", "entropy", "margin"])
@pytest.mark.parametrize("gen_length,steps,block", [(12, 12, 12), (12, 6, 4), (12, 3, 4), (16, 10, 8)])
def test_invariants(tiny, remasking, gen_length, steps, block):
    model, tok = tiny
    prompt = encode_prompt(tok, "How are you today?")
    trace = []
    out = generate(model, tok, "How are you today?", gen_length, steps, block, temperature=1.0,
                   remasking=remasking, return_ids=True, num_samples=2, trace=trace)
    assert out.shape == (2, len(prompt) + gen_length)
    assert torch.all(out[:, : len(prompt)] == torch.tensor(prompt))  # the prompt never changes
    assert not (out == tok.mask_token_id).any()  # no [MASK] remains
    per_block = steps // (gen_length // block)
    expected = steps_schedule(block, per_block) * (gen_length // block)
    assert [c[0] for c in trace] == expected and [c[1] for c in trace] == expected
    assert sum(expected) == gen_length


def test_blocks_are_left_to_right(tiny):
    model, tok = tiny
    x = torch.tensor([[tok.cls_token_id] + [tok.mask_token_id] * 8])
    fill = x == tok.mask_token_id
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None):
            seen.append((input_ids[0] == tok.mask_token_id).tolist())
            return model(input_ids=input_ids)

    diffuse(Spy(), x, fill, steps=4, block_length=4)
    # during the two steps of block 2, block 1 (positions 1..4) is already fully decoded
    assert not any(seen[2][1:5]) and all(seen[2][5:9])


def test_low_confidence_commits_most_confident_first():
    V, L = 5, 4
    peak = torch.tensor([0.0, 3.0, 1.0, 5.0])  # how peaked p(token 1) is at each position
    calls = []

    class Peaked(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None):
            calls.append(input_ids[0].clone())
            logits = torch.zeros(1, L, V)
            logits[0, :, 1] = peak + 1.0  # token 1 is the argmax everywhere
            return type("Out", (), {"logits": logits})()

    x = torch.full((1, L), 4)
    out = diffuse(Peaked(), x, x == 4, steps=4, banned_ids=[4])
    assert out.tolist() == [[1, 1, 1, 1]]
    states = calls + [out[0]]
    order = [int(torch.nonzero(states[i + 1] != states[i])[0]) for i in range(4)]
    assert order == peak.argsort(descending=True).tolist() == [3, 1, 2, 0]


def test_validation_errors(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match="divisible by block_length"):
        generate(model, tok, "hi", gen_length=10, steps=10, block_length=4)
    with pytest.raises(ValueError, match="multiple of the number of blocks"):
        generate(model, tok, "hi", gen_length=16, steps=2, block_length=4)
    with pytest.raises(ValueError, match="exceeds gen_length"):
        generate(model, tok, "hi", gen_length=8, steps=16)
    with pytest.raises(ValueError, match="maximum length 128"):
        generate(model, tok, "word " * 120, gen_length=16)
    with pytest.raises(ValueError, match="remasking"):
        generate(model, tok, "hi", gen_length=4, remasking="greedy")
    with pytest.raises(TypeError, match="prompt"):
        generate(model, tok, 3.5, gen_length=4)
    assert check_blocks(32, 8, 8) == (4, 2)


@pytest.mark.parametrize("k,p", [(1, None), (5, None), (None, 0.5), (None, 0.9), (None, 1.0), (3, 0.7)])
def test_filters_match_transformers(k, p):
    torch.manual_seed(0)
    logits = torch.randn(4, 50, dtype=torch.float64) * 3
    ours = filter_logits(logits, k, p)
    ref = logits.clone()
    if k is not None:
        ref = TopKLogitsWarper(k)(None, ref)
    if p is not None:
        ref = TopPLogitsWarper(p)(None, ref)
    assert torch.equal(torch.isinf(ours), torch.isinf(ref))


def test_gumbel_sampling_matches_softmax():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64)

    class Fixed(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None):
            B, L = input_ids.shape
            logits = probs.log().expand(B, L, 4).clone()
            return type("Out", (), {"logits": torch.cat([logits, torch.full((B, L, 1), -1e9)], -1)})()

    x = torch.full((4000, 1), 4)
    out = diffuse(Fixed(), x, x == 4, steps=1, temperature=1.0, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(out[:, 0], minlength=5)[:4].double() / 4000
    torch.testing.assert_close(freq, probs, atol=0.025, rtol=0)


def test_eos_controls(tiny):
    model, tok = tiny
    eos = chat_ids(tok)["end"]
    assert cut_at_eos([5, 6, eos, 7], eos) == [5, 6]
    ids = generate(model, tok, "hi", gen_length=8, allow_eos=False, return_ids=True, temperature=1.0)
    assert not (ids[0, -8:] == eos).any()
    ids = generate(model, tok, "hi", gen_length=8, eos_penalty=-100.0, return_ids=True)
    assert (ids[0, -8:] == eos).all()  # a negative penalty forces EOS everywhere
    text = generate(model, tok, "hi", gen_length=8, eos_penalty=-100.0)
    assert text == ""


def test_stop_at_eos_fills_the_rest(tiny):
    model, tok = tiny
    eos = chat_ids(tok)["end"]
    trace = []
    ids = generate(model, tok, "hi", gen_length=8, steps=8, block_length=4, eos_penalty=-100.0,
                   stop_at_eos=True, return_ids=True, trace=trace)
    assert (ids[0, -8:] == eos).all()
    assert len(trace) == 4  # block 2 was filled with EOS, no model calls (no steps) needed


def test_infill_keeps_context(tiny):
    model, tok = tiny
    text = "def add(a, b): return [[3]] # sum"
    fills = infill(model, tok, text, return_fills=True)
    assert len(fills) == 1 and fills[0]
    full = infill(model, tok, text)
    assert full.startswith("def add ( a, b ) : return") and full.endswith("# sum")
    assert bridge(model, tok, "I like tea.", "The end.", n_tokens=4)
    with pytest.raises(ValueError, match="no \\[\\[n\\]\\] gap"):
        infill(model, tok, "no gaps here")


def test_edit_only_touches_spans(tiny):
    model, tok = tiny
    text = "you are a stupid person and I like you"
    spans = rude_spans(text)
    assert spans == [(10, 16)]
    out = edit(model, tok, text, spans)
    assert out.startswith("you are a ") and out.endswith(" person and i like you")
    assert "stupid" not in out
    assert detox(model, tok, "a kind sentence") == "a kind sentence"
    with pytest.raises(ValueError, match="not inside the text"):
        edit(model, tok, text, [(0, 999)])
    assert rude_spans("Shut up, you IDIOT") == [(0, 7), (13, 18)]


def test_fill_ids_changes_only_the_fill_positions(tiny):
    model, tok = tiny
    ids = tok("def add(a, b): return a + b")["input_ids"]
    fill_at = [i in (6, 7) for i in range(len(ids))]
    out = fill_ids(model, tok, ids, fill_at, seed=0)
    assert len(out) == len(ids) and all(o == i for o, i, f in zip(out, ids, fill_at) if not f)
    assert tok.mask_token_id not in out
    with pytest.raises(ValueError, match="same length"):
        fill_ids(model, tok, ids, fill_at[:-1])
