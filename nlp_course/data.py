"""Offline corpora: one function per corpus, each returning plain Python lists.

Every corpus ships inside an installable package (no hub downloads), so the
notebooks and CI run without a network. ``corpus_versions()`` records which
package version each corpus came from. First used in notebook 02 (polarity
sentences); notebooks 03-05 introduce the corpora in detail; 08, 09 and 11
train on them.

| function                | package            | what                                     |
|-------------------------|--------------------|------------------------------------------|
| ``wikipedia_articles``  | gensim test data   | 106 English Wikipedia articles           |
| ``lee_corpus``          | gensim test data   | 300 short Australian news documents      |
| ``polarity_sentences``  | gensim test data   | 200 movie-review sentences, pos/neg      |
| ``newsgroup_posts``     | gensim test data   | 200 posts, alt.atheism vs sci.space      |
| ``russian_text``        | gensim test data   | an excerpt of "Crime and Punishment"     |
| ``chitchat_dialogues``  | chitchat-dataset   | 4,017 two-person conversations (2+ turns)|
| ``chatterbot_pairs``    | chatterbot-corpus  | short question/answer pairs (en, ru, ..) |
| ``python_sources``      | the standard lib   | Python source files (code infilling)     |
| ``word_benchmark_path`` | gensim test data   | analogies, WordSim353, SimLex-999        |
| ``navec_path``          | natasha            | Russian word vectors (250K x 300)        |
"""

from __future__ import annotations

import bz2
import functools
import importlib
import importlib.metadata
import io
import pickle
import sysconfig
import zlib
from pathlib import Path

_WIKI_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
_BENCHMARKS = {
    "questions-words": "questions-words.txt",
    "wordsim353": "wordsim353.tsv",
    "simlex999": "simlex999.txt",
}
_SOURCES = {
    "wikipedia_articles": "gensim",
    "lee_corpus": "gensim",
    "polarity_sentences": "gensim",
    "newsgroup_posts": "gensim",
    "russian_text": "gensim",
    "word_benchmark_path": "gensim",
    "chitchat_dialogues": "chitchat-dataset",
    "chatterbot_pairs": "chatterbot-corpus",
    "navec_path": "natasha",
}


