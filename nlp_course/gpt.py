"""A tiny decoder-only GPT (GPT-2 layout) for characters, with a KV-cache ``generate``.

Taught in notebook 07 (trained on chapter 06's character-level Wikipedia text and compared with
a character n-gram model (chapter 04) and an LSTM (chapter 06) at matched parameter counts);
``CharLSTM`` and ``random_batch`` are also chapter 06's own character language model and batcher.

- ``GPT``: token embedding + learned positions -> ``n_layer`` pre-norm blocks -> final LayerNorm
  -> a head tied to the token embedding (GPT-2, Radford et al. 2019). Each block is the package's
  ``EncoderLayer(norm_first=True, activation="gelu_tanh")`` run under a causal mask: a GPT block
  is an encoder block that may not look ahead. Given the same weights it computes the same
  logits as Hugging Face ``GPT2LMHeadModel`` (tests copy the weights one to one).
- ``GPT.forward(ids, cache=None)``: without a cache the blocks run as ``EncoderLayer.forward``;
  with a cache (a list of per-layer (k, v), each (B, H, P, D)) only the new positions are
  projected, their keys and values are appended, and the new queries attend to all P + t keys.
- ``generate``: greedy or sampled decoding, with or without the cache; the two give the same
  tokens (the cache changes the cost of a new token from O(T^2 d) to O(T d), not the function).
- Character-LM plumbing shared with the baselines: ``random_batch``, ``train_lm``,
  ``bits_per_char`` (every held-out character scored once, with at least ``block - stride``
  characters of context), and ``CharLSTM``, the chapter-06 LSTM language model.

References: Radford et al. 2019 (GPT-2); Karpathy's minGPT/nanoGPT
(https://github.com/karpathy/nanoGPT/blob/master/model.py);
https://huggingface.co/docs/transformers/model_doc/gpt2
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from nlp_course.attention import scaled_dot_product_attention
from nlp_course.positional import LearnedPositionalEmbedding
from nlp_course.seq2seq import warmup_cosine
from nlp_course.transformer import EncoderLayer


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_ids(ids, vocab_size: int) -> None:
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
        shape = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise ValueError(f"ids must be a (B, T) tensor of int64 token ids, got {shape}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"ids must be in [0, {vocab_size}), got range [{int(ids.min())}, {int(ids.max())}]")


class GPT(nn.Module):
    """Decoder-only transformer: forward(ids (B, T), cache=None) -> logits (B, T, V)."""

    def __init__(self, vocab_size: int, block_size: int = 128, n_layer: int = 4, n_head: int = 4,
                 n_embd: int = 64, dropout: float = 0.0):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("block_size", block_size), ("n_layer", n_layer),
                            ("n_head", n_head), ("n_embd", n_embd)):
            _positive_int(name, value)
        self.vocab_size, self.block_size, self.n_head = vocab_size, block_size, n_head
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = LearnedPositionalEmbedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            EncoderLayer(n_embd, n_head, 4 * n_embd, dropout=dropout, activation="gelu_tanh", norm_first=True)
            for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied (Press & Wolf 2017), as in GPT-2
        for name, p in self.named_parameters():  # GPT-2 init: N(0, 0.02), residual projections / sqrt(2L)
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith(("out_proj.weight", "linear2.weight")) else 0.02
                nn.init.normal_(p, std=std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    @classmethod
    def from_gpt2(cls, hf_model) -> GPT:
        """Copy a Hugging Face ``GPT2LMHeadModel`` (any size) into ours, weight for weight.

        GPT-2 stores its projections as ``Conv1D`` (in, out) matrices: ours are their transposes.
        """
        cfg = hf_model.config
        if cfg.model_type != "gpt2":
            raise TypeError(f"hf_model must be a GPT2LMHeadModel, got model_type {cfg.model_type!r}")
        if cfg.activation_function != "gelu_new" or cfg.layer_norm_epsilon != 1e-5:
            raise ValueError("only GPT-2's gelu_new activation and LayerNorm eps 1e-5 are supported, got "
                             f"{cfg.activation_function!r}, {cfg.layer_norm_epsilon}")
        ref = next(hf_model.parameters())
        ours = cls(cfg.vocab_size, cfg.n_positions, cfg.n_layer, cfg.n_head, cfg.n_embd).to(ref.dtype)
        sd = hf_model.transformer.state_dict()
        mine = {"wte.weight": sd["wte.weight"], "wpe.weight": sd["wpe.weight"],
                "ln_f.weight": sd["ln_f.weight"], "ln_f.bias": sd["ln_f.bias"]}
        names = {"ln_1": "norm1", "attn.c_attn": "self_attn.in_proj", "attn.c_proj": "self_attn.out_proj",
                 "ln_2": "norm2", "mlp.c_fc": "linear1", "mlp.c_proj": "linear2"}
        for i in range(cfg.n_layer):
            for theirs, ours_name in names.items():
                w, b = sd[f"h.{i}.{theirs}.weight"], sd[f"h.{i}.{theirs}.bias"]
                is_ln = theirs.startswith("ln")
                sep = "_" if ours_name.endswith("in_proj") else "."
                mine[f"blocks.{i}.{ours_name}{sep}weight"] = w if is_ln else w.T
                mine[f"blocks.{i}.{ours_name}{sep}bias"] = b
        mine["lm_head.weight"] = mine["wte.weight"]
        ours.load_state_dict(mine)  # copies into ours' dtype: made in the source's, so no rounding
        return ours.to(ref.device)

    def forward(self, ids: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        _check_ids(ids, self.vocab_size)
        past = 0 if not cache else cache[0][0].shape[2]
        T = ids.shape[1]
        if past + T > self.block_size:
            raise ValueError(f"{past} cached + {T} new positions exceed block_size={self.block_size}")
        pos = self.wpe.weight[past: past + T]  # (T, C)
        x = self.drop(self.wte(ids) + pos)  # (B, T, C)
        if cache is None:
            blocked = torch.ones(T, T, dtype=torch.bool, device=ids.device).triu(1)  # True = future
            for block in self.blocks:
                x = block(x, src_mask=blocked)  # (B, T, C)
        else:
            if cache and len(cache) != len(self.blocks):
                raise ValueError(f"cache must hold one (k, v) per layer ({len(self.blocks)}), got {len(cache)}")
            if not cache:
                cache.extend([None] * len(self.blocks))
            for i, block in enumerate(self.blocks):
                x, cache[i] = self._cached_block(block, x, cache[i])  # (B, T, C)
        return self.lm_head(self.ln_f(x))  # (B, T, V)

    def _cached_block(self, block: EncoderLayer, x: torch.Tensor, kv):
        """One pre-norm block for new positions x (B, T, C), appending their keys/values to kv."""
        attn = block.self_attn
        B, T, C = x.shape
        H, D = attn.num_heads, attn.head_dim
        q, k, v = F.linear(block.norm1(x), attn.in_proj_weight, attn.in_proj_bias).split(C, dim=-1)
        q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D) each
        if kv is not None:
            k, v = torch.cat([kv[0], k], dim=2), torch.cat([kv[1], v], dim=2)  # (B, H, P+T, D)
        past = k.shape[2] - T
        keep = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(past)  # (T, P+T) True = attend
        out = scaled_dot_product_attention(q, k, v, mask=keep)  # (B, H, T, D)
        out = attn.out_proj(out.transpose(1, 2).reshape(B, T, C))  # (B, T, C)
        x = x + block.dropout1(out)
        x = x + block._ff(block.norm2(x))  # (B, T, C)
        return x, (k, v)


@torch.no_grad()
def generate(model: GPT, ids: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             greedy: bool = False, use_cache: bool = True, seed: int | None = None) -> torch.Tensor:
    """Append ``max_new_tokens`` tokens to ids (B, T0); returns (B, T0 + max_new_tokens).

    Past ``block_size`` the context is cropped to the last ``block_size`` tokens (nanoGPT); the
    learned positions then shift every step, so the cached path re-encodes the cropped window.
    """
    _positive_int("max_new_tokens", max_new_tokens)
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    _check_ids(ids, model.vocab_size)
    was_training = model.training
    model.eval()
    gen = None if seed is None else torch.Generator(device=ids.device).manual_seed(seed)
    cache, fed = None, 0  # fed = how many tokens of ids the cache already holds
    for _ in range(max_new_tokens):
        if not use_cache:
            logits = model(ids[:, -model.block_size:])[:, -1]  # (B, V)
        else:
            if cache is None or ids.shape[1] > model.block_size:
                cache, fed = [], max(0, ids.shape[1] - model.block_size)
            logits = model(ids[:, fed:], cache=cache)[:, -1]  # (B, V): only the unseen tokens run
            fed = ids.shape[1]
        if greedy:
            nxt = logits.argmax(-1, keepdim=True)  # (B, 1)
        else:
            nxt = torch.multinomial((logits / temperature).softmax(-1), 1, generator=gen)  # (B, 1)
        ids = torch.cat([ids, nxt], dim=1)
    model.train(was_training)
    return ids


class CharLSTM(nn.Module):
    """Chapter 06's character LSTM language model: forward(ids (B, T)) -> logits (B, T, V).

    ``forward(ids, state, return_state=True)`` also takes and returns the LSTM's (h, c), each
    (layers, B, hidden), so sampling can carry the state and feed one new character at a time.
    """

    def __init__(self, vocab_size: int, emb: int = 64, hidden: int = 176, layers: int = 1):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("emb", emb), ("hidden", hidden), ("layers", layers)):
            _positive_int(name, value)
        self.vocab_size = vocab_size
        self.emb = nn.Embedding(vocab_size, emb)
        self.rnn = nn.LSTM(emb, hidden, layers, batch_first=True)  # fused; equals nlp_course.rnn.LSTM
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids: torch.Tensor, state: tuple | None = None, return_state: bool = False):
        _check_ids(ids, self.vocab_size)
        out, state = self.rnn(self.emb(ids), state)  # (B, T, H); state: (h, c), each (layers, B, H)
        logits = self.head(out)  # (B, T, V)
        return (logits, state) if return_state else logits


def random_batch(ids: torch.Tensor, batch_size: int, block: int, gen: torch.Generator | None = None):
    """batch_size random windows of a 1-D id stream: inputs and next-token targets, (B, block) each."""
    if ids.dim() != 1 or len(ids) <= block + 1:
        raise ValueError(f"ids must be a 1-D stream longer than block + 1 = {block + 1}, got {tuple(ids.shape)}")
    start = torch.randint(0, len(ids) - block - 1, (batch_size,), generator=gen)  # (B,)
    idx = start[:, None] + torch.arange(block + 1)  # (B, block + 1)
    return ids[idx[:, :-1]], ids[idx[:, 1:]]


def train_lm(model: nn.Module, train_ids: torch.Tensor, steps: int, batch_size: int = 32, block: int = 128,
             lr: float = 3e-3, seed: int = 0, callback=None) -> list[float]:
    """Next-character cross-entropy with AdamW, warm-up then cosine decay, clipping at 1. Returns losses (nats).

    ``callback(done_steps)`` runs after every step (e.g. a held-out score for a learning curve);
    the model is put back in training mode after it.
    """
    _positive_int("steps", steps)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = warmup_cosine(opt, steps)
    model.train()
    losses = []
    for _ in range(steps):
        x, y = random_batch(train_ids, batch_size, block, gen)  # (B, T), (B, T)
        logits = model(x)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if callback is not None:
            callback(len(losses))
            model.train()
    model.eval()
    return losses


@torch.no_grad()
def bits_per_char(model: nn.Module, ids: torch.Tensor, block: int = 128, stride: int | None = None) -> float:
    """Mean -log2 p(next char) over a 1-D stream, every target scored exactly once.

    Windows of ``block`` characters start every ``stride`` (default block // 2); a window scores
    only its last ``stride`` targets (the first window scores all), so each prediction after the
    first window sees at least ``block - stride`` characters of context.
    """
    stride = block // 2 if stride is None else stride
    if not 1 <= stride <= block:
        raise ValueError(f"stride must be in [1, block={block}], got {stride}")
    if ids.dim() != 1 or len(ids) < 2:
        raise ValueError(f"ids must be a 1-D stream of at least 2 ids, got {tuple(ids.shape)}")
    model.eval()
    total, count, scored = 0.0, 0, 0  # scored = number of targets (ids[1:]) done so far
    n_targets = len(ids) - 1
    while scored < n_targets:
        end = min(scored + (block if scored == 0 else stride), n_targets)  # last target index + 1
        start = max(0, end - block)
        x, y = ids[start:end][None], ids[start + 1:end + 1]  # (1, W), (W,)
        logits = model(x)[0, scored - start:]  # (new, V)
        total += F.cross_entropy(logits, y[scored - start:], reduction="sum").item()
        count += end - scored
        scored = end
    return total / count / math.log(2)

