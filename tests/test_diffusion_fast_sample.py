"""The fast sampler against the exact one and against LLaDA's reference ``generate``:
head-only-where-masked equality, batched = one by one, threshold decoding, block cache
exactness and bounded error, early stop (forwards counted), [MASK] never emitted."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp_course.bert import BertForMaskedLM
from nlp_course.diffusion.block_cache import BertStack, cache_error, split_model
from nlp_course.diffusion.chat import chat_ids
from nlp_course.diffusion.fast_sample import fast_diffuse, generate_batch
from nlp_course.diffusion.models import tiny_random
from nlp_course.diffusion.sample import commit_top, diffuse, generate, greedy_pick, pick

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def modern():
    return tiny_random("modernbert", seed=1)[0].eval()


@pytest.fixture(scope="module")
def ours(tiny):
    return BertForMaskedLM.from_hf(tiny[0]).eval()


def canvas(tok, B=3, P=8, G=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(10, 500, (B, P + G), generator=g)
    fill = torch.zeros_like(x, dtype=torch.bool)
    fill[:, P:] = True
    return x.masked_fill(fill, tok.mask_token_id), fill


# --- LLaDA's reference sampler (ML-GSAI/LLaDA generate.py), re-implemented here -------------------
def llada_generate(model, prompt, steps, gen_length, block_length, temperature, mask_id, generator):
    """LLaDA's ``generate`` (low-confidence remasking, cfg 0) for a (1, P) prompt. One deviation:
    the uniform draws of the Gumbel noise are taken only at the masked positions of the current
    block (row-major) -- the only positions LLaDA can commit -- so the same seed draws the same noise
    as ours; LLaDA's ``exp(logits) / (-log u)^T`` has the same argmax as ``logits / T + Gumbel``."""
    x = torch.full((1, prompt.shape[1] + gen_length), mask_id, dtype=torch.long)
    x[:, : prompt.shape[1]] = prompt.clone()
    num_blocks = gen_length // block_length
    steps = steps // num_blocks
    for nb in range(num_blocks):
        lo, hi = prompt.shape[1] + nb * block_length, prompt.shape[1] + (nb + 1) * block_length
        block_mask_index = x[:, lo:hi] == mask_id
        mask_num = block_mask_index.sum(dim=1, keepdim=True)
        num_transfer = torch.zeros(1, steps, dtype=torch.int64) + mask_num // steps
        num_transfer[0, : int(mask_num % steps)] += 1
        for i in range(steps):
            mask_index = x == mask_id
            logits = model(x).logits.to(torch.float64)
            if temperature > 0:
                where = mask_index.clone()
                where[:, hi:] = False
                noise = torch.ones_like(logits)  # -log(1) ** T = 0 would divide by 0; never read there
                noise[where] = torch.rand((int(where.sum()), logits.shape[-1]), generator=generator,
                                          dtype=torch.float64).clamp(1e-300, 1 - 1e-16)
                logits_with_noise = logits.exp() / (-torch.log(noise)) ** temperature
            else:
                logits_with_noise = logits
            x0 = torch.argmax(logits_with_noise, dim=-1)
            p = F.softmax(logits, dim=-1)
            x0_p = torch.squeeze(torch.gather(p, dim=-1, index=torch.unsqueeze(x0, -1)), -1)
            x0_p[:, hi:] = -np.inf
            x0 = torch.where(mask_index, x0, x)
            confidence = torch.where(mask_index, x0_p, -np.inf)
            transfer_index = torch.zeros_like(x0, dtype=torch.bool)
            _, select_index = torch.topk(confidence[0], k=int(num_transfer[0, i]))
            transfer_index[0, select_index] = True
            x[transfer_index] = x0[transfer_index]
    return x


class NoMask(torch.nn.Module):
    """LLaDA with [MASK] suppressed: the mask logit is -inf (ours bans it the same way)."""

    def __init__(self, model, mask_id):
        super().__init__()
        self.model, self.mask_id = model, mask_id

    def forward(self, input_ids, attention_mask=None):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        out.logits[..., self.mask_id] = float("-inf")
        return out


@pytest.mark.parametrize("arch,temperature,gen_length,steps,block", [
    ("bert", 0.0, 12, 12, 4), ("bert", 0.8, 16, 8, 8), ("modernbert", 0.0, 16, 8, 8), ("modernbert", 0.8, 12, 12, 4)])
