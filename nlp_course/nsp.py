"""Next-sentence prediction (NSP): BERT's second pretraining task, and why RoBERTa dropped it.

Taught in notebook 08 (question 24; seed 001: "RoBERTa -- BERT without NSP").

Devlin et al. 2019 pretrain BERT on two losses at once. Each input is a *pair of segments*
``[CLS] A [SEP] B [SEP]`` with segment (token-type) ids 0 for ``[CLS] A [SEP]`` and 1 for
``B [SEP]``. Half the time B is the text that follows A in the same document (IsNext, label 0),
half the time a segment of another document (NotNext, label 1). The NSP head reads the
``[CLS]`` vector through the *pooler* (dense + tanh) and a linear layer to 2 logits; its
cross-entropy is added to the masked-LM loss.

- ``nsp_pairs(docs, tokenizer, seq_len)`` builds the pairs from one list of documents only:
  A and an IsNext B come from the same document, a NotNext B from another document *of the
  same list*, so pairs built from the training documents never contain held-out text.
- ``BertForPreTraining``: our ``BertForMaskedLM`` plus the pooler and the NSP layer, laid out
  like Hugging Face's ``BertForPreTraining`` (``from_hf`` copies its weights; same logits).
- ``pretrain_pairs`` trains MLM + ``nsp_weight`` x NSP on pair inputs (``nsp_weight=0``: the
  same inputs without the NSP loss) with the recipe of ``nlp_course.pretrain.pretrain_mlm``;
  ``pair_scores`` scores both heads on held-out pairs; ``nsp_ablation`` runs RoBERTa's comparison
  (pairs + NSP, the same pairs without it, contiguous text) over seeds at equal steps.

RoBERTa (Liu et al. 2019, Table 2) found that removing the NSP loss matches or slightly
improves downstream results, provided the inputs are long contiguous text; ALBERT (Lan et al.
2020) argued why: a random B usually comes from another *topic*, so NSP is mostly topic
prediction, which MLM already learns. Notebook 08 measures both claims at small scale.
"""

from __future__ import annotations

import random
import re

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import BertForPreTraining as HFBertForPreTraining
from transformers import get_cosine_schedule_with_warmup
from transformers.models.bert.modeling_bert import BertForPreTrainingOutput

from nlp_course.bert import BertForMaskedLM, _hf_to_ours
from nlp_course.masking import mask_tokens

__all__ = ["BertForPreTraining", "nsp_ablation", "nsp_pairs", "pair_scores", "pretrain_pairs", "split_sentences"]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Cut ``text`` after ``.``, ``!`` or ``?`` followed by a space, and at line breaks."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _take(sentences: list[list[int]], start: int, budget: int) -> tuple[list[int], int]:
    """Whole sentences from ``start`` while they fit in ``budget`` tokens (at least one, cut to fit)."""
    out, i = list(sentences[start][:budget]), start + 1
    while i < len(sentences) and len(out) + len(sentences[i]) <= budget:
        out += sentences[i]
        i += 1
    return out, i


