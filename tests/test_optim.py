"""nlp_course.optim: parameter trajectories equal to torch.optim's over many steps (float64)."""

import pytest
import torch

from nlp_course import optim as O

CASES = [
    (O.SGD, torch.optim.SGD, dict(lr=0.05)),
    (O.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    (O.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    (O.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (O.RMSProp, torch.optim.RMSprop, dict(lr=0.01)),
    (O.RMSProp, torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, momentum=0.5, weight_decay=0.01)),
    (O.RMSProp, torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.9)),
    (O.Adam, torch.optim.Adam, dict(lr=0.01)),
    (O.Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    (O.AdamW, torch.optim.AdamW, dict(lr=0.01)),
    (O.AdamW, torch.optim.AdamW, dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.3)),
]


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()


def _trajectory(opt_cls, kwargs, steps=300):
    model = _model()
    opt = opt_cls(model.parameters(), **kwargs)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 5, generator=g, dtype=torch.float64)
    y = torch.randn(64, 3, generator=g, dtype=torch.float64)
    snaps = []
    for step in range(steps):
        idx = torch.arange(step % 4 * 16, step % 4 * 16 + 16)  # mini-batches: noisy gradients

        def closure(idx=idx):
            opt.zero_grad()
            loss = ((model(x[idx]) - y[idx]) ** 2).mean()
            loss.backward()
            return loss

        opt.step(closure)
        if step % 50 == 49:
            snaps.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    return snaps


@pytest.mark.parametrize("ours, twin, kwargs", CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_trajectory_matches_torch(ours, twin, kwargs, one_thread):
    a, b = _trajectory(ours, kwargs), _trajectory(twin, kwargs)
    assert not torch.equal(a[0], a[-1])  # the parameters really moved
    for pa, pb in zip(a, b):
        torch.testing.assert_close(pa, pb, atol=1e-6, rtol=0)


def test_adamw_differs_from_adam_with_l2(one_thread):
    a = _trajectory(O.Adam, dict(lr=0.01, weight_decay=0.1), steps=100)[-1]
    b = _trajectory(O.AdamW, dict(lr=0.01, weight_decay=0.1), steps=100)[-1]
    assert (a - b).abs().max() > 1e-3


def test_closure_returns_loss_and_skips_missing_grads():
    p = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    q = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = O.Adam([p, q], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 2.0
    assert torch.equal(q.detach(), torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize("cls, kwargs, name", [
    (O.SGD, dict(lr=-0.1), "lr"),
    (O.SGD, dict(lr=0.1, momentum=-1), "momentum"),
    (O.SGD, dict(lr=0.1, nesterov=True), "nesterov"),
    (O.SGD, dict(lr=0.1, weight_decay=-1), "weight_decay"),
    (O.RMSProp, dict(alpha=1.0), "alpha"),
    (O.RMSProp, dict(eps=0.0), "eps"),
    (O.Adam, dict(betas=(1.0, 0.999)), r"betas\[0\]"),
    (O.Adam, dict(betas=(0.9, -0.1)), r"betas\[1\]"),
    (O.Adam, dict(betas=0.9), "betas"),
    (O.AdamW, dict(eps=-1e-8), "eps"),
    (O.AdamW, dict(lr=float("nan")), "lr"),
])
def test_bad_hyperparameters(cls, kwargs, name):
    with pytest.raises(ValueError, match=name):
        cls([torch.nn.Parameter(torch.zeros(1))], **kwargs)


def test_lr_type_error():
    with pytest.raises(TypeError, match="lr"):
        O.Adam([torch.nn.Parameter(torch.zeros(1))], lr="0.1")
