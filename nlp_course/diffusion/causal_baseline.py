"""A same-size causal (left-to-right) transformer, trained on the same data for comparison.

Taught in notebook 11.

``causal_twin(mlm)`` builds ``transformers.BertLMHeadModel`` with ``is_decoder=True`` -- the
same embeddings, layers, widths and vocabulary as the masked LM, only with a causal attention
mask -- so the two differ in nothing but the objective. ``causal_loss`` plugs into
``train.train`` (same optimizer, steps, batches: equal compute), ``causal_nll`` gives the exact
NLL of held-out answers -- the same answers, the same first EOS and the same word counts as
``evaluate.elbo``'s canvas bound (both build on ``evaluate.sampler_canvases``), per token and per
word -- and ``causal_generate`` samples left to right for the repetition comparison.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .chat import chat_ids
from .evaluate import sampler_canvases
from .sample import encode_prompt, filter_logits, generation_banned_ids


def _dims(config) -> dict:
    get = lambda *names: next(getattr(config, n) for n in names if getattr(config, n, None) is not None)
    return {"hidden_size": get("hidden_size", "dim", "d_model"),
            "num_hidden_layers": get("num_hidden_layers", "n_layers", "n_layer"),
            "num_attention_heads": get("num_attention_heads", "n_heads", "n_head"),
            "intermediate_size": get("intermediate_size", "hidden_dim", "d_ff"),
            "max_position_embeddings": get("max_position_embeddings", "max_len")}


def causal_twin(mlm_model, vocab_size: int | None = None, seed: int = 0):
    """A randomly initialised causal ``BertLMHeadModel`` with ``mlm_model``'s sizes."""
    from transformers import BertConfig, BertLMHeadModel

    vocab = vocab_size or mlm_model.get_input_embeddings().weight.shape[0]
    config = BertConfig(vocab_size=vocab, is_decoder=True, **_dims(mlm_model.config))
    torch.manual_seed(seed)
    return BertLMHeadModel(config)


def causal_loss(model, batch: dict, generator=None) -> tuple[torch.Tensor, dict]:
    """Next-token cross-entropy on the target (answer) tokens only."""
    ids, target = batch["input_ids"], batch["target_mask"]
    logits = model(input_ids=ids, attention_mask=batch["attention_mask"]).logits[:, :-1]  # (B, T-1, V)
    labels = ids[:, 1:].masked_fill(~target[:, 1:], -100)  # (B, T-1)
    loss = F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100)
    return loss, {"n_tokens": (labels != -100).sum()}  # a 0-dim tensor: no host sync in training


@torch.no_grad()
def causal_nll(model, tokenizer, examples: list[dict], batch_size: int = 16, max_length: int = 128,
               gen_length: int | None = None) -> dict:
    """Exact NLL of the examples' answers + first EOS, as ``evaluate.elbo`` scores them.

    Each chat example is ``prompt + answer[:gen_length] (+ EOS if it fits)`` (``sampler_canvases``,
    same ``gen_length`` default: the longest answer + 1); a fill-in-the-middle example scores its
    span from the left context only. Returns ``{"nll", "ppl", "nll_per_word", "nats", "n_tokens",
    "n_words", "n_examples", "gen_length"}`` (per answer token / per whitespace word of the answer).
    """
    canvases = sampler_canvases(tokenizer, examples, gen_length, max_length)
    pad = chat_ids(tokenizer)["pad"]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    nats, n = 0.0, 0
    for start in range(0, len(canvases), batch_size):
        rows = canvases[start:start + batch_size]
        seqs = [[t for t, f, s in zip(r["ids"], r["fill"], r["score"]) if s or not f] for r in rows]  # no EOS tail
        width = max(len(x) for x in seqs)
        batch = {"input_ids": torch.tensor([x + [pad] * (width - len(x)) for x in seqs]),  # (B, T)
                 "attention_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in seqs]),  # (B, T)
                 "target_mask": torch.tensor([[s for f, s in zip(r["fill"], r["score"]) if s or not f]
                                              + [False] * (width - len(x)) for r, x in zip(rows, seqs)])}  # (B, T)
        loss, stats = causal_loss(model, {k: v.to(device) for k, v in batch.items()})
        nats += float(loss) * int(stats["n_tokens"])
        n += int(stats["n_tokens"])
    model.train(was_training)
    words = sum(c["words"] for c in canvases)
    nll = nats / max(n, 1)
    return {"nll": nll, "ppl": math.exp(min(nll, 50.0)), "nll_per_word": nats / words if words else None,
            "nats": nats, "n_tokens": n, "n_words": words, "n_examples": len(canvases),
            "gen_length": canvases[0]["gen_length"]}


@torch.no_grad()
def causal_generate(model, tokenizer, prompt, max_new_tokens: int = 32, temperature: float = 0.0,
                    top_k: int | None = None, top_p: float | None = None, seed: int = 0) -> str:
    """Left-to-right sampling (no KV cache: these models are tiny); cut at the first EOS."""
    ids = encode_prompt(tokenizer, prompt)
    eos = chat_ids(tokenizer)["end"]
    banned = generation_banned_ids(tokenizer)
    device = next(model.parameters()).device
    x = torch.tensor([ids], device=device)  # (1, L)
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    out = []
    for _ in range(max_new_tokens):
        logits = model(input_ids=x).logits[0, -1].double()  # (V,)
        logits[banned] = float("-inf")
        logits = filter_logits(logits / max(temperature, 1e-8), top_k, top_p)
        if temperature > 0:
            nxt = int(torch.multinomial(logits.softmax(-1).cpu(), 1, generator=gen))
        else:
            nxt = int(logits.argmax())
        if nxt == eos:
            break
        out.append(nxt)
        x = torch.cat([x, torch.tensor([[nxt]], device=device)], 1)
    model.train(was_training)
    return tokenizer.decode(out, skip_special_tokens=True)
