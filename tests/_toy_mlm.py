"""A toy MLM world shared by test_revive and test_frida: template sentences split by item, a tiny BERT that learns them.

Held-out sentences are unseen (animal, place) combinations; ``seed_local_heads`` gets a 1-layer BERT past
the uniform-attention saddle in tens of steps (see nlp_course.pretrain).
"""

import itertools
import tempfile

import torch
from transformers import BertConfig

from nlp_course.bert import BertForMaskedLM
from nlp_course.pretrain import pack_sequences, pretrain_mlm, seed_local_heads
from nlp_course.tokenization import WordPieceTokenizer

ANIMALS = ["cat", "dog", "fox", "owl", "cow", "pig"]
PLACES = ["mat", "log", "rug", "bed", "box"]
SENTS = [f"the {a} sat on the {p}" for a, p in itertools.product(ANIMALS, PLACES)] + [
    f"a bird flew over the {p}" for p in PLACES]
TRAIN = [s for i, s in enumerate(SENTS) if i % 4] * 3
HELD = [s for i, s in enumerate(SENTS) if not i % 4] * 4


def toy_tokenizer():
    return WordPieceTokenizer(lowercase=True).train(SENTS, 80).to_hf(model_max_length=16)


def toy_bert(tok, steps: int = 60) -> BertForMaskedLM:
    """A 1-layer BERT MLM-trained on TRAIN (held-out accuracy ~0.8 after 60 steps), in eval mode."""
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=32, max_position_embeddings=16))
    seed_local_heads(model)
    with tempfile.TemporaryDirectory() as tmp:
        pretrain_mlm(model, tok, pack_sequences(TRAIN, tok, 16), tmp, steps=steps, batch_size=16, lr=3e-3, warmup=10,
                     progress=False)
    return model.eval()
