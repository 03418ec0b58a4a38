"""The chapter-11 speed benchmarks run end to end at tiny sizes on CPU (no timing asserts), and
their FLOP count and on-device loss agree with independent computations."""

import pytest
import torch

from nlp_course.bench import diffusion_sample, diffusion_train
from nlp_course.diffusion import add_chat_tokens, tiny_random
from nlp_course.diffusion.chat import chat_ids


def test_train_bench_main_runs_both_loops(capsys):
    res = diffusion_train.main(["--size", "tiny", "--steps", "2", "--warmup", "1", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "ratio ours/Trainer" in out and "MFU: not reported" in out
    assert res["tokens_per_s_ours"] > 0 and res["tokens_per_s_trainer"] > 0
    assert res["ratio"] == pytest.approx(res["tokens_per_s_ours"] / res["tokens_per_s_trainer"])


def test_trainer_gets_the_same_padding_and_length_grouping(monkeypatch, tmp_path):
    """The fair Trainer: batches padded to the longest row rounded up to 64 (as ours), not to the
    collator's max_length (256 here: the tiny model has 64 positions, so an untrimmed batch would
    fail), and length-grouped sampling (v4 ``group_by_length`` or v5 ``train_sampling_strategy``)."""
    from transformers import Trainer

    from nlp_course.diffusion.collate import DiffusionCollator

    seen, real_train = {}, Trainer.train

    def spy(self, *a, **kw):
        seen["grouping"] = getattr(self.args, "train_sampling_strategy", None) or self.args.group_by_length
        return real_train(self, *a, **kw)

    monkeypatch.setattr(Trainer, "train", spy)
    model, tok, seq, _ = diffusion_train.build("tiny")
    ids = chat_ids(tok)
    collate = DiffusionCollator(ids["pad"], ids["end"], 256, eos_in_loss=False)
    g = torch.Generator().manual_seed(0)
    examples = [{"input_ids": torch.randint(10, 200, (n,), generator=g).tolist(), "target": [False] * 3 + [True] * (n - 3)}
                for n in (5, 9, 20, 40, 7, 12, 30, 6)]
    _, lengths, optim = diffusion_train.run_trainer(model, examples, collate, 2, ids["mask"], 1, 2, str(tmp_path))
    assert seq == 64 and seen["grouping"] in (True, "group_by_length")
    assert len(lengths) == 2 and all(len(ln) == 2 and max(ln) <= 40 for ln in lengths)
    assert optim == "adamw_torch"  # fused is asked for on CUDA only


def test_peak_is_measured_on_gpus_only():
    assert diffusion_train.peak_tflops(torch.device("cpu"), None)[0] is None
    assert diffusion_train.peak_tflops(torch.device("cpu"), 790.0) == (790.0, "--peak-tflops")
    tflops = diffusion_train.measured_peak_tflops(torch.device("cpu"), n=64, reps=2)
    assert 0 < tflops < float("inf")


@pytest.mark.usefixtures("one_thread")
def test_sample_bench_main_runs_every_mode(capsys):
    res = diffusion_sample.main(["--size", "tiny", "--batch", "2", "--gen-length", "4", "--prompt-length", "4",
                                 "--block-length", "2", "--threshold", "0.5", "--quality-prompts", "2",
                                 "--repeats", "1", "--device", "cpu"])
    out = capsys.readouterr().out
    modes = ["reference", "exact", "thr 0.5", "thr 0.5+prefix", "thr 0.5+dual"]
    assert res["modes"] == modes and list(res["batches"]) == [2]
    assert all(res["batches"][2][m] > 0 for m in modes + ["causal"])
    assert out.count(" causal |") == 5 and "MFLOP/token" in out
    q = res["quality"]
    assert q["exact"]["agreement"] == 1.0 and "reference" not in q
    assert q["thr 0.5+dual"]["mflop_per_token"] < q["exact"]["mflop_per_token"]
    with pytest.raises(ValueError, match="prompt-length"):
        diffusion_sample.main(["--size", "tiny", "--gen-length", "64", "--prompt-length", "8", "--device", "cpu"])


@pytest.mark.usefixtures("one_thread")
def test_flop_formulas_count_what_runs():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from nlp_course.diffusion.fast_sample import fast_diffuse

    model, tok = tiny_random("bert")
    model.eval()
    d = diffusion_sample.dims(model.config)
    x = torch.randint(10, 500, (2, 8))
    x[:, 4:] = tok.mask_token_id
    for kw in ({}, {"cache": "prefix", "threshold": 0.5}, {"cache": "dual"}):
        stats = {}
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:  # attention as counted matmuls
            fast_diffuse(model, x, x == tok.mask_token_id, 4, 2, stats=stats, **kw)
        assert diffusion_sample.diffusion_flops(stats, d) == fc.get_total_flops(), kw
    causal = diffusion_sample.causal_twin(model).eval()
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:
        diffusion_sample.time_causal(causal, [[5, 6, 7], [8, 9]], 4, tok.pad_token_id)
    # the formula counts each row at its own length; the left-padded batch runs both at length 3
    assert diffusion_sample.causal_flops([3, 3], 4, d) == pytest.approx(fc.get_total_flops(), rel=0.02)


def test_flops_count_matches_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    model, _, _, _ = diffusion_train.build("tiny")
    ids = torch.randint(0, 100, (2, 48))
    with FlopCounterMode(display=False) as fc:
        model(input_ids=ids).logits.sum().backward()
    ours = diffusion_train.step_flops(model, [48, 48])
    assert ours == pytest.approx(fc.get_total_flops(), rel=0.05)  # softmax/norms are not matmuls


def test_on_device_loss_is_the_masked_diffusion_loss():
    model, tok = tiny_random("bert")
    add_chat_tokens(tok, model)
    model.eval()
    ids = torch.randint(10, 500, (3, 12))
    att = torch.ones_like(ids)
    target = torch.zeros_like(ids, dtype=torch.bool)
    target[:, 4:] = True
    mask_id = chat_ids(tok)["mask"]
    torch.manual_seed(1)
    loss = diffusion_train.diffusion_loss_on_device(model, ids, att, target, mask_id)
    torch.manual_seed(1)  # replay the same draws by hand
    t = torch.rand(3).clamp_min(diffusion_train.EPS)
    masked = (torch.rand(3, 12) < t[:, None]) & target
    logp = model(input_ids=ids.masked_fill(masked, mask_id)).logits.log_softmax(-1)
    nll = -logp.gather(-1, ids[..., None])[..., 0]
    manual = torch.stack([nll[b][masked[b]].sum() / t[b] / 8 for b in range(3)]).mean()
    torch.testing.assert_close(loss, manual)


def test_length_grouped_batches_hide_no_tokens():
    model, tok = tiny_random("bert")
    add_chat_tokens(tok)
    from nlp_course.diffusion.collate import DiffusionCollator

    ids = chat_ids(tok)
    exs = [{"input_ids": [1] * n, "target": [False] * 2 + [True] * (n - 2)} for n in range(3, 120)]
    coll = DiffusionCollator(ids["pad"], ids["end"], 128, eos_in_loss=False)
    batches = diffusion_train.grouped_batches(exs, coll, 4, 10)
    assert len(batches) == 10
    for b in batches:
        assert b["input_ids"].shape[1] % 64 == 0 or b["input_ids"].shape[1] == 128
        assert b["attention_mask"][:, -1].sum() < 4 or b["input_ids"].shape[1] == 128  # not over-padded
        lens = b["attention_mask"].sum(1)
        assert (b["target_mask"].sum(1) == lens - 2).all()  # every answer token kept
