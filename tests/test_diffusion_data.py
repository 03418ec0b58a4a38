"""Chat format, data sources, mixing and the collator's masks."""

import json
import sys

import pytest
import torch

from nlp_course.diffusion.chat import (
    CHAT_TOKENS,
    add_chat_tokens,
    chat_ids,
    dialogue_examples,
    prompt_ids,
)
from nlp_course.diffusion.collate import DiffusionCollator, add_noise
from nlp_course.diffusion.data import (
    dialogue_examples_fast,
    examples_from_dialogues,
    fim_examples,
    load_dialogues,
    load_examples,
    mix_sources,
    parse_data_spec,
    read_jsonl,
    turn_windows,
    write_jsonl,
)
from nlp_course.diffusion.models import tiny_random, tiny_tokenizer

DIALOGUE = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"},
            {"role": "assistant", "content": "Hi! How are you?"}, {"role": "user", "content": "Fine."},
            {"role": "assistant", "content": "Good to hear."}]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model, tok = tiny_random("bert")
    add_chat_tokens(tok, model)
    return model, tok


def test_chat_tokens_are_special_and_embeddings_grow():
    model, tok = tiny_random("distilbert")
    before = model.get_input_embeddings().weight.shape[0]
    assert add_chat_tokens(tok, model) == 4
    assert model.get_input_embeddings().weight.shape[0] == before + 4 == len(tok)
    for marker in CHAT_TOKENS:
        assert tok.tokenize(f"a {marker} b") == ["a", marker, "b"]
    assert add_chat_tokens(tok, model) == 0  # idempotent


def test_dialogue_examples_one_per_assistant_turn(tiny):
    _, tok = tiny
    ids = chat_ids(tok)
    exs = dialogue_examples(tok, DIALOGUE, max_length=64)
    assert len(exs) == 2
    for ex, answer in zip(exs, ["Hi! How are you?", "Good to hear."]):
        target = [i for i, t in zip(ex["input_ids"], ex["target"]) if t]
        assert target[-1] == ids["end"]
        assert tok.decode(target[:-1]) == tok.decode(tok(answer, add_special_tokens=False)["input_ids"])
        first = ex["target"].index(True)
        assert ex["input_ids"][first - 1] == ids["assistant"] and all(ex["target"][first:])
    # the second example's prompt holds the first answer, clean
    assert exs[1]["input_ids"][: len(exs[0]["input_ids"])] == exs[0]["input_ids"]
    assert prompt_ids(tok, DIALOGUE[:4]) == exs[1]["input_ids"][: exs[1]["target"].index(True)]
    assert len(dialogue_examples(tok, DIALOGUE, 64, all_turns=False)) == 1


def test_validation_messages(tiny):
    _, tok = tiny
    with pytest.raises(ValueError, match="role"):
        dialogue_examples(tok, [{"role": "robot", "content": "x"}], 64)
    with pytest.raises(ValueError, match="non-empty list"):
        dialogue_examples(tok, [], 64)


def test_jsonl_round_trip_and_sharegpt(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [DIALOGUE])
    with path.open("a") as f:
        f.write("\n" + json.dumps({"conversations": [{"from": "human", "value": "q"},
                                                     {"from": "gpt", "value": "a"}]}) + "\n")
    got = read_jsonl(path)
    assert got[0] == DIALOGUE
    assert got[1] == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert load_dialogues(str(path), limit=1) == [DIALOGUE]


def test_jsonl_errors_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": DIALOGUE}) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: malformed JSON"):
        read_jsonl(bad)
    nofield = tmp_path / "nofield.jsonl"
    nofield.write_text(json.dumps({"text": "hi"}) + "\n")
    with pytest.raises(ValueError, match=r"nofield\.jsonl:1: no 'messages'"):
        read_jsonl(nofield)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match="is empty"):
        read_jsonl(empty)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dialogues(str(tmp_path / "missing.jsonl"))


def test_jsonl_not_utf8_names_file_and_line(tmp_path):
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(json.dumps({"messages": DIALOGUE}).encode() + b"\n" +
                    '{"messages": [{"role": "user", "content": "caf\u00e9"}]}'.encode("latin-1") + b"\n")
    with pytest.raises(ValueError, match=r"latin1\.jsonl:2: not UTF-8"):
        read_jsonl(bad)


def test_lone_surrogates_are_refused(tmp_path, tiny):
    _, tok = tiny
    path = tmp_path / "sur.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi \\ud800"}, '
                    '{"role": "assistant", "content": "ok"}]}\n', encoding="utf-8")  # valid JSON escape
    with pytest.raises(ValueError, match=r"sur\.jsonl:1: messages\[0\]\['content'\] holds a lone surrogate"):
        load_examples(tok, str(path), 32)
    bad = [{"role": "user", "content": "x\udfff"}, {"role": "assistant", "content": "y"}]
    with pytest.raises(ValueError, match="lone surrogate"):
        examples_from_dialogues(tok, [bad], 32)


def test_fast_dialogue_examples_equal_the_reference(tiny):
    _, tok = tiny
    chitchat = [d[:12] for d in load_dialogues("offline:chitchat", limit=6)]  # the reference is quadratic
    dialogues = [DIALOGUE, DIALOGUE[1:], [DIALOGUE[2]] + DIALOGUE[1:]] + chitchat
    for d in dialogues:
        for max_length in (6, 12, 40, 256):
            assert dialogue_examples_fast(tok, d, max_length) == dialogue_examples(tok, d, max_length)
            last = dialogue_examples(tok, d, max_length, all_turns=False)
            if last:
                assert examples_from_dialogues(tok, [d, d], max_length, all_turns=False) == last * 2
            else:
                with pytest.raises(ValueError, match="no dialogue fits"):
                    examples_from_dialogues(tok, [d, d], max_length, all_turns=False)


