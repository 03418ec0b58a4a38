"""BERT's descendants, each reduced to the one idea that defines it.

Taught in notebook 08 (seed 001: RoBERTa, DistilBERT, ALBERT, DeBERTa).

- RoBERTa (Liu et al. 2019): same architecture; no next-sentence prediction, *dynamic* masking
  (``nlp_course.masking.mask_tokens`` per batch), bigger batches and more data. Nothing new to
  build -- the notebook measures static vs dynamic masking with ``pretrain_mlm``.
- DistilBERT (Sanh et al. 2019): a student with every other layer of the teacher, trained on a
  *triple* loss: soft targets ``T^2 * KL(softmax(t/T) || softmax(s/T))`` (Hinton et al. 2015),
  the usual masked-LM cross-entropy, and a cosine loss ``1 - cos(h_s, h_t)`` that aligns the
  student's last hidden states with the teacher's (same width). ``distillation_loss`` is the
  first two, mixed by ``alpha``; ``hidden_cosine_loss`` the third; ``distill_mlm(..., cosine=w)``
  adds it with weight w. DistilBERT's training script weighs them 5 : 2 : 1 (``--alpha_ce 5.0
  --alpha_mlm 2.0 --alpha_cos 1.0`` in Hugging Face's ``research_projects/distillation``), i.e.
  ``alpha = 5/7`` and ``cosine = 1/7`` of the same total.
- ALBERT (Lan et al. 2020): factorised embeddings (V x E then E x H, with E << H) and ONE
  encoder layer shared by all depths: ``AlbertMaskedLM``; ``count_parameters`` shows the saving;
  ``seed_albert_local_heads`` gives it the course BERT's local-head initialisation.
- DeBERTa (He et al. 2021): disentangled attention -- content and relative position have
  separate vectors, and the score adds content->content, content->position and
  position->content terms, scaled by 1/sqrt(3d): ``DisentangledSelfAttention``.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers.modeling_outputs import MaskedLMOutput

from nlp_course.transformer import EncoderLayer


def count_parameters(model: nn.Module) -> int:
    """Number of distinct parameters (tied/shared tensors counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None = None,
                      temperature: float = 2.0, alpha: float = 0.5) -> torch.Tensor:
    """alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, labels).

    Logits are (N, V) (select scored positions first); ``labels`` may be None when alpha == 1.
    The T^2 factor keeps the soft-target gradients on the same scale as the hard ones.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student_logits {tuple(student_logits.shape)} and teacher_logits "
                         f"{tuple(teacher_logits.shape)} must have the same shape")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    log_s = F.log_softmax(student_logits / temperature, -1)
    log_t = F.log_softmax(teacher_logits / temperature, -1)
    soft = (log_t.exp() * (log_t - log_s)).sum(-1).mean() * temperature**2
    if alpha == 1.0:
        return soft
    if alpha == 0.0 and labels is not None:
        return F.cross_entropy(student_logits, labels)
    if labels is None:
        raise ValueError("labels are required when alpha < 1")
    return alpha * soft + (1 - alpha) * F.cross_entropy(student_logits, labels)


def hidden_cosine_loss(student_hidden: torch.Tensor, teacher_hidden: torch.Tensor) -> torch.Tensor:
    """DistilBERT's third loss: mean of ``1 - cos(h_s, h_t)`` over the rows of (N, C) hidden states.

    Equal to ``torch.nn.CosineEmbeddingLoss`` with target +1 (the loss DistilBERT's code calls).
    """
    if student_hidden.shape != teacher_hidden.shape or student_hidden.dim() != 2:
        raise ValueError(f"student_hidden {tuple(student_hidden.shape)} and teacher_hidden "
                         f"{tuple(teacher_hidden.shape)} must be (N, C) of the same shape")
    return (1 - F.cosine_similarity(student_hidden, teacher_hidden, dim=-1)).mean()


class AlbertMaskedLM(nn.Module):
    """ALBERT-style MLM: factorised embeddings + one EncoderLayer applied ``num_layers`` times."""

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, num_layers: int, num_heads: int,
                 intermediate_size: int, max_len: int, dropout: float = 0.1, pad_id: int = 0):
        super().__init__()
        self.max_len = max_len
        self.word = nn.Embedding(vocab_size, embedding_size, padding_idx=pad_id)  # V x E (E << H)
        self.pos = nn.Embedding(max_len, embedding_size)
        self.norm = nn.LayerNorm(embedding_size, eps=1e-12)
        self.up = nn.Linear(embedding_size, hidden_size)  # E x H
        self.layer = EncoderLayer(hidden_size, num_heads, intermediate_size, dropout, "gelu", 1e-12)
        self.num_layers = num_layers
        self.down = nn.Linear(hidden_size, embedding_size)  # H -> E, then tied V x E decoder
        self.head_norm = nn.LayerNorm(embedding_size, eps=1e-12)
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        self.dropout = nn.Dropout(dropout)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.word

    def forward(self, input_ids: torch.Tensor, attention_mask=None, labels=None) -> MaskedLMOutput:
        T = input_ids.shape[1]
        if T > self.max_len:
            raise ValueError(f"sequence length {T} exceeds max_len={self.max_len}")
        x = self.norm(self.word(input_ids) + self.pos(torch.arange(T, device=input_ids.device)))  # (B, T, E)
        h = self.dropout(self.up(x))  # (B, T, H)
        padding = None if attention_mask is None else attention_mask == 0
        for _ in range(self.num_layers):  # the same weights at every depth
            h = self.layer(h, src_key_padding_mask=padding)
        e = self.head_norm(F.gelu(self.down(h)))  # (B, T, E)
        logits = e @ self.word.weight.T + self.bias  # (B, T, V)
        loss = None if labels is None else F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        return MaskedLMOutput(loss=loss, logits=logits)


@torch.no_grad()
def seed_albert_local_heads(model: AlbertMaskedLM, offsets=(1, -1), position_ratio: float = 5.0,
                            qk_scale: float = 2.0) -> AlbertMaskedLM:
    """``pretrain.seed_local_heads`` for ``AlbertMaskedLM`` (in place; returns ``model``).

    The sinusoids go into the first ``d = H / heads`` of the E position features, with
    ``position_ratio`` times the word embeddings' std (BERT's 0.1 vs 0.02), the up-projection
    copies those d features unchanged into the first d hidden features (identity block, zero bias
    there), and the shared layer's heads get the previous/next-token W_Q, W_K -- at every depth,
    since ALBERT has one layer. Needs ``d <= E``.
    """
    from nlp_course.pretrain import local_attention_init, position_sinusoids

    H, E = model.up.out_features, model.up.in_features
    heads = model.layer.self_attn.num_heads
    d = H // heads
    if d > E:
        raise ValueError(f"head size {d} must be <= embedding_size {E} to carry the position features")
    local_attention_init(model.layer.self_attn.in_proj_weight, heads, offsets, qk_scale)
    scale = position_ratio * float(model.word.weight.std())
    model.pos.weight.copy_(position_sinusoids(model.max_len, H, heads, scale)[:, :E])  # (T, E)
    model.up.weight[:d].zero_()
    model.up.weight[:d, :d] = torch.eye(d)
    model.up.bias[:d].zero_()
    return model


class DisentangledSelfAttention(nn.Module):
    """DeBERTa's attention: content and relative-position projections scored separately.

    score(i, j) = [q_i.k_j + q_i.k^r_{d(i,j)} + k_j.q^r_{d(j,i)}] / sqrt(3 d), with relative
    distance d clipped to [-k, k) and shared relative embeddings (2k, C).
    """

    def __init__(self, hidden_size: int, num_heads: int, max_relative: int = 8):
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})")
        if max_relative < 1:
            raise ValueError(f"max_relative must be >= 1, got {max_relative}")
        self.h, self.d, self.k = num_heads, hidden_size // num_heads, max_relative
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.rel = nn.Embedding(2 * max_relative, hidden_size)  # relative position vectors P
        self.pos_q = nn.Linear(hidden_size, hidden_size)  # Q^r = P W_q,r
        self.pos_k = nn.Linear(hidden_size, hidden_size)  # K^r = P W_k,r
        self.out = nn.Linear(hidden_size, hidden_size)

    def relative_index(self, T: int, device=None) -> torch.Tensor:
        """delta(i, j) = clip(i - j, -k, k - 1) + k, in [0, 2k): (T, T)."""
        pos = torch.arange(T, device=device)
        return (pos[:, None] - pos[None, :]).clamp(-self.k, self.k - 1) + self.k

    def forward(self, x: torch.Tensor, return_weights: bool = False):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, -1)
        q, k, v = (t.view(B, T, self.h, self.d).transpose(1, 2) for t in (q, k, v))  # (B, H, T, d)
        P = self.rel.weight  # (2k, C)
        qr = self.pos_q(P).view(-1, self.h, self.d).transpose(0, 1)  # (H, 2k, d)
        kr = self.pos_k(P).view(-1, self.h, self.d).transpose(0, 1)  # (H, 2k, d)
        idx = self.relative_index(T, x.device)  # (T, T)
        c2c = q @ k.transpose(-1, -2)  # (B, H, T, T)
        c2p = torch.gather(q @ kr.transpose(-1, -2)[None], -1, idx.expand(B, self.h, T, T))  # q_i . k^r_{d(i,j)}
        p2c = torch.gather(k @ qr.transpose(-1, -2)[None], -1, idx.expand(B, self.h, T, T))  # k_j . q^r_{d(j,i)}
        scores = (c2c + c2p + p2c.transpose(-1, -2)) / math.sqrt(3 * self.d)
        w = scores.softmax(-1)  # (B, H, T, T)
        out = self.out((w @ v).transpose(1, 2).reshape(B, T, C))  # (B, T, C)
        return (out, w) if return_weights else out


def student_from_teacher(teacher, keep_every: int = 2):
    """DistilBERT's initialisation: a copy of ``teacher`` (our BertForMaskedLM) keeping every
    ``keep_every``-th encoder layer (layers 0, 2, 4, ... for the default)."""
    import copy

    student = copy.deepcopy(teacher)
    student.bert.layers = nn.ModuleList(student.bert.layers[::keep_every])
    student.config.num_hidden_layers = len(student.bert.layers)
    return student


def distill_mlm(teacher, student, tokenizer, train_ids: torch.Tensor, steps: int, batch_size: int = 32,
                lr: float = 1e-3, temperature: float = 2.0, alpha: float = 0.5, cosine: float = 0.0,
                seed: int = 0) -> list[float]:
    """Train ``student`` on masked tokens against a frozen ``teacher``: ``distillation_loss`` +
    ``cosine`` x ``hidden_cosine_loss`` of the last hidden states at the masked positions.

    ``alpha=0, cosine=0`` trains on hard labels only (the no-teacher baseline with identical data
    and masks); DistilBERT's 5 : 2 : 1 is ``alpha=5/7, cosine=1/7`` (up to a constant factor).
    Both models are ours (``.bert`` + ``.cls``); logits are computed at masked positions only.
    """
    if not (isinstance(cosine, (int, float)) and 0.0 <= cosine < float("inf")):
        raise ValueError(f"cosine must be a finite weight >= 0, got {cosine!r}")
    from nlp_course.masking import mask_tokens

    teacher.eval()
    student.train()
    opt = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.01)
    specials = sorted(set(tokenizer.all_special_ids))
    losses = []
    for step in range(steps):
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        rows = torch.randint(len(train_ids), (batch_size,), generator=g)
        x, labels = mask_tokens(train_ids[rows], tokenizer.mask_token_id, len(tokenizer), specials, generator=g)
        chosen = labels != -100  # (B, T)
        with torch.no_grad():
            t_hidden = teacher.bert(x).last_hidden_state[chosen]  # (N, C)
            t_logits = teacher.cls(t_hidden)  # (N, V)
        s_hidden = student.bert(x).last_hidden_state[chosen]  # (N, C)
        loss = distillation_loss(student.cls(s_hidden), t_logits, labels[chosen], temperature, alpha)
        if cosine:
            loss = loss + cosine * hidden_cosine_loss(s_hidden, t_hidden)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    student.eval()
    return losses
