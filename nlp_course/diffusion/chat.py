"""A chat format for encoder (BERT-like) tokenizers, which ship no chat template.

Taught in notebook 11.

A dialogue becomes one token sequence::

    [CLS] <|user|> how are you? <|end|> <|assistant|> fine, thanks. <|end|> <|end|> ... [SEP]

The markers are added to the tokenizer as *special* tokens (never split, never lower-cased)
when it lacks them, and the model's embedding matrix grows to match
(``model.resize_token_embeddings``; the new rows start from the mean embedding, as
Hugging Face does). ``<|end|>`` closes every turn and doubles as the EOS that pads answers in
training (LLaDA pads with its end-of-turn token the same way), so the sampler can cut at it.

For multi-turn data every assistant turn is a training target: ``dialogue_examples`` yields
one example per assistant turn whose prompt is all the (clean) turns before it.
"""

from __future__ import annotations

from collections.abc import Sequence

USER, ASSISTANT, SYSTEM, END = "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"
CHAT_TOKENS = (SYSTEM, USER, ASSISTANT, END)
ROLE_MARKERS = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}


def find_mask_id(tokenizer) -> int:
    """The tokenizer's [MASK] id; refuse tokenizers without one (e.g. GPT-2 style BPE)."""
    mask_id = getattr(tokenizer, "mask_token_id", None)
    if mask_id is None:
        raise ValueError(
            f"tokenizer {type(tokenizer).__name__} has no mask token: masked diffusion needs a "
            "masked-LM model and tokenizer (BERT, XLM-R, DistilBERT, ModernBERT...)"
        )
    return int(mask_id)


def add_chat_tokens(tokenizer, model=None) -> int:
    """Add the chat markers as special tokens if missing; resize ``model``'s embeddings.

    Returns how many tokens were added (0 when the tokenizer already had them).
    """
    find_mask_id(tokenizer)
    vocab = tokenizer.get_vocab()
    missing = [t for t in CHAT_TOKENS if t not in vocab]
    added = 0
    if missing:
        added = tokenizer.add_special_tokens({"additional_special_tokens": missing})
    if model is not None:
        emb = model.get_input_embeddings().weight
        if emb.shape[0] < len(tokenizer):
            model.resize_token_embeddings(len(tokenizer))
    return added


def chat_ids(tokenizer) -> dict[str, int]:
    """Ids of the markers plus mask/pad/cls/sep (raises if the markers were never added)."""
    vocab = tokenizer.get_vocab()
    missing = [t for t in CHAT_TOKENS if t not in vocab]
    if missing:
        raise ValueError(f"tokenizer lacks chat markers {missing}: call add_chat_tokens first")
    out = {name: vocab[tok] for name, tok in zip(("system", "user", "assistant", "end"), CHAT_TOKENS)}
    out["mask"] = find_mask_id(tokenizer)
    pad = tokenizer.pad_token_id
    out["pad"] = int(pad) if pad is not None else out["end"]
    out["cls"] = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    out["sep"] = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    return out


def validate_messages(messages, where: str = "messages") -> list[dict]:
    """Check a ``[{"role": ..., "content": ...}, ...]`` list and return it."""
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)) or not messages:
        raise ValueError(f"{where} must be a non-empty list of {{role, content}} dicts")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ValueError(f"{where}[{i}] must be a dict with 'role' and 'content', got {m!r}")
        if m["role"] not in ROLE_MARKERS:
            raise ValueError(f"{where}[{i}]['role'] must be one of {sorted(ROLE_MARKERS)}, got {m['role']!r}")
        if not isinstance(m["content"], str):
            raise ValueError(f"{where}[{i}]['content'] must be a str")
    return list(messages)


def _turn_ids(tokenizer, ids: dict, role: str, content: str, close: bool) -> list[int]:
    body = tokenizer(content, add_special_tokens=False, verbose=False)["input_ids"]
    return [ids[role]] + body + ([ids["end"]] if close else [])


def prompt_ids(tokenizer, messages) -> list[int]:
    """Token ids of a conversation so far, ending with the opened ``<|assistant|>`` turn."""
    messages = validate_messages(messages)
    ids = chat_ids(tokenizer)
    out = [ids["cls"]] if ids["cls"] is not None else []
    for m in messages:
        out += _turn_ids(tokenizer, ids, m["role"], m["content"], close=True)
    return out + [ids["assistant"]]


def dialogue_examples(tokenizer, messages, max_length: int, all_turns: bool = True) -> list[dict]:
    """One training example per assistant turn (only the last one if ``all_turns=False``).

    Each example is ``{"input_ids": [...], "target": [...]}`` where ``target`` marks the answer
    tokens (plus its closing ``<|end|>``) -- the only positions the collator may mask. Examples
    whose prompt leaves no room for an answer within ``max_length`` are dropped; long answers
    are truncated (their closing ``<|end|>`` then falls off: the answer continues past the window).
    """
    messages = validate_messages(messages)
    ids = chat_ids(tokenizer)
    turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if not all_turns:
        turns = turns[-1:]
    out = []
    for k in turns:
        if k:
            prompt = prompt_ids(tokenizer, messages[:k])
        else:
            prompt = ([ids["cls"]] if ids["cls"] is not None else []) + [ids["assistant"]]
        answer = tokenizer(messages[k]["content"], add_special_tokens=False, verbose=False)["input_ids"]
        answer = answer + [ids["end"]]
        room = max_length - len(prompt)
        if room < 2:
            continue
        answer = answer[:room]
        out.append({"input_ids": prompt + answer, "target": [False] * len(prompt) + [True] * len(answer)})
    return out
