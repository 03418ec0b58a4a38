"""Seed-002 experiment 5 (language) at smoke size: no held-out Russian item reaches pretraining or SFT,
both arms get equal steps and tokens, the shared tokenizer reads held-out Russian without [UNK]."""

import pytest

from nlp_course.diffusion.russian import load_wsd_contexts
from nlp_course.diffusion.seed002 import language
from nlp_course.diffusion.seed002.base import Experiment
from nlp_course.diffusion.splits import normalise_text


@pytest.fixture(scope="module")
def ran(smoke_study, tmp_path_factory, one_thread):
    ex = Experiment("language", smoke_study, tmp_path_factory.mktemp("seed002"))
    data = language.prepare(ex, "smoke")
    return ex, data, language.run(ex, "smoke", data)


def _spaced(text):
    return " " + " ".join(language.words(text)) + " "


def test_no_held_out_russian_in_pretraining_or_sft(ran):
    ex, d, res = ran
    pre = [_spaced(t) for t in d["ru"]["pretrain_texts"]]
    held_words = {t["item"] for t in d["ru"]["tasks"]["ru-contexts"][1]}
    for name in ("ru-proverbs", "ru-contexts"):
        train, held = d["ru"]["tasks"][name]
        assert held and not {t["item"] for t in train} & {t["item"] for t in held}
        for t in held:  # no held-out prompt + answer inside any pretraining text, word for word
            key = _spaced(t["prompt"] + " " + t["answer"])
            assert not any(key in p for p in pre), t
    pre_norm = {normalise_text(t) for t in d["ru"]["pretrain_texts"]}
    held_contexts = {normalise_text(f"{left} {target} {right}") for w, left, target, right in load_wsd_contexts()
                     if w in held_words}
    assert held_contexts and not pre_norm & held_contexts  # no context of a held-out polysemous word
    sft_tasks = [t for t, _ in d["ru_sft"]]
    held_tasks = [t for name in ("ru-proverbs", "ru-contexts") for t in d["ru"]["tasks"][name][1]]
    assert sft_tasks and not {t["item"] for t in sft_tasks} & {t["item"] for t in held_tasks}
    assert not {normalise_text(t["answer"]) for t in sft_tasks} & {normalise_text(t["answer"]) for t in held_tasks}
    sft_ids = {tuple(e["input_ids"]) for e in d["sft"]}  # the SFT mix, in token space, holds no held-out example
    assert not sft_ids & {tuple(e["input_ids"]) for v in d["held"].values() for _, e in v}
    assert res["english"]["overlap"]["answers"] == 0 and res["english"]["overlap"]["pairs"] == 0


def test_leak_filter_matches_word_for_word():
    texts = ["С кем поведешься, от того и наберешься: от пчелки медку.", "Кем поведешься"]
    assert language.containing(texts, ["с кем поведешься — от того и наберешься"]) == {0}
    assert language.containing(texts, ["от того и рыбку"]) == set()


def test_both_arms_equal_steps_and_tokens(ran):
    ex, d, res = ran
    s = language.SIZES["smoke"]
    en, mix = res["pretrain"]["en"], res["pretrain"]["en+ru"]
    for arm in (en, mix):
        assert arm["steps"] == s["pretrain_steps"]
        assert arm["tokens"] == arm["steps"] * arm["batch_size"] * arm["max_length"]
    assert en["tokens"] == mix["tokens"]
    assert en["ru_windows_drawn"] == 0
    draws = mix["steps"] * mix["batch_size"]
    assert 0.3 < mix["ru_windows_drawn"] / draws < 0.7  # about ru_share = 0.5 of the draws are Russian
    rows = res["sft_rows"]
    assert sorted((r["arm"], r["seed"]) for r in rows) == sorted((a, k) for a in language.ARMS for k in s["seeds"])
    assert {(r["steps"], r["tokens"]) for r in rows} == {(s["sft_steps"], s["sft_steps"] * rows[0]["batch_size"]
                                                          * rows[0]["max_length"])}
    for arm in language.ARMS:
        for k in language.SETS:
            m = res["metrics"][arm][k]
            assert m["nll_per_word"]["n"] == len(s["seeds"]) and m["nll_per_word"]["mean"] > 0
            assert 0 <= m["repeated_3gram_rate"]["mean"] <= 1
        assert 0 <= res["metrics"][arm]["ru-proverbs"]["exact_match"]["mean"] <= 1
    words = res["russian_words"]
    assert words["pretrain_corpus"] >= s["ru_pretrain_words"] and words["pretrain_tokens_drawn"] > 0
    assert 0 < words["sft_examples"] <= s["sft_ru_examples"] and words["sft_words"] > words["sft_examples"]


def test_tokenizer_reads_held_out_russian_without_unk(ran):
    ex, d, res = ran
    tok = d["tokenizer"]
    assert tok.unk_token_id not in tok(language.CYRILLIC, add_special_tokens=False)["input_ids"]
    report = language.unk_report(tok, d["probe"]["ru"])
    assert report["cyrillic_words"] > 100 and report["cyrillic_words_with_unk"] == 0
    assert report == res["tokenizer"]["unk_held_ru"]
    assert language.canon(tok, "Всякая  птица СВОЕ гнездо любит!") == language.canon(tok, "всякая птица свое гнездо любит")


def test_bad_size_and_stale_folder_raise(ran, tmp_path):
    ex, _, _ = ran
    with pytest.raises(ValueError, match="size must be one of"):
        language.prepare(ex, "huge")
    language._settings_mark(tmp_path, {"a": 1})
    with pytest.raises(ValueError, match="other settings"):
        language._settings_mark(tmp_path, {"a": 2})


def test_plot_writes_png(ran, tmp_path):
    _, _, res = ran
    language.plot({**res, "settings": language.SIZES["smoke"]}, tmp_path / "language.png")
    assert (tmp_path / "language.png").stat().st_size > 10_000


def test_answers_are_judged_in_their_language_or_the_judge_is_skipped_with_a_reason(ran):
    from nlp_course.diffusion import judges

    _, _, res = ran
    assert language.JUDGE == {"en": "smollm2", "ru-proverbs": "gemma3", "ru-contexts": "gemma3"}
    for k, name in language.JUDGE.items():
        ok, why = judges.judge_available(name)
        assert res["judges"][k] == (name if ok else None)
        assert (k in res["judges_skipped"]) == (not ok) and res["judges_skipped"].get(k, why) == why
        for arm in language.ARMS:
            m = res["metrics"][arm][k]
            for n, ppl in zip(m["judged_answers"]["values"], m["judge_ppl_per_seed"]):
                assert (ppl is None) == (n == 0 or not ok)  # a judged seed had something to judge
                assert ppl is None or ppl > 1
