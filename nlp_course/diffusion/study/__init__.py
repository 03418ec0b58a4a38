"""Chapter 11's study runner: one command from pretraining to recorded results, on a time budget.

Taught in notebook 11::

    python -m nlp_course.diffusion.study --preset smoke --output-dir /tmp/smoke --time-budget 20
    python -m nlp_course.diffusion.study --preset laptop --output-dir runs/laptop \\
        --results notebooks/results/laptop          # ~30-35 min on 2 CPU cores
    python -m nlp_course.diffusion.study --preset gpu --output-dir runs/gpu --results notebooks/results/gpu

The runner (``runner.py``) composes one small module per stage, the way dLLM composes trainer,
scheduler and sampler:

- ``corpus``    data: prose for pretraining, the course WordPiece tokenizer, clean SFT splits
- ``pretrain``  a course BERT by masked LM and its causal twin on the same windows (equal compute)
- ``sft``       four rows: {diffusion, causal} x {pretrained, random init}, same SFT budget
- ``compare``   held-out likelihood: ELBO over the sampler's canvas vs the causal twin's exact NLL
- ``sampling``  every row answers the same held-out prompts; repetition/diversity statistics
- ``sweeps``    temperature / steps / remasking of the main model, several seeds
- ``report``    ``study.json``, ``samples.jsonl``, ``loss.png``, ``sweeps.png``
- ``fit``       seconds-per-step probes that scale every training run down to its time share
- ``presets``   ``smoke`` / ``laptop`` / ``gpu`` as data

References: Devlin et al. 2019 (BERT); Sahoo et al. 2024 (MDLM); Nie et al. 2025 (LLaDA);
Zhou et al. 2025 (dLLM); Kaplan et al. 2020 (6ND compute).
"""

from .presets import PRESETS, get_preset
from .runner import STAGES, Study, load_finished, open_study, run_study

__all__ = ["PRESETS", "STAGES", "Study", "get_preset", "load_finished", "open_study", "run_study"]
