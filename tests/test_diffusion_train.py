"""Training: four Hugging Face MLM architectures, exact resume, the loss against a manual ELBO."""

import importlib
import json
import time

import pytest
import torch
import torch.nn.functional as F

from nlp_course.diffusion.chat import add_chat_tokens
from nlp_course.diffusion.checkpoint import latest_checkpoint, load_checkpoint
from nlp_course.diffusion.collate import DiffusionCollator, add_noise
from nlp_course.diffusion.data import load_examples
from nlp_course.diffusion.models import hub_reachable, load_mlm, save_tiny_random, tiny_tokenizer
from nlp_course.diffusion.sample import generate
from nlp_course.diffusion.train import TrainConfig, diffusion_loss, make_optimizer, train

pytestmark = pytest.mark.usefixtures("one_thread")
train_module = importlib.import_module("nlp_course.diffusion.train")  # the package exports train() by this name


@pytest.fixture(scope="module")
def examples_for():
    cache = {}

    def get(tok):
        key = tok.mask_token
        if key not in cache:
            cache[key] = load_examples(tok, "offline:chatterbot", 48, limit_per_source=64)
        return cache[key]

    return get


@pytest.mark.parametrize("arch", ["bert", "xlm-roberta", "distilbert", "modernbert"])
def test_hf_architectures_train_and_sample(arch, tmp_path, examples_for):
    folder = save_tiny_random(arch, tmp_path / arch)
    model, tok = load_mlm(str(folder))
    assert type(model).__name__.endswith("ForMaskedLM")
    add_chat_tokens(tok, model)
    before = [p.detach().clone() for p in model.parameters()]
    cfg = TrainConfig(max_steps=1, batch_size=4, max_length=48, warmup_steps=0, progress=False)
    result = train(model, tok, examples_for(tok), cfg, tmp_path / "run")
    assert result["step"] == 1 and torch.isfinite(torch.tensor(result["loss"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    trace = []
    ids = generate(model, tok, "Hello, who are you?", gen_length=8, steps=4, block_length=4,
                   temperature=1.0, return_ids=True, trace=trace)
    assert not (ids == tok.mask_token_id).any() and [c[0] for c in trace] == [2, 2, 2, 2]
    assert latest_checkpoint(tmp_path / "run").name == "checkpoint-0000001"


def test_model_without_mask_token_is_refused(tmp_path):
    tok = tiny_tokenizer("bert", mask=False)
    tok.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="no mask token"):
        load_mlm(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mlm("./no/such/model")


def _run(out_dir, examples, stop_after=None):
    torch.manual_seed(0)
    model, tok = load_mlm("tiny-random:bert")
    add_chat_tokens(tok, model)
    cfg = TrainConfig(max_steps=6, batch_size=4, grad_accum=2, max_length=48, lr=1e-3, warmup_steps=2,
                      log_every=1, save_every=3, progress=False, crop_prob=0.3)
    return train(model, tok, examples, cfg, out_dir, stop_after=stop_after), model


def test_kill_and_resume_equals_uninterrupted(tmp_path, examples_for):
    _, tok = load_mlm("tiny-random:bert")
    add_chat_tokens(tok)
    examples = examples_for(tok)
    full, m_full = _run(tmp_path / "a", examples)
    partial, _ = _run(tmp_path / "b", examples, stop_after=4)  # killed after step 4, last save at 3
    assert partial["step"] == 4 and latest_checkpoint(tmp_path / "b").name == "checkpoint-0000003"
    resumed, m_res = _run(tmp_path / "b", examples)
    assert resumed["loss"] == pytest.approx(full["loss"], abs=1e-4)
    for a, b in zip(m_full.parameters(), m_res.parameters()):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
    log = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6]  # the killed run's step 4 was rewritten
    assert [r["loss"] for r in log] == pytest.approx([r["loss"] for r in full["history"]], abs=1e-4)


def test_checkpoint_restores_optimizer_and_rng(tmp_path, examples_for):
    tok = load_mlm("tiny-random:bert")[1]
    add_chat_tokens(tok)
    _, m = _run(tmp_path / "c", examples_for(tok), stop_after=3)
    ckpt = latest_checkpoint(tmp_path / "c")
    assert sorted(p.name for p in ckpt.iterdir()) == ["manifest.json", "model.safetensors", "optimizer.safetensors",
                                                      "state.json"]
    model2, tok2 = load_mlm("tiny-random:bert")
    add_chat_tokens(tok2, model2)
    opt, sched = make_optimizer(model2, TrainConfig(max_steps=6, warmup_steps=2))
    torch.manual_seed(123)
    state = load_checkpoint(ckpt, model2, opt, sched)
    assert state["step"] == 3 and len(opt.state) > 0 and sched.last_epoch == 3
    for a, b in zip(m.parameters(), model2.parameters()):
        torch.testing.assert_close(a, b)
    with pytest.raises(FileNotFoundError, match="not a checkpoint"):
        load_checkpoint(tmp_path, model2)


def test_loss_equals_manual_elbo(examples_for):
    torch.manual_seed(0)
    model, tok = load_mlm("tiny-random:bert")
    add_chat_tokens(tok, model)
    model.eval()
    coll = DiffusionCollator(tok.pad_token_id, tok.convert_tokens_to_ids("<|end|>"), 48)
    batch = coll(examples_for(tok)[:4])
    t = torch.tensor([0.2, 0.4, 0.6, 0.8])
    loss, stats = diffusion_loss(model, batch, tok.mask_token_id, torch.Generator().manual_seed(5), t=t)
    noisy = add_noise(batch, t, tok.mask_token_id, generator=torch.Generator().manual_seed(5))
    logits = model(input_ids=noisy["noisy_ids"], attention_mask=batch["attention_mask"]).logits
    manual = 0.0
    for b in range(4):
        m = noisy["masked"][b]
        ce = F.cross_entropy(logits[b][m], batch["input_ids"][b][m], reduction="sum")
        manual += ce / t[b] / batch["target_mask"][b].sum() / 4
    torch.testing.assert_close(loss, manual)
    assert stats["n_masked"] == int(noisy["masked"].sum())


def test_bad_training_inputs(examples_for):
    model, tok = load_mlm("tiny-random:bert")
    with pytest.raises(ValueError, match="add_chat_tokens"):
        add_chat_tokens(tok)  # markers in the tokenizer, model not resized
        train(model, tok, examples_for(tok), TrainConfig(max_steps=1, progress=False))
    with pytest.raises(ValueError, match="empty"):
        train(model, tok, [], TrainConfig(max_steps=1, progress=False))
    with pytest.raises(ValueError, match="max_steps"):
        TrainConfig(max_steps=0)
    with pytest.raises(ValueError, match="unknown TrainConfig"):
        TrainConfig.from_dict({"learning_rate": 1.0})


def _strict_jsonl(path):
    def refuse(token):
        raise AssertionError(f"{path.name} holds {token}, which is not JSON")
    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


def test_each_step_saved_once_finished_run_untouched_fresh_run_sets_aside_the_old_one(tmp_path, monkeypatch,
                                                                                       examples_for):
    model, tok = load_mlm("tiny-random:bert")
    add_chat_tokens(tok, model)
    saves = []
    real_save = train_module.save_checkpoint
    monkeypatch.setattr(train_module, "save_checkpoint", lambda out, step, *a, **k: (saves.append(step),
                                                                                     real_save(out, step, *a, **k))[1])
    cfg = TrainConfig(max_steps=4, batch_size=2, max_length=32, warmup_steps=0, log_every=1, save_every=2, progress=False)
    out = tmp_path / "run"
    first = train(model, tok, examples_for(tok), cfg, out)
    assert saves == [2, 4]  # the last step (a multiple of save_every) is written once
    log = (out / "metrics.jsonl").read_text()
    again = train(model, tok, examples_for(tok), cfg, out)  # re-running a finished run
    assert saves == [2, 4] and again["step"] == 4 and again["loss"] == first["loss"]
    assert (out / "metrics.jsonl").read_text() == log and len(_strict_jsonl(out / "metrics.jsonl")) == 4
    fresh = TrainConfig(max_steps=2, batch_size=2, max_length=32, warmup_steps=0, save_every=1, progress=False)
    with pytest.warns(UserWarning, match="moved to"):
        train(model, tok, examples_for(tok), fresh, out, resume=False)
    assert saves == [2, 4, 1, 2]
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-0000001", "checkpoint-0000002"]
    (aside,) = (out / "superseded").iterdir()  # the earlier run's checkpoints, kept out of the way
    assert sorted(p.name for p in aside.iterdir()) == ["checkpoint-0000002", "checkpoint-0000004", "latest"]
    reloaded, _ = load_mlm("tiny-random:bert", seed=1)
    add_chat_tokens(load_mlm("tiny-random:bert")[1], reloaded)
    state = load_checkpoint(latest_checkpoint(out), reloaded, restore_rng=False)
    assert state["step"] == 2 and state["run_id"] != json.loads((aside / "checkpoint-0000004" / "state.json").read_text())["run_id"]
    for a, b in zip(model.parameters(), reloaded.parameters()):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_a_nan_loss_is_logged_as_null_and_stops_training(tmp_path, examples_for):
    model, tok = load_mlm("tiny-random:bert")
    add_chat_tokens(tok, model)

    def nan_loss(m, batch, g):
        return m(input_ids=batch["input_ids"]).logits.sum() * float("nan"), {}

    cfg = TrainConfig(max_steps=3, batch_size=2, max_length=32, log_every=1, save_every=1, progress=False)
    with pytest.raises(FloatingPointError, match="step 1"):
        train(model, tok, examples_for(tok), cfg, tmp_path, loss_fn=nan_loss)
    assert _strict_jsonl(tmp_path / "metrics.jsonl")[0]["loss"] is None
    assert latest_checkpoint(tmp_path) is None  # nothing saved from a diverged step


@pytest.mark.parametrize("field, value, error", [
    ("max_grad_norm", -1.0, ValueError), ("max_grad_norm", float("inf"), ValueError), ("max_grad_norm", 0.0, ValueError),
    ("weight_decay", -1.0, ValueError), ("weight_decay", float("nan"), ValueError), ("lr", float("nan"), ValueError),
    ("lr", float("inf"), ValueError), ("lr", "1e-3", TypeError), ("eps", 0.0, ValueError), ("eps", float("nan"), ValueError),
    ("crop_prob", 1.5, ValueError), ("warmup_steps", -1, ValueError), ("save_every", -1, ValueError),
    ("keep_checkpoints", 0, ValueError), ("max_steps", True, ValueError), ("batch_size", 2.0, ValueError),
    ("bf16", "yes", TypeError),
])
def test_train_config_refuses_bad_values_naming_the_field(field, value, error):
    with pytest.raises(error, match=field):
        TrainConfig(**{field: value})


def test_max_length_beyond_the_models_positions_is_refused(examples_for):
    model, tok = load_mlm("tiny-random:bert")  # 128 positions
    add_chat_tokens(tok, model)
    with pytest.raises(ValueError, match="max_length=256 exceeds the model's 128 positions"):
        train(model, tok, examples_for(tok), TrainConfig(max_steps=1, max_length=256, progress=False))
    with pytest.raises(ValueError, match="stop_after"):
        train(model, tok, examples_for(tok), TrainConfig(max_steps=1, progress=False), stop_after=0)


@pytest.mark.parametrize("offline", [True, False], ids=["HF_HUB_OFFLINE", "hub-unreachable"])
def test_uncached_hub_model_fails_fast_naming_the_model(monkeypatch, offline):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens: refused at once
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    t0 = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="'nobody/no-such-mlm' is not in the local Hugging Face cache and "
                       + ("HF_HUB_OFFLINE is set" if offline else r"the hub \(http://127.0.0.1:9\) is unreachable")):
        load_mlm("nobody/no-such-mlm")
    assert time.perf_counter() - t0 < 15  # huggingface_hub alone retries for ~48 s


def test_hub_probe_sees_a_listening_endpoint(monkeypatch):
    import socket

    from huggingface_hub import constants

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(var, raising=False)
        assert hub_reachable(timeout=5.0)
    assert not hub_reachable(timeout=5.0)  # the same port, closed


def test_load_trained_names_a_damaged_file_before_building_the_model(tmp_path, examples_for):
    from nlp_course.diffusion.checkpoint import CheckpointError
    from nlp_course.diffusion.models import load_trained

    model, tok = load_mlm("tiny-random:bert")
    add_chat_tokens(tok, model)
    cfg = TrainConfig(max_steps=1, batch_size=2, max_length=32, warmup_steps=0, progress=False)
    train(model, tok, examples_for(tok), cfg, tmp_path, meta={"base_model": "tiny-random:bert"})
    tok.save_pretrained(tmp_path / "tokenizer")
    loaded, _, meta = load_trained(tmp_path)
    assert meta["base_model"] == "tiny-random:bert" and not loaded.training
    for a, b in zip(model.parameters(), loaded.parameters()):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    state = tmp_path / "checkpoint-0000001" / "state.json"
    state.write_text(state.read_text()[:-40])
    with pytest.raises(CheckpointError, match=r"checkpoint-0000001/state\.json has \d+ bytes"):
        load_trained(tmp_path)
