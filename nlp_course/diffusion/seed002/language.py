"""Experiment 5, the ettin question: does pretraining on a language make a diffusion chat model better at it?

Taught in notebook 11 (section "Seed 002 reproduced").

The notes compared public encoders pretrained on different languages (English-only ettin against
multilingual mmBERT / Russian RuModernBERT) as starting points for diffusion SFT on a Russian mix.
Here the question is asked with *only the pretraining data differing*:

- **One tokenizer for both arms**: the course WordPiece (``corpus.build_tokenizer``: lower-cased,
  accents stripped as in BERT-uncased, so ``й`` reads as ``и`` and ``ё`` as ``е``) trained on the
  study's English prose plus the Russian pretraining text, with the Russian alphabet added once so
  no Cyrillic letter becomes ``[UNK]``; the chat markers added.
- **Two course BERTs of the study's size**, masked-LM pretrained (``pretrain.mlm_loss_fn``) for the
  same steps, batch and window length (equal tokens): ``en`` on English prose windows only, ``en+ru``
  on a list in which ``ru_share`` of the windows are Russian (English windows + Russian windows
  tiled to match), so about half of its draws are Russian and it sees half as much English.
- **Russian text** (``nlp_course.diffusion.russian``): the *training side* of its two tasks only --
  the training proverbs whole, and the full contexts of the training polysemous words; a context
  that contains a held-out task (prompt + answer) verbatim is dropped too (the count is recorded).
- **The same SFT for both arms and every seed**: the study's English dialogue recipe
  (``splits.split_examples`` with this tokenizer and the study's seed) plus as many Russian chat
  examples (user = prompt, assistant = answer; half proverb completion, half continue-the-text),
  ``sft_steps`` fixed steps (``Experiment.sft``), one row per arm and seed.
- **Scores per held-out set** (``en`` dialogues, ``ru-proverbs``, ``ru-contexts``): the study's ELBO
  (nats/word, ``Experiment.score``); greedy answers to held-out prompts (the study's sampler
  settings) with repeated-3-gram rate, distinct-2, longest loop and EOS share
  (``evaluate.generation_stats``) and, for proverbs, exact match of the second half (compared after
  the tokenizer's own normalisation: a lossless answer is counted right). Before SFT, each
  pretrained arm's masked-token accuracy on held-out windows of each language (``pretrain.masked_accuracy``).
- **Fluency under an offline judge** (``judges``, optional extras): the generative perplexity of the
  non-empty greedy answers under SmolLM2-135M for English and Gemma-3-270M base for Russian
  (``JUDGE``). The judge reads the answers as the course tokenizer decodes them (lower case, ``й`` as
  ``и``), which costs both arms alike. A judge that is not installed is skipped and the reason recorded.

SFT seeds give mean +- std; there is one pretraining run per arm (pretraining noise is not measured).

References: Warner et al. 2024 (ModernBERT); Boizard et al. 2025 (ettin); Marone et al. 2025 (mmBERT);
Conneau et al. 2020 (XLM-R, the curse of multilinguality); Nie et al. 2025 (LLaDA).
"""

from __future__ import annotations

import copy
import json
import random
import re

import torch
from matplotlib.figure import Figure

from nlp_course.pretrain import masked_accuracy, spread_rows

from .. import judges
from ..data import dialogue_examples_fast, mix_sources
from ..evaluate import generation_stats
from ..models import max_positions
from ..russian import context_tasks, load_wsd_contexts, proverb_tasks, task_words
from ..splits import normalise_text, split_examples
from ..study import compare, corpus, pretrain, sampling
from ..train import TrainConfig, batch_indices, train
from .base import mean_std

ARMS = ("en", "en+ru")
SETS = ("en", "ru-proverbs", "ru-contexts")
LABELS = {"en": "EN dialogue", "ru-proverbs": "RU proverb", "ru-contexts": "RU context"}
CYRILLIC = " ".join("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")
JUDGE = {"en": "smollm2", "ru-proverbs": "gemma3", "ru-contexts": "gemma3"}  # English / multilingual judge

