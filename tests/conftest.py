"""Shared pytest fixtures and the Hypothesis profile every test runs under.

Hypothesis profile: ``derandomize=True`` (examples come from a hash of each test, so every
run on every machine tries the same inputs and a red run is a real regression, reproducible
with the printed blob), no example database (nothing carried between runs), no deadline (a
contended 2-core CI box must not fail on wall time). Set ``HYPOTHESIS_PROFILE=explore`` to
search new random examples locally (and keep failures in ``.hypothesis/``); pin what it finds
with ``@example``.

Under ``pytest -n 2`` (pytest-xdist, the README's test command) each worker and every notebook
kernel it starts run torch on one thread: two workers share the two cores instead of four
threads fighting over them (``pytest_configure`` below).

Every test also starts from seeded ``random``/NumPy/torch generators (``seeded`` below), so a
bare ``torch.randn`` in a test draws the same numbers whichever tests ran before it.
"""

import os

import pytest
import torch
from hypothesis import settings

from nlp_course.utils import set_seed

settings.register_profile("repeatable", derandomize=True, database=None, deadline=None,
                          print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # set in each xdist worker, not in a plain run
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            os.environ[var] = "1"  # inherited by the nbval kernels this worker starts
        torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def seeded():
    """Seed the global generators before each test: results never depend on test order."""
    set_seed(0)


@pytest.fixture(scope="session")
def wiki12():
    """The first 12 English Wikipedia articles, parsed once per run (the parse costs seconds);
    tests slice the prefix they need, the same articles as ``wikipedia_articles(limit=k)``."""
    from nlp_course.data import wikipedia_articles

    return wikipedia_articles(limit=12)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models: thread start-up costs more than the math (and contended cores make it worse)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny():
    """A tiny random BERT with the chat markers added, in eval mode: ``(model, tokenizer)``
    (the sampler tests share it; a test module may define its own ``tiny`` instead)."""
    from nlp_course.diffusion.chat import add_chat_tokens
    from nlp_course.diffusion.models import tiny_random

    model, tok = tiny_random("bert", seed=0)
    add_chat_tokens(tok, model)
    return model.eval(), tok


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory):
    """A smoke study finished through its ``sft`` stage: the base every seed-002 experiment test
    starts from (built once per test process: ~10 s)."""
    from nlp_course.diffusion.study import run_study

    out = tmp_path_factory.mktemp("smoke-study") / "run"
    run_study("smoke", out, time_budget=8, device="cpu", until="sft", quiet=True)
    return out
