"""Splits that cannot leak: dedup on normalised text, split by item, zero overlap for every preset."""

import json

import pytest

from nlp_course.diffusion import presets
from nlp_course.diffusion.chat import add_chat_tokens
from nlp_course.diffusion.data import load_examples
from nlp_course.diffusion.models import tiny_tokenizer
from nlp_course.diffusion.splits import example_keys, normalise_text, overlap, split_examples
from nlp_course.diffusion.study import presets as study_presets

pytestmark = pytest.mark.usefixtures("one_thread")

# notebook 11 runs the study's `smoke` preset live and shows the recorded `laptop` study: both are
# study presets below. Its old SMOKE recipe (SPEC, MAXLEN, N_HELD, N_DATA), kept to show the leak:
OLD_NOTEBOOK_11_SMOKE = ("offline:chatterbot:0.8,offline:python-fim:0.2", 64, 24, 400)


def _cases():
    out = {}
    for name, p in presets.PRESETS.items():
        out[f"cli-{name}"] = (p["data"], p["train"]["max_length"], p["held_out"], p.get("num_examples"), None, None)
    for name, p in study_presets.PRESETS.items():
        out[f"study-{name}"] = (p["sft_data"], p["sft"]["max_length"], p["held_out"], p["num_examples"],
                                p["limit_per_source"], p["max_turns"])
    return out


CASES = _cases()


@pytest.fixture(scope="module")
def tok():
    t = tiny_tokenizer("bert")
    add_chat_tokens(t)
    return t


def test_normalise_text():
    assert normalise_text("  Hello,   World!!\n") == "hello, world"
    assert normalise_text("ＦＵＬＬ width") == "full width"  # NFKC
    assert normalise_text("Straße?") == "strasse"  # casefold, not lower
    assert normalise_text("¿«Qué?»") == "qué"
    assert normalise_text("...") == "" and normalise_text("a.b") == "a.b"
    with pytest.raises(TypeError, match="s must be a str"):
        normalise_text(3)


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_overlap_for_every_preset_and_notebook_11(case, tok):
    spec, max_length, held_out, total, limit, max_turns = CASES[case]
    split = split_examples(tok, spec, max_length, held_out, total, seed=0, limit_per_source=limit,
                           max_turns=max_turns)
    assert len(split.held) == held_out
    if total is not None:
        assert len(split.train) == total
    counted = overlap(split.train, split.held, tok)
    assert counted == {"answers": 0, "pairs": 0, "held": held_out} == split.report["overlap"]
    for rep in split.report["sources"].values():
        assert rep["duplicates_removed"] == rep["items_read"] - rep["distinct_items"] >= 0
        assert rep["train_items"] + rep["held_items"] <= rep["distinct_items"]
    assert sum(r["held_examples"] for r in split.report["sources"].values()) == held_out


def test_the_old_split_leaks_and_overlap_sees_it(tok):
    """Notebook 11's old recipe (mix with replacement, then cut the front) leaks: overlap counts it."""
    spec, max_length, n_held, total = OLD_NOTEBOOK_11_SMOKE
    exs = load_examples(tok, spec, max_length, total=total, seed=0)
    held = [e for e in exs[: n_held * 2] if e["target"][-1]][:n_held]
    leaks = overlap(exs[n_held * 2:], held, tok)
    assert leaks["answers"] >= n_held // 4 and leaks["pairs"] > 0  # measured: 12 of 24 answers


def test_chatterbot_dedup_counts(tok):
    rep = split_examples(tok, "offline:chatterbot", 64, 8, 50).report["sources"]["offline:chatterbot"]
    assert rep["items_read"] == 2377 and rep["distinct_items"] == 1239  # 1,243 exactly distinct, 4 more normalised


def _write(path, dialogues):
    path.write_text("".join(json.dumps({"messages": d}) + "\n" for d in dialogues), encoding="utf-8")
    return str(path)


def test_split_by_item_dedup_and_held_side_drops(tmp_path, tok):
    # 30 three-answer dialogues, each with its own word; dialogue 0 repeated with case/punctuation
    # changes (one item after dedup); every dialogue also answers "fine" once (a shared answer)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
             "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
             "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "apple", "berry", "cherry", "date"]
    dialogues = []
    for w in words:
        dialogues.append([{"role": "user", "content": f"say {w}"}, {"role": "assistant", "content": f"{w} one"},
                          {"role": "user", "content": f"more {w}"}, {"role": "assistant", "content": f"{w} two"},
                          {"role": "user", "content": f"how is {w}"}, {"role": "assistant", "content": "fine"}])
    noisy = [{"role": m["role"], "content": "  " + m["content"].upper() + "!"} for m in dialogues[0]]
    path = _write(tmp_path / "d.jsonl", dialogues + [noisy, dialogues[1]])
    split = split_examples(tok, path, 48, held_out=6, total=None, seed=3)
    rep = split.report["sources"][path]
    assert rep["items_read"] == 32 and rep["duplicates_removed"] == 2 and rep["distinct_items"] == 30
    train_words = {tok.decode(e["input_ids"], skip_special_tokens=True).split()[1] for e in split.train}
    held_words = {tok.decode(e["input_ids"], skip_special_tokens=True).split()[1] for e in split.held}
    assert len(held_words) == 6 and not train_words & held_words  # one example per held item, items apart
    assert 2 * rep["train_items"] <= len(split.train) <= 3 * rep["train_items"]  # total=None: each once
    # the raw training-side text (pretraining material for the gpu preset): whole training items, no held one
    text_words = {t.split()[1] for t in split.train_texts}
    assert len(split.train_texts) == rep["train_items_used"] and text_words == train_words
    assert not text_words & held_words and all(t.count("\n") == 5 for t in split.train_texts)
    drops = 0
    for seed in range(4):  # a held item gives a random turn; "fine" (in training) is never kept
        split = split_examples(tok, path, 48, held_out=6, total=None, seed=seed)
        assert "fine" not in [a for a, _ in example_keys(tok, split.held)] and len(split.held) == 6
        drops += split.report["sources"][path]["held_candidates_dropped"]
    assert drops >= 1


def test_training_mix_comes_from_training_items_only(tok):
    split = split_examples(tok, "offline:chatterbot", 64, held_out=40, total=3000, seed=1)
    held_pairs = {p for _, p in example_keys(tok, split.held)}
    assert not held_pairs & {p for _, p in example_keys(tok, split.train)}
    assert len(split.train) == 3000  # more than the 1,239 distinct pairs: resampled inside the training pool
    again = split_examples(tok, "offline:chatterbot", 64, held_out=40, total=3000, seed=1)
    assert again.train == split.train and again.held == split.held  # deterministic


def test_split_validates_arguments(tok):
    with pytest.raises(ValueError, match="held_out"):
        split_examples(tok, "offline:chatterbot", 64, held_out=-1, total=10)
    with pytest.raises(ValueError, match="total"):
        split_examples(tok, "offline:chatterbot", 64, held_out=1, total=0)
    with pytest.raises(ValueError, match="too few"):
        split_examples(tok, "offline:chatterbot", 64, held_out=5000, total=10)
