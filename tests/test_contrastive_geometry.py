"""Alignment, uniformity (Wang & Isola 2020) and anisotropy vs scipy/sklearn on the same vectors."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist
from sklearn.metrics.pairwise import cosine_similarity

from nlp_course.contrastive import alignment, anisotropy, uniformity


@pytest.mark.parametrize("seed", range(3))
def test_against_scipy_and_sklearn(seed):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(30, 5, generator=g, dtype=torch.float64) * 4, torch.randn(30, 5, generator=g, dtype=torch.float64)
    xn = x.numpy() / np.linalg.norm(x.numpy(), axis=1, keepdims=True)
    yn = y.numpy() / np.linalg.norm(y.numpy(), axis=1, keepdims=True)
    assert alignment(x, y).item() == pytest.approx(np.mean(np.sum((xn - yn) ** 2, 1)), rel=1e-10)
    assert alignment(x, y, alpha=1).item() == pytest.approx(np.mean(np.linalg.norm(xn - yn, axis=1)), rel=1e-10)
    for t in (0.5, 2.0):
        want = np.log(np.mean(np.exp(-t * pdist(xn, "sqeuclidean"))))
        assert uniformity(x, t).item() == pytest.approx(want, rel=1e-10)
    sims = cosine_similarity(x.numpy())
    assert anisotropy(x).item() == pytest.approx(sims[~np.eye(30, dtype=bool)].mean(), rel=1e-10)


def test_extremes():
    same = torch.ones(5, 3)
    assert alignment(same, same * 7).item() == pytest.approx(0.0, abs=1e-7)
    assert uniformity(same).item() == pytest.approx(0.0, abs=1e-6)  # collapsed: the worst value
    assert anisotropy(same).item() == pytest.approx(1.0, abs=1e-6)
    opposite = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    assert anisotropy(opposite).item() == pytest.approx(-1.0)
    assert uniformity(opposite).item() == pytest.approx(-8.0)  # two antipodal points: distance^2 = 4


def test_bad_input():
    with pytest.raises(ValueError, match="at least 2 rows"):
        uniformity(torch.randn(1, 3))
    with pytest.raises(ValueError, match="at least 2 rows"):
        anisotropy(torch.randn(1, 3))
    with pytest.raises(ValueError, match="t must be"):
        uniformity(torch.randn(4, 3), t=0)
    with pytest.raises(ValueError, match="differ in shape"):
        alignment(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match=r"floating \(B, D\)"):
        anisotropy(torch.ones(4, dtype=torch.long))