def _require(module: str, package: str):
    """Import ``module`` or raise an ImportError that names the pip package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"this corpus needs the package {package!r}: pip install {package}"
        ) from err


def _gensim_file(name: str) -> Path:
    utils = _require("gensim.test.utils", "gensim")
    path = Path(utils.datapath(name))
    if not path.exists():
        raise FileNotFoundError(f"gensim's test data has no file {name!r} (looked at {path})")
    return path


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")


def corpus_versions() -> dict[str, str]:
    """``{corpus function: "package==version"}`` for every corpus above (sorted)."""
    out = {}
    for func, pkg in sorted(_SOURCES.items()):
        try:
            out[func] = f"{pkg}=={importlib.metadata.version(pkg)}"
        except importlib.metadata.PackageNotFoundError:
            out[func] = f"{pkg} (not installed)"
    return out


def wikipedia_articles(limit: int | None = None, with_titles: bool = False) -> list:
    """Plain-text English Wikipedia articles (markup stripped by gensim's ``filter_wiki``).

    Returns ``[text, ...]`` or, with ``with_titles=True``, ``[(title, text), ...]``.
    Redirect stubs and near-empty pages are skipped. The parse (seconds for all 106) is cached
    per process and ``limit``; each call returns a fresh list of immutable items.
    """
    _check_limit(limit)
    return [page if with_titles else page[1] for page in _wiki_pages(limit)]


@functools.lru_cache(maxsize=8)
def _wiki_pages(limit: int | None) -> tuple[tuple[str, str], ...]:
    wikicorpus = _require("gensim.corpora.wikicorpus", "gensim")
    out = []
    with bz2.open(_gensim_file(_WIKI_FILE), "rb") as fh:
        for title, text, _pageid in wikicorpus.extract_pages(fh):
            plain = wikicorpus.filter_wiki(text).replace("'''", "").replace("''", "")
            lines = [" ".join(line.split()) for line in plain.splitlines()]
            plain = "\n".join(line for line in lines if line)
            if len(plain.split()) < 50 or plain.lower().startswith("#redirect"):
                continue
            out.append((title, plain))
            if limit is not None and len(out) >= limit:
                break
    return tuple(out)


def lee_corpus() -> list[str]:
    """The Lee background corpus: 300 news documents, one per line (latin-1 encoded)."""
    text = _gensim_file("lee_background.cor").read_text(encoding="latin-1")
    return [line.strip() for line in text.splitlines() if line.strip()]


def polarity_sentences() -> tuple[list[str], list[int]]:
    """200 lower-cased, pre-tokenised movie-review sentences and labels (1 = positive).

    The file is Windows-1252 encoded (its dashes are byte 0x97).
    """
    texts, labels = [], []
    for line in _gensim_file("pang_lee_polarity.cor").read_text(encoding="cp1252", errors="replace").splitlines():
        if not line.strip():
            continue
        label, _, text = line.partition(" ")
        if label not in ("__label__pos", "__label__neg"):
            raise ValueError(f"unexpected polarity label {label!r}")
        texts.append(text.strip())
        labels.append(int(label == "__label__pos"))
    return texts, labels


class _BunchUnpickler(pickle.Unpickler):
    """gensim pickled an old scikit-learn ``Bunch``; read it back as a plain dict."""

    def find_class(self, module, name):
        if name == "Bunch":
            return dict
        return super().find_class(module, name)


def newsgroup_posts() -> tuple[list[str], list[int], list[str]]:
    """200 Usenet posts from alt.atheism and sci.space: ``(texts, labels, label_names)``."""
    raw = zlib.decompress(_gensim_file("mini_newsgroup").read_bytes())
    bunch = _BunchUnpickler(io.BytesIO(raw), encoding="latin-1").load()
    labels = [int(t) for t in bunch["target"]]
    return list(bunch["data"]), labels, list(bunch["target_names"])


def russian_text() -> str:
    """An excerpt of Dostoevsky's "Crime and Punishment" in Russian (UTF-8)."""
    return _gensim_file("crime-and-punishment.txt").read_text(encoding="utf-8")


def chitchat_dialogues(limit: int | None = None) -> list[list[str]]:
    """Casual English conversations as lists of turns (speakers alternate).

    Of the 7,168 conversations, the 4,017 with at least two turns are kept (~2.4M words).

    Consecutive messages by the same sender are joined into one turn. Conversations
    are returned in the dataset's key order (sorted), so the result is deterministic.
    The parsed corpus is cached per process; each call returns fresh lists.
    """
    _check_limit(limit)
    return [list(turns) for turns in _chitchat_all()[:limit]]


@functools.lru_cache(maxsize=1)
def _chitchat_all() -> tuple[tuple[str, ...], ...]:
    chitchat = _require("chitchat_dataset", "chitchat-dataset")
    data = chitchat.Dataset()
    out = []
    for key in sorted(data):
        turns = []
        for group in data[key]["messages"]:
            text = " ".join(m["text"].strip() for m in group if m["text"].strip())
            if text:
                turns.append(text)
        if len(turns) >= 2:
            out.append(tuple(turns))
    return tuple(out)


def chatterbot_pairs(language: str = "english") -> list[tuple[str, str]]:
    """(question, answer) pairs from chatterbot-corpus for ``language`` (e.g. "russian").

    Longer conversations contribute each consecutive (turn, next turn) pair. The parsed files are
    cached per process (libyaml's C parser when PyYAML has it: the same pairs, ~10x faster).
    """
    if not isinstance(language, str):
        raise TypeError(f"language must be a str, got {type(language).__name__}")
    return list(_chatterbot_pairs(language))


@functools.lru_cache(maxsize=8)
def _chatterbot_pairs(language: str) -> tuple[tuple[str, str], ...]:
    _require("chatterbot_corpus", "chatterbot-corpus")
    yaml = _require("yaml", "pyyaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = importlib.util.find_spec("chatterbot_corpus")
    root = Path(next(iter(spec.submodule_search_locations))) / "data"
    folder = root / language
    if not folder.is_dir():
        langs = sorted(p.name for p in root.iterdir() if p.is_dir())
        raise ValueError(f"language must be one of {langs}, got {language!r}")
    pairs = []
    for path in sorted(folder.glob("*.yml")):
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
        for conv in doc.get("conversations") or []:
            turns = [str(t).strip() for t in conv if t is not None and str(t).strip()]
            pairs.extend(zip(turns[:-1], turns[1:]))
    return tuple(pairs)


def python_sources(limit: int | None = 50, max_chars: int = 20_000) -> list[str]:
    """Source text of standard-library modules (sorted by path), for code infilling."""
    _check_limit(limit)
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for path in sorted(stdlib.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if 500 <= len(text) <= max_chars:
            out.append(text)
            if limit is not None and len(out) >= limit:
                break
    return out


def word_benchmark_path(name: str) -> Path:
    """Path to ``questions-words`` (analogies), ``wordsim353`` or ``simlex999``."""
    if name not in _BENCHMARKS:
        raise ValueError(f"name must be one of {sorted(_BENCHMARKS)}, got {name!r}")
    return _gensim_file(_BENCHMARKS[name])


def navec_path() -> Path:
    """Path to the navec Russian word vectors tar shipped inside natasha's wheel."""
    spec = importlib.util.find_spec("natasha")
    if spec is None:
        raise ImportError("Russian word vectors need the package 'natasha': pip install natasha")
    root = Path(next(iter(spec.submodule_search_locations))) / "data" / "emb"
    tars = sorted(root.glob("navec_*.tar"))
    if not tars:
        raise FileNotFoundError(f"no navec_*.tar under {root}")
    return tars[0]
