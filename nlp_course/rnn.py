"""Vanilla RNN, LSTM and GRU written gate by gate, equal to torch.nn.RNN/LSTM/GRU.

Taught in notebook 06.

Cells keep torch's parameter names and gate order (``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H),
``bias_ih``, ``bias_hh``; LSTM gates i, f, g, o; GRU gates r, z, n), so ``from_torch`` copies
weights one to one and outputs match torch to float64 round-off.

RNN:  h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
LSTM: i, f, o = sigma(.), g = tanh(.); c_t = f*c_{t-1} + i*g; h_t = o*tanh(c_t)
      (the output gate is o_t = sigma(W_o [h_{t-1}, x_t] + b_o); course notes mislabel it i_t)
GRU:  r, z = sigma(.); n = tanh(W_in x + b_in + r*(W_hn h + b_hn)); h_t = (1-z)*n + z*h_{t-1}
      (torch/cuDNN put r after the W_hn product; Cho et al. 2014 put it before -- same idea.)
References: Hochreiter & Schmidhuber 1997; Cho et al. 2014 (arXiv:1406.1078);
https://pytorch.org/docs/stable/generated/torch.nn.LSTM.html
"""

from __future__ import annotations

import math

import torch
from torch import nn

_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


class _Cell(nn.Module):
    kind = "rnn"
    torch_cls = nn.RNNCell

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"input_size and hidden_size must be positive, got {input_size}, {hidden_size}")
        G = _GATES[self.kind]
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G * hidden_size, input_size))  # (G*H, I)
        self.weight_hh = nn.Parameter(torch.empty(G * hidden_size, hidden_size))  # (G*H, H)
        self.bias_ih = nn.Parameter(torch.empty(G * hidden_size)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(G * hidden_size)) if bias else None
        bound = 1 / math.sqrt(hidden_size)  # torch's init: U(-1/sqrt(H), 1/sqrt(H))
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    @classmethod
    def from_torch(cls, module):
        """Build from the matching ``torch.nn.RNNCell/LSTMCell/GRUCell`` with its weights."""
        if not isinstance(module, cls.torch_cls):
            raise TypeError(f"module must be a {cls.torch_cls.__name__}, got {type(module).__name__}")
        kw = {"nonlinearity": module.nonlinearity} if cls.torch_cls is nn.RNNCell else {}
        ref = next(module.parameters())
        ours = cls(module.input_size, module.hidden_size, module.bias, **kw).to(device=ref.device, dtype=ref.dtype)
        ours.load_state_dict(module.state_dict())
        return ours

    def _proj(self, x, h):
        gx = x @ self.weight_ih.T  # (B, G*H)
        gh = h @ self.weight_hh.T  # (B, G*H)
        if self.bias_ih is not None:
            gx, gh = gx + self.bias_ih, gh + self.bias_hh
        return gx, gh

    def _check(self, x):
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.input_size:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a (B, {self.input_size}) tensor, got {shape}")
        _check_float(x)


def _check_float(x: torch.Tensor) -> None:
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor (embed token ids first), got {x.dtype}")


class RNNCell(_Cell):
    """h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act in {tanh, relu}."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        self._check(x)
        h = x.new_zeros(x.shape[0], self.hidden_size) if h is None else h  # (B, H)
        gx, gh = self._proj(x, h)
        return torch.tanh(gx + gh) if self.nonlinearity == "tanh" else torch.relu(gx + gh)  # (B, H)


class LSTMCell(_Cell):
    """One LSTM step: (x (B, I), (h, c)) -> (h', c'), each (B, H)."""

    kind = "lstm"
    torch_cls = nn.LSTMCell

    def forward(self, x, state=None):
        self._check(x)
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        h, c = state  # (B, H), (B, H)
        gx, gh = self._proj(x, h)
        xi, xf, xg, xo = gx.chunk(4, dim=1)  # (B, H) each
        hi, hf, hg, ho = gh.chunk(4, dim=1)
        i_t = torch.sigmoid(xi + hi)  # input gate: how much new content to write
        f_t = torch.sigmoid(xf + hf)  # forget gate: how much of c_{t-1} to keep
        g_t = torch.tanh(xg + hg)  # candidate cell content (C~_t in the notes)
        o_t = torch.sigmoid(xo + ho)  # output gate (not i_t): how much of the cell to expose
        c_t = f_t * c + i_t * g_t  # (B, H) additive update: the gradient highway
        h_t = o_t * torch.tanh(c_t)  # (B, H)
        return h_t, c_t


class GRUCell(_Cell):
    """One GRU step: (x (B, I), h (B, H)) -> h' (B, H)."""

    kind = "gru"
    torch_cls = nn.GRUCell

    def forward(self, x, h=None):
        self._check(x)
        h = x.new_zeros(x.shape[0], self.hidden_size) if h is None else h  # (B, H)
        gx, gh = self._proj(x, h)
        xr, xz, xn = gx.chunk(3, dim=1)  # (B, H) each
        hr, hz, hn = gh.chunk(3, dim=1)
        r_t = torch.sigmoid(xr + hr)  # reset gate: how much of h_{t-1} feeds the candidate
        z_t = torch.sigmoid(xz + hz)  # update gate: keep old state (z=1) or take the candidate
        n_t = torch.tanh(xn + r_t * hn)  # candidate state
        return (1 - z_t) * n_t + z_t * h  # (B, H)


