import pytest
import torch

from nlp_course.masking import (
    StaticMasker,
    mask_tokens,
    special_tokens_mask,
    whole_word_mask,
    word_ids_from_pieces,
)

PAD, CLS, SEP, MASK, V = 0, 2, 3, 4, 1000


def _batch(B=64, T=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, V, (B, T), generator=g)
    ids[:, 0], ids[:, -1] = CLS, SEP
    ids[: B // 2, T // 2 :] = PAD  # half the rows padded
    return ids


def test_80_10_10_statistics():
    ids = _batch()
    g = torch.Generator().manual_seed(1)
    corrupted, labels = mask_tokens(ids, MASK, V, [PAD, CLS, SEP], 0.15, generator=g)
    special = special_tokens_mask(ids, [PAD, CLS, SEP])
    chosen = labels != -100
    n_eligible, n_chosen = int((~special).sum()), int(chosen.sum())
    assert abs(n_chosen / n_eligible - 0.15) < 0.01  # ~6k eligible tokens: 3 sigma ~ 0.014 of p
    as_mask = (corrupted == MASK) & chosen
    unchanged = (corrupted == ids) & chosen
    random_ = chosen & ~as_mask & ~unchanged
    assert abs(as_mask.sum() / n_chosen - 0.8) < 0.03
    assert abs(unchanged.sum() / n_chosen - 0.1) < 0.03  # (a random id can equal the original: rare)
    assert abs(random_.sum() / n_chosen - 0.1) < 0.03
    torch.testing.assert_close(labels[chosen], ids[chosen])


def test_never_touches_special_tokens_or_padding():
    ids = _batch()
    for seed in range(5):
        corrupted, labels = mask_tokens(ids, MASK, V, [PAD, CLS, SEP], 0.5, generator=torch.Generator().manual_seed(seed))
        special = special_tokens_mask(ids, [PAD, CLS, SEP])
        assert (labels[special] == -100).all()
        assert torch.equal(corrupted[special], ids[special])


def test_dynamic_differs_static_repeats():
    ids = _batch(B=4)
    a = mask_tokens(ids, MASK, V, [PAD], generator=torch.Generator().manual_seed(1))[1]
    b = mask_tokens(ids, MASK, V, [PAD], generator=torch.Generator().manual_seed(2))[1]
    assert not torch.equal(a, b)  # dynamic: a fresh mask every time
    static = StaticMasker(MASK, V, [PAD], seed=0)
    assert torch.equal(static(7, ids)[1], static(7, ids)[1])
    assert not torch.equal(static(7, ids)[1], static(8, ids)[1])


def test_whole_word_masking_masks_all_pieces_of_a_word():
    tokens = ["[CLS]", "play", "##ing", "foot", "##ball", "is", "fun", "##ny", "[SEP]"]
    wids = word_ids_from_pieces(tokens)
    assert wids == [None, 0, 0, 1, 1, 2, 3, 3, None]
    ids = torch.arange(10, 19).repeat(200, 1)
    corrupted, labels = whole_word_mask(ids, [wids] * 200, MASK, V, 0.3, generator=torch.Generator().manual_seed(0))
    chosen = labels != -100
    for a, b in ((1, 2), (3, 4), (6, 7)):
        assert torch.equal(chosen[:, a], chosen[:, b])  # pieces of one word go together
        both_masked = (corrupted[:, a] == MASK) == (corrupted[:, b] == MASK)
        assert both_masked.all()
    assert not chosen[:, 0].any() and not chosen[:, 8].any()
    assert abs(chosen[:, 1].float().mean() - 0.3) < 0.1


def test_bad_input():
    ids = _batch(B=2, T=8)
    with pytest.raises(ValueError, match="mlm_probability"):
        mask_tokens(ids, MASK, V, [PAD], mlm_probability=1.5)
    with pytest.raises(ValueError, match="mask_token_id"):
        mask_tokens(ids, V + 1, V, [PAD])
    with pytest.raises(TypeError, match="input_ids"):
        mask_tokens(ids.float(), MASK, V, [PAD])
    with pytest.raises(ValueError, match="word_ids"):
        whole_word_mask(ids, [[None] * 8], MASK, V)
