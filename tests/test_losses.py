"""nlp_course.losses vs torch.nn.functional on the same inputs, extreme logits included."""

import pytest
import torch
import torch.nn.functional as F

from nlp_course import losses as L

DT = [torch.float32, torch.float64]


def _tol(dtype):
    return dict(atol=1e-5, rtol=1e-5) if dtype == torch.float32 else dict(atol=1e-10, rtol=1e-10)


def _batch(dtype, shape=(8, 5), scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)
    tshape = (shape[0],) + tuple(shape[2:])
    target = torch.randint(0, shape[1], tshape, generator=g)
    return logits, target


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(8, 5), (4, 5, 3)])
def test_cross_entropy_matches_torch(dtype, reduction, smoothing, weighted, shape):
    logits, target = _batch(dtype, shape)
    target.view(-1)[::3] = -100  # ignore_index
    w = torch.rand(5, generator=torch.Generator().manual_seed(3), dtype=dtype) if weighted else None
    kw = dict(weight=w, reduction=reduction, label_smoothing=smoothing)
    torch.testing.assert_close(L.cross_entropy(logits, target, **kw),
                               F.cross_entropy(logits, target, **kw), **_tol(dtype))


@pytest.mark.parametrize("dtype", DT)
def test_cross_entropy_extreme_logits_and_grad(dtype):
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    target = torch.tensor([1, 0, 2])  # the worst possible labels: loss ~ 2e4
    ours = L.cross_entropy(logits.clone().requires_grad_(True), target, label_smoothing=0.1)
    ref = F.cross_entropy(logits, target, label_smoothing=0.1)
    assert torch.isfinite(ours)
    torch.testing.assert_close(ours.detach(), ref, **_tol(dtype))
    x1 = logits.clone().requires_grad_(True)
    x2 = logits.clone().requires_grad_(True)
    L.cross_entropy(x1, target).backward()
    F.cross_entropy(x2, target).backward()
    torch.testing.assert_close(x1.grad, x2.grad, **_tol(dtype))


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_matches_torch(dtype, reduction):
    logits, target = _batch(dtype, (10, 4))
    lp = torch.log_softmax(logits, 1)
    target[2] = 7
    w = torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=dtype)
    for weight in (None, w):
        torch.testing.assert_close(
            L.nll_loss(lp, target, weight=weight, ignore_index=7, reduction=reduction),
            F.nll_loss(lp, target, weight=weight, ignore_index=7, reduction=reduction),
            **_tol(dtype))


@pytest.mark.parametrize("dtype", DT)
def test_masked_cross_entropy_ignores_padding(dtype):
    logits, target = _batch(dtype, (3, 6, 7))  # (B, C=6, T=7) -> use as (B, T, C) below
    logits = logits.transpose(1, 2).contiguous()  # (B, T, C)
    target = target.clamp(max=5)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[0, 4:] = False
    mask[2, 1:] = False
    ref_target = target.masked_fill(~mask, -100)
    ref = F.cross_entropy(logits.reshape(-1, 6), ref_target.reshape(-1))
    torch.testing.assert_close(L.masked_cross_entropy(logits, target, mask), ref, **_tol(dtype))
    # garbage at padded positions changes nothing
    noisy = logits.clone()
    noisy[~mask] = 1e4
    torch.testing.assert_close(L.masked_cross_entropy(noisy, target, mask.int()), ref,
                               **_tol(dtype))


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_matches_torch(dtype, reduction):
    a, _ = _batch(dtype, (6, 4), scale=1e4)
    b, _ = _batch(dtype, (6, 4), seed=1)
    torch.testing.assert_close(L.mse_loss(a, b, reduction), F.mse_loss(a, b, reduction=reduction),
                               **_tol(dtype))


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_contrastive_matches_torch_expression(dtype, reduction):
    # no single torch twin: reference built from torch.cdist + F.relu
    g = torch.Generator().manual_seed(2)
    a = torch.randn(16, 3, generator=g, dtype=torch.float64).to(dtype)
    b = (a + 0.5 * torch.randn(16, 3, generator=g, dtype=torch.float64).to(dtype))
    y = torch.randint(0, 2, (16,), generator=g)
    d = torch.cdist(a[:, None], b[:, None]).reshape(16)
    ref = 0.5 * y * d.pow(2) + 0.5 * (1 - y) * F.relu(1.5 - d).pow(2)
    ref = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    ours = L.contrastive_loss(a, b, y, margin=1.5, reduction=reduction)
    torch.testing.assert_close(ours, ref.to(dtype), **_tol(dtype))


def test_contrastive_far_negatives_cost_nothing():
    a = torch.zeros(2, 2)
    b = torch.tensor([[3.0, 4.0], [0.3, 0.4]])  # distances 5 and 0.5
    out = L.contrastive_loss(a, b, torch.tensor([0, 0]), margin=1.0, reduction="none")
    torch.testing.assert_close(out, torch.tensor([0.0, 0.125]))


def test_bad_inputs():
    logits, target = _batch(torch.float32)
    with pytest.raises(ValueError, match="target shape"):
        L.cross_entropy(logits, target[:-1])
    with pytest.raises(ValueError, match="target ids"):
        L.cross_entropy(logits, torch.full_like(target, 5))
    with pytest.raises(TypeError, match="target"):
        L.cross_entropy(logits, target.float())
    with pytest.raises(TypeError, match="logits"):
        L.cross_entropy(logits.long(), target)
    with pytest.raises(ValueError, match="reduction"):
        L.cross_entropy(logits, target, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        L.cross_entropy(logits, target, label_smoothing=1.5)
    with pytest.raises(ValueError, match="weight"):
        L.cross_entropy(logits, target, weight=torch.ones(3))
    with pytest.raises(ValueError, match="input shape"):
        L.mse_loss(torch.zeros(3, 1), torch.zeros(3))
    with pytest.raises(ValueError, match="mask"):
        L.masked_cross_entropy(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long),
                               torch.ones(2, 4))
    with pytest.raises(ValueError, match="a and b"):
        L.contrastive_loss(torch.zeros(2, 3), torch.zeros(2, 4), torch.ones(2))
    with pytest.raises(ValueError, match="similar"):
        L.contrastive_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="margin"):
        L.contrastive_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2), margin=0)