def nsp_pairs(docs: list[str], tokenizer, seq_len: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    """BERT's NSP data from ``docs``: ``[CLS] A [SEP] B [SEP]`` rows, 50% IsNext / 50% NotNext.

    Each document is cut into sentences (``split_sentences``); A takes whole sentences up to half
    the ``seq_len - 3`` token budget, B the rest of the budget: the sentences right after A
    (IsNext, label 0) or, with probability 1/2, sentences from a random position of another
    document of ``docs`` (NotNext, label 1). The next A starts where the first A ended. Returns
    ``input_ids``, ``token_type_ids``, ``attention_mask`` (N, seq_len), ``next_sentence_label``,
    ``doc_a`` and ``doc_b`` (N,): the index in ``docs`` that A and B came from.
    """
    if not isinstance(seq_len, int) or seq_len < 7:
        raise ValueError(f"seq_len must be an int >= 7 (room for two segments), got {seq_len!r}")
    if not isinstance(docs, list) or len(docs) < 2 or not all(isinstance(d, str) for d in docs):
        raise ValueError("docs must be a list of at least two strings (NotNext needs another document)")
    sentences = [split_sentences(d) for d in docs]
    flat = [s for ss in sentences for s in ss]
    ids = tokenizer(flat, add_special_tokens=False, verbose=False)["input_ids"] if flat else []
    per_doc, k = [], 0
    for ss in sentences:
        per_doc.append([x for x in ids[k : k + len(ss)] if x])
        k += len(ss)
    budget = seq_len - 3
    rng = random.Random(seed)
    others = [i for i, s in enumerate(per_doc) if s]
    if len(others) < 2:
        raise ValueError("docs must hold at least two non-empty documents")
    rows, types, labels, doc_a, doc_b = [], [], [], [], []
    for d, sents in enumerate(per_doc):
        start = 0
        while start < len(sents) - 1:  # an IsNext pair needs a sentence after A
            a, end = _take(sents, start, budget // 2)
            if end >= len(sents):
                break
            if rng.random() < 0.5:
                b, _ = _take(sents, end, budget - len(a))
                label, src = 0, d
            else:
                src = d
                while src == d:  # another document of the same list (there are at least two)
                    src = rng.choice(others)
                b, _ = _take(per_doc[src], rng.randrange(len(per_doc[src])), budget - len(a))
                label = 1
            row = [tokenizer.cls_token_id, *a, tokenizer.sep_token_id, *b, tokenizer.sep_token_id]
            rows.append(row + [tokenizer.pad_token_id] * (seq_len - len(row)))
            types.append([0] * (len(a) + 2) + [1] * (len(b) + 1) + [0] * (seq_len - len(row)))
            labels.append(label)
            doc_a.append(d)
            doc_b.append(src)
            start = end
    if not rows:
        raise ValueError("no document has two sentences: cannot build next-sentence pairs")
    input_ids = torch.tensor(rows)  # (N, T)
    return {"input_ids": input_ids, "token_type_ids": torch.tensor(types),
            "attention_mask": (input_ids != tokenizer.pad_token_id).long(),
            "next_sentence_label": torch.tensor(labels), "doc_a": torch.tensor(doc_a), "doc_b": torch.tensor(doc_b)}


class BertForPreTraining(BertForMaskedLM):
    """BERT with both pretraining heads: the MLM head (``cls``) and NSP (``pooler`` + ``seq_relationship``)."""

    def __init__(self, config):
        super().__init__(config)
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size)  # HF: bert.pooler.dense (+ tanh)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)  # HF: cls.seq_relationship
        for layer in (self.pooler, self.seq_relationship):
            self._init_weights(layer)

    def nsp_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, 2): IsNext / NotNext scores from the [CLS] vector."""
        return self.seq_relationship(torch.tanh(self.pooler(hidden[:, 0])))  # (B, 2)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None,
                next_sentence_label=None, output_attentions=False, output_hidden_states=False):
        out = self.bert(input_ids, attention_mask, token_type_ids, output_attentions, output_hidden_states)
        h = out.last_hidden_state  # (B, T, C)
        logits, nsp = self.cls(h), self.nsp_logits(h)  # (B, T, V), (B, 2)
        loss = None
        if labels is not None and next_sentence_label is not None:  # HF's total: MLM + NSP
            loss = (F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1))
                    + F.cross_entropy(nsp.float(), next_sentence_label.reshape(-1)))
        return BertForPreTrainingOutput(loss=loss, prediction_logits=logits, seq_relationship_logits=nsp,
                                        hidden_states=out.hidden_states, attentions=out.attentions)

    @classmethod
    def from_hf(cls, hf_model: HFBertForPreTraining) -> BertForPreTraining:
        """Copy a ``transformers`` BertForPreTraining into our layout (same numbers, same outputs)."""
        if not isinstance(hf_model, HFBertForPreTraining):
            raise TypeError(f"hf_model must be a transformers BertForPreTraining, got {type(hf_model).__name__}")
        from transformers import BertConfig

        model = cls(BertConfig.from_dict(hf_model.config.to_dict()))
        sd = hf_model.state_dict()
        ours = _hf_to_ours(sd, model.config.num_hidden_layers)
        for part in ("weight", "bias"):
            ours[f"pooler.{part}"] = sd[f"bert.pooler.dense.{part}"]
            ours[f"seq_relationship.{part}"] = sd[f"cls.seq_relationship.{part}"]
        model.load_state_dict(ours)
        return model.to(hf_model.dtype)


def _batch(pairs: dict, rows: torch.Tensor, device) -> tuple[torch.Tensor, ...]:
    return tuple(pairs[k][rows].to(device) for k in ("input_ids", "token_type_ids", "attention_mask",
                                                      "next_sentence_label"))


def pretrain_pairs(model: BertForPreTraining, tokenizer, pairs: dict, steps: int, batch_size: int = 32,
                   lr: float = 2e-3, warmup: int = 100, nsp_weight: float = 1.0, mlm_probability: float = 0.15,
                   weight_decay: float = 0.01, seed: int = 0) -> list[float]:
    """MLM (+ ``nsp_weight`` x NSP) on ``nsp_pairs`` rows; returns the MLM loss of every step.

    Same recipe as ``pretrain_mlm`` (dynamic 80/10/10 masks, sparse MLM prediction, AdamW with
    betas (0.9, 0.98), warmup + cosine, clipping at 1); rows and masks depend on ``seed`` and the
    step only, so two runs that differ in ``nsp_weight`` see identical batches and masks.
    """
    if not isinstance(model, BertForPreTraining):
        raise TypeError(f"model must be an nlp_course.nsp.BertForPreTraining, got {type(model).__name__}")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got steps={steps}, batch_size={batch_size}")
    if not (isinstance(nsp_weight, (int, float)) and nsp_weight >= 0 and nsp_weight == nsp_weight):
        raise ValueError(f"nsp_weight must be a finite number >= 0, got {nsp_weight!r}")
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.98), eps=1e-6)
    sched = get_cosine_schedule_with_warmup(opt, warmup, steps)
    specials = sorted(set(tokenizer.all_special_ids))
    device = model.device
    model.train()
    mlm_losses = []
    for step in range(steps):
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        rows = torch.randint(len(pairs["input_ids"]), (batch_size,), generator=g)
        ids, types, attn, nsp_label = _batch(pairs, rows, device)
        x, labels = mask_tokens(ids.cpu(), tokenizer.mask_token_id, len(tokenizer), specials, mlm_probability, generator=g)
        x, labels = x.to(device), labels.to(device)
        h = model.bert(x, attn, types).last_hidden_state  # (B, T, C)
        chosen = labels != -100  # (B, T)
        mlm = F.cross_entropy(model.cls(h[chosen]).float(), labels[chosen])  # sparse prediction
        loss = (mlm + nsp_weight * F.cross_entropy(model.nsp_logits(h).float(), nsp_label)) if nsp_weight else mlm
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        mlm_losses.append(mlm.item())
    model.eval()
    return mlm_losses


@torch.no_grad()
def pair_scores(model: BertForPreTraining, tokenizer, pairs: dict, batch_size: int = 128, seed: int = 1234) -> dict:
    """Held-out scores on ``nsp_pairs`` rows: ``nsp_accuracy`` (IsNext / NotNext right; chance about
    0.5) and ``mlm_accuracy`` (top-1 on a fixed, seeded 15% 80/10/10 mask of the real tokens)."""
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    specials = sorted(set(tokenizer.all_special_ids))
    nsp_hits = mlm_hits = mlm_total = 0
    n, device = len(pairs["input_ids"]), model.device
    for i in range(0, n, batch_size):
        ids, types, attn, label = _batch(pairs, torch.arange(i, min(i + batch_size, n)), device)
        x, labels = mask_tokens(ids.cpu(), tokenizer.mask_token_id, len(tokenizer), specials, generator=g)
        h = model.bert(x.to(device), attn, types).last_hidden_state  # (B, T, C)
        chosen = (labels != -100).to(device)  # (B, T)
        mlm_hits += int((model.cls(h[chosen]).argmax(-1) == labels.to(device)[chosen]).sum())
        mlm_total += int(chosen.sum())
        nsp_hits += int((model.nsp_logits(h).argmax(-1) == label).sum())
    model.train(was_training)
    return {"nsp_accuracy": nsp_hits / n, "mlm_accuracy": mlm_hits / max(mlm_total, 1), "pairs": n}


def nsp_ablation(config, tokenizer, train_docs: list[str], held_docs: list[str], heldout_rows: torch.Tensor,
                 steps: int, seeds=(0, 1, 2), batch_size: int = 32, lr: float = 2e-3, init=None,
                 mlm_probability: float = 0.15) -> dict:
    """RoBERTa's NSP ablation at small scale: three arms, equal steps, batches, masks and seeds.

    Arms: ``"pairs + NSP"`` (BERT), ``"pairs, no NSP loss"`` (same inputs, ``nsp_weight=0``) and
    ``"contiguous, no NSP"`` (``pack_sequences`` blocks of ``config.max_position_embeddings``
    tokens, RoBERTa's FULL-SENTENCES). Each model is ``BertForPreTraining(config)`` after
    ``set_seed(seed)`` and ``init(model)`` (e.g. ``seed_local_heads``). Returns, per arm, lists
    over seeds of ``text`` (``masked_accuracy`` on ``heldout_rows``), ``pairs`` (MLM accuracy on
    held-out pairs) and ``nsp`` (NSP accuracy on held-out pairs, about 0.5 for an untrained head).
    ``mlm_probability`` is every arm's training mask rate (evaluation always masks 15%).
    """
    from nlp_course.pretrain import masked_accuracy, pack_sequences
    from nlp_course.utils import set_seed

    seq = config.max_position_embeddings
    if set(train_docs) & set(held_docs):
        raise ValueError("train_docs and held_docs share documents: deduplicate before splitting")
    pairs = nsp_pairs(train_docs, tokenizer, seq, seed=0)
    held = nsp_pairs(held_docs, tokenizer, seq, seed=1)
    rows = pack_sequences(train_docs, tokenizer, seq)  # (N, T): contiguous text, one segment
    contiguous = {"input_ids": rows, "token_type_ids": torch.zeros_like(rows), "attention_mask": torch.ones_like(rows),
                  "next_sentence_label": torch.zeros(len(rows), dtype=torch.long)}
    arms = {"pairs + NSP": (pairs, 1.0), "pairs, no NSP loss": (pairs, 0.0), "contiguous, no NSP": (contiguous, 0.0)}
    table = {name: {"text": [], "pairs": [], "nsp": []} for name in arms}
    for seed in seeds:
        for name, (data, weight) in arms.items():
            set_seed(seed)
            model = BertForPreTraining(config)
            if init is not None:
                init(model)
            pretrain_pairs(model, tokenizer, data, steps, batch_size, lr, warmup=max(1, steps // 10),
                           nsp_weight=weight, mlm_probability=mlm_probability, seed=seed)
            scores = pair_scores(model, tokenizer, held)
            table[name]["text"].append(masked_accuracy(model, tokenizer, heldout_rows)["accuracy"])
            table[name]["pairs"].append(scores["mlm_accuracy"])
            table[name]["nsp"].append(scores["nsp_accuracy"])
    return table
