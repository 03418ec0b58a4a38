"""nlp_course.rnn equals torch.nn.RNN/LSTM/GRU (and their cells) given the same weights."""

import pytest
import torch

from nlp_course.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, count_parameters

D = torch.float64


def _x(batch_first, B=3, T=7, I=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, I, generator=g, dtype=D) if batch_first else torch.randn(T, B, I, generator=g, dtype=D)


@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("given_state", [True, False])
@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "gru", "lstm"])
def test_stack_matches_torch(kind, num_layers, batch_first, bias, given_state):
    torch.manual_seed(1)
    if kind.startswith("rnn"):
        ref = torch.nn.RNN(5, 4, num_layers, nonlinearity=kind[4:], bias=bias, batch_first=batch_first, dtype=D)
        ours = RNN.from_torch(ref)
    elif kind == "gru":
        ref = torch.nn.GRU(5, 4, num_layers, bias=bias, batch_first=batch_first, dtype=D)
        ours = GRU.from_torch(ref)
    else:
        ref = torch.nn.LSTM(5, 4, num_layers, bias=bias, batch_first=batch_first, dtype=D)
        ours = LSTM.from_torch(ref)
    x = _x(batch_first)
    state = None
    if given_state:
        h0 = torch.randn(num_layers, 3, 4, dtype=D)
        state = (h0, torch.randn(num_layers, 3, 4, dtype=D)) if kind == "lstm" else h0
    out, st = ours(x, state)
    ref_out, ref_st = ref(x, state)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-6)
    if kind == "lstm":
        torch.testing.assert_close(st[0], ref_st[0], rtol=0, atol=1e-6)
        torch.testing.assert_close(st[1], ref_st[1], rtol=0, atol=1e-6)
    else:
        torch.testing.assert_close(st, ref_st, rtol=0, atol=1e-6)
    assert count_parameters(ours) == count_parameters(ref)


@pytest.mark.parametrize("ours_cls,ref_cls", [(RNNCell, torch.nn.RNNCell), (LSTMCell, torch.nn.LSTMCell),
                                              (GRUCell, torch.nn.GRUCell)])
def test_cells_match_torch(ours_cls, ref_cls):
    torch.manual_seed(2)
    ref = ref_cls(5, 4, dtype=D)
    ours = ours_cls.from_torch(ref)
    x = torch.randn(3, 5, dtype=D) * 4  # large inputs saturate the gates
    h = torch.randn(3, 4, dtype=D)
    state = (h, torch.randn(3, 4, dtype=D)) if ours_cls is LSTMCell else h
    out, ref_out = ours(x, state), ref(x, state)
    if ours_cls is LSTMCell:
        for a, b in zip(out, ref_out):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    else:
        torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-6)
    # no state given = zero state
    no_state = ours(x)
    torch.testing.assert_close(no_state[0] if ours_cls is LSTMCell else no_state,
                               ref(x)[0] if ours_cls is LSTMCell else ref(x), rtol=0, atol=1e-6)


def test_gradients_match_torch():
    torch.manual_seed(3)
    ref = torch.nn.LSTM(5, 4, 2, batch_first=True, dtype=D)
    ours = LSTM.from_torch(ref)
    x = _x(True)
    ours(x)[0].pow(2).sum().backward()
    ref(x)[0].pow(2).sum().backward()
    torch.testing.assert_close(ours.cells[1].weight_hh.grad, ref.weight_hh_l1.grad, rtol=0, atol=1e-6)


def test_default_init_in_torch_range():
    ours = GRU(5, 16)
    bound = 1 / 16**0.5
    assert all(p.abs().max() <= bound for p in ours.parameters())


def test_bad_input():
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="num_layers"):
        LSTM(3, 4, num_layers=0)
    with pytest.raises(TypeError, match="LSTM"):
        LSTM.from_torch(torch.nn.GRU(3, 4))
    with pytest.raises(ValueError, match="bidirectional"):
        GRU.from_torch(torch.nn.GRU(3, 4, bidirectional=True))
    with pytest.raises(TypeError, match="GRUCell"):
        GRUCell.from_torch(torch.nn.LSTMCell(3, 4))
    lstm = LSTM(3, 4, 2, batch_first=True)
    with pytest.raises(ValueError, match=r"\(B, T, I\)"):
        lstm(torch.randn(2, 5, 6))
    with pytest.raises(ValueError, match="num_layers, B, H"):
        lstm(torch.randn(2, 5, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        GRUCell(3, 4)(torch.randn(2, 5))
