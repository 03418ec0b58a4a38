"""Looking inside a BERT: attention maps, gradient x input, occlusion, contextual embeddings.

Taught in notebook 08 (question 27: "How do you interpret what a transformer learned?").

- Attention maps show where each head looks; they are *not* explanations by themselves
  (Jain & Wallace 2019, "Attention is not Explanation"; Wiegreffe & Pinter 2019).
- Gradient x input (Shrikumar et al. 2017; Denil et al. 2014): d score / d embedding, times the
  embedding, summed over the hidden size -- a first-order estimate of each token's effect.
- Occlusion (Zeiler & Fergus 2014; the perturbation idea behind LIME, Ribeiro et al. 2016):
  replace one token at a time by [MASK] and measure how much the score drops.
- Contextual vs static embeddings: word2vec gives "bank" one vector; BERT gives each occurrence
  its own, so senses separate (PCA of the hidden states shows it).

Every function takes any model called as ``model(input_ids=..., attention_mask=...)`` whose
``get_input_embeddings()`` is the token embedding -- ours and Hugging Face's alike.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch

ScoreFn = Callable[[object], torch.Tensor]  # model output -> scalar score (per batch row: (B,))


@torch.no_grad()
def attention_maps(model, tokenizer, text: str) -> tuple[list[str], torch.Tensor]:
    """Tokens of ``text`` and its attention probabilities, shape (layers, heads, T, T)."""
    enc = tokenizer(text, return_tensors="pt")
    out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], output_attentions=True)
    attn = torch.stack([a[0] for a in out.attentions])  # (L, H, T, T)
    return tokenizer.convert_ids_to_tokens(enc["input_ids"][0]), attn


def plot_attention(attn: torch.Tensor, tokens: list[str], layers=None, heads=None, size: float = 2.2):
    """Grid of heat maps: rows = layers, columns = heads (query on y, key on x)."""
    if attn.dim() != 4:
        raise ValueError(f"attn must have shape (layers, heads, T, T), got {tuple(attn.shape)}")
    layers = list(range(attn.shape[0])) if layers is None else list(layers)
    heads = list(range(attn.shape[1])) if heads is None else list(heads)
    fig, axes = plt.subplots(len(layers), len(heads), figsize=(size * len(heads), size * len(layers)), squeeze=False)
    for i, layer in enumerate(layers):
        for j, head in enumerate(heads):
            ax = axes[i][j]
            ax.imshow(attn[layer, head].numpy(), cmap="viridis", vmin=0, vmax=1)
            ax.set_title(f"layer {layer}, head {head}", fontsize=8)
            ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=6)
            ax.set_yticks(range(len(tokens)), tokens, fontsize=6)
    fig.supxlabel("key token (attended to)")
    fig.supylabel("query token")
    fig.tight_layout()
    return fig


def masked_token_score(position: int, token_id: int) -> ScoreFn:
    """Score = log p(token_id at position) under an MLM (for saliency of a fill-mask guess)."""
    def score(out) -> torch.Tensor:
        return out.logits[:, position].log_softmax(-1)[:, token_id]  # (B,)
    return score


def gradient_x_input(model, input_ids: torch.Tensor, score_fn: ScoreFn, attention_mask=None) -> torch.Tensor:
    """Per-token saliency (B, T): sum over hidden of embedding * d score / d embedding."""
    emb = model.get_input_embeddings()
    captured = {}

    def hook(_module, _inp, out):
        out.retain_grad()
        captured["e"] = out

    handle = emb.register_forward_hook(hook)
    try:
        was_training = model.training
        model.eval()
        out = model(input_ids=input_ids, attention_mask=attention_mask)
        score_fn(out).sum().backward()
        model.train(was_training)
    finally:
        handle.remove()
    e = captured["e"]  # (B, T, C)
    model.zero_grad(set_to_none=True)
    return (e * e.grad).sum(-1).detach()  # (B, T)


@torch.no_grad()
def occlusion(model, input_ids: torch.Tensor, score_fn: ScoreFn, replace_id: int, skip_ids=()) -> torch.Tensor:
    """Score drop (T,) when each token of ``input_ids`` (1, T) is replaced by ``replace_id``."""
    if input_ids.dim() != 2 or input_ids.shape[0] != 1:
        raise ValueError(f"input_ids must have shape (1, T), got {tuple(input_ids.shape)}")
    was_training = model.training
    model.eval()
    T = input_ids.shape[1]
    variants = input_ids.repeat(T, 1)  # (T, T): row t has token t occluded
    idx = torch.arange(T)
    keep = torch.isin(input_ids[0], torch.tensor(list(skip_ids), dtype=input_ids.dtype))
    variants[idx, idx] = torch.where(keep, input_ids[0], torch.full_like(input_ids[0], replace_id))
    base = score_fn(model(input_ids=input_ids))  # (1,)
    scores = score_fn(model(input_ids=variants))  # (T,)
    model.train(was_training)
    return base - scores


@torch.no_grad()
def word_vectors_in_context(model, tokenizer, sentences: list[str], word: str, layer: int = -1) -> np.ndarray:
    """Hidden state (at ``layer``) of the first piece of ``word`` in each sentence: (N, C)."""
    piece = tokenizer.tokenize(word)[0]
    rows = []
    for s in sentences:
        enc = tokenizer(s, return_tensors="pt")
        toks = tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
        if piece not in toks:
            raise ValueError(f"word {word!r} (piece {piece!r}) not found in sentence {s!r}")
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], output_hidden_states=True)
        rows.append(out.hidden_states[layer][0, toks.index(piece)].numpy())
    return np.stack(rows)
