"""nlp_course.activations vs torch.nn.functional values and autograd derivatives."""

import pytest
import torch
import torch.nn.functional as F

from nlp_course import activations as A

TWINS = {
    "relu": (A.relu, A.relu_grad, F.relu),
    "leaky_relu": (A.leaky_relu, A.leaky_relu_grad, F.leaky_relu),
    "sigmoid": (A.sigmoid, A.sigmoid_grad, torch.sigmoid),
    "tanh": (A.tanh, A.tanh_grad, torch.tanh),
    "gelu": (A.gelu, A.gelu_grad, F.gelu),
    "gelu_tanh": (
        lambda x: A.gelu(x, "tanh"),
        lambda x: A.gelu_grad(x, "tanh"),
        lambda x: F.gelu(x, approximate="tanh"),
    ),
    "silu": (A.silu, A.silu_grad, F.silu),
}

EXTREME = [-1e4, -100.0, -20.0, -1e-7, 0.0, 1e-7, 20.0, 100.0, 1e4]


def _inputs(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, generator=g, dtype=torch.float64) * 4
    return torch.cat([x, torch.tensor(EXTREME, dtype=torch.float64)]).to(dtype)


def _tol(dtype):
    return dict(atol=1e-6, rtol=1e-5) if dtype == torch.float32 else dict(atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(TWINS))
def test_value_and_grad_match_torch(name, dtype):
    f, f_grad, twin = TWINS[name]
    x = _inputs(dtype)
    y = f(x)
    assert y.dtype == dtype
    torch.testing.assert_close(y, twin(x), **_tol(dtype))
    xr = x.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(twin(xr).sum(), xr)
    torch.testing.assert_close(f_grad(x), auto, **_tol(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(TWINS))
def test_stable_at_extremes(name, dtype):
    f, f_grad, _ = TWINS[name]
    x = torch.tensor(EXTREME, dtype=dtype)
    assert torch.isfinite(f(x)).all()
    assert torch.isfinite(f_grad(x)).all()


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.5])
def test_leaky_relu_slopes(slope):
    x = _inputs(torch.float64).requires_grad_(True)
    torch.testing.assert_close(A.leaky_relu(x, slope), F.leaky_relu(x, slope))
    (auto,) = torch.autograd.grad(F.leaky_relu(x, slope).sum(), x)
    torch.testing.assert_close(A.leaky_relu_grad(x.detach(), slope), auto)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_vjp(dtype, dim):
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(4, 5, 6, generator=g, dtype=torch.float64) * 10).to(dtype)
    x[0, 0, 0] = 1e4
    x[1, 1, 1] = -1e4
    gout = torch.randn(4, 5, 6, generator=g, dtype=torch.float64).to(dtype)
    s = A.softmax(x, dim)
    assert torch.isfinite(s).all()
    torch.testing.assert_close(s, torch.softmax(x, dim), **_tol(dtype))
    xr = x.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(torch.softmax(xr, dim), xr, gout)
    torch.testing.assert_close(A.softmax_grad(x, gout, dim), auto, **_tol(dtype))


def test_bad_inputs():
    with pytest.raises(TypeError, match="x"):
        A.relu([1.0, 2.0])
    with pytest.raises(TypeError, match="floating"):
        A.sigmoid(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="approximate"):
        A.gelu(torch.zeros(2), approximate="erf")
    with pytest.raises(ValueError, match="negative_slope"):
        A.leaky_relu(torch.zeros(2), float("nan"))
    with pytest.raises(ValueError, match="dim"):
        A.softmax(torch.zeros(2, 3), dim=2)
    with pytest.raises(ValueError, match="grad_output"):
        A.softmax_grad(torch.zeros(2, 3), torch.zeros(3, 2))
