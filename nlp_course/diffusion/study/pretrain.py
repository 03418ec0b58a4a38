"""The study's ``pretrain`` stage: a course BERT by masked LM and its causal twin on the same windows.

Taught in notebook 11 (chapter 08 teaches masked-LM pretraining).

The BERT is the course's own ``nlp_course.bert.BertForMaskedLM`` with ``seed_local_heads`` (the
init that lifts small MLMs off the "predict *the* everywhere" saddle; chapter 08). Its loss is
masked LM at one fixed masking rate ``mask_t`` -- one step of the diffusion forward process (every
masked token becomes [MASK], no 80/10/10) -- scored with ``pretrain.sparse_mlm_loss``, which
projects to the vocabulary only at the masked positions (the same loss, ~2x faster on a CPU; on a
GPU the dense loss is used instead, because selecting the masked positions makes the host wait for
the device every step). The causal twin (``causal_baseline.causal_twin``: the
same widths and depth, a causal mask) learns next-token prediction on the very same windows for
the same steps, batch and length -- equal tokens, equal ~6ND FLOPs. Both fit the stage's time
share (``fit.plan_rows``). With the preset's ``export_hf`` the pretrained BERT is also written as a
Hugging Face folder, ``<out>/pretrain/hf``, which ``models.load_mlm`` and every CLI ``--model`` accept.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import BertConfig
from transformers.utils import logging as hf_logging

from nlp_course.bert import BertForMaskedLM
from nlp_course.pretrain import seed_local_heads, sparse_mlm_loss

from ..causal_baseline import causal_loss, causal_twin
from ..chat import find_mask_id
from ..collate import add_noise
from . import corpus, fit


def new_bert(tokenizer, dims: dict, seed: int):
    """A fresh course BERT sized ``dims`` for ``tokenizer`` (local heads seeded), in train mode."""
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **dims)
    return seed_local_heads(BertForMaskedLM(cfg))


def dense_mlm_loss(model, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``sparse_mlm_loss`` without selecting rows: all (B, T, V) logits, -100 labels ignored."""
    logits = model.cls(model.bert(input_ids).last_hidden_state)  # (B, T, V)
    return F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100)


def mlm_loss_fn(tokenizer, mask_t: float, dense: bool | None = None):
    """BERT's masked LM: the forward process at the fixed time ``t = mask_t``, CE at masked tokens.

    ``dense=None`` picks the dense loss on CUDA and the sparse one elsewhere (equal values).
    """
    mask_id = find_mask_id(tokenizer)

    def loss(model, batch, generator):
        t = torch.full((batch["input_ids"].shape[0],), float(mask_t))  # (B,)
        noisy = add_noise(batch, t, mask_id, "linear", generator)
        labels = batch["input_ids"].masked_fill(~noisy["masked"], -100)  # (B, T)
        use_dense = labels.is_cuda if dense is None else dense
        value = (dense_mlm_loss if use_dense else sparse_mlm_loss)(model, noisy["noisy_ids"], labels)
        return value, {"n_masked": noisy["masked"].sum()}

    return loss


def models(study, fresh: bool = False) -> dict:
    """``{"mlm": bert, "causal": twin}`` on the study's device: pretrained, or at init if ``fresh``."""
    d = corpus.load(study)
    seed = study.P["seed"]
    bert = new_bert(d["tokenizer"], study.P["model"], seed).to(study.device)
    twin = causal_twin(bert, seed=seed).to(study.device)
    if not fresh:
        for name, m in (("mlm", bert), ("causal", twin)):
            fit.load_row(study, "pretrain", name, m)
    return {"mlm": bert, "causal": twin}


def run(study) -> dict:
    d = corpus.load(study)
    tok, examples = d["tokenizer"], corpus.window_examples(d["windows"])
    init = models(study, fresh=True)
    loss = {"mlm": mlm_loss_fn(tok, study.P["mask_t"]), "causal": causal_loss}
    rows = {name: (m, tok, examples, loss[name]) for name, m in init.items()}
    plan = fit.plan_rows(study, "pretrain", rows, "pretrain")
    out = {name: fit.train_row(study, "pretrain", name, m, tok, examples, plan, "pretrain", loss[name])
           for name, m in init.items()}
    if study.P["export_hf"]:
        export_hf(init["mlm"], tok, study.out / "pretrain" / "hf")
    return {"plan": plan, "rows": out}


def export_hf(bert, tokenizer, folder) -> None:
    """The pretrained BERT as a Hugging Face folder (``--model runs/<x>/pretrain/hf``)."""
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # "Writing model shards" would interleave with the study's log
    try:
        bert.to_hf().save_pretrained(str(folder))
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    tokenizer.save_pretrained(str(folder))
