"""Turn any BERT-like masked LM into a diffusion text generator (chapter 11).

Taught in notebook 11. One idea per module:

- ``schedule``  alpha(t), ELBO weight -alpha'/(1-alpha), stratified/antithetic t
- ``chat``      a chat format with special markers for encoder tokenizers
- ``data``      messages JSONL / Hugging Face datasets / offline corpora, mixing ratios
- ``collate``   EOS padding, un-maskable prompts, random-length crops, the forward noise
- ``models``    load any AutoModelForMaskedLM, the course BERT, or tiny random models
- ``train``     the diffusion loss and a resumable AdamW loop
- ``checkpoint`` atomic safetensors checkpoints with optimizer/scheduler/RNG state
- ``sample``    ``generate``: semi-autoregressive blocks, remasking strategies
- ``edit``      ``infill`` (code FIM), ``bridge`` (text bridging), ``edit`` (targeted rewrites)
- ``evaluate``  ELBO perplexity bound, masked accuracy, repetition, EOS rate, generative PPL
- ``judges``    offline SmolLM2 / Gemma 3 judges: nats per token and generative perplexity
- ``russian``   Russian SFT-style tasks (proverb completion, text continuation) from offline packages
- ``frida`` / ``seed002``  seed 002's claims as controlled experiments on a finished study
- ``causal_baseline`` a same-size causal transformer trained on the same data
- ``presets`` / ``cli``  ``python -m nlp_course.diffusion {train,sample,eval}`` (``hub-*``: the notes' public encoders)

References: Austin et al. 2021 (D3PM); Sahoo et al. 2024 (MDLM); Shi et al. 2024 (MD4);
Nie et al. 2025 (LLaDA); Zhou et al. 2025 (dLLM, BERT chat).
"""

from .chat import CHAT_TOKENS, add_chat_tokens, dialogue_examples, find_mask_id, prompt_ids
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .collate import DiffusionCollator, add_noise
from .data import load_dialogues, load_examples, parse_data_spec, read_jsonl, write_jsonl
from .models import load_mlm, save_tiny_random, tiny_random
from .schedule import alpha, loss_weight, mask_prob, sample_t
from .train import TrainConfig, diffusion_loss, train

__all__ = [
    "CHAT_TOKENS", "DiffusionCollator", "TrainConfig", "add_chat_tokens", "add_noise", "alpha",
    "dialogue_examples", "diffusion_loss", "find_mask_id", "latest_checkpoint", "load_checkpoint",
    "load_dialogues", "load_examples", "load_mlm", "loss_weight", "mask_prob", "parse_data_spec",
    "prompt_ids", "read_jsonl", "sample_t", "save_checkpoint", "save_tiny_random", "tiny_random",
    "train", "write_jsonl",
]
