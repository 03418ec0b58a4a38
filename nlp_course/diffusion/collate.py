"""Batching and noising for diffusion SFT: pad with EOS, keep prompts clean, mask answers.

Taught in notebook 11.

``DiffusionCollator`` turns examples ``{"input_ids", "target"}`` into padded tensors:

- ``input_ids`` (B, T), ``attention_mask`` (B, T) and ``target_mask`` (B, T): the positions the
  forward process may mask. Prompt positions are never maskable.
- Answers that end the sequence are padded with EOS (``<|end|>``) up to ``max_length``.
  ``eos_in_loss=True`` (LLaDA's choice) makes the padding part of the answer: the model learns
  *where to stop* but sees many EOS targets, which drives over-production of EOS at sampling
  (short answers). ``eos_in_loss=False`` hides the padding from attention and loss; only the one
  closing EOS is a target.
- ``crop_prob``: that fraction of examples is cut at a random point inside the answer (no
  closing EOS, no padding), a known remedy for the repetition/looping of masked-diffusion SFT:
  the model stops seeing every answer as "text, then a long EOS tail".

``add_noise(batch, t, mask_id, kind, generator)`` applies the forward process at times ``t``:
each maskable token becomes [MASK] with probability ``1 - alpha(t)``.
"""

from __future__ import annotations

import torch

from .schedule import mask_prob


class DiffusionCollator:
    """Pad examples into a batch (see module docstring). Randomness comes from ``generator``."""

    def __init__(self, pad_id: int, eos_id: int, max_length: int, eos_in_loss: bool = True,
                 crop_prob: float = 0.0, pad_to_max: bool = True):
        if max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {max_length}")
        if not 0.0 <= crop_prob <= 1.0:
            raise ValueError(f"crop_prob must be in [0, 1], got {crop_prob}")
        self.pad_id, self.eos_id, self.max_length = int(pad_id), int(eos_id), int(max_length)
        self.eos_in_loss, self.crop_prob, self.pad_to_max = bool(eos_in_loss), float(crop_prob), pad_to_max

    def __call__(self, examples: list[dict], generator: torch.Generator | None = None) -> dict:
        if not examples:
            raise ValueError("cannot collate an empty list of examples")
        rows = []
        for ex in examples:
            ids, tgt = list(ex["input_ids"])[: self.max_length], list(ex["target"])[: self.max_length]
            if len(ids) != len(tgt):
                raise ValueError("example input_ids and target must have the same length")
            cropped = False
            if self.crop_prob > 0 and any(tgt):
                coin = torch.rand(1, generator=generator).item()
                if coin < self.crop_prob:
                    first = tgt.index(True)
                    cut = int(torch.randint(first + 1, len(ids) + 1, (1,), generator=generator))
                    ids, tgt, cropped = ids[:cut], tgt[:cut], True
            rows.append((ids, tgt, cropped))
        width = self.max_length if self.pad_to_max else max(len(r[0]) for r in rows)
        B = len(rows)
        input_ids = torch.full((B, width), self.pad_id, dtype=torch.long)  # (B, T)
        attention = torch.zeros(B, width, dtype=torch.long)  # (B, T)
        target = torch.zeros(B, width, dtype=torch.bool)  # (B, T)
        for b, (ids, tgt, cropped) in enumerate(rows):
            n = len(ids)
            input_ids[b, :n] = torch.tensor(ids)
            attention[b, :n] = 1
            target[b, :n] = torch.tensor(tgt, dtype=torch.bool)
            answer_at_end = tgt[-1] and not cropped
            if answer_at_end and n < width:
                input_ids[b, n:] = self.eos_id
                if self.eos_in_loss:
                    attention[b, n:] = 1
                    target[b, n:] = True
        return {"input_ids": input_ids, "attention_mask": attention, "target_mask": target}


def add_noise(batch: dict, t: torch.Tensor, mask_id: int, kind: str = "linear",
              generator: torch.Generator | None = None) -> dict:
    """Forward process: mask each target token with probability ``1 - alpha(t_b)``.

    Returns a new dict with ``noisy_ids`` (B, T) and ``masked`` (B, T) (True where masked).
    """
    ids, target = batch["input_ids"], batch["target_mask"]
    if t.shape != (ids.shape[0],):
        raise ValueError(f"t must have shape ({ids.shape[0]},), got {tuple(t.shape)}")
    p = mask_prob(t.double().cpu(), kind).float().to(ids.device)  # (B,)
    u = torch.rand(ids.shape, generator=generator).to(ids.device)  # (B, T)
    masked = (u < p[:, None]) & target  # (B, T)
    noisy = torch.where(masked, torch.full_like(ids, mask_id), ids)  # (B, T)
    return {**batch, "noisy_ids": noisy, "masked": masked}
