"""``python -m nlp_course.diffusion {train,sample,eval}``: the pipeline from a shell.

Taught in notebook 11.

    python -m nlp_course.diffusion train --preset cpu-smoke --output-dir runs/smoke
    python -m nlp_course.diffusion sample --model runs/smoke --prompt "How are you?"
    python -m nlp_course.diffusion eval --model runs/smoke --output runs/smoke/eval.json

Flags follow Hugging Face naming (``--model``, ``--output-dir``, ``--max-steps``, ``--lr``...);
a ``--preset`` fills every default and explicit flags override it (``sample``/``eval`` default to
the preset the run was trained with). ``--data`` takes a comma-separated list of
``source[:ratio]`` (JSONL paths, ``offline:*`` corpora, HF dataset names). ``train`` splits the
data with ``splits.split_examples`` (deduplicated, by source item: no held-out answer is trained
on) and records the split's settings and a fingerprint of its held-out examples; ``eval``
recomputes that split from the run (checking the fingerprint) or takes ``--data``, and prints
every setting it used. ``--device`` (default: CUDA if available) applies to all three commands.
Failures print ``error: ...`` (naming the model or path) and exit 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import fields
from pathlib import Path

from safetensors import SafetensorError

from .presets import HUB_PRESETS, PRESETS, get_preset
from .train import TrainConfig

_TRAIN_FLAGS = {f.name for f in fields(TrainConfig)}


def _add_generation_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("generation")
    g.add_argument("--gen-length", type=int, help="answer length in tokens (default from preset)")
    g.add_argument("--steps", type=int, help="denoising steps in total (multiple of the number of blocks)")
    g.add_argument("--block-length", type=int, help="semi-autoregressive block size (divides --gen-length)")
    g.add_argument("--temperature", type=float, default=0.0, help="0 = greedy; >0 = Gumbel-max sampling")
    g.add_argument("--top-k", type=int, help="keep the k most likely tokens")
    g.add_argument("--top-p", type=float, help="nucleus sampling mass in (0, 1]")
    g.add_argument("--remasking", default="low_confidence",
                   choices=["low_confidence", "random", "entropy", "margin"],
                   help="which masked positions to commit first at each step")
    g.add_argument("--confidence-temperature", action="store_true",
                   help="score confidence with the tempered/filtered distribution")
    g.add_argument("--no-eos", action="store_true", help="forbid EOS (always write gen-length tokens)")
    g.add_argument("--eos-penalty", type=float, default=0.0, help="logit penalty against EOS")
    g.add_argument("--stop-at-eos", action="store_true", help="stop after a block that contains EOS")


def build_parser() -> argparse.ArgumentParser:
    every = {**PRESETS, **HUB_PRESETS}
    presets = "; ".join(f"{k}: {v['help']}" for k, v in sorted(every.items()))
    parser = argparse.ArgumentParser(
        prog="python -m nlp_course.diffusion",
        description="Turn a BERT-like masked LM into a diffusion chat model (chapter 11).",
        epilog=f"presets -- {presets}")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--preset", help=f"defaults to start from ({', '.join(sorted(every))}); train: "
                                         "cpu-smoke, sample/eval: the run's own preset, else cpu-smoke")
    common.add_argument("--seed", type=int, default=0, help="random seed")
    common.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")

    t = sub.add_parser("train", parents=[common], help="diffusion SFT of a masked LM",
                       description="Diffusion SFT: noise the assistant answers, keep prompts clean.")
    t.add_argument("--model", help="HF name or folder of an AutoModelForMaskedLM, 'course-bert', "
                                   "or 'tiny-random:{bert,xlm-roberta,distilbert,modernbert}'")
    t.add_argument("--data", help="comma-separated source[:ratio]: messages JSONL path, offline:chitchat, "
                                  "offline:chatterbot, offline:chatterbot-ru, offline:python-fim, or an HF dataset")
    t.add_argument("--output-dir", required=True, help="where checkpoints, tokenizer and metrics.jsonl go")
    t.add_argument("--num-examples", type=int, help="size of the mixed training set (default: all)")
    t.add_argument("--limit-per-source", type=int, help="read at most this many dialogues per source")
    t.add_argument("--held-out", type=int, help="held-out examples, from source items never trained on")
    t.add_argument("--max-steps", type=int, help="optimizer steps")
    t.add_argument("--batch-size", type=int, help="examples per micro-batch")
    t.add_argument("--grad-accum", type=int, help="micro-batches per optimizer step")
    t.add_argument("--lr", type=float, help="peak AdamW learning rate")
    t.add_argument("--warmup-steps", type=int, help="linear warmup before cosine decay")
    t.add_argument("--max-length", type=int, help="tokens per example (prompt + answer + EOS padding)")
    t.add_argument("--schedule", choices=["linear", "cosine"], help="alpha(t) of the masking process")
    t.add_argument("--t-sampling", choices=["iid", "stratified", "antithetic"], help="how t is drawn per batch")
    t.add_argument("--crop-prob", type=float, help="fraction of examples cropped to a random length")
    t.add_argument("--eos-in-loss", action=argparse.BooleanOptionalAction, default=None,
                   help="whether EOS padding counts as answer (drives EOS over-production)")
    t.add_argument("--save-every", type=int, help="checkpoint every N steps")
    t.add_argument("--no-resume", action="store_true", help="start afresh; earlier checkpoints in --output-dir are moved to superseded/<run id>/")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    s = sub.add_parser("sample", parents=[common], help="answer prompts with a trained model")
    s.add_argument("--model", required=True, help="a train --output-dir (or a masked-LM name/folder)")
    s.add_argument("--prompt", action="append", required=True, help="a user message (repeatable)")
    s.add_argument("--num-samples", type=int, default=1, help="samples per prompt")
    _add_generation_flags(s)

    e = sub.add_parser("eval", parents=[common], help="ELBO bound, masked accuracy, repetition, EOS, gen. PPL")
    e.add_argument("--model", required=True, help="a train --output-dir")
    e.add_argument("--data", help="held-out data (default: the run's own held-out split)")
    e.add_argument("--n-t", type=int, help="stratified times per example for the ELBO")
    e.add_argument("--num-prompts", type=int, help="prompts to sample for the generation metrics")
    e.add_argument("--reference-lm", default="none",
                   help="generative PPL judge: an HF causal LM name, 'smollm2' / 'gemma3' (offline judges) or 'none'")
    e.add_argument("--output", help="write the metrics here as JSON")
    _add_generation_flags(e)
    return parser


def _gen_kwargs(args, preset: dict) -> dict:
    d = dict(preset["sample"])
    for k in ("gen_length", "steps", "block_length", "top_k", "top_p"):
        if getattr(args, k) is not None:
            d[k] = getattr(args, k)
    d.update(temperature=args.temperature, remasking=args.remasking, allow_eos=not args.no_eos,
             confidence_temperature=args.confidence_temperature, eos_penalty=args.eos_penalty,
             stop_at_eos=args.stop_at_eos)
    return d


def _load_any(name: str, seed: int, device):
    """``(model on device, tokenizer, meta)``: a ``train`` output folder or any masked LM."""
    from .models import load_mlm, load_trained

    if Path(name).is_dir() and (Path(name) / "latest").is_file():
        return load_trained(name, device=device)
    from .chat import add_chat_tokens

    model, tok = load_mlm(name, seed)
    add_chat_tokens(tok, model)
    return model.to(device).eval(), tok, {}


def _preset_for(args, meta: dict) -> dict:
    name = args.preset or meta.get("preset") or "cpu-smoke"
    args.preset = name
    return get_preset(name)


def held_fingerprint(examples: list[dict]) -> str:
    """sha256 of the held-out examples' ids and targets: ``eval`` checks it recomputed the same split."""
    blob = json.dumps([[list(e["input_ids"]), [bool(t) for t in e["target"]]] for e in examples])
    return hashlib.sha256(blob.encode()).hexdigest()


