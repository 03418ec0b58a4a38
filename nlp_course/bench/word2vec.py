"""Benchmark: our word2vec vs gensim's on the same corpus and hyperparameters, same process.

    python -m nlp_course.bench.word2vec [--epochs 5] [--threads 2] [--seeds 1] [--modes sg cbow] [--json PATH]

Corpus: the 106 Wikipedia articles and the Lee news corpus (``nlp_course.data``), one sentence
per paragraph, tokenised by gensim's ``simple_preprocess`` (~0.5M words). For each mode trains,
once per seed: gensim (``workers=threads``); ours one pair at a time (``batch_size=1``, the
numba loop of ``nlp_course.word2vec_sequential``, one thread) in gensim's pair order
(``shuffle=False``) and shuffled; ours in torch batches of 8192 (``torch.set_num_threads(threads)``)
in gensim's order and shuffled (the default). Prints mean training wall time, the ratio
ours/gensim, and quality side by side: analogy accuracy on questions-words.txt and Spearman on
WordSim353 / SimLex-999, all scored by gensim's own ``evaluate_word_analogies`` /
``evaluate_word_pairs`` (ours loaded into a ``KeyedVectors``). Relative accuracy is paired by seed:
its +- is one standard error of the per-seed differences. ``--json`` writes the per-seed scores with
settings, hardware and versions (the committed run: ``notebooks/results/bench_word2vec_cpu.json``,
which notebook 05's prose is checked against).
Targets: the default (batched, shuffled) <= 3x gensim's time; analogy accuracy of gensim's
algorithm (sequential, gensim's order) within 10% relative. One seed moves gensim's own accuracy
by ~10% on this corpus, so use ``--seeds 8`` or more for that comparison.
Taught in notebooks/05_word_embeddings.ipynb.
"""

from __future__ import annotations

import os

# Our trainer runs ~20 small torch ops per batch. On a busy 2-core machine OpenMP threads that
# spin while waiting for a descheduled sibling made skip-gram at 2 threads ~9x slower (91 s vs
# 10 s measured); passive waiting avoids it. Only effective if torch is not imported yet.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
from gensim.models import KeyedVectors  # noqa: E402
from gensim.models import Word2Vec as GensimWord2Vec  # noqa: E402
from gensim.utils import simple_preprocess  # noqa: E402

from nlp_course.bench import write_record  # noqa: E402
from nlp_course.data import lee_corpus, wikipedia_articles, word_benchmark_path  # noqa: E402
from nlp_course.word2vec import Word2Vec  # noqa: E402


def corpus_sentences(limit: int | None = None) -> list[list[str]]:
    """Wikipedia + Lee, one token list per non-empty paragraph (``limit`` Wikipedia articles)."""
    docs = wikipedia_articles(limit) + lee_corpus()
    sentences = (simple_preprocess(line) for doc in docs for line in doc.split("\n"))
    return [s for s in sentences if s]


def to_gensim(index_to_key, vectors) -> KeyedVectors:
    """Our vectors as a gensim ``KeyedVectors`` (same order), to score both with one code."""
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(list(index_to_key), vectors)
    return kv


def quality(kv: KeyedVectors) -> dict[str, float]:
    """Analogy accuracy and WordSim353 / SimLex-999 Spearman, computed by gensim."""
    acc, _ = kv.evaluate_word_analogies(word_benchmark_path("questions-words"))
    out = {"analogy": float(acc)}
    for name in ("wordsim353", "simlex999"):
        out[name] = float(kv.evaluate_word_pairs(word_benchmark_path(name))[1].statistic)
    return out


SEQUENTIAL = "sequential, gensim order"  # gensim's algorithm: the parity row


def run(sentences, sg: int, threads: int, seeds=(1,), **params) -> dict[str, list[dict[str, float]]]:
    """Train gensim and our four variants (one pair at a time or batched, gensim's order or
    shuffled) on ``sentences`` once per seed; return ``{name: [one dict of scores per seed]}``."""
    n = torch.get_num_threads()
    torch.set_num_threads(threads)
    trainers = {
        "gensim": lambda seed: GensimWord2Vec(sentences, sg=sg, workers=threads, seed=seed, **params).wv,
        SEQUENTIAL: lambda seed: Word2Vec(sg=sg, seed=seed, shuffle=False, batch_size=1, **params).fit(sentences),
        "sequential, shuffled": lambda seed: Word2Vec(sg=sg, seed=seed, batch_size=1, **params).fit(sentences),
        "batched, gensim order": lambda seed: Word2Vec(sg=sg, seed=seed, shuffle=False, **params).fit(sentences),
        "batched, shuffled": lambda seed: Word2Vec(sg=sg, seed=seed, **params).fit(sentences),
    }  # each returns vectors with index_to_key / vectors: gensim KeyedVectors or our WordVectors
    results = {}
    for name, train in trainers.items():
        results[name] = []
        for seed in seeds:
            start = time.perf_counter()
            vectors = train(seed)
            seconds = time.perf_counter() - start
            results[name].append({"seed": seed, "seconds": seconds,
                                  **quality(to_gensim(vectors.index_to_key, vectors.vectors))})
    torch.set_num_threads(n)
    return results


