"""Benchmark: our byte-level BPE vs HF ``tokenizers`` on ~1 MB of Wikipedia, same process.

    python -m nlp_course.bench.bpe [--megabytes 1.0] [--vocab-size 8000] [--json PATH]

Prints wall times of training (same text, same pre-tokenization, same vocab size: the merge
lists are checked to be identical) and of encoding the same text with the learned model, and
the ratios ours/HF. HF runs in Rust (and may use several threads); ours is pure Python with
incremental pair counts and a lazy max-heap. ``--json`` also writes the times with the hardware and
versions (the committed run, ``notebooks/results/bench_bpe_cpu.json``, is what notebook 03's prose
quotes). Taught in notebook 03.
"""

from __future__ import annotations

import argparse
import json
import time

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from nlp_course.bench import write_record
from nlp_course.data import wikipedia_articles
from nlp_course.tokenization import BPETokenizer


def corpus(megabytes: float) -> list[str]:
    texts, size = [], 0
    for article in wikipedia_articles():
        texts.append(article)
        size += len(article.encode("utf-8"))
        if size >= megabytes * 1e6:
            break
    return texts


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--json", default=None, help="also write settings, times, hardware and versions here")
    args = parser.parse_args(argv)
    texts = corpus(args.megabytes)
    size = sum(len(t.encode("utf-8")) for t in texts)
    print(f"corpus: {len(texts)} Wikipedia articles, {size / 1e6:.2f} MB; vocab_size={args.vocab_size}")

    start = time.perf_counter()
    ours = BPETokenizer().train(texts, args.vocab_size)
    t_ours = time.perf_counter() - start

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=args.vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    start = time.perf_counter()
    hf.train_from_iterator(texts, trainer)
    t_hf = time.perf_counter() - start
    hf_merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
                 for m in json.loads(hf.to_str())["model"]["merges"]]  # fmt: skip
    same = ours.merges == hf_merges

    start = time.perf_counter()
    ids_ours = [ours.encode(t) for t in texts]
    e_ours = time.perf_counter() - start
    start = time.perf_counter()
    ids_hf = [e.ids for e in hf.encode_batch(texts)]
    e_hf = time.perf_counter() - start
    n_tokens = sum(map(len, ids_ours))

    print(f"identical merge lists: {same} ({len(ours.merges)} merges)")
    print(f"identical encodings:   {ids_ours == ids_hf} ({n_tokens} tokens)")
    print(f"train   ours {t_ours:8.3f} s | HF {t_hf:8.3f} s | ratio ours/HF {t_ours / t_hf:6.1f}x")
    print(f"encode  ours {e_ours:8.3f} s | HF {e_hf:8.3f} s | ratio ours/HF {e_ours / e_hf:6.1f}x")
    result = {"train_seconds": {"ours": t_ours, "hf": t_hf}, "encode_seconds": {"ours": e_ours, "hf": e_hf},
              "train_ratio": t_ours / t_hf, "encode_ratio": e_ours / e_hf, "identical_merges": same,
              "identical_encodings": ids_ours == ids_hf, "tokens": n_tokens}
    if args.json:
        write_record(args.json, ["tokenizers", "torch"], result=result,
                     settings={"megabytes": round(size / 1e6, 3), "articles": len(texts), "vocab_size": args.vocab_size})
    return result


if __name__ == "__main__":
    main()
