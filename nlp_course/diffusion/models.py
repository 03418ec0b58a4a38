"""Load a masked LM + tokenizer for diffusion: any Hugging Face name/path, the course BERT, or a
tiny random model built offline (for tests, CI and the smoke preset).

Taught in notebook 11.

``load_mlm(name)`` accepts

- a Hugging Face model name or local folder (``AutoModelForMaskedLM`` + ``AutoTokenizer``);
- ``course-bert``: chapter 08's pretrained BERT (``nlp_course.pretrain.load_course_bert``);
- ``tiny-random:<arch>`` with arch in ``bert``, ``xlm-roberta``, ``distilbert``, ``modernbert``:
  a 2-layer, 32-wide random model with a WordPiece tokenizer trained offline on the chatterbot
  corpus -- the same Hugging Face classes that RuModernBERT, mmBERT and ettin (ModernBERT) or
  XLM-R use, only tiny. ``save_tiny_random(arch, folder)`` writes one to disk like a hub model.

Every model must have a mask token; ``find_mask_id`` refuses the rest. Offline (``HF_HUB_OFFLINE=1``,
or no connection to the hub within 3 s) a hub name is read from the local cache only, and a name
that is not there fails at once, naming the model, instead of after the hub client's retries.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

from nlp_course import data as corpora

from .chat import find_mask_id

TINY_ARCHS = ("bert", "xlm-roberta", "distilbert", "modernbert")
_SPECIALS = {
    "xlm-roberta": {"cls": "<s>", "sep": "</s>", "pad": "<pad>", "unk": "<unk>", "mask": "<mask>"},
}
_BERT_SPECIALS = {"cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]", "unk": "[UNK]", "mask": "[MASK]"}


@functools.lru_cache(maxsize=1)
def _corpus_pieces() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(characters, words by falling frequency) of the chatterbot corpus, BERT-normalised; cached
    because reading the corpus takes seconds and every tiny model needs it."""
    from tokenizers import normalizers, pre_tokenizers

    norm, pre = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    counts: Counter = Counter()
    for q, a in corpora.chatterbot_pairs("english"):
        counts.update(w for w, _ in pre.pre_tokenize_str(norm.normalize_str(q + " " + a)))
    words = tuple(w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if len(w) > 1)
    return tuple(sorted({c for w in counts for c in w})), words


def tiny_tokenizer(arch: str = "bert", vocab_size: int = 800, mask: bool = True):
    """A WordPiece ``PreTrainedTokenizerFast`` whose vocabulary is the chatterbot Q/A corpus's
    characters and most frequent words (built offline, deterministic)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    sp = dict(_SPECIALS.get(arch, _BERT_SPECIALS))
    if not mask:
        sp.pop("mask")
    norm, pre = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    chars, words = _corpus_pieces()
    # a deterministic vocabulary (tokenizers' trainers break ties in hash order): specials,
    # every character (alone and as a ##continuation), then the most frequent words
    vocab = list(sp.values()) + list(chars) + ["##" + c for c in chars]
    vocab += words[: max(0, vocab_size - len(vocab))]
    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token=sp["unk"]))
    tok.normalizer, tok.pre_tokenizer, tok.decoder = norm, pre, decoders.WordPiece()
    cls, sep = tok.token_to_id(sp["cls"]), tok.token_to_id(sp["sep"])
    tok.post_processor = processors.TemplateProcessing(
        single=f"{sp['cls']} $A {sp['sep']}", pair=f"{sp['cls']} $A {sp['sep']} $B {sp['sep']}",
        special_tokens=[(sp["cls"], cls), (sp["sep"], sep)],
    )
    kw = {f"{k}_token": v for k, v in sp.items()}
    if arch == "xlm-roberta":
        kw.update(bos_token=sp["cls"], eos_token=sp["sep"])
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=128, **kw)


def tiny_config(arch: str, tokenizer, width: int = 32, layers: int = 2, max_len: int = 128):
    """A tiny ``transformers`` config of ``arch`` sized for ``tokenizer``."""
    from transformers import BertConfig, DistilBertConfig, ModernBertConfig, XLMRobertaConfig

    if arch not in TINY_ARCHS:
        raise ValueError(f"tiny arch must be one of {TINY_ARCHS}, got {arch!r}")
    ids = dict(pad_token_id=tokenizer.pad_token_id, vocab_size=len(tokenizer))
    if arch == "bert":
        return BertConfig(hidden_size=width, num_hidden_layers=layers, num_attention_heads=2,
                          intermediate_size=2 * width, max_position_embeddings=max_len, **ids)
    if arch == "xlm-roberta":
        return XLMRobertaConfig(hidden_size=width, num_hidden_layers=layers, num_attention_heads=2,
                                intermediate_size=2 * width, max_position_embeddings=max_len + 2,
                                bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id, **ids)
    if arch == "distilbert":
        return DistilBertConfig(dim=width, n_layers=layers, n_heads=2, hidden_dim=2 * width,
                                max_position_embeddings=max_len, **ids)
    return ModernBertConfig(hidden_size=width, num_hidden_layers=layers, num_attention_heads=2,
                            intermediate_size=2 * width, max_position_embeddings=max_len,
                            global_attn_every_n_layers=2, local_attention=16,
                            cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id,
                            bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id, **ids)


def tiny_random(arch: str = "bert", seed: int = 0, **kw):
    """``(model, tokenizer)``: a tiny randomly initialised masked LM of ``arch``."""
    import torch
    from transformers import AutoModelForMaskedLM

    tokenizer = tiny_tokenizer(arch)
    config = tiny_config(arch, tokenizer, **kw)
    torch.manual_seed(seed)
    return AutoModelForMaskedLM.from_config(config), tokenizer


def save_tiny_random(arch: str, folder, seed: int = 0) -> Path:
    """Write a tiny random ``arch`` model + tokenizer to ``folder`` (loadable by ``load_mlm``)."""
    model, tokenizer = tiny_random(arch, seed)
    folder = Path(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the Hugging Face hub (or the configured HTTPS proxy) opens in
    ``timeout`` seconds, name lookup included: a quick probe instead of the hub client's ~48 s of
    retries on a machine without network. The endpoint follows ``HF_ENDPOINT``."""
    import socket
    import threading
    import urllib.request
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = urlparse(urllib.request.getproxies().get("https") or constants.ENDPOINT)
    address = (url.hostname, url.port or (443 if url.scheme == "https" else 80))
    opened: list[bool] = []

    def probe():
        try:
            socket.create_connection(address, timeout=timeout).close()
            opened.append(True)
        except OSError:
            opened.append(False)

    thread = threading.Thread(target=probe, daemon=True)  # getaddrinfo ignores socket timeouts
    thread.start()
    thread.join(timeout)
    return opened == [True]