def mean(runs: list[dict], key: str) -> float:
    return statistics.fmean(r[key] for r in runs)


def relative(ours: list[dict], gensim: list[dict]) -> tuple[float, float | None]:
    """Analogy accuracy of ``ours`` relative to ``gensim``'s mean over the same seeds (+0.1 = 10%
    higher), and its standard error from the seed-paired differences (None for one seed)."""
    base = max(mean(gensim, "analogy"), 1e-12)
    diffs = [a["analogy"] - b["analogy"] for a, b in zip(ours, gensim, strict=True)]
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else None
    return statistics.fmean(diffs) / base, None if se is None else se / base


def summarize(res: dict[str, list[dict]]) -> dict:
    """Per trainer: means over seeds, time ratio to gensim, analogy vs gensim (+- standard error)."""
    g = res["gensim"]
    out = {}
    for name, runs in res.items():
        rel, se = relative(runs, g)
        out[name] = {**{k: mean(runs, k) for k in ("seconds", "analogy", "wordsim353", "simlex999")},
                     "time_ratio": mean(runs, "seconds") / mean(g, "seconds"), "analogy_relative": rel,
                     "analogy_relative_se": se, "seeds": runs}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=1, help="runs per trainer (seeds 1..N), scores averaged")
    parser.add_argument("--articles", type=int, default=None, help="Wikipedia articles (all)")
    parser.add_argument("--modes", nargs="+", default=["sg", "cbow"], choices=["sg", "cbow"])
    parser.add_argument("--json", default=None, help="also write settings, hardware and per-seed scores here")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.epochs < 1 or args.threads < 1:
        parser.error("--seeds, --epochs and --threads must be >= 1")
    started = time.time()
    sentences = corpus_sentences(args.articles)
    params = dict(vector_size=100, window=5, negative=5, min_count=5, sample=1e-3)
    params["epochs"] = args.epochs
    print(f"corpus: {len(sentences)} sentences, {sum(map(len, sentences))} words; {params}")
    print(f"threads: {args.threads} (gensim workers, torch threads); seeds 1..{args.seeds}, means shown; "
          "vs gensim: analogy accuracy relative to gensim's mean, +- one standard error of the seed-paired difference")
    results = {}
    for mode in args.modes:
        res = results[mode] = summarize(run(sentences, int(mode == "sg"), args.threads,
                                             range(1, args.seeds + 1), **params))
        print(f"\n{mode + ':':<24}{'seconds':>12}{'ours/gensim':>12}{'analogy acc':>12}{'vs gensim':>18}"
              f"{'WordSim353':>12}{'SimLex-999':>12}")  # fmt: skip
        for name, r in res.items():
            se = "" if r["analogy_relative_se"] is None else f" +- {100 * r['analogy_relative_se']:.1f}%"
            vs = f"{100 * r['analogy_relative']:+.1f}%{se}"
            print(f"{name:>24}{r['seconds']:12.2f}{r['time_ratio']:11.2f}x{r['analogy']:12.4f}"
                  f"{vs:>18}{r['wordsim353']:12.4f}{r['simlex999']:12.4f}")  # fmt: skip
        print(f"analogy accuracy, ours sequential in gensim's order vs gensim: "
              f"{100 * res[SEQUENTIAL]['analogy_relative']:+.1f}% relative "
              f"(target: within 10%); speed target: batched, shuffled (the default) <= 3x gensim")
    if args.json:
        write_record(args.json, ["torch", "gensim", "numba"], wall_seconds=round(time.time() - started, 1),
                     settings={**params, "threads": args.threads, "seeds": args.seeds, "articles": args.articles,
                               "corpus_sentences": len(sentences), "corpus_words": sum(map(len, sentences))},
                     modes=results)
    return results


if __name__ == "__main__":
    main()
