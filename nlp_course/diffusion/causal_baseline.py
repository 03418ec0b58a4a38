"""A same-size causal (left-to-right) transformer, trained on the same data for comparison.

Taught in notebook 11.

``causal_twin(mlm)`` builds ``transformers.BertLMHeadModel`` with ``is_decoder=True`` -- the
same embeddings, layers, widths and vocabulary as the masked LM, only with a causal attention
mask -- so the two differ in nothing but the objective. ``causal_loss`` plugs into
``train.train`` (same optimizer, steps, batches: equal compute), ``causal_nll`` gives the exact
per-token NLL of held-out answers (comparable with ``evaluate.elbo``'s bound on the same
tokens), and ``causal_generate`` samples left to right for the repetition comparison.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .chat import chat_ids
from .collate import DiffusionCollator
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
    return loss, {"n_tokens": int((labels != -100).sum())}


@torch.no_grad()
def causal_nll(model, tokenizer, examples: list[dict], batch_size: int = 16, max_length: int = 128) -> dict:
    """Exact per-token NLL and perplexity of the examples' targets (padding hidden)."""
    ids = chat_ids(tokenizer)
    collate = DiffusionCollator(ids["pad"], ids["end"], max_length, eos_in_loss=False, pad_to_max=False)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    for start in range(0, len(examples), batch_size):
        batch = {k: v.to(device) for k, v in collate(examples[start:start + batch_size]).items()}
        loss, stats = causal_loss(model, batch)
        total += float(loss) * stats["n_tokens"]
        n += stats["n_tokens"]
    model.train(was_training)
    return {"nll": total / max(n, 1), "ppl": math.exp(min(total / max(n, 1), 50.0)), "n_tokens": n}


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