def _from_hub(name: str):
    """``(model, tokenizer)`` of a hub name; only the local cache when offline or unreachable."""
    from huggingface_hub import constants
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    why = ("HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE
           else None if hub_reachable() else f"the hub ({constants.ENDPOINT}) is unreachable")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=why is not None)
        find_mask_id(tokenizer)
        return AutoModelForMaskedLM.from_pretrained(name, local_files_only=why is not None), tokenizer
    except OSError as e:
        if why is None:
            raise
        raise FileNotFoundError(f"model {name!r} is not in the local Hugging Face cache and {why}: "
                                "download it once with network, or pass a local folder") from e


def load_mlm(name: str, seed: int = 0):
    """``(model, tokenizer)`` for a hub name/folder, ``course-bert`` or ``tiny-random:<arch>``.

    A hub name is looked up in the local cache only when ``HF_HUB_OFFLINE`` is set or the hub
    cannot be reached (``hub_reachable``); a name found in neither raises ``FileNotFoundError``
    naming the model within seconds.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"model must be a non-empty str, got {name!r}")
    if name == "course-bert":
        try:
            from nlp_course.pretrain import load_course_bert
        except ImportError as e:
            raise ValueError(f"--model course-bert needs chapter 08's nlp_course.pretrain ({e})") from None
        model, tokenizer = load_course_bert()
    elif name.startswith("tiny-random:"):
        model, tokenizer = tiny_random(name.split(":", 1)[1], seed)
    else:
        local = Path(name).expanduser()
        if name.startswith((".", "/", "~")) and not local.exists():
            raise FileNotFoundError(f"model path {name!r} does not exist")
        if local.exists():
            from transformers import AutoModelForMaskedLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(local))
            find_mask_id(tokenizer)
            model = AutoModelForMaskedLM.from_pretrained(str(local))
        else:
            model, tokenizer = _from_hub(name)
    find_mask_id(tokenizer)
    return model, tokenizer


def max_positions(model) -> int | None:
    """How many positions the model can attend over (XLM-R/RoBERTa reserve 2 for padding)."""
    cfg = getattr(model, "config", None)
    n = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "max_len", None)
    if n is None:
        return None
    if getattr(cfg, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        n -= 2
    return int(n)


def load_trained(run_dir, device=None):
    """``(model, tokenizer, meta)`` from a ``train`` output folder (its latest checkpoint)."""
    from transformers import AutoTokenizer

    from .chat import add_chat_tokens
    from .checkpoint import latest_checkpoint, load_checkpoint, read_state

    run_dir = Path(run_dir)
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        raise FileNotFoundError(f"{str(run_dir)!r} holds no checkpoint (expected a train --output-dir)")
    state = read_state(ckpt)  # verified: a damaged file is named before any model is built
    meta = state["meta"]
    model, _ = load_mlm(meta["base_model"], meta.get("seed", 0))
    tokenizer = AutoTokenizer.from_pretrained(str(run_dir / "tokenizer"))
    add_chat_tokens(tokenizer, model)
    load_checkpoint(ckpt, model, restore_rng=False, state=state)
    if device is not None:
        model.to(device)
    return model.eval(), tokenizer, meta