def cmd_train(args, preset: dict) -> dict:
    from nlp_course.utils import get_device, set_seed

    from .chat import add_chat_tokens
    from .models import load_mlm
    from .splits import split_examples
    from .train import train

    cfg = dict(preset["train"])
    for k, v in vars(args).items():
        if k in _TRAIN_FLAGS and v is not None:
            cfg[k] = v
    cfg["seed"] = args.seed
    cfg["progress"] = not args.no_progress
    config = TrainConfig.from_dict(cfg)
    model_name = args.model or preset["model"]
    data = args.data or preset["data"]
    held_out = args.held_out if args.held_out is not None else preset["held_out"]
    num = args.num_examples if args.num_examples is not None else preset.get("num_examples")
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)  # fail on a bad path before any work
    set_seed(args.seed)
    device = get_device(args.device)
    model, tok = load_mlm(model_name, args.seed)
    add_chat_tokens(tok, model)
    model.to(device)
    split = split_examples(tok, data, config.max_length, held_out, num, args.seed, args.limit_per_source)
    print(json.dumps({"split": split.report}), file=sys.stderr)
    tok.save_pretrained(str(out / "tokenizer"))
    meta = {"base_model": model_name, "preset": args.preset, "data": data, "held_out": held_out,
            "num_examples": num, "seed": args.seed, "limit_per_source": args.limit_per_source,
            "max_length": config.max_length, "held_sha256": held_fingerprint(split.held)}
    result = train(model, tok, split.train, config, out, resume=not args.no_resume, meta=meta)
    print(json.dumps({"step": result["step"], "loss": round(result["loss"], 4), "output_dir": str(out),
                      "device": str(device)}))
    return result


def cmd_sample(args, preset: dict | None) -> list:
    from nlp_course.utils import get_device

    from .sample import generate

    model, tok, meta = _load_any(args.model, args.seed, get_device(args.device))
    kw = _gen_kwargs(args, preset or _preset_for(args, meta))
    outs = []
    for prompt in args.prompt:
        texts = generate(model, tok, prompt, seed=args.seed, num_samples=args.num_samples, **kw)
        texts = texts if isinstance(texts, list) else [texts]
        for text in texts:
            print(json.dumps({"prompt": prompt, "answer": text}, ensure_ascii=False))
        outs.append(texts)
    return outs


