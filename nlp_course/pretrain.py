"""Masked-LM pretraining of the course's own BERT on the offline corpora, cached on disk.

Taught in notebook 08; the checkpoint it builds is the base model of notebooks 09 and 11.

No installable package ships BERT weights with an MLM head, so the course trains one:

1. ``course_corpus``: English Wikipedia articles + the Lee news corpus + chit-chat turns
   (``nlp_course.data``), deduplicated, then split into a training and a held-out part by a hash
   of each document's text (~10% held out; a repeated document cannot sit on both sides).
2. A ``WordPieceTokenizer`` (notebook 03) trained on the training part, exported with
   ``to_hf()`` to a fast ``transformers`` tokenizer (same ids, fast batching).
3. ``pack_sequences``: documents are concatenated and cut into ``[CLS] ... [SEP]`` blocks of
   ``seq_len`` tokens (no padding is wasted); ``spread_rows`` picks held-out rows from every source.
4. ``seed_local_heads``: a locality prior in the initialisation (below).
5. ``pretrain_mlm``: dynamic masking (RoBERTa style, a fresh 80/10/10 mask per batch), AdamW with
   linear warmup + cosine decay, gradient clipping, a tqdm bar, periodic held-out evaluation,
   atomic safetensors checkpoints (``nlp_course.diffusion.checkpoint``) and exact resume.

Why ``seed_local_heads``: a masked position's own input is ``[MASK]``, so unlike a causal LM (which
predicts a bigram from its own residual) an MLM must first learn *position-based* attention to its
neighbours before context helps. From the standard N(0, 0.02) init that is a saddle: measured here,
2-layer BERTs (ours and HF's alike) kept near-uniform attention and predicted "the" at every
[MASK] for 4000 steps (train loss 5.8 vs unigram entropy 6.6). Seeding layer 0 with a
previous-token and a next-token head -- sinusoidal positions (notebook 07) plus the block rotation
that shifts them by one place -- removes the saddle; the model is still a standard BERT (only the
init differs), and training is free to change those heads.

``load_course_bert(smoke=None, rebuild=False) -> (BertForMaskedLM, PreTrainedTokenizerFast)``
returns the cached model from ``cache_dir("course-bert[-smoke]")``, building it when missing or
when it was built with another config or corpus split (``CORPUS_SPLIT``).
``smoke=None`` follows ``NLP_COURSE_SMOKE``: the smoke model trains in well under a minute so CI
can build it; the full one trains a few minutes on a 2-core CPU.
"""

from __future__ import annotations

import json
import math
import shutil
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from filelock import FileLock
from tqdm import tqdm
from transformers import BertConfig, PreTrainedTokenizerFast, get_cosine_schedule_with_warmup

from nlp_course import data
from nlp_course.bert import BertForMaskedLM
from nlp_course.diffusion.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    new_run_id,
    save_checkpoint,
)
from nlp_course.masking import StaticMasker, mask_tokens, whole_word_mask, word_ids_from_pieces
from nlp_course.positional import sinusoidal_encoding, sinusoidal_shift
from nlp_course.tokenization import WordPieceTokenizer
from nlp_course.utils import cache_dir, check_number, check_positive, set_seed, smoke_mode


@dataclass
class PretrainConfig:
    """Model size, data size and optimisation of one pretraining run."""

    vocab_size: int = 8000
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 1024
    seq_len: int = 128
    batch_size: int = 32
    steps: int = 1500
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.01
    dropout: float = 0.1
    local_heads: tuple[int, ...] = (1, -1)  # seed_local_heads offsets (empty: plain N(0, 0.02) init)
    mlm_probability: float = 0.15  # share of tokens scored in training (held-out eval always uses 0.15)
    max_dialogues: int | None = 2000
    eval_every: int = 250
    eval_rows: int = 2048  # held-out rows scored (``spread_rows``): ~19K masked tokens, standard error ~0.3 points
    seed: int = 0