def test_turn_windows():
    long = DIALOGUE[1:] * 3  # 12 messages, user first
    ws = turn_windows(long, 4)
    assert [len(w) for w in ws] == [4, 4, 4] and sum(ws, []) == long
    assert turn_windows([{"role": "user", "content": "a"}], 4) == []  # no answer, no window
    with pytest.raises(ValueError, match="max_turns"):
        turn_windows(long, 1)


def test_hf_names_need_datasets(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install datasets"):
        load_dialogues("allenai/tulu-3-sft-mixture")


def test_offline_sources():
    chat = load_dialogues("offline:chitchat", limit=3)
    assert len(chat) == 3 and chat[0][0]["role"] == "user" and chat[0][1]["role"] == "assistant"
    ru = load_dialogues("offline:chatterbot-ru", limit=5)
    assert len(ru) == 5 and any("\u0400" <= c <= "\u04ff" for d in ru for m in d for c in m["content"])
    with pytest.raises(ValueError, match="offline source"):
        load_dialogues("offline:nope")


def test_parse_and_mix():
    assert parse_data_spec("a.jsonl:3,offline:chitchat:1") == [("a.jsonl", 0.75), ("offline:chitchat", 0.25)]
    assert parse_data_spec("offline:chitchat") == [("offline:chitchat", 1.0)]
    for bad in ("a.jsonl:0", "a.jsonl:inf", "a.jsonl:nan", "a.jsonl:-1"):
        with pytest.raises(ValueError, match="finite number > 0"):
            parse_data_spec(bad)
    mixed = mix_sources([list(range(100)), list(range(1000, 1010))], [0.5, 0.5], 40, seed=0)
    assert len(mixed) == 40 and sum(x >= 1000 for x in mixed) == 20  # the small pool is resampled
    assert mixed == mix_sources([list(range(100)), list(range(1000, 1010))], [0.5, 0.5], 40, seed=0)


def test_load_examples_mixes_by_ratio(tiny):
    _, tok = tiny
    exs = load_examples(tok, "offline:chatterbot:0.5,offline:python-fim:0.5", 48, total=20, limit_per_source=30)
    fim = [e for e in exs if e["target"][-1] is False]  # FIM targets sit in the middle
    assert len(exs) == 20 and len(fim) == 10


def test_fim_targets_are_a_middle_span(tiny):
    _, tok = tiny
    for ex in fim_examples(tok, ["x = 1\n" * 200], max_length=40, n=5):
        t = ex["target"]
        first, last = t.index(True), len(t) - 1 - t[::-1].index(True)
        assert 0 < first and last < len(t) - 1 and all(t[first:last + 1])


def _batch(tok, eos_in_loss, crop_prob=0.0, seed=0):
    exs = dialogue_examples(tok, DIALOGUE, max_length=32)
    ids = chat_ids(tok)
    coll = DiffusionCollator(ids["pad"], ids["end"], 32, eos_in_loss=eos_in_loss, crop_prob=crop_prob)
    return exs, coll(exs, torch.Generator().manual_seed(seed)), ids


def test_collator_masks_and_eos_padding(tiny):
    _, tok = tiny
    exs, b, ids = _batch(tok, eos_in_loss=True)
    for row, ex in enumerate(exs):
        n = len(ex["input_ids"])
        assert b["input_ids"][row, :n].tolist() == ex["input_ids"]
        assert b["target_mask"][row, :n].tolist() == ex["target"]
        assert torch.all(b["input_ids"][row, n:] == ids["end"]) and torch.all(b["target_mask"][row, n:])
        assert torch.all(b["attention_mask"][row] == 1)
    _, b2, _ = _batch(tok, eos_in_loss=False)
    for row, ex in enumerate(exs):
        n = len(ex["input_ids"])
        assert not b2["target_mask"][row, n:].any() and not b2["attention_mask"][row, n:].any()


def test_crop_removes_eos_padding(tiny):
    _, tok = tiny
    exs, b, ids = _batch(tok, eos_in_loss=True, crop_prob=1.0)
    for row, ex in enumerate(exs):
        n = int(b["attention_mask"][row].sum())
        assert n <= len(ex["input_ids"]) and n > ex["target"].index(True)
        assert not b["target_mask"][row, n:].any()


def test_noise_never_touches_prompts(tiny):
    _, tok = tiny
    _, b, ids = _batch(tok, eos_in_loss=True)
    full = add_noise(b, torch.ones(2), ids["mask"], generator=torch.Generator().manual_seed(0))
    assert torch.equal(full["masked"], b["target_mask"])  # t = 1 masks every target, nothing else
    half = add_noise(b, torch.full((2,), 0.5), ids["mask"], generator=torch.Generator().manual_seed(0))
    assert not (half["masked"] & ~b["target_mask"]).any()
    assert torch.equal(half["noisy_ids"][~half["masked"]], b["input_ids"][~half["masked"]])


def test_mask_rate_follows_schedule(tiny):
    _, tok = tiny
    _, b, ids = _batch(tok, eos_in_loss=True)
    big = {k: v.repeat(500, 1) for k, v in b.items()}
    t = torch.full((1000,), 0.3)
    for kind, expected in (("linear", 0.3), ("cosine", 1 - float(torch.cos(torch.tensor(0.15 * torch.pi))))):
        out = add_noise(big, t, ids["mask"], kind, torch.Generator().manual_seed(1))
        rate = float(out["masked"].sum() / big["target_mask"].sum())
        assert rate == pytest.approx(expected, abs=0.01)


def test_tokenizer_without_mask_is_refused():
    tok = tiny_tokenizer("bert", mask=False)
    with pytest.raises(ValueError, match="no mask token"):
        add_chat_tokens(tok)