SIZES = {
    "smoke": {"pretrain_steps": 12, "sft_steps": 4, "seeds": [0, 1, 2], "ru_share": 0.5, "ru_pretrain_words": 3000,
              "sft_ru_examples": 60, "held_out_proverbs": 500, "held_out_words": 10,
              "score": {"en": 8, "ru-proverbs": 8, "ru-contexts": 8}, "generate": {"en": 3, "ru-proverbs": 4,
                                                                                 "ru-contexts": 3},
              "mlm_windows": 16},
    "laptop": {"pretrain_steps": 2000, "sft_steps": 150, "seeds": [0, 1, 2], "ru_share": 0.5, "ru_pretrain_words": None,
               "sft_ru_examples": 8000, "held_out_proverbs": 500, "held_out_words": 10,
               "score": {"en": 200, "ru-proverbs": 100, "ru-contexts": 100},
               "generate": {"en": 32, "ru-proverbs": 64, "ru-contexts": 32}, "mlm_windows": 256},
}


def russian_data(s: dict, seed: int) -> dict:
    """``{"tasks": {name: (train, held)}, "pretrain_texts", "dropped"}``: Russian text from the training side only."""
    tasks = {"ru-proverbs": proverb_tasks(s["held_out_proverbs"], seed),
             "ru-contexts": context_tasks(s["held_out_words"], seed)}
    train_words = {t["item"] for t in tasks["ru-contexts"][0]}
    texts = [t["prompt"] + " " + t["answer"] for t in tasks["ru-proverbs"][0]]
    seen = set()
    for word, left, target, right in load_wsd_contexts():
        text = " ".join(f"{left} {target} {right}".split())
        if word in train_words and normalise_text(text) not in seen:
            seen.add(normalise_text(text))
            texts.append(text)
    held = [t["prompt"] + " " + t["answer"] for _, h in tasks.values() for t in h]
    leaking = containing(texts, held)
    keep = [t for i, t in enumerate(texts) if i not in leaking]
    dropped = len(texts) - len(keep)
    if s["ru_pretrain_words"] is not None:  # a random sample of whole texts up to the word budget
        keep = _first_words(random.Random(seed).sample(keep, len(keep)), s["ru_pretrain_words"])
    return {"tasks": tasks, "pretrain_texts": keep, "dropped": dropped}


def words(text: str) -> list[str]:
    """Case-folded word characters of ``text`` (punctuation and spacing ignored)."""
    return re.findall(r"\w+", text.casefold())


def containing(texts: list[str], items: list[str]) -> set[int]:
    """Indices of ``texts`` that hold one of ``items`` (>= 2 words) word for word, in order."""
    by_start: dict = {}
    for item in items:
        w = words(item)
        by_start.setdefault(tuple(w[:2]), []).append(w)
    out = set()
    for i, text in enumerate(texts):
        w = words(text)
        if any(w[j:j + len(c)] == c for j in range(len(w) - 1) for c in by_start.get((w[j], w[j + 1]), ())):
            out.add(i)
    return out


def _first_words(texts: list[str], limit: int) -> list[str]:
    """Whole texts in order until ``limit`` words."""
    out, n = [], 0
    for t in texts:
        if n >= limit:
            break
        out.append(t)
        n += len(t.split())
    return out


def chat_examples(tokenizer, tasks: list[dict], max_length: int) -> list[tuple[dict, dict]]:
    """``(task, example)`` pairs: user = prompt, assistant = answer (tasks that do not fit are left out)."""
    out = []
    for t in tasks:
        ex = dialogue_examples_fast(tokenizer, [{"role": "user", "content": t["prompt"]},
                                                {"role": "assistant", "content": t["answer"]}], max_length)
        if ex:
            out.append((t, ex[0]))
    return out


