"""A scalar autograd engine: backpropagation by hand, one number at a time.

Taught in notebook 01 (section 6, "Backpropagation by hand").

``Value`` wraps one float. Every operation (+, -, *, /, ** constant, tanh, relu, exp, log, sigmoid)
returns a new ``Value`` that remembers its inputs and a closure with its *local* derivative.
``backward()`` orders the graph topologically (every node after all the nodes it depends on) and
walks it in reverse, applying the chain rule: each node adds ``local derivative * out.grad`` to
the ``grad`` of each input. Gradients *accumulate* (``+=``), which is what makes a value used
twice (``x * x``) correct, and why training loops zero them between steps — as in torch.

``MLP`` is a two-layer perceptron (tanh hidden layer, linear output) built from ``Value``; its
gradients equal torch autograd's on the same weights to 1e-9 in float64 (tests/test_autograd.py).

References: Rumelhart, Hinton & Williams 1986, "Learning representations by back-propagating
errors"; Baydin et al. 2018, "Automatic differentiation in machine learning: a survey"
(arXiv:1502.05767); A. Karpathy, micrograd (github.com/karpathy/micrograd), whose design this follows.
"""

from __future__ import annotations

import math
import random

_EXP_MAX = 709.0  # math.exp overflows a float64 beyond ~709.78


def _number(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{name} must be an int or float, got {type(x).__name__}")
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    return float(x)


class Value:
    """One scalar of a computation graph: ``data``, its gradient ``grad`` and how it was made."""

    __slots__ = ("data", "grad", "op", "_prev", "_backward")

    def __init__(self, data, _prev: tuple = (), op: str = ""):
        self.data = _number(data, "data")
        self.grad = 0.0
        self.op = op                    # the operation that produced this value ("" for a leaf)
        self._prev = _prev              # the input Values
        self._backward = lambda: None   # adds this node's contribution to its inputs' grads

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    @staticmethod
    def _lift(other) -> Value:
        return other if isinstance(other, Value) else Value(_number(other, "operand"))

    def __add__(self, other) -> Value:
        other = Value._lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():                # d(a+b)/da = d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other) -> Value:
        other = Value._lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():                # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k) -> Value:
        if isinstance(k, Value):
            raise TypeError("the exponent must be a constant int or float, not a Value")
        k = _number(k, "exponent")
        if self.data < 0 and not k.is_integer():
            raise ValueError(f"a negative base ({self.data}) needs an integer exponent, got {k}")
        if self.data == 0 and k < 1:
            raise ValueError(f"0 ** {k} has no finite derivative")
        out = Value(self.data ** k, (self,), f"**{k:g}")

        def _backward():                # d(x^k)/dx = k x^(k-1)
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():                # tanh' = 1 - tanh^2
            self.grad += (1.0 - t * t) * out.grad
        out._backward = _backward
        return out

    def relu(self) -> Value:
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward():                # 1 for x > 0, else 0 (torch's convention at 0)
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad
        out._backward = _backward
        return out

    def exp(self) -> Value:
        if self.data > _EXP_MAX:
            raise ValueError(f"exp({self.data}) overflows a float64")
        e = math.exp(self.data)
        out = Value(e, (self,), "exp")

        def _backward():                # (e^x)' = e^x
            self.grad += e * out.grad
        out._backward = _backward
        return out

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log needs a positive argument, got {self.data}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():                # (ln x)' = 1/x
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        s = 1.0 / (1.0 + math.exp(-self.data)) if self.data >= 0 else \
            math.exp(self.data) / (1.0 + math.exp(self.data))
        out = Value(s, (self,), "sigmoid")

        def _backward():                # sigma' = sigma (1 - sigma)
            self.grad += s * (1.0 - s) * out.grad
        out._backward = _backward
        return out

    # the rest is composed from the operations above
    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other) -> Value:
        return self + (-Value._lift(other))

    def __truediv__(self, other) -> Value:
        return self * Value._lift(other) ** -1

    def __radd__(self, other) -> Value:
        return self + other

    def __rmul__(self, other) -> Value:
        return self * other

    def __rsub__(self, other) -> Value:
        return Value._lift(other) - self

    def __rtruediv__(self, other) -> Value:
        return Value._lift(other) / self

    def backward(self) -> None:
        """Set ``self.grad = 1`` and accumulate d self / d node into every node's ``grad``."""
        order = topological_order(self)
        self.grad = 1.0
        for node in reversed(order):    # the output first, the leaves last
            node._backward()


def topological_order(root: Value) -> list[Value]:
    """Every node reachable from ``root``, each after all of its inputs (iterative DFS)."""
    if not isinstance(root, Value):
        raise TypeError(f"root must be a Value, got {type(root).__name__}")
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)          # all inputs are already in `order`
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev)
    return order


class MLP:
    """``x -> W2 tanh(W1 x + b1) + b2`` on lists of floats; weights are ``Value`` leaves.

    Initialised uniformly in ``±1/sqrt(fan_in)`` (torch ``nn.Linear``'s default range) from ``seed``.
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int, seed: int = 0):
        for name, n in (("n_in", n_in), ("n_hidden", n_hidden), ("n_out", n_out)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"{name} must be a positive int, got {n!r}")
        rng = random.Random(seed)

        def init(n, fan_in):
            bound = 1.0 / math.sqrt(fan_in)
            return [Value(rng.uniform(-bound, bound)) for _ in range(n)]
        self.w1 = [init(n_in, n_in) for _ in range(n_hidden)]          # (H, I)
        self.b1 = init(n_hidden, n_in)                                 # (H,)
        self.w2 = [init(n_hidden, n_hidden) for _ in range(n_out)]     # (O, H)
        self.b2 = init(n_out, n_hidden)                                # (O,)

    def parameters(self) -> list[Value]:
        return [w for row in self.w1 for w in row] + self.b1 + [w for row in self.w2 for w in row] + self.b2

    def __call__(self, x) -> list[Value]:
        if len(x) != len(self.w1[0]):
            raise ValueError(f"x must have {len(self.w1[0])} features, got {len(x)}")
        h = [sum((w * xi for w, xi in zip(row, x)), b).tanh() for row, b in zip(self.w1, self.b1)]
        return [sum((w * hi for w, hi in zip(row, h)), b) for row, b in zip(self.w2, self.b2)]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0