# FULL: measured on 2 CPU cores (notes in the commits). 2 layers x more steps beat 4 layers at equal CPU
# time; lr 3e-3 (4e-3 with local heads) collapses to predicting "." everywhere; 30% training masks beat 15%
# (Wettig et al. 2023); local heads: held-out accuracy 0.141 -> 0.210 at 2000 steps.
# Not adopted: a 1000-piece vocabulary (batch 16, lr 4e-3, 40% masks, 4500 steps, 280 s) reaches 0.329,
# but a text is 1.41x more of its pieces and its loss per text (3.34 x 1.41 = 4.7 nats per 4000-vocab
# token; FULL: 4.57) is no better: easier tokens, not a better model -- and still short of 35%.
# Scored on all held-out rows (FULL: 0.288): that 1000-piece run 0.338 per token but 0.171 per whole word
# (masked_word_accuracy; FULL 0.22); batch 16, lr 4e-3, warmup 600, 40% masks, 4500 steps 0.295 (+0.7
# points, not worth rebuilding the checkpoint of notebooks 09 and 11); the same at batch 32 (2x compute) 0.323.
FULL = PretrainConfig(vocab_size=4000, hidden_size=128, num_layers=2, num_heads=4, intermediate_size=512, seq_len=64,
                      batch_size=32, steps=3000, lr=2e-3, warmup=100, dropout=0.0, mlm_probability=0.3,
                      eval_every=500)
SMOKE = PretrainConfig(vocab_size=3000, hidden_size=64, num_layers=2, num_heads=2, intermediate_size=256,
                       seq_len=64, batch_size=16, steps=120, lr=2e-3, warmup=10, max_dialogues=200,
                       eval_every=60, eval_rows=256)


CORPUS_SPLIT = "dedup + crc32 % 10"  # how course_corpus splits; a cached model built otherwise is rebuilt


@torch.no_grad()
def seed_local_heads(model: BertForMaskedLM, offsets=(1, -1), position_scale: float = 0.1,
                     qk_scale: float = 2.0) -> BertForMaskedLM:
    """Initialise layer-0 head ``h`` to attend from position i to i - ``offsets[h]`` (in place).

    The first head's ``d = hidden / heads`` features of the position table become sinusoids
    (std ``position_scale``, 5x the token embeddings' 0.02, so position dominates those features;
    the other features get no position signal), with the frequencies the full-width table of
    notebook 07 gives its first ``d/2`` pairs. Head h then gets ``W_Q = s [I 0]`` and
    ``W_K = s [R 0]`` where ``R`` rotates every (sin, cos) pair by ``offset * w``, so
    ``q_i . k_j = s^2 sum_w cos(w (i - j - offset))``, peaked at ``j = i - offset``.
    Offset +1 is a previous-token head, -1 a next-token head. Returns ``model``.
    """
    cfg = model.config
    local_attention_init(model.bert.layers[0].self_attn.in_proj_weight, cfg.num_attention_heads, offsets, qk_scale)
    table = position_sinusoids(cfg.max_position_embeddings, cfg.hidden_size, cfg.num_attention_heads, position_scale)
    model.bert.embeddings.position_embeddings.weight.copy_(table)
    return model


def position_sinusoids(length: int, width: int, num_heads: int, position_scale: float = 0.1) -> torch.Tensor:
    """(length, width) position table: sinusoids (std ``position_scale``) in the first head's
    ``d = width / num_heads`` features, zeros elsewhere; the part of ``seed_local_heads`` that
    writes positions (``variants.seed_albert_local_heads`` reuses it)."""
    d = width // num_heads
    if d % 2:
        raise ValueError(f"head size {d} must be even to hold (sin, cos) pairs")
    pe = sinusoidal_encoding(length, d, base=10000.0 ** (d / width))  # (T, d): the first d/2 pairs of (T, width)
    table = torch.zeros(length, width)
    table[:, :d] = pe * (position_scale / pe.std())
    return table