def test_llada_reference_parity(tiny, modern, arch, temperature, gen_length, steps, block):
    tok = tiny[1]
    model = tiny[0] if arch == "bert" else modern
    mask_id = tok.mask_token_id
    prompt = torch.tensor([[tok.cls_token_id, 40, 57, 99, 123, 300]])
    ref = llada_generate(NoMask(model, mask_id), prompt, steps, gen_length, block, temperature, mask_id,
                         torch.Generator().manual_seed(3))
    x = torch.cat([prompt, torch.full((1, gen_length), mask_id)], 1)
    for sampler in (diffuse, fast_diffuse):
        out = sampler(model, x, x == mask_id, steps, block, temperature=temperature,
                      generator=torch.Generator().manual_seed(3))
        assert torch.equal(out, ref), sampler.__name__
    assert not (ref == mask_id).any()


# --- 1. head at masked positions only = full logits ----------------------------------------------
@pytest.mark.parametrize("which,remasking,temperature", [
    ("hf", "low_confidence", 0.0), ("ours", "low_confidence", 1.0), ("hf", "entropy", 1.0), ("ours", "margin", 0.0),
    ("ours", "random", 1.0)])
def test_fast_equals_exact(tiny, ours, which, remasking, temperature):
    _, tok = tiny
    x, fill = canvas(tok)
    model = tiny[0] if which == "hf" else ours
    a = diffuse(model, x, fill, 8, 4, temperature=temperature, remasking=remasking,
                generator=torch.Generator().manual_seed(0))
    b = fast_diffuse(model, x, fill, 8, 4, temperature=temperature, remasking=remasking,
                     generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), remasking=st.sampled_from(["low_confidence", "margin"]),
       scale=st.sampled_from([0.5, 3.0, 30.0]), ties=st.booleans())
