"""Our BERT equals Hugging Face's BertForMaskedLM given the same weights, both ways."""

import pytest
import torch
from transformers import BertConfig
from transformers import BertForMaskedLM as HFBert

from nlp_course.bert import BertForMaskedLM

CONFIGS = [
    dict(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
         max_position_embeddings=40),
    dict(vocab_size=50, hidden_size=24, num_hidden_layers=3, num_attention_heads=2, intermediate_size=48,
         max_position_embeddings=16, type_vocab_size=3, layer_norm_eps=1e-5),
    dict(vocab_size=120, hidden_size=16, num_hidden_layers=1, num_attention_heads=1, intermediate_size=16,
         max_position_embeddings=64, hidden_act="gelu_new"),
]


def _hf(cfg, seed=0):
    torch.manual_seed(seed)
    model = HFBert(BertConfig(**cfg, attn_implementation="eager")).eval()
    with torch.no_grad():  # non-trivial biases and LayerNorm weights, so a wrong mapping shows
        for name, p in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    return model


def _inputs(cfg, B=3, T=11, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, cfg["vocab_size"], (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 7:] = 0
    mask[2, 3:] = 0
    types = torch.randint(0, cfg.get("type_vocab_size", 2), (B, T), generator=g)
    return ids, mask, types


@pytest.mark.parametrize("cfg", CONFIGS)
def test_from_hf_matches_hidden_states_and_logits(cfg):
    hf = _hf(cfg)
    ours = BertForMaskedLM.from_hf(hf).eval()
    ids, mask, types = _inputs(cfg)
    with torch.no_grad():
        a = hf(input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True,
               output_attentions=True)
        b = ours(input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True,
                 output_attentions=True)
    keep = mask.bool()  # HF and torch differ (legitimately) only at padded query positions
    assert len(a.hidden_states) == len(b.hidden_states)
    for ha, hb in zip(a.hidden_states, b.hidden_states):
        torch.testing.assert_close(hb[keep], ha[keep], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(b.logits[keep], a.logits[keep], atol=1e-5, rtol=1e-4)
    for wa, wb in zip(a.attentions, b.attentions):
        torch.testing.assert_close(wb.transpose(1, 2)[keep], wa.transpose(1, 2)[keep], atol=1e-5, rtol=1e-4)


def test_loss_matches_hf_and_weights_are_tied():
    cfg = CONFIGS[0]
    hf = _hf(cfg)
    ours = BertForMaskedLM.from_hf(hf).eval()
    ids, mask, _ = _inputs(cfg)
    labels = ids.masked_fill(torch.rand(ids.shape, generator=torch.Generator().manual_seed(3)) > 0.3, -100)
    with torch.no_grad():
        torch.testing.assert_close(ours(ids, mask, labels=labels).loss, hf(input_ids=ids, attention_mask=mask, labels=labels).loss)
    assert ours.cls.decoder.weight is ours.get_input_embeddings().weight


@pytest.mark.parametrize("cfg", CONFIGS[:2])
def test_to_hf_round_trip(cfg, tmp_path):
    torch.manual_seed(5)
    ours = BertForMaskedLM(BertConfig(**cfg)).eval()
    hf = ours.to_hf().eval()
    hf.save_pretrained(tmp_path)  # opens in the HF ecosystem
    reloaded = HFBert.from_pretrained(tmp_path).eval()
    back = BertForMaskedLM.from_hf(reloaded).eval()
    ids, mask, types = _inputs(cfg, seed=9)
    with torch.no_grad():
        x = ours(ids, mask, types).logits
        keep = mask.bool()
        torch.testing.assert_close(hf(input_ids=ids, attention_mask=mask, token_type_ids=types).logits[keep], x[keep], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(back(ids, mask, types).logits, x)


def test_training_step_decreases_loss():
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(**CONFIGS[0]))
    ids = torch.randint(0, 97, (8, 12))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = model(ids, labels=ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_resize_token_embeddings_keeps_rows_and_tying():
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(**CONFIGS[0])).eval()
    old = model.get_input_embeddings().weight.detach().clone()
    model.resize_token_embeddings(100)
    new = model.get_input_embeddings().weight
    torch.testing.assert_close(new[:97], old)
    assert new.shape == (100, 32) and model.cls.decoder.weight is new
    assert model(torch.tensor([[99, 5]])).logits.shape == (1, 2, 100)


def test_bad_input():
    model = BertForMaskedLM(BertConfig(**CONFIGS[1])).eval()
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="vocab_size"):
        model(torch.tensor([[1, 50]]))
    with pytest.raises(TypeError, match="input_ids"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="attention_mask"):
        model(torch.zeros(1, 3, dtype=torch.long), attention_mask=torch.ones(1, 4))
    with pytest.raises(TypeError, match="BertConfig"):
        BertForMaskedLM({"vocab_size": 3})
    with pytest.raises(ValueError, match="divisible"):
        BertForMaskedLM(BertConfig(hidden_size=10, num_attention_heads=3))