def pretrain_arm(out, arm: str, tokenizer, examples: list[dict], P: dict, steps: int) -> tuple:
    """A course BERT masked-LM pretrained on ``examples`` for ``steps`` steps in ``out/pretrain-<arm>`` (resumable)."""
    model = pretrain.new_bert(tokenizer, P["model"], P["seed"])
    base = P["pretrain"]
    cfg = TrainConfig.from_dict({**base, "max_steps": steps, "warmup_steps": min(base["warmup_steps"], steps // 10),
                                 "seed": P["seed"], "progress": False})
    res = train(model, tokenizer, examples, cfg, out / f"pretrain-{arm}", loss_fn=pretrain.mlm_loss_fn(tokenizer, P["mask_t"]))
    rec = {"steps": res["step"], "final_loss": res["loss"], "batch_size": cfg.batch_size, "max_length": cfg.max_length,
           "tokens": res["step"] * cfg.batch_size * cfg.max_length, "windows": len(examples)}
    return model.eval(), rec, cfg


def drawn(n_examples: int, first: int, cfg: TrainConfig) -> int:
    """How many of the ``cfg.max_steps * batch`` training draws hit examples ``first..n_examples-1``."""
    return sum(i >= first for m in range(cfg.max_steps) for i in batch_indices(n_examples, cfg.batch_size, m, cfg.seed))


def canon(tokenizer, text: str) -> str:
    """``text`` as the tokenizer reads it, normalised (exact match is judged on this)."""
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    return normalise_text(tokenizer.decode(ids, skip_special_tokens=True))


def unk_report(tokenizer, texts: list[str]) -> dict:
    """Share of ``[UNK]`` tokens in ``texts`` and how many all-Cyrillic words contain one."""
    unk = tokenizer.unk_token_id
    ids = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    cyr = sorted({w for t in texts for w in t.lower().split()
                  if w.isalpha() and all("а" <= c <= "я" or c == "ё" for c in w)})
    bad = [w for w, row in zip(cyr, tokenizer(cyr, add_special_tokens=False)["input_ids"]) if unk in row] if cyr else []
    n = sum(len(r) for r in ids)
    return {"tokens": n, "unk_share": sum(r.count(unk) for r in ids) / max(n, 1), "cyrillic_words": len(cyr),
            "cyrillic_words_with_unk": len(bad)}


def prepare(ex, size: str) -> dict:
    """The run's data: tokenizer, pretraining examples per arm, the SFT mix and the held-out sets."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    s, P = SIZES[size], ex.P
    ru = russian_data(s, P["seed"])
    en_texts = corpus.prose_texts(P["text"])
    tok = corpus.build_tokenizer(en_texts + ru["pretrain_texts"] + [CYRILLIC], P["vocab_size"],
                                 P["model"]["max_position_embeddings"])
    L_pre, L_sft = P["pretrain"]["max_length"], P["sft"]["max_length"]
    with corpus.frozen_vocab(tok):
        split = split_examples(tok, P["sft_data"], L_sft, held_out=P["held_out"], total=P["num_examples"],
                               seed=P["seed"], limit_per_source=P["limit_per_source"], max_turns=P["max_turns"])
        ru_mix = mix_sources([ru["tasks"][k][0] for k in SETS[1:]], [0.5, 0.5], s["sft_ru_examples"], P["seed"])
        ru_sft = chat_examples(tok, ru_mix, L_sft)
        held = {"en": [(None, e) for e in split.held]}
        for k in SETS[1:]:  # a seeded sample spread over the held-out items (contexts come sorted by word)
            tasks = ru["tasks"][k][1]
            n = min(len(tasks), 2 * max(s["score"][k], s["generate"][k]) + 8)
            held[k] = chat_examples(tok, random.Random(P["seed"]).sample(tasks, n), L_sft)
    en_win = corpus.text_windows(tok, en_texts, L_pre)  # (N_en, L)
    ru_win = corpus.text_windows(tok, ru["pretrain_texts"], L_pre)  # (N_ru, L)
    k = round(len(en_win) * s["ru_share"] / (1 - s["ru_share"]))
    ru_tiled = ru_win.repeat(-(-k // len(ru_win)), 1)[:k]  # (k, L): Russian windows tiled to ru_share of the list
    probe = {"en": [tok.decode(e["input_ids"], skip_special_tokens=True) for _, e in held["en"]],
             "ru": [t["prompt"] + " " + t["answer"] for name in SETS[1:] for t, _ in held[name]]}
    return {"tokenizer": tok, "ru": ru, "en_texts": en_texts, "split": split, "ru_sft": ru_sft, "held": held,
            "en_windows": en_win, "ru_windows": ru_win, "probe": probe,
            "pretrain": {"en": corpus.window_examples(en_win),
                         "en+ru": corpus.window_examples(torch.cat([en_win, ru_tiled]))},
            "sft": split.train + [e for _, e in ru_sft]}


def _settings_mark(out, stamp: dict) -> None:
    """Refuse to resume rows trained with other settings in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    mark = out / "settings.json"
    if mark.exists() and json.loads(mark.read_text(encoding="utf-8")) != stamp:
        raise ValueError(f"{str(out)!r} holds a run with other settings: delete it to rerun")
    mark.write_text(json.dumps(stamp), encoding="utf-8")


def _scores(ex, model, tok, scored: list[dict], asked: list[tuple], gen: dict, proverbs: bool,
            judge: str | None) -> tuple[dict, list]:
    """One SFT row on one held-out set: ELBO nats/word and greedy-answer statistics (+ proverb exact
    match; + the judge's perplexity of the non-empty answers, None when there are none or no judge)."""
    sc = ex.score(model, tok, scored)
    prompts = [e["input_ids"][: e["target"].index(True)] for _, e in asked]
    texts, eos = sampling.answers("diffusion", model, tok, prompts, gen)
    st = generation_stats(texts, eos)
    st["judged_answers"] = sum(bool(t.strip()) for t in texts)
    st["judge_ppl"] = judges.answers_perplexity(texts, judge)
    if proverbs:
        st["exact_match"] = sum(canon(tok, a) == canon(tok, t["answer"]) for a, (t, _) in zip(texts, asked)) / len(texts)
    shown = [{"prompt": tok.decode(p, skip_special_tokens=True), "answer": a} for p, a in zip(prompts[:3], texts[:3])]
    return {"nll_per_word": sc["nll_per_word"], "nll_per_token": sc["nll_per_token"], "masked_acc": sc["masked_acc"],
            "n_words": sc["n_words"], **st}, shown


def run(ex, size: str, data: dict | None = None) -> dict:
    """Pretrain both arms, SFT each with every seed, score every set (``data``: ``prepare(ex, size)`` if given)."""
    d = prepare(ex, size) if data is None else data
    s, P, tok = SIZES[size], ex.P, d["tokenizer"]
    out = ex.out / size
    _settings_mark(out, {"settings": s, "seed": P["seed"], "base": str(ex.base_dir)})
    L_pre = P["pretrain"]["max_length"]
    probe_win = {lang: spread_rows(corpus.text_windows(tok, texts, L_pre), s["mlm_windows"])
                 for lang, texts in d["probe"].items()}
    n_en = len(d["en_windows"])
    models, pre = {}, {}
    for arm in ARMS:
        models[arm], pre[arm], cfg = pretrain_arm(out, arm, tok, d["pretrain"][arm], P, s["pretrain_steps"])
        ru_drawn = drawn(len(d["pretrain"][arm]), n_en, cfg)
        pre[arm].update(ru_windows_drawn=ru_drawn, ru_tokens_drawn=ru_drawn * (L_pre - 2),
                        masked_accuracy={lang: masked_accuracy(models[arm], tok, w)["accuracy"]
                                         for lang, w in probe_win.items()})
    limit, G = max_positions(models["en"]), P["eval"]["gen_length"]
    gen = {k: P["sample"][k] for k in ("gen_length", "steps", "block_length")}
    scored = {k: compare.fitting([e for _, e in v], G, limit)[: s["score"][k]] for k, v in d["held"].items()}
    asked = {k: [(t, e) for t, e in v if e["target"].index(True) + gen["gen_length"] <= limit][: s["generate"][k]]
             for k, v in d["held"].items()}
    available = {k: judges.judge_available(JUDGE[k]) for k in SETS}
    judge = {k: JUDGE[k] if ok else None for k, (ok, _) in available.items()}
    rows, per, samples = [], {arm: {k: [] for k in SETS} for arm in ARMS}, {arm: {} for arm in ARMS}
    for arm in ARMS:
        for seed in s["seeds"]:
            model = copy.deepcopy(models[arm])
            rec = ex.sft(model, f"{size}/sft-{arm}-s{seed}", s["sft_steps"], seed, tokenizer=tok, examples=d["sft"])
            rows.append({"arm": arm, **rec})
            for k in SETS:
                row, shown = _scores(ex, model, tok, scored[k], asked[k], gen, k == "ru-proverbs", judge[k])
                per[arm][k].append(row)
                samples[arm].setdefault(k, shown)
    metrics = {arm: {k: {m: mean_std([r[m] for r in per[arm][k]]) for m in per[arm][k][0]
                         if all(r[m] is not None for r in per[arm][k])} for k in SETS} for arm in ARMS}
    for arm in ARMS:  # seeds whose answers were all empty have no judge perplexity: listed, not averaged
        for k in SETS:
            metrics[arm][k]["judge_ppl_per_seed"] = [r["judge_ppl"] for r in per[arm][k]]
    for arm in ARMS:  # Russian as one set: both tasks' nats over both tasks' words, per seed
        both = list(zip(per[arm]["ru-proverbs"], per[arm]["ru-contexts"]))
        metrics[arm]["ru"] = {"nll_per_word": mean_std([sum(r["nll_per_word"] * r["n_words"] for r in pair)
                                                         / sum(r["n_words"] for r in pair) for pair in both])}
    ru_words = sum(len(t.split()) for t in d["ru"]["pretrain_texts"])
    en_words = sum(len(t.split()) for t in d["en_texts"])
    return {
        "arms": list(ARMS), "sets": list(SETS), "pretrain": pre, "sft_rows": rows, "metrics": metrics,
        "judges": judge, "judges_skipped": {k: why for k, (ok, why) in available.items() if not ok},
        "samples": samples,
        "held_out": {k: {"scored": len(scored[k]), "generated": len(asked[k]), "available": len(v)}
                     for k, v in d["held"].items()},
        "tokenizer": {"vocab_size": len(tok), "unk_held_ru": unk_report(tok, d["probe"]["ru"]),
                      "tokens_per_word": {"en": d["en_windows"].numel() / en_words,
                                          "ru": d["ru_windows"].numel() / ru_words}},
        "russian_words": {
            "pretrain_corpus": ru_words, "pretrain_texts": len(d["ru"]["pretrain_texts"]),
            "pretrain_texts_dropped_as_leaks": d["ru"]["dropped"], "pretrain_windows": int(d["ru_windows"].shape[0]),
            "pretrain_tokens_drawn": pre["en+ru"]["ru_tokens_drawn"],
            "sft_examples": len(d["ru_sft"]), "sft_words": task_words([t for t, _ in d["ru_sft"]]),
            "sft_examples_drawn_seed0": drawn(len(d["sft"]), len(d["split"].train),
                                              ex.sft_config(s["sft_steps"], s["seeds"][0])),
            "held_out_tasks": {k: len(d["ru"]["tasks"][k][1]) for k in SETS[1:]}},
        "english": {"pretrain_words": en_words, "pretrain_windows": n_en, "sft_examples": len(d["split"].train),
                    "overlap": d["split"].report["overlap"]},
    }


def plot(result: dict, path) -> None:
    """Held-out nats/word, pretrained masked accuracy, repetition and longest loop per set, both arms."""
    fig = Figure(figsize=(13, 3.6))
    axes = fig.subplots(1, 4)
    m, arms, sets = result["metrics"], result["arms"], result["sets"]
    width = 0.8 / len(arms)
    for ax, key, label in ((axes[0], "nll_per_word", "nats / word (ELBO bound)"),
                           (axes[2], "repeated_3gram_rate", "repeated 3-gram rate"),
                           (axes[3], "longest_loop", "longest loop (words)")):
        for i, arm in enumerate(arms):
            xs = [j + (i - (len(arms) - 1) / 2) * width for j in range(len(sets))]
            ax.bar(xs, [m[arm][k][key]["mean"] for k in sets], width, yerr=[m[arm][k][key]["std"] for k in sets],
                   capsize=3, label=f"pretrained on {arm}")
        ax.set_xticks(range(len(sets)), [LABELS[k] for k in sets], fontsize=8)
        ax.set_ylabel(label)
        ax.set_xlabel("held-out set")
    langs = ["en", "ru"]
    for i, arm in enumerate(arms):
        xs = [j + (i - (len(arms) - 1) / 2) * width for j in range(len(langs))]
        axes[1].bar(xs, [result["pretrain"][arm]["masked_accuracy"][g] for g in langs], width,
                    label=f"pretrained on {arm}")
    axes[1].set_xticks(range(len(langs)), langs)
    axes[1].set_ylabel("masked-token accuracy (fraction)")
    axes[1].set_xlabel("held-out language")
    axes[0].set_title("After SFT: held-out likelihood")
    axes[1].set_title("Before SFT: masked LM")
    axes[2].set_title("After SFT: repetition")
    axes[3].set_title("After SFT: loops")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    n = len(result["settings"]["seeds"])
    fig.suptitle(f"English-only vs English+Russian pretraining, same SFT (mean ± std over {n} SFT seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
