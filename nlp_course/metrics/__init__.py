"""NLP metrics, each tested against its reference library. Taught in notebook 10.

Generation (``generation.py``): ``perplexity``, ``perplexity_from_log_probs``, ``distinct_n``,
``repeated_ngram_rate``, ``ngrams``.
"""

from .generation import (
    distinct_n,
    ngrams,
    perplexity,
    perplexity_from_log_probs,
    repeated_ngram_rate,
)

__all__ = [
    "distinct_n",
    "ngrams",
    "perplexity",
    "perplexity_from_log_probs",
    "repeated_ngram_rate",
]
