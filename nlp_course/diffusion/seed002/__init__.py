"""Seed 002 reproduced at laptop scale: each claim of the notes as a controlled experiment.

Taught in notebook 11 (section "Seed 002 reproduced"). Every experiment starts from a finished
study (``python -m nlp_course.diffusion.study``: its tokenizer, clean split and MLM-pretrained
course BERT), trains with fixed step counts (results independent of machine load), scores rows on
the study's held-out answers, and records ``<results>/<name>.json``::

    python -m nlp_course.diffusion.seed002 collapse --base runs/laptop --output-dir runs/seed002 \\
        --results notebooks/results/laptop/seed002 --size laptop

Modules (one experiment each; ``base`` holds what they share):

- ``base``      ``Experiment``: the base study, fixed-step SFT, held-out score, the JSON record
- ``collapse``  the FRIDA failure: MLM accuracy against contrastive steps, then SFT from each start
- ``revival``   the FRIDA fix: all-MiniLM-L6-v2 as shipped / revived by MLM / course BERT, each SFT'd
- ``scale``     course BERTs spanning >= 10x parameters, compute growing with size, same SFT
- ``language``  English-only vs English + Russian pretraining, SFT on a mixed set, per-language scores
- ``looping``   temperature / steps / block / remasking sweeps with seeds and an offline judge
- ``applications`` code fill-in-the-middle, text bridging, detox edits on held-out items

References: seed 002 (the notes); Nie et al. 2025 (LLaDA); Gao et al. 2021 (SimCSE);
Reimers & Gurevych 2019 (Sentence-BERT).
"""

from .base import Experiment, mean_std

__all__ = ["Experiment", "mean_std"]
