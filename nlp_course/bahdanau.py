"""An RNN encoder-decoder with Bahdanau (additive) attention: seq2seq before the transformer.

Taught in notebook 07 (question 25: the history of seq2seq, as code), on the same toy date task
and with the same training loop, greedy/beam decoders and exact-match metric as the transformer
of ``nlp_course.seq2seq``.

Bahdanau, Cho & Bengio 2014 ("Neural Machine Translation by Jointly Learning to Align and
Translate", arXiv:1409.0473):

- encoder: a bidirectional GRU reads the source; annotation h_j = [h_fwd_j; h_bwd_j] (2H).
- alignment (additive attention): e_ij = v^T tanh(W s_{i-1} + U h_j), alpha_ij = softmax_j(e_ij)
  over real (non-pad) source positions; context c_i = sum_j alpha_ij h_j.
- decoder: a GRU cell with input [emb(y_{i-1}); c_i]; s_0 = tanh(W_init h_bwd_1) as in the paper;
  output logits = W_out [s_i; c_i; emb(y_{i-1})] (the paper adds a maxout layer; we leave it out).

Sutskever et al. 2014 squeezed the whole source into one vector; attention lets every output
step look back at every source position, which is what the transformer then kept (and made the
whole model out of). Luong et al. 2015 replace the tanh score by dot products.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nlp_course.rnn import GRUCell
from nlp_course.seq2seq import CharVocab


class AdditiveAttention(nn.Module):
    """forward(s (B, Dq), h (B, S, Dk), pad (B, S) True = ignore) -> (context (B, Dk), weights (B, S))."""

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int):
        super().__init__()
        for name, value in (("query_dim", query_dim), ("key_dim", key_dim), ("attn_dim", attn_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.W = nn.Linear(query_dim, attn_dim, bias=False)
        self.U = nn.Linear(key_dim, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def scores(self, s: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """e_j = v^T tanh(W s + U h_j), shape (B, S)."""
        return self.v(torch.tanh(self.W(s)[:, None, :] + self.U(h))).squeeze(-1)  # (B, S)

    def forward(self, s, h, pad=None):
        if s.dim() != 2 or h.dim() != 3 or s.shape[0] != h.shape[0]:
            raise ValueError(f"s must be (B, Dq) and h (B, S, Dk) with the same B, got {tuple(s.shape)}, "
                             f"{tuple(h.shape)}")
        e = self.scores(s, h)  # (B, S)
        if pad is not None:
            if pad.shape != e.shape or pad.dtype != torch.bool:
                raise ValueError(f"pad must be a bool (B, S) = {tuple(e.shape)} tensor, got {tuple(pad.shape)}")
            if pad.all(dim=1).any():
                raise ValueError("pad hides every source position of some row: nothing to attend to")
            e = e.masked_fill(pad, float("-inf"))
        weights = e.softmax(dim=-1)  # (B, S), each row sums to 1
        context = (weights[:, :, None] * h).sum(dim=1)  # (B, Dk)
        return context, weights


class BahdanauSeq2Seq(nn.Module):
    """Bidirectional-GRU encoder + attentive GRU decoder over one shared character vocabulary.

    The interface of ``nlp_course.seq2seq.Seq2SeqTransformer``: ``encode(src) -> (memory, pad)``,
    ``decode(tgt_in, memory, pad, need_weights) -> logits (B, T, V) [, weights (B, T, S)]`` and
    ``forward(src, tgt_in) -> logits``, so ``train_seq2seq``, ``greedy_decode``, ``beam_search``
    and ``exact_match`` work on it unchanged.
    """

    def __init__(self, vocab_size: int, emb: int = 32, hidden: int = 64, attn_dim: int = 64):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("emb", emb), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.hidden = hidden
        self.embed = nn.Embedding(vocab_size, emb, padding_idx=CharVocab.PAD)
        self.encoder = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.init_state = nn.Linear(hidden, 2 * hidden)  # s_0 = tanh(W_init h_bwd_1)
        self.attention = AdditiveAttention(2 * hidden, 2 * hidden, attn_dim)
        self.cell = GRUCell(emb + 2 * hidden, 2 * hidden)
        self.out = nn.Linear(2 * hidden + 2 * hidden + emb, vocab_size)

    def encode(self, src: torch.Tensor):
        """src (B, S) -> annotations (B, S, 2H) and the padding mask (B, S) True = pad."""
        if src.dim() != 2 or src.dtype != torch.long:
            raise ValueError(f"src must be a (B, S) tensor of int64 ids, got {tuple(src.shape)} {src.dtype}")
        pad = src == CharVocab.PAD  # (B, S)
        lengths = (~pad).sum(1)  # (B,)
        if int(lengths.min()) == 0:
            raise ValueError("every source must have at least one non-pad token")
        packed = pack_padded_sequence(self.embed(src), lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = pad_packed_sequence(self.encoder(packed)[0], batch_first=True, total_length=src.shape[1])
        return h, pad  # (B, S, 2H), (B, S)

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, pad: torch.Tensor, need_weights: bool = False):
        """Teacher-forced decoding of tgt_in (B, T) (starts with <bos>) -> logits (B, T, V)."""
        s = torch.tanh(self.init_state(memory[:, 0, self.hidden:]))  # (B, 2H): backward state at token 1
        y = self.embed(tgt_in)  # (B, T, E)
        logits, weights = [], []
        for t in range(tgt_in.shape[1]):
            context, alpha = self.attention(s, memory, pad)  # (B, 2H), (B, S): looks with s_{i-1}
            s = self.cell(torch.cat([y[:, t], context], dim=-1), s)  # (B, 2H)
            logits.append(self.out(torch.cat([s, context, y[:, t]], dim=-1)))  # (B, V)
            weights.append(alpha)
        logits = torch.stack(logits, dim=1)  # (B, T, V)
        return (logits, torch.stack(weights, dim=1)) if need_weights else logits  # weights (B, T, S)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, pad = self.encode(src)
        return self.decode(tgt_in, memory, pad)