def test_greedy_pick_equals_float64_pick(seed, remasking, scale, ties):
    """float32 greedy_pick: pick's tokens (first index on ties), its confidences to 1e-6, the same
    positions committed; near-certain rows (p(x0) ~ 1 - 1e-12) are not rounded to a tie at 1.0."""
    g = torch.Generator().manual_seed(seed)
    N, V = 24, 300
    logits = torch.randn(N, V, generator=g) * scale  # (N, V) float32, as the LM head gives
    if ties:
        logits = logits.round()  # equal top logits: argmax's first index must win in both
    logits[: N // 3, 7] += 40.0  # near-certain positions
    banned = torch.tensor([0, 7 if seed % 2 else 1, 5])
    x0, conf = pick(logits, [N], 0.0, None, None, remasking, False, banned, None, 0.0, None)
    y0, fconf = greedy_pick(logits, banned, remasking)
    assert torch.equal(x0, y0) and not torch.isin(y0, banned).any()
    assert fconf.dtype == torch.float64 and torch.allclose(fconf, conf, rtol=1e-6, atol=1e-6)
    assert (fconf[conf < 1 - 1e-14] < 1).all()  # no coarser than float64: 1 - p is not lost
    gaps = (conf[:, None] - conf[None, :]).abs() + torch.eye(N, dtype=torch.float64)
    if gaps.min() > 1e-5:  # no near tie: the same positions win
        cand = torch.ones(1, N, dtype=torch.bool)
        for k in (1, 5, 12):
            assert torch.equal(commit_top(conf[None], cand, k), commit_top(fconf[None], cand, k))


def test_greedy_pick_rejects_other_remasking():
    with pytest.raises(ValueError, match="remasking"):
        greedy_pick(torch.zeros(2, 5), None, "entropy")


def test_split_model_matches_full_logits(tiny, ours, modern):
    x, _ = canvas(tiny[1])
    for model in (tiny[0], modern, ours):
        body, head = split_model(model)
        torch.testing.assert_close(head(body(x, None)), model(input_ids=x).logits)


# --- 2. batched prompts of different lengths = one at a time ------------------------------------
@pytest.mark.parametrize("kw", [{}, {"temperature": 1.0}, {"cache": "dual", "threshold": 0.02}])
def test_batched_equals_one_by_one(tiny, kw):
    model, tok = tiny
    prompts = ["hi", "How are you today? I am fine, thanks", "what is your name"]
    batch, lens = generate_batch(model, tok, prompts, gen_length=8, steps=8, block_length=4, return_ids=True, **kw)
    for i, p in enumerate(prompts):
        one, _ = generate_batch(model, tok, [p], gen_length=8, steps=8, block_length=4, seed=i, return_ids=True, **kw)
        assert torch.equal(batch[i, : lens[i] + 8], one[0])
        if not kw.get("threshold"):
            assert torch.equal(one[0], generate(model, tok, p, 8, 8, 4, seed=i, return_ids=True,
                                                temperature=kw.get("temperature", 0.0))[0])


# --- 3. threshold decoding ----------------------------------------------------------------------
@pytest.mark.parametrize("threshold", [1.0, 0.01, 1e-6])
def test_threshold_commits_at_least_one_and_fills_all(tiny, threshold):
    model, tok = tiny
    x, fill = canvas(tok, G=16)
    trace, stats = [], {}
    out = fast_diffuse(model, x, fill, block_length=8, threshold=threshold, trace=trace, stats=stats)
    assert not (out[fill] == tok.mask_token_id).any() and torch.equal(out[~fill], x[~fill])
    per_row = np.array(trace)  # (steps, B)
    assert per_row.sum(0).tolist() == [16] * 3
    live = per_row > 0
    assert live.any(1).all()  # every step commits at least one token in some row
    if threshold == 1.0:  # nothing reaches p = 1 in a random model: exactly one per row per step
        assert stats["steps"] == 16 and per_row.max() == 1
    if threshold == 1e-6:  # everything passes: one step per block
        assert stats["steps"] == 2 and stats["committed"] / stats["steps"] == 24


def test_threshold_follows_confidence():
    V, L = 5, 4
    peak = torch.tensor([0.0, 3.0, 1.0, 5.0])

    class Peaked(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None):
            logits = torch.zeros(input_ids.shape[0], L, V)
            logits[:, :, 1] = peak + 1.0
            return type("Out", (), {"logits": logits})()

    x = torch.full((1, L), 4)
    trace = []
    fast_diffuse(Peaked(), x, x == 4, block_length=4, threshold=0.5, trace=trace)
    p1 = (peak + 1).exp() / ((peak + 1).exp() + 4)  # p(token 1) at each position
    assert trace[0] == [int((p1 >= 0.5).sum())] == [3]  # positions 1, 2, 3 at once, then position 0
    assert trace[1:] == [[1]]


# --- 4. block cache -----------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["hf", "ours"])
def test_cached_forward_is_exact_when_nothing_changed(tiny, ours, which):
    model = tiny[0] if which == "hf" else ours
    x, fill = canvas(tiny[1], B=2, P=6, G=12)
    att = torch.ones_like(x)
    att[1, -3:] = 0  # a padded row
    stack = BertStack(model)
    h, cache = stack.full(x, att)
    exact = model(input_ids=x, attention_mask=att).logits
    torch.testing.assert_close(stack.head(h)[att.bool()], exact[att.bool()], atol=1e-5, rtol=1e-5)
    for lo, hi in ((6, 10), (6, 18)):  # dual (block) and prefix (block + suffix) query sets
        pos = torch.arange(lo, hi).expand(2, -1)
        part = stack.head(stack.partial(x, pos, cache, att))
        torch.testing.assert_close(part, exact.gather(1, pos[..., None].expand(-1, -1, exact.shape[-1])),
                                   atol=1e-5, rtol=1e-5)


def test_cache_error_is_bounded_and_reported(tiny, ours):
    x, fill = canvas(tiny[1], B=2, P=6, G=12)
    after = x.clone()
    after[:, 6:9] = torch.tensor([50, 60, 70])  # three tokens of the block committed since the refresh
    pos = torch.arange(9, 10).expand(2, -1)
    for model in (tiny[0], ours):
        same = cache_error(model, x, x, pos)
        assert same["max_abs_logit_error"] < 1e-4 and same["argmax_agreement"] == 1.0
        err = cache_error(model, x, after, pos)
        assert 0 < err["max_abs_logit_error"] < 5.0  # stale keys/values of the rest: a small, finite drift


@pytest.mark.parametrize("cache", ["prefix", "dual"])
def test_cached_sampler_fills_everything_and_counts_less(tiny, ours, modern, cache):
    x, fill = canvas(tiny[1], G=16)
    exact, fast = {}, {}
    a = fast_diffuse(ours, x, fill, 16, 4, stats=exact)
    b = fast_diffuse(ours, x, fill, 16, 4, cache=cache, stats=fast)
    assert not (b[fill] == tiny[1].mask_token_id).any()
    assert (a == b).double().mean() > 0.9  # random weights barely react to stale keys/values
    assert fast["query_tokens"] < exact["query_tokens"] and fast["forwards"] == exact["forwards"] == 16
    with pytest.raises(ValueError, match="block caching supports"):
        fast_diffuse(modern, x, fill, 16, 4, cache=cache)


# --- 5. early stop: finished rows stop costing forwards -----------------------------------------
class EosInRow0(torch.nn.Module):
    """Makes row 0 (recognised by its prompt) write EOS everywhere; records the rows of each forward."""

    def __init__(self, model, eos, prompt0):
        super().__init__()
        self.model, self.eos, self.prompt0, self.rows = model, eos, prompt0, []

    def forward(self, input_ids, attention_mask=None):
        self.rows.append(input_ids.shape[0])
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        is_row0 = (input_ids[:, : len(self.prompt0)] == self.prompt0).all(1)  # (A,)
        out.logits[is_row0, :, self.eos] = 100.0
        return out


def test_stop_at_eos_saves_forwards(tiny):
    model, tok = tiny
    eos = chat_ids(tok)["end"]
    x, fill = canvas(tok, B=2, G=16)
    for stop, expected in ((False, [2] * 16), (True, [2] * 4 + [1] * 12)):
        spy = EosInRow0(model, eos, x[0, :8])
        out = diffuse(spy, x, fill, 16, 4, eos_id=eos, stop_at_eos=stop)
        assert spy.rows == expected  # with stop_at_eos, row 0 leaves after its first block
        assert (out[0, 8:] == eos).all() and not (out[1, 8:] == tok.mask_token_id).any()
    trace = []
    generate(model, tok, "hi", gen_length=8, steps=8, block_length=4, eos_penalty=-100.0, stop_at_eos=True,
             return_ids=True, trace=trace)
    assert len(trace) == 4  # block 2 was filled with EOS without a forward


def test_fast_stop_at_eos_counts_rows(tiny):
    model, tok = tiny
    eos = chat_ids(tok)["end"]
    x, fill = canvas(tok, B=3, G=16)
    full, stopped = {}, {}
    fast_diffuse(model, x, fill, 16, 4, eos_id=eos, eos_penalty=-100.0, stats=full)
    out = fast_diffuse(model, x, fill, 16, 4, eos_id=eos, eos_penalty=-100.0, stop_at_eos=True, stats=stopped)
    assert (out[fill] == eos).all()
    assert full["rows_forwarded"] == 48 and stopped["rows_forwarded"] == 12  # one block instead of four
    assert stopped["forwards"] == 4


# --- 6. [MASK] (and every banned id) is never emitted --------------------------------------------
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), temperature=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
       remasking=st.sampled_from(["low_confidence", "random", "entropy", "margin"]), scale=st.floats(1.0, 50.0))
