"""Contrastive losses vs torch: InfoNCE as explicit cross-entropy, triplet = TripletMarginLoss."""

import math

import pytest
import torch

from nlp_course import contrastive as C


@pytest.mark.parametrize("seed", range(5))
def test_info_nce_equals_log_softmax_formula(seed):
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(6, 8, generator=g) * 5, torch.randn(6, 8, generator=g)
    tau = 0.1
    an, bn = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    want = 0.0
    for i in range(6):
        sims = [float(an[i] @ bn[j]) / tau for j in range(6)]
        want += -(sims[i] - math.log(sum(math.exp(s) for s in sims)))
    torch.testing.assert_close(C.info_nce(a, b, tau), torch.tensor(want / 6), rtol=1e-5, atol=1e-5)
    sym = C.info_nce(a, b, tau, symmetric=True)
    torch.testing.assert_close(sym, (C.info_nce(a, b, tau) + C.info_nce(b, a, tau)) / 2)


@pytest.mark.parametrize("margin", [0.01, 0.5, 2.0])
def test_triplet_equals_torch(margin):
    g = torch.Generator().manual_seed(0)
    x = [torch.randn(10, 4, generator=g) for _ in range(3)]
    x[1][0] = x[0][0]  # zero distance edge case
    torch.testing.assert_close(C.triplet_loss(*x, margin=margin), torch.nn.TripletMarginLoss(margin=margin)(*x))


def test_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        C.info_nce(torch.randn(2, 3), torch.randn(2, 3), 0.0)
    with pytest.raises(ValueError, match="differ in shape"):
        C.info_nce(torch.randn(2, 3), torch.randn(3, 3))
    with pytest.raises(ValueError, match="empty"):
        C.triplet_loss(torch.randn(0, 3), torch.randn(0, 3), torch.randn(0, 3))
