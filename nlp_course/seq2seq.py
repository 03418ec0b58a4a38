"""A small encoder-decoder transformer, a toy date-normalisation task, greedy and beam search.

Taught in notebook 07.

- ``date_pairs(n, seed)``: "03 Nov 2026" / "03.11.2026" / "11/03/2026" -> "2026-11-03"
  (a toy translation task: reordering that depends on the separator, plus a month lexicon).
- ``CharVocab``: characters + <pad>, <bos>, <eos>.
- ``Seq2SeqTransformer``: embeddings * sqrt(d) + sinusoidal positions, pre-norm ``EncoderLayer``
  and ``DecoderLayer`` stacks with final LayerNorms (the layout of ``torch.nn.Transformer``
  with ``norm_first=True``), tied output projection.
- ``greedy_decode`` and ``beam_search`` (length-normalised log-probabilities, Wu et al. 2016).
References: Vaswani et al. 2017; Sutskever et al. 2014 (arXiv:1409.3215);
https://pytorch.org/docs/stable/generated/torch.nn.Transformer.html
"""

from __future__ import annotations

import datetime as dt
import math
import random

import torch
import torch.nn.functional as F
from torch import nn

from nlp_course.positional import sinusoidal_encoding
from nlp_course.transformer import DecoderLayer, EncoderLayer

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
FORMATS = ("{dd} {m3} {y}", "{dd}.{mm}.{y}", "{mm}/{dd}/{y}")


def date_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """n random (human date, ISO date) pairs, years 1950-2049, formats drawn uniformly."""
    rng = random.Random(seed)
    start, span = dt.date(1950, 1, 1).toordinal(), (dt.date(2049, 12, 31) - dt.date(1950, 1, 1)).days
    pairs = []
    for _ in range(n):
        day = dt.date.fromordinal(start + rng.randrange(span + 1))
        fmt = rng.choice(FORMATS)
        src = fmt.format(d=day.day, dd=f"{day.day:02d}", m3=MONTHS[day.month - 1][:3],
                         mm=f"{day.month:02d}", y=day.year)
        pairs.append((src, day.isoformat()))
    return pairs


class CharVocab:
    """Character vocabulary with <pad>=0, <bos>=1, <eos>=2."""

    PAD, BOS, EOS = 0, 1, 2

    def __init__(self, texts):
        self.itos = ["<pad>", "<bos>", "<eos>"] + sorted({c for t in texts for c in t})
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str, bos: bool = False) -> list[int]:
        unknown = sorted(set(text) - set(self.stoi))
        if unknown:
            raise ValueError(f"characters {unknown} are not in the vocabulary")
        return ([self.BOS] if bos else []) + [self.stoi[c] for c in text] + [self.EOS]

    def decode(self, ids) -> str:
        out = []
        for i in ids:
            i = int(i)
            if i == self.EOS:
                break
            if i not in (self.PAD, self.BOS):
                out.append(self.itos[i])
        return "".join(out)

    def batch(self, texts, bos: bool = False) -> torch.Tensor:
        seqs = [self.encode(t, bos) for t in texts]
        out = torch.full((len(seqs), max(map(len, seqs))), self.PAD, dtype=torch.long)
        for i, s in enumerate(seqs):
            out[i, : len(s)] = torch.tensor(s)
        return out  # (B, T)