def eval_split(args, tok, meta: dict) -> tuple[list[dict], dict]:
    """The held-out examples ``eval`` scores and the settings that produced them.

    ``--data``: every example of that data (held out by the user). Otherwise the run's own split,
    recomputed from its recorded settings and checked against its fingerprint; a run that
    recorded none is an error (no silent fallback to a preset's data).
    """
    from .data import load_examples
    from .splits import split_examples

    if args.data:
        max_length = meta.get("max_length") or meta.get("config", {}).get("max_length")
        if max_length is None:
            raise ValueError(f"run {args.model!r} records no max_length to cut --data examples to")
        held = load_examples(tok, args.data, max_length, None, args.seed)
        return held, {"held_out_from": "--data", "data": args.data, "max_length": max_length}
    missing = [k for k in ("data", "held_out", "seed", "max_length", "held_sha256") if k not in meta]
    if missing:
        raise ValueError(f"run {args.model!r} does not record its held-out split ({', '.join(missing)} "
                         "missing from its metadata): pass --data with held-out data")
    split = split_examples(tok, meta["data"], meta["max_length"], meta["held_out"], meta.get("num_examples"),
                           meta["seed"], meta.get("limit_per_source"))
    if held_fingerprint(split.held) != meta["held_sha256"]:
        raise ValueError(f"the held-out split recomputed for run {args.model!r} differs from the one it was "
                         "trained with (its corpus or the split code changed): pass --data")
    settings = {k: meta[k] for k in ("data", "held_out", "num_examples", "seed", "limit_per_source", "max_length")
                if k in meta}
    return split.held, {"held_out_from": "the run's own split", **settings, "overlap": split.report["overlap"]}


def cmd_eval(args, preset: dict | None) -> dict:
    from nlp_course.utils import get_device

    from .chat import chat_ids
    from .evaluate import elbo, eos_rate, generation_stats, generative_perplexity
    from .models import load_trained
    from .sample import cut_at_eos, generate

    device = get_device(args.device)
    model, tok, meta = load_trained(args.model, device=device)
    preset = preset or _preset_for(args, meta)
    held, settings = eval_split(args, tok, meta)
    kw = _gen_kwargs(args, preset)
    n_t = args.n_t or preset["eval"]["n_t"]
    n_prompts = args.num_prompts or preset["eval"]["num_prompts"]
    settings.update(model=args.model, preset=args.preset, device=str(device), n_t=n_t, num_prompts=n_prompts,
                    held_examples=len(held), generation=kw)
    print(json.dumps({"settings": settings}, ensure_ascii=False, sort_keys=True), file=sys.stderr)
    report = {"settings": settings, "elbo": elbo(model, tok, held, n_t=n_t, seed=args.seed,
                                                 max_length=settings["max_length"], gen_length=kw["gen_length"])}
    eos = chat_ids(tok)["end"]
    texts, eos_fracs = [], []
    for ex in held[:n_prompts]:
        prompt = ex["input_ids"][: ex["target"].index(True)]
        ids = generate(model, tok, prompt, seed=args.seed, return_ids=True, **kw)
        eos_fracs.append(eos_rate(ids, len(prompt), eos))
        answer = cut_at_eos(ids[0, len(prompt):].tolist(), eos)
        texts.append(tok.decode(answer, skip_special_tokens=True))
    report["generation"] = generation_stats(texts, sum(eos_fracs) / len(eos_fracs))
    if args.reference_lm != "none":
        ref = None if args.reference_lm == "smollm2" else args.reference_lm
        nonempty = [t for t in texts if t.strip()]
        report["generation"]["gen_ppl"] = generative_perplexity(nonempty, ref) if nonempty else None
    report["samples"] = texts
    print(json.dumps(report, indent=1, ensure_ascii=False, sort_keys=True))
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=1, ensure_ascii=False, sort_keys=True))
    return report


def _where(args) -> str:
    """What a failure concerns: the model (and output folder) the command was working on."""
    parts = [f"--model {args.model}"] if getattr(args, "model", None) else []
    if getattr(args, "output_dir", None):
        parts.append(f"--output-dir {args.output_dir}")
    return ", ".join(parts)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            args.preset = args.preset or "cpu-smoke"
        preset = get_preset(args.preset) if args.preset else None  # sample/eval: else the run's own
        handler = {"train": cmd_train, "sample": cmd_sample, "eval": cmd_eval}[args.command]
        handler(args, preset)
    except (ValueError, TypeError, ImportError, OSError, RuntimeError, SafetensorError) as e:
        # json.JSONDecodeError is a ValueError, FileNotFoundError an OSError; library messages
        # often name neither the file nor the model, so say what the command was working on
        msg = f"{type(e).__name__}: {e}" if isinstance(e, (OSError, RuntimeError, SafetensorError)) else str(e)
        where = _where(args)
        if where and not any(str(v) in msg for v in (getattr(args, "model", None), getattr(args, "output_dir", None)) if v):
            msg += f" ({where})"
        print(f"error: {msg}", file=sys.stderr)
        return 2
    return 0
