"""nlp_course.autograd (a scalar engine) against torch autograd on the same graphs, in float64."""

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp_course.autograd import MLP, Value, topological_order

TOL = dict(rtol=1e-9, atol=1e-9)

# each op builds the same node from one or two earlier nodes in both engines; arguments are kept
# in the domain (exp of a tanh, log of a square plus one) so any random program is finite
OPS = {
    "add": (2, lambda a, b: a + b),
    "sub": (2, lambda a, b: a - b),
    "mul": (2, lambda a, b: a * b),
    "div": (2, lambda a, b: a / (b * b + 1.0)),
    "rsub": (1, lambda a: 2.0 - a),
    "rdiv": (1, lambda a: 3.0 / (a * a + 0.5)),
    "pow2": (1, lambda a: a ** 2),
    "pow3": (1, lambda a: a ** 3),
    "sqrt": (1, lambda a: (a * a + 1.0) ** 0.5),
    "tanh": (1, lambda a: a.tanh()),
    "relu": (1, lambda a: a.relu()),
    "sigmoid": (1, lambda a: a.sigmoid()),
    "exp": (1, lambda a: a.tanh().exp()),
    "log": (1, lambda a: (a * a + 1.0).log()),
}
TORCH_NAMES = {"tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid", "exp": "exp", "log": "log"}


class _T:
    """A torch scalar with the method names of Value, so one program drives both engines."""

    def __init__(self, t):
        self.t = t

    def __getattr__(self, name):
        return lambda: _T(getattr(torch, TORCH_NAMES[name])(self.t))

    def _u(self, o):
        return o.t if isinstance(o, _T) else o

    def __add__(self, o):
        return _T(self.t + self._u(o))

    def __sub__(self, o):
        return _T(self.t - self._u(o))

    def __mul__(self, o):
        return _T(self.t * self._u(o))

    def __truediv__(self, o):
        return _T(self.t / self._u(o))

    def __rsub__(self, o):
        return _T(o - self.t)

    def __rtruediv__(self, o):
        return _T(o / self.t)

    def __pow__(self, k):
        return _T(self.t ** k)


def run_program(leaves, program):
    """Both engines evaluate the same DAG (nodes may be reused); return (ours, torch) leaves/outs."""
    ours = [Value(x) for x in leaves]
    ref_leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaves]
    nodes_o, nodes_t = list(ours), [_T(t) for t in ref_leaves]
    for name, i, j in program:
        arity, f = OPS[name]
        args = (i % len(nodes_o), j % len(nodes_o))[:arity]
        nodes_o.append(f(*(nodes_o[a] for a in args)))
        nodes_t.append(f(*(nodes_t[a] for a in args)))
    out_o = sum(nodes_o[1:], nodes_o[0])        # every node reaches the output
    out_t = sum((n.t for n in nodes_t[1:]), nodes_t[0].t)
    out_o.backward()
    out_t.backward()
    return ours, ref_leaves, out_o, out_t


program_st = st.lists(st.tuples(st.sampled_from(sorted(OPS)), st.integers(0, 50), st.integers(0, 50)),
                      min_size=1, max_size=8)
leaves_st = st.lists(st.floats(-1.5, 1.5, allow_nan=False), min_size=1, max_size=4)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(leaves=leaves_st, program=program_st)
def test_random_expressions_match_torch_autograd(leaves, program):
    ours, ref, out_o, out_t = run_program(leaves, program)
    assert math.isclose(out_o.data, out_t.item(), **{"rel_tol": 1e-9, "abs_tol": 1e-9})
    for v, t in zip(ours, ref):
        assert math.isclose(v.grad, t.grad.item(), rel_tol=1e-9, abs_tol=1e-9), (v, t.grad)


@pytest.mark.parametrize("name", sorted(OPS))
def test_each_op_matches_torch(name):
    arity = OPS[name][0]
    ours, ref, out_o, out_t = run_program([0.7, -1.3], [(name, 0, 1)] if arity == 2 else [(name, 1, 0)])
    torch.testing.assert_close(torch.tensor([v.grad for v in ours], dtype=torch.float64),
                               torch.stack([t.grad for t in ref]), **TOL)
    assert out_o.data == pytest.approx(out_t.item(), rel=1e-12)


def test_reused_value_accumulates_gradient():
    x = Value(3.0)
    y = x * x + x          # dy/dx = 2x + 1 = 7: x is reached by three paths
    y.backward()
    assert x.grad == 7.0
    assert [n.op for n in topological_order(y)][-1] == "+"


def test_deep_chain_has_no_recursion_limit():
    x = Value(0.5)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001 ** 3000, rel=1e-9)


def torch_twin(mlp):
    """The same weights as an nn.Sequential in float64."""
    H, nin = len(mlp.w1), len(mlp.w1[0])
    net = torch.nn.Sequential(torch.nn.Linear(nin, H), torch.nn.Tanh(), torch.nn.Linear(H, len(mlp.w2))).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[w.data for w in row] for row in mlp.w1], dtype=torch.float64))
        net[0].bias.copy_(torch.tensor([b.data for b in mlp.b1], dtype=torch.float64))
        net[2].weight.copy_(torch.tensor([[w.data for w in row] for row in mlp.w2], dtype=torch.float64))
        net[2].bias.copy_(torch.tensor([b.data for b in mlp.b2], dtype=torch.float64))
    return net


def test_mlp_training_equals_torch_step_by_step():
    rng = random.Random(0)
    X = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(12)]
    y = [rng.choice([0, 1]) for _ in X]
    mlp = MLP(3, 5, 2, seed=1)
    net = torch_twin(mlp)
    opt = torch.optim.SGD(net.parameters(), lr=0.3)
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    for _ in range(5):
        mlp.zero_grad()
        loss = sum((logits[c].exp() + logits[1 - c].exp()).log() - logits[c]
                   for logits, c in ((mlp(x), c) for x, c in zip(X, y))) / len(X)   # mean cross-entropy
        loss.backward()
        opt.zero_grad()
        ref = torch.nn.functional.cross_entropy(net(Xt), yt)
        ref.backward()
        assert loss.data == pytest.approx(ref.item(), rel=1e-12)
        ref_grads = torch.cat([p.grad.reshape(-1) for p in (net[0].weight, net[0].bias, net[2].weight, net[2].bias)])
        torch.testing.assert_close(torch.tensor([p.grad for p in mlp.parameters()], dtype=torch.float64),
                                   ref_grads, **TOL)
        for p in mlp.parameters():
            p.data -= 0.3 * p.grad
        opt.step()


def test_bad_input_is_rejected():
    with pytest.raises(TypeError, match="data"):
        Value("1.0")
    with pytest.raises(ValueError, match="finite"):
        Value(float("nan"))
    with pytest.raises(ValueError, match="positive"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="overflows"):
        Value(1000.0).exp()
    with pytest.raises(TypeError, match="exponent"):
        Value(2.0) ** Value(2.0)
    with pytest.raises(ValueError, match="integer exponent"):
        Value(-2.0) ** 0.5
    with pytest.raises(TypeError, match="operand"):
        Value(1.0) + "x"
    with pytest.raises(ValueError, match="n_hidden"):
        MLP(2, 0, 1)
    with pytest.raises(ValueError, match="features"):
        MLP(2, 3, 1)([1.0])