def test_mask_never_emitted(seed, temperature, remasking, scale):
    torch.manual_seed(seed)
    V, mask_id = 12, 3

    class Loud(torch.nn.Module):  # a random model that loves [MASK] and id 5
        def forward(self, input_ids, attention_mask=None):
            logits = torch.randn(*input_ids.shape, V) * scale
            logits[..., mask_id] += 2 * scale
            logits[..., 5] += scale
            return type("Out", (), {"logits": logits})()

    x = torch.full((2, 9), mask_id)
    x[:, 0] = 1
    fill = x == mask_id
    g = torch.Generator().manual_seed(seed)
    banned = fast_diffuse(Loud(), x, fill, 8, 4, temperature=temperature, remasking=remasking, generator=g,
                          banned_ids=[5])
    assert not (banned == 5).any()
    for out in (diffuse(Loud(), x, fill, 8, 4, temperature=temperature, remasking=remasking, generator=g), banned,
                fast_diffuse(Loud(), x, fill, None, 4, threshold=0.3, temperature=temperature, generator=g)):
        assert not (out == mask_id).any()


def test_banned_ids_never_emitted_in_generate(tiny):
    model, tok = tiny
    from nlp_course.diffusion.sample import generation_banned_ids

    banned = set(generation_banned_ids(tok))
    ids, lens = generate_batch(model, tok, ["hi", "tell me a story"], gen_length=16, block_length=8,
                               temperature=2.0, threshold=0.1, cache="prefix", return_ids=True)
    for b, n in enumerate(lens):
        assert not banned & set(ids[b, n:n + 16].tolist())


# --- validation ---------------------------------------------------------------------------------
def test_validation(tiny):
    model, tok = tiny
    x, fill = canvas(tok)
    with pytest.raises(ValueError, match="threshold"):
        fast_diffuse(model, x, fill, threshold=1.5)
    with pytest.raises(ValueError, match="threshold decoding needs"):
        fast_diffuse(model, x, fill, threshold=0.5, remasking="entropy")
    with pytest.raises(ValueError, match="cache"):
        fast_diffuse(model, x, fill, cache="full")
    with pytest.raises(ValueError, match="prompts"):
        generate_batch(model, tok, [])
    with pytest.raises(ValueError, match="fill positions must all hold"):
        diffuse(model, x, fill | (torch.arange(x.shape[1]) == 0), 17)
    with pytest.raises(ValueError, match="num_samples"):
        generate(model, tok, "hi", gen_length=4, num_samples=0)
    with pytest.raises(ValueError, match="prompt token ids must be in"):
        generate(model, tok, [1, 2, 10_000], gen_length=4)
    with pytest.raises(ValueError, match="prompt token ids must be in"):
        generate(model, tok, torch.tensor([-1, 2]), gen_length=4)
    with pytest.raises(ValueError, match="lone surrogate"):
        generate(model, tok, "hi \ud800 there", gen_length=4)
    with pytest.raises(ValueError, match="temperature"):
        diffuse(model, x, fill, 16, temperature=float("nan"))