class _Stack(nn.Module):
    cell_cls = RNNCell
    torch_cls = nn.RNN

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, **cell_kw):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first = batch_first
        self.cells = nn.ModuleList(
            self.cell_cls(input_size if k == 0 else hidden_size, hidden_size, bias, **cell_kw)
            for k in range(num_layers)
        )

    @classmethod
    def from_torch(cls, module):
        """Build from a ``torch.nn.RNN/LSTM/GRU`` (unidirectional, no projection) with its weights."""
        if not isinstance(module, cls.torch_cls):
            raise TypeError(f"module must be a {cls.torch_cls.__name__}, got {type(module).__name__}")
        if module.bidirectional or getattr(module, "proj_size", 0):
            raise ValueError("bidirectional and proj_size modules are not supported")
        kw = {"nonlinearity": module.nonlinearity} if cls.torch_cls is nn.RNN else {}
        ours = cls(module.input_size, module.hidden_size, module.num_layers, module.bias,
                   module.batch_first, **kw)
        ref = next(module.parameters())
        ours = ours.to(dtype=ref.dtype, device=ref.device)
        with torch.no_grad():
            for k, cell in enumerate(ours.cells):
                for name, p in cell.named_parameters():
                    p.copy_(getattr(module, f"{name}_l{k}"))
        return ours

    def _check(self, x):
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != self.input_size:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
            raise ValueError(f"x must be a {layout} tensor with I={self.input_size}, got {shape}")
        _check_float(x)
        if x.shape[1 if self.batch_first else 0] == 0:
            raise ValueError(f"x must have at least one time step (T >= 1), got shape {tuple(x.shape)}")

    def _state0(self, x, h0, B):
        shape = (self.num_layers, B, self.hidden_size)
        if h0 is None:
            return x.new_zeros(shape)
        if tuple(h0.shape) != shape:
            raise ValueError(f"initial state must have shape (num_layers, B, H) = {shape}, got {tuple(h0.shape)}")
        return h0

    def forward(self, x, h0=None):
        """x (B, T, I) if batch_first else (T, B, I) -> (output (.., H), h_n (L, B, H))."""
        self._check(x)
        xs = x.transpose(0, 1) if self.batch_first else x  # (T, B, I)
        h0 = self._state0(x, h0, xs.shape[1])
        finals = []
        for k, cell in enumerate(self.cells):
            h, outs = h0[k], []
            for x_t in xs:  # one step at a time: the sequential bottleneck
                h = cell(x_t, h)  # (B, H)
                outs.append(h)
            xs = torch.stack(outs)  # (T, B, H)
            finals.append(h)
        out = xs.transpose(0, 1) if self.batch_first else xs
        return out, torch.stack(finals)  # (.., H), (L, B, H)


class RNN(_Stack):
    """Multi-layer Elman RNN with torch.nn.RNN's interface (tanh or relu)."""


class GRU(_Stack):
    """Multi-layer GRU with torch.nn.GRU's interface."""

    cell_cls = GRUCell
    torch_cls = nn.GRU


class LSTM(_Stack):
    """Multi-layer LSTM with torch.nn.LSTM's interface: forward(x, (h0, c0)) -> (out, (h_n, c_n))."""

    cell_cls = LSTMCell
    torch_cls = nn.LSTM

    def forward(self, x, state=None):
        self._check(x)
        xs = x.transpose(0, 1) if self.batch_first else x  # (T, B, I)
        h0, c0 = (None, None) if state is None else state
        h0, c0 = self._state0(x, h0, xs.shape[1]), self._state0(x, c0, xs.shape[1])
        hs, cs = [], []
        for k, cell in enumerate(self.cells):
            h, c, outs = h0[k], c0[k], []
            for x_t in xs:
                h, c = cell(x_t, (h, c))  # (B, H), (B, H)
                outs.append(h)
            xs = torch.stack(outs)  # (T, B, H)
            hs.append(h)
            cs.append(c)
        out = xs.transpose(0, 1) if self.batch_first else xs
        return out, (torch.stack(hs), torch.stack(cs))  # (.., H), ((L, B, H), (L, B, H))


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