@torch.no_grad()
def local_attention_init(in_proj_weight: torch.Tensor, num_heads: int, offsets=(1, -1), qk_scale: float = 2.0) -> None:
    """Set W_Q, W_K of heads 0..len(offsets)-1 in a (3C, C) ``in_proj_weight`` (in place) so head h
    attends from i to i - ``offsets[h]``, reading the sinusoids of ``position_sinusoids``."""
    C = in_proj_weight.shape[1]
    d = C // num_heads
    if not 1 <= len(offsets) <= num_heads or not all(isinstance(o, int) and o != 0 for o in offsets):
        raise ValueError(f"offsets must be 1..{num_heads} non-zero ints (one per head), got {offsets!r}")
    if d % 2:
        raise ValueError(f"head size {d} must be even to hold (sin, cos) pairs")
    base = 10000.0 ** (d / C)
    for h, offset in enumerate(offsets):
        rows = slice(h * d, (h + 1) * d)
        in_proj_weight[rows].zero_()
        in_proj_weight[rows, :d] = qk_scale * torch.eye(d)
        in_proj_weight[C:][rows].zero_()
        in_proj_weight[C:][rows, :d] = qk_scale * sinusoidal_shift(offset, d, base=base)  # k_j ~ PE[j + offset]


def heldout_by_hash(text: str) -> bool:
    """True for the ~10% of texts whose normalised content hashes to 0 mod 10 (the held-out side).

    The side depends on the text alone (``zlib.crc32`` of ``diffusion.splits.normalise_text``),
    not on its position in a list, so a document that occurs twice lands on one side both times,
    and adding or removing other documents never moves it.
    """
    from nlp_course.diffusion.splits import normalise_text

    return zlib.crc32(normalise_text(text).encode("utf-8")) % 10 == 0


def course_corpus(max_dialogues: int | None = 2000) -> tuple[list[str], list[str]]:
    """(train_docs, heldout_docs): deduplicated, then split by content hash (``heldout_by_hash``).

    Documents whose normalised text (casefolded, whitespace collapsed) was seen before are dropped
    first -- the Lee corpus repeats a document -- so no held-out text is also a training text. Both
    sides keep the corpus order: Wikipedia, then Lee news, then dialogues.
    """
    from nlp_course.diffusion.splits import normalise_text

    docs = data.wikipedia_articles() + data.lee_corpus()
    docs += [" ".join(turns) for turns in data.chitchat_dialogues(limit=max_dialogues)]
    seen, train, held = set(), [], []
    for doc in docs:
        key = normalise_text(doc)
        if key and key not in seen:
            seen.add(key)
            (held if heldout_by_hash(doc) else train).append(doc)
    return train, held


def pack_sequences(docs: list[str], tokenizer, seq_len: int) -> torch.Tensor:
    """Concatenate documents (separated by [SEP]) and cut them into (N, seq_len) [CLS]..[SEP] rows."""
    if seq_len < 3:
        raise ValueError(f"seq_len must be >= 3, got {seq_len}")
    stream: list[int] = []
    for ids in tokenizer(docs, add_special_tokens=False, verbose=False)["input_ids"]:  # long docs are fine here
        stream.extend(ids + [tokenizer.sep_token_id])
    body = seq_len - 2
    n = len(stream) // body
    if n == 0:
        raise ValueError(f"docs hold {len(stream)} tokens: too few for one sequence of {seq_len}")
    rows = torch.tensor(stream[: n * body]).view(n, body)  # (N, T-2)
    cls = torch.full((n, 1), tokenizer.cls_token_id)
    sep = torch.full((n, 1), tokenizer.sep_token_id)
    return torch.cat([cls, rows, sep], 1)  # (N, T)


