"""NLP metrics, each tested against its reference library. Taught in notebook 10.

Generation (``generation.py``): ``perplexity``, ``perplexity_from_log_probs``, ``distinct_n``,
``repeated_ngram_rate``, ``ngrams``.
Classification (``classification.py``): ``accuracy``, ``precision_recall_f1``,
``confusion_matrix``, ``roc_curve``, ``roc_auc``.
Ranking (``ranking.py``): ``recall_at_k``, ``mrr``, ``ndcg_at_k``.
"""

from .classification import (
    accuracy,
    confusion_matrix,
    precision_recall_f1,
    roc_auc,
    roc_curve,
)
from .generation import (
    distinct_n,
    ngrams,
    perplexity,
    perplexity_from_log_probs,
    repeated_ngram_rate,
)
from .ranking import mrr, ndcg_at_k, recall_at_k

__all__ = [
    "accuracy",
    "confusion_matrix",
    "precision_recall_f1",
    "roc_auc",
    "roc_curve",
    "distinct_n",
    "mrr",
    "ndcg_at_k",
    "recall_at_k",
    "ngrams",
    "perplexity",
    "perplexity_from_log_probs",
    "repeated_ngram_rate",
]
