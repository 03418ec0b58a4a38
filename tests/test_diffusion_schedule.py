"""Masking schedules: closed-form alpha'(t) vs autograd, ELBO weights, t samplers."""

import pytest
import torch

from nlp_course.diffusion.schedule import alpha, alpha_prime, loss_weight, mask_prob, sample_t


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_alpha_prime_matches_autograd(kind):
    t = torch.linspace(0.01, 0.99, 50, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(alpha(t, kind).sum(), t)
    torch.testing.assert_close(alpha_prime(t.detach(), kind), grad)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_endpoints_and_monotone(kind):
    assert float(alpha(0.0, kind)) == pytest.approx(1.0)
    assert float(alpha(1.0, kind)) == pytest.approx(0.0, abs=1e-12)
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    assert torch.all(alpha(t, kind)[1:] < alpha(t, kind)[:-1])
    torch.testing.assert_close(mask_prob(t, kind), 1 - alpha(t, kind))


def test_linear_weight_is_one_over_t():
    t = torch.linspace(1e-3, 1, 200, dtype=torch.float64)
    torch.testing.assert_close(loss_weight(t, "linear"), 1 / t)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_weighted_mask_rate_integrates_to_one(kind):
    # E_t[w(t) * P(masked | t)] = int_0^1 -alpha'(t) dt = 1: a model that is right with
    # probability p everywhere gets a bound of exactly -log p per token.
    t = torch.linspace(1e-6, 1, 200_001, dtype=torch.float64)
    integral = torch.trapezoid(loss_weight(t, kind) * mask_prob(t, kind), t)
    assert float(integral) == pytest.approx(1.0, abs=1e-4)


def test_weight_rejects_zero_and_bad_inputs():
    with pytest.raises(ValueError, match="t > 0"):
        loss_weight(torch.tensor([0.0, 0.5]))
    with pytest.raises(ValueError, match="schedule kind"):
        alpha(0.5, "cubic")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        alpha(torch.tensor([1.5]))


def test_stratified_has_one_sample_per_stratum():
    g = torch.Generator().manual_seed(0)
    t = sample_t(16, g, "stratified", eps=0.0)
    strata = torch.floor(t.double() * 16).long().sort().values
    assert strata.tolist() == list(range(16))


def test_antithetic_pairs_and_eps_clipping():
    g = torch.Generator().manual_seed(1)
    t = sample_t(8, g, "antithetic", eps=0.0)
    torch.testing.assert_close(t[:4] + t[4:], torch.ones(4))
    t = sample_t(1000, torch.Generator().manual_seed(2), "iid", eps=0.05)
    assert float(t.min()) >= 0.05 and float(t.max()) <= 1.0


def test_stratified_lowers_variance_of_the_mean():
    iid = torch.stack([sample_t(8, torch.Generator().manual_seed(s), "iid", 0).mean() for s in range(300)])
    strat = torch.stack([sample_t(8, torch.Generator().manual_seed(s), "stratified", 0).mean()
                         for s in range(300)])
    assert float(strat.var()) < 0.2 * float(iid.var())


def test_sample_t_validates():
    with pytest.raises(ValueError, match="n must"):
        sample_t(0)
    with pytest.raises(ValueError, match="method"):
        sample_t(4, method="sobol")
    with pytest.raises(ValueError, match="eps"):
        sample_t(4, eps=1.0)