def spread_rows(ids: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` rows of ``ids`` evenly spaced from first to last (all rows if there are fewer).

    ``pack_sequences`` keeps document order, and the corpus lists Wikipedia, then Lee, then the
    dialogues: the first rows are one or two articles of one source. Evenly spaced rows sample
    every source in proportion to its tokens, so a held-out score measures the whole held-out text.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if len(ids) <= n:
        return ids
    return ids[torch.linspace(0, len(ids) - 1, n).round().long()]


def sparse_mlm_loss(model: BertForMaskedLM, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """MLM loss with the vocabulary projection run only at the ~15% scored positions.

    Equal to ``model(input_ids, labels=labels).loss`` but skips the (B, T, V) logits of unscored
    tokens -- the "sparse prediction" trick of Geiping & Goldstein 2023 ("Cramming"), which
    makes a small-vocabulary CPU BERT train about 2x faster.
    """
    hidden = model.bert(input_ids).last_hidden_state  # (B, T, C)
    chosen = labels != -100  # (B, T)
    logits = model.cls(hidden[chosen])  # (N, V)
    return F.cross_entropy(logits.float(), labels[chosen])


def _special_ids(tokenizer) -> list[int]:
    return sorted(set(tokenizer.all_special_ids))


@torch.no_grad()
def masked_accuracy(model, tokenizer, ids: torch.Tensor, batch_size: int = 64, seed: int = 1234) -> dict:
    """Top-1 accuracy and loss on masked tokens of ``ids`` under a fixed (seeded) 80/10/10 mask.

    ``accuracy`` scores all chosen tokens, as BERT papers and HF's MLM scripts do -- including the
    10% left in place, which a model can copy; ``mask_accuracy`` scores only the positions that
    show ``[MASK]``, where the answer must come from context.
    """
    if tokenizer.mask_token_id is None:
        raise ValueError("tokenizer has no mask token: masked accuracy needs [MASK]")
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    correct = total = mask_correct = mask_total = 0
    loss_sum = 0.0
    device = model.get_input_embeddings().weight.device
    for i in range(0, len(ids), batch_size):
        batch = ids[i : i + batch_size]
        x, labels = mask_tokens(batch, tokenizer.mask_token_id, len(tokenizer), _special_ids(tokenizer), generator=g)
        chosen = labels != -100  # (B, T)
        if hasattr(model, "bert") and hasattr(model, "cls"):  # ours: project to the vocabulary only where scored
            logits = model.cls(model.bert(x.to(device)).last_hidden_state[chosen.to(device)])  # (N, V)
        else:
            logits = model(input_ids=x.to(device)).logits[chosen.to(device)]  # (N, V)
        logits, target = logits.float().cpu(), labels[chosen]  # (N, V), (N,)
        hit = logits.argmax(-1) == target  # (N,)
        shown_mask = x[chosen] == tokenizer.mask_token_id  # (N,): positions that show [MASK]
        correct += int(hit.sum())
        total += len(target)
        mask_correct += int(hit[shown_mask].sum())
        mask_total += int(shown_mask.sum())
        loss_sum += float(F.cross_entropy(logits, target, reduction="sum"))
    model.train(was_training)
    return {"accuracy": correct / max(total, 1), "mask_accuracy": mask_correct / max(mask_total, 1),
            "loss": loss_sum / max(total, 1), "tokens": total}


@torch.no_grad()
def masked_word_accuracy(model, tokenizer, ids: torch.Tensor, batch_size: int = 64, seed: int = 1234) -> dict:
    """Share of masked *words* (15%, every piece shown as ``[MASK]``) whose pieces are all top-1.

    Per-token accuracy depends on the tokenizer: a small vocabulary cuts rare words into pieces,
    and a piece next to the rest of its word is easy. Here a word (a piece and its ``##``
    continuations) is masked whole and counts only if every piece is right, so two models with
    different vocabularies are scored on the same words of the same text.
    """
    if tokenizer.mask_token_id is None:
        raise ValueError("tokenizer has no mask token: masked accuracy needs [MASK]")
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    device = model.get_input_embeddings().weight.device
    hits = words = 0
    for i in range(0, len(ids), batch_size):
        batch = ids[i : i + batch_size]  # (B, T)
        word_ids = [word_ids_from_pieces(tokenizer.convert_ids_to_tokens(row)) for row in batch.tolist()]
        chosen = whole_word_mask(batch, word_ids, tokenizer.mask_token_id, len(tokenizer), generator=g)[1] != -100
        x = batch.masked_fill(chosen, tokenizer.mask_token_id)  # (B, T): all pieces of a chosen word masked
        wrong = model(input_ids=x.to(device)).logits.argmax(-1).cpu() != batch  # (B, T)
        key = torch.tensor([[-1 if w is None else w for w in row] for row in word_ids])  # (B, T) word index
        key = key + batch.shape[1] * torch.arange(len(batch))[:, None]  # (B, T): one key per (row, word)
        scored = key[chosen].unique()
        missed = key[chosen & wrong].unique()
        hits += len(scored) - len(missed)
        words += len(scored)
    model.train(was_training)
    return {"word_accuracy": hits / max(words, 1), "words": words}


def pretrain_mlm(model, tokenizer, train_ids: torch.Tensor, out_dir, steps: int, batch_size: int = 32,
                 lr: float = 1e-3, warmup: int = 100, weight_decay: float = 0.01, eval_ids=None,
                 eval_every: int = 250, seed: int = 0, progress: bool = True, checkpoint_every: int = 500,
                 stop_at: int | None = None, masking: str = "dynamic",
                 mlm_probability: float = 0.15) -> list[dict]:
    """Train ``model`` with dynamic masking; resume from ``out_dir`` if a checkpoint is there.

    ``stop_at`` ends the call early at that step (checkpointed), as if the run were killed there:
    calling again resumes and finishes exactly as an uninterrupted run would.
    ``masking="dynamic"`` (RoBERTa) draws a fresh mask for every batch; ``"static"`` (original
    BERT) fixes one mask per training row for the whole run. Models with ``.bert``/``.cls`` (ours)
    use ``sparse_mlm_loss``; any other masked LM is called as ``model(input_ids, labels=...)``.
    ``mlm_probability`` is the share of tokens chosen for prediction in training (BERT: 0.15;
    Wettig et al. 2023 find more helps); ``masked_accuracy`` always scores a 15% mask.

    Returns the log: one dict per evaluation (step, train loss, held-out accuracy/loss, seconds).
    """
    for name, value, low in (("steps", steps, 1), ("batch_size", batch_size, 1), ("warmup", warmup, 0),
                             ("eval_every", eval_every, 1), ("checkpoint_every", checkpoint_every, 1),
                             ("seed", seed, 0), ("stop_at", 1 if stop_at is None else stop_at, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    check_positive("lr", lr)
    check_number("weight_decay", weight_decay, low=0.0)
    check_number("mlm_probability", mlm_probability, 0.0, 1.0, low_open=True, high_open=True)
    if not torch.is_tensor(train_ids) or train_ids.dim() != 2 or train_ids.numel() == 0:
        shape = tuple(train_ids.shape) if torch.is_tensor(train_ids) else type(train_ids).__name__
        raise ValueError(f"train_ids must be a non-empty (N, T) tensor of token ids (pack_sequences), got {shape}")
    if tokenizer.mask_token_id is None:
        raise ValueError("tokenizer has no mask token: masked-LM pretraining needs [MASK]")
    if masking not in ("dynamic", "static"):
        raise ValueError(f"masking must be 'dynamic' or 'static', got {masking!r}")
    out_dir = Path(out_dir)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.98), eps=1e-6)
    sched = get_cosine_schedule_with_warmup(opt, warmup, steps)
    start, log, running, run_id = 0, [], [], new_run_id()
    last = latest_checkpoint(out_dir)
    if last is not None:
        state = load_checkpoint(last, model, opt, sched)
        start, log, run_id = state["step"], state["meta"].get("log", []), state.get("run_id")
        running = state["meta"].get("running", [])  # losses since the last evaluation
    specials = _special_ids(tokenizer)
    static = StaticMasker(tokenizer.mask_token_id, len(tokenizer), specials, mlm_probability, seed=seed)
    sparse = hasattr(model, "bert") and hasattr(model, "cls")
    device = next(model.parameters()).device
    model.train()
    t0 = time.perf_counter()
    bar = tqdm(range(start, steps), initial=start, total=steps, disable=not progress, desc="MLM pretraining")
    for step in bar:
        if stop_at is not None and step >= stop_at:
            if step != start:
                save_checkpoint(out_dir, step, model, opt, sched, {"log": log, "running": running}, run_id=run_id)
            break
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)  # data order + mask depend on step only
        rows = torch.randint(len(train_ids), (batch_size,), generator=g)
        if masking == "static":
            pairs = [static(int(r), train_ids[r : r + 1]) for r in rows]
            x, labels = torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
        else:
            x, labels = mask_tokens(train_ids[rows], tokenizer.mask_token_id, len(tokenizer), specials,
                                    mlm_probability, generator=g)
        x, labels = x.to(device), labels.to(device)
        loss = sparse_mlm_loss(model, x, labels) if sparse else model(input_ids=x, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running.append(loss.item())
        if not math.isfinite(running[-1]):
            raise FloatingPointError(f"loss became {running[-1]} at step {step + 1}: lower lr?")
        bar.set_postfix(loss=f"{running[-1]:.3f}")
        done = step + 1
        if eval_ids is not None and (done % eval_every == 0 or done == steps):
            ev = masked_accuracy(model, tokenizer, eval_ids)
            log.append({"step": done, "train_loss": sum(running) / len(running), "eval_loss": ev["loss"],
                        "eval_accuracy": ev["accuracy"], "seconds": time.perf_counter() - t0})
            running = []
        if done % checkpoint_every == 0 or done == steps:
            save_checkpoint(out_dir, done, model, opt, sched, {"log": log, "running": running}, run_id=run_id)
    return log


def _build(cfg: PretrainConfig, folder: Path, progress: bool) -> None:
    set_seed(cfg.seed)
    train_docs, heldout_docs = course_corpus(cfg.max_dialogues)
    wp = WordPieceTokenizer(lowercase=True).train(train_docs, cfg.vocab_size)
    tokenizer = wp.to_hf(model_max_length=cfg.seq_len)
    train_ids = pack_sequences(train_docs, tokenizer, cfg.seq_len)
    eval_ids = spread_rows(pack_sequences(heldout_docs, tokenizer, cfg.seq_len), cfg.eval_rows)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_layers,
                        num_attention_heads=cfg.num_heads, intermediate_size=cfg.intermediate_size,
                        max_position_embeddings=cfg.seq_len, hidden_dropout_prob=cfg.dropout,
                        attention_probs_dropout_prob=cfg.dropout, pad_token_id=tokenizer.pad_token_id)
    model = BertForMaskedLM(config)
    if cfg.local_heads:
        seed_local_heads(model, cfg.local_heads)
    t0, cpu0 = time.perf_counter(), time.process_time()
    log = pretrain_mlm(model, tokenizer, train_ids, folder / "run", cfg.steps, cfg.batch_size, cfg.lr, cfg.warmup,
                       cfg.weight_decay, eval_ids, cfg.eval_every, cfg.seed, progress,
                       mlm_probability=cfg.mlm_probability)
    tmp = folder / "final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.to_hf().save_pretrained(tmp)  # safetensors + config.json: opens in the HF ecosystem
    tokenizer.save_pretrained(tmp)
    summary = {"config": asdict(cfg), "corpus_split": CORPUS_SPLIT, "log": log, "train_sequences": len(train_ids),
               "train_tokens": int(train_ids.numel()), "wall_seconds": time.perf_counter() - t0,
               "cpu_seconds": time.process_time() - cpu0, "torch_threads": torch.get_num_threads(),
               "parameters": sum(p.numel() for p in model.parameters())}
    (tmp / "pretrain_summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    shutil.rmtree(folder / "final", ignore_errors=True)
    tmp.rename(folder / "final")


def _build_key(cfg: PretrainConfig) -> dict:
    """What a build depends on: the config and the corpus split (JSON-normalised)."""
    return json.loads(json.dumps({"config": asdict(cfg), "corpus_split": CORPUS_SPLIT}))


def _built_with(final: Path, cfg: PretrainConfig) -> bool:
    """Whether ``final`` holds a finished build of ``cfg`` under this version's corpus split."""
    path = final / "pretrain_summary.json"
    if not (final / "config.json").is_file() or not path.is_file():
        return False
    summary = json.loads(path.read_text(encoding="utf-8"))
    return {"config": summary.get("config"), "corpus_split": summary.get("corpus_split")} == _build_key(cfg)


def load_course_bert(smoke: bool | None = None, rebuild: bool = False, progress: bool = True,
                     dropout: float | None = None):
    """The course's MLM-pretrained BERT and its tokenizer, trained and cached on first use.

    Returns ``(model, tokenizer)``: our ``BertForMaskedLM`` in eval mode and a
    ``PreTrainedTokenizerFast`` with [PAD] [UNK] [CLS] [SEP] [MASK]. The training summary
    (config, eval log, wall time) is at ``course_bert_dir(smoke) / "pretrain_summary.json"``.
    ``dropout`` overrides the hidden and attention dropout of the loaded model: the FULL model is
    pretrained without dropout, and unsupervised SimCSE (notebook 09) needs it, e.g. 0.1.
    """
    if dropout is not None and not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
        raise ValueError(f"dropout must be a float in [0, 1) or None, got {dropout!r}")
    smoke = smoke_mode() if smoke is None else smoke
    folder = cache_dir("course-bert-smoke" if smoke else "course-bert")
    if rebuild:
        shutil.rmtree(folder / "final", ignore_errors=True)
        shutil.rmtree(folder / "run", ignore_errors=True)
    cfg = SMOKE if smoke else FULL
    with FileLock(str(folder / ".build.lock")):  # one builder at a time; others wait, then load
        if not _built_with(folder / "final", cfg):
            marker = folder / "run" / "build_config.json"
            if not marker.is_file() or json.loads(marker.read_text(encoding="utf-8")) != _build_key(cfg):
                shutil.rmtree(folder / "run", ignore_errors=True)  # a run of another config must not be resumed
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps(_build_key(cfg)), encoding="utf-8")
            _build(cfg, folder, progress)  # resumes an interrupted run of this config
    from transformers import BertForMaskedLM as HFBertForMaskedLM

    overrides = {} if dropout is None else {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
    hf = HFBertForMaskedLM.from_pretrained(folder / "final", **overrides)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder / "final")
    return BertForMaskedLM.from_hf(hf).eval(), tokenizer


def course_bert_dir(smoke: bool | None = None) -> Path:
    """Folder of the finished checkpoint (HF format: config.json, model.safetensors, tokenizer)."""
    smoke = smoke_mode() if smoke is None else smoke
    return cache_dir("course-bert-smoke" if smoke else "course-bert") / "final"


def pretrain_summary(smoke: bool | None = None) -> dict:
    """The JSON summary written at the end of pretraining (config, eval log, wall seconds)."""
    path = course_bert_dir(smoke) / "pretrain_summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"no pretraining summary at {path}: call load_course_bert() first")
    return json.loads(path.read_text(encoding="utf-8"))