class Seq2SeqTransformer(nn.Module):
    """Pre-norm encoder-decoder transformer over one shared vocabulary."""

    def __init__(self, vocab_size: int, d_model: int = 64, nhead: int = 4, num_layers: int = 2,
                 dim_feedforward: int = 128, dropout: float = 0.0, max_len: int = 128):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=CharVocab.PAD)
        nn.init.normal_(self.embed.weight, std=d_model**-0.5)  # so embed * sqrt(d) ~ unit scale, like PE
        with torch.no_grad():
            self.embed.weight[CharVocab.PAD].zero_()
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)
        kw = dict(dropout=dropout, norm_first=True)
        self.encoder_layers = nn.ModuleList(EncoderLayer(d_model, nhead, dim_feedforward, **kw)
                                            for _ in range(num_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(d_model, nhead, dim_feedforward, **kw)
                                            for _ in range(num_layers))
        self.encoder_norm, self.decoder_norm = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        self.lm_head.weight = self.embed.weight  # tied (Press & Wolf 2017)

    def _embed(self, ids):
        if ids.shape[1] > self.pe.shape[0]:
            raise ValueError(f"sequence length {ids.shape[1]} exceeds max_len={self.pe.shape[0]}")
        return self.embed(ids) * math.sqrt(self.d_model) + self.pe[: ids.shape[1]]  # (B, T, C)

    def encode(self, src):
        pad = src == CharVocab.PAD  # (B, S) True = ignore
        x = self._embed(src)
        for layer in self.encoder_layers:
            x = layer(x, src_key_padding_mask=pad)
        return self.encoder_norm(x), pad  # (B, S, C), (B, S)

    def decode(self, tgt_in, memory, memory_pad, need_weights: bool = False):
        y, weights = self._embed(tgt_in), None
        for layer in self.decoder_layers:
            out = layer(y, memory, tgt_is_causal=True, memory_key_padding_mask=memory_pad,
                        need_weights=need_weights)
            y, weights = out if need_weights else (out, None)
        logits = self.lm_head(self.decoder_norm(y))  # (B, T, V)
        return (logits, weights) if need_weights else logits

    def forward(self, src, tgt_in):
        """src (B, S), tgt_in (B, T) starting with <bos> -> logits (B, T, V)."""
        memory, pad = self.encode(src)
        return self.decode(tgt_in, memory, pad)


def warmup_cosine(optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over the first 5% of ``steps`` times a cosine decay to 0 at ``steps``
    (the small from-scratch trainers of notebook 07 share it: seq2seq here, the tiny GPT)."""
    warm = max(1, steps // 20)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))


def train_seq2seq(model, vocab, pairs, steps: int, batch_size: int = 64, lr: float = 3e-3, seed: int = 0):
    """Teacher forcing with cross-entropy; AdamW with linear warm-up then cosine decay. Returns losses."""
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = warmup_cosine(opt, steps)
    model.train()
    losses = []
    for _ in range(steps):
        batch = rng.sample(pairs, batch_size)
        src = vocab.batch([s for s, _ in batch])
        tgt = vocab.batch([t for _, t in batch], bos=True)  # <bos> y <eos>
        logits = model(src, tgt[:, :-1])  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1),
                               ignore_index=CharVocab.PAD)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def greedy_decode(model, src, max_len: int = 16) -> torch.Tensor:
    """Batched argmax decoding; returns (B, <=max_len) ids after <bos> (stops when all hit <eos>)."""
    model.eval()
    memory, pad = model.encode(src)
    ys = torch.full((src.shape[0], 1), CharVocab.BOS, dtype=torch.long)
    done = torch.zeros(src.shape[0], dtype=torch.bool)
    for _ in range(max_len):
        nxt = model.decode(ys, memory, pad)[:, -1].argmax(-1)  # (B,)
        nxt = nxt.masked_fill(done, CharVocab.PAD)
        ys = torch.cat([ys, nxt[:, None]], dim=1)
        done |= nxt == CharVocab.EOS
        if done.all():
            break
    return ys[:, 1:]


@torch.no_grad()
def beam_search(model, src, beam_size: int = 4, max_len: int = 16, alpha: float = 0.6):
    """Beam search for ONE source (1, S). Returns [(ids, score)] best first, score = logp / lp(len).

    lp(len) = ((5 + len) / 6) ** alpha (GNMT length penalty); alpha=0 ranks by raw log-probability.
    """
    if src.dim() != 2 or src.shape[0] != 1:
        raise ValueError(f"src must have shape (1, S), got {tuple(src.shape)}")
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    model.eval()
    memory, pad = model.encode(src)
    beams = [([CharVocab.BOS], 0.0)]
    finished = []
    for _ in range(max_len):
        ys = torch.tensor([b for b, _ in beams])  # (K, t)
        logp = model.decode(ys, memory.expand(len(beams), -1, -1), pad.expand(len(beams), -1))[:, -1]
        logp = logp.log_softmax(-1)  # (K, V)
        cand = []
        for k, (seq, score) in enumerate(beams):
            top = logp[k].topk(beam_size)
            cand += [(seq + [int(i)], score + float(v)) for v, i in zip(top.values, top.indices)]
        cand.sort(key=lambda c: -c[1])
        beams = []
        for seq, score in cand:
            (finished if seq[-1] == CharVocab.EOS else beams).append((seq, score))
            if len(beams) == beam_size:
                break
        if not beams or len(finished) >= beam_size:
            break
    finished += beams  # unfinished hypotheses compete at max_len

    def norm(c):
        return c[1] / (((5 + len(c[0]) - 1) / 6) ** alpha)

    return [(seq[1:], norm((seq, s))) for seq, s in sorted(finished, key=lambda c: -norm(c))]


def exact_match(model, vocab, pairs, batch_size: int = 256) -> float:
    """Share of pairs whose greedy output equals the target string."""
    hits = 0
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i: i + batch_size]
        out = greedy_decode(model, vocab.batch([s for s, _ in chunk]), max_len=12)
        hits += sum(vocab.decode(o) == t for o, (_, t) in zip(out, chunk))
    return hits / len(pairs)
