"""NLP metrics, each tested against its reference library. Taught in notebook 10.

Generation (``generation.py``): ``perplexity``, ``perplexity_from_log_probs``, ``distinct_n``,
``repeated_ngram_rate``, ``ngrams``.
Classification (``classification.py``): ``accuracy``, ``precision_recall_f1``,
``confusion_matrix``, ``roc_curve``, ``roc_auc``.
NER (``ner.py``): ``bio_spans``, ``entity_prf``, ``sentence_exact_match``.
QA (``qa.py``): ``normalize_answer``, ``exact_match``, ``token_f1``.
ROUGE (``rouge.py``): ``rouge_n``, ``rouge_l``, ``lcs_length``.
Ranking (``ranking.py``): ``recall_at_k``, ``mrr``, ``ndcg_at_k``.
Translation (``translation.py``): ``corpus_bleu``, ``sentence_bleu``, ``bleu_from_stats``,
``tokenize_13a``, ``corpus_ter``, ``sentence_ter``, ``ter_edits``.
METEOR (``meteor.py``): ``meteor``, ``meteor_details``, ``align``, ``count_chunks``.
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
from .meteor import align, count_chunks, meteor, meteor_details
from .ner import bio_spans, entity_prf, sentence_exact_match
from .qa import exact_match, normalize_answer, token_f1
from .ranking import mrr, ndcg_at_k, recall_at_k
from .rouge import lcs_length, rouge_l, rouge_n
from .translation import (
    bleu_from_stats,
    corpus_bleu,
    corpus_ter,
    sentence_bleu,
    sentence_ter,
    ter_edits,
    tokenize_13a,
)

__all__ = [
    "lcs_length",
    "rouge_l",
    "rouge_n",
    "bio_spans",
    "entity_prf",
    "sentence_exact_match",
    "accuracy",
    "confusion_matrix",
    "precision_recall_f1",
    "roc_auc",
    "roc_curve",
    "distinct_n",
    "exact_match",
    "normalize_answer",
    "token_f1",
    "mrr",
    "ndcg_at_k",
    "recall_at_k",
    "ngrams",
    "perplexity",
    "perplexity_from_log_probs",
    "repeated_ngram_rate",
    "bleu_from_stats",
    "corpus_bleu",
    "corpus_ter",
    "sentence_bleu",
    "sentence_ter",
    "ter_edits",
    "tokenize_13a",
    "align",
    "count_chunks",
    "meteor",
    "meteor_details",
]
