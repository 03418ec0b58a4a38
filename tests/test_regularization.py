"""nlp_course.regularization vs torch: dropout statistics, penalties' gradients, clipping."""

import pytest
import torch
import torch.nn.functional as F

from nlp_course import regularization as R


def test_dropout_is_inverted_and_identity_at_eval():
    x = torch.ones(200_000, dtype=torch.float64)
    y = R.dropout(x, 0.3, generator=torch.Generator().manual_seed(0))
    kept = y != 0
    assert abs(kept.double().mean().item() - 0.7) < 0.005
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.7))
    assert abs(y.mean().item() - 1.0) < 0.01  # expectation preserved, like F.dropout
    ref = F.dropout(x, 0.3, training=True)
    assert set(torch.unique(ref).tolist()) == set(torch.unique(y).tolist())
    assert R.dropout(x, 0.3, training=False) is x
    assert torch.equal(R.dropout(x, 1.0), torch.zeros_like(x))


def test_penalty_gradients_match_torch_norms():
    w = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(R.l1_penalty([w, b]), w.abs().sum() + torch.norm(b, p=1))
    R.l2_penalty([w, b]).backward()
    torch.testing.assert_close(w.grad, w.detach())
    torch.testing.assert_close(b.grad, b.detach())


@pytest.mark.parametrize("max_norm", [0.01, 1.0, 1e6])
def test_clip_grad_norm_matches_torch(max_norm):
    torch.manual_seed(0)
    nets = [torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Linear(5, 2)).double()
            for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    x = torch.randn(7, 4, dtype=torch.float64) * 10
    for net in nets:
        net(x).pow(2).sum().backward()
    ours = R.clip_grad_norm(nets[0].parameters(), max_norm)
    ref = torch.nn.utils.clip_grad_norm_(nets[1].parameters(), max_norm)
    torch.testing.assert_close(ours, ref)
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(p.grad, q.grad)


def test_grad_norms_by_name():
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    net(torch.randn(5, 3)).sum().backward()
    norms = R.grad_norms(net)
    assert sorted(norms) == ["0.bias", "0.weight", "1.bias", "1.weight"]
    assert norms["1.weight"] == pytest.approx(net[1].weight.grad.norm().item())


def test_bad_inputs():
    with pytest.raises(ValueError, match="p must"):
        R.dropout(torch.ones(3), 1.5)
    with pytest.raises(TypeError, match="x must"):
        R.dropout(torch.ones(3, dtype=torch.long))
    with pytest.raises(ValueError, match="max_norm"):
        R.clip_grad_norm([torch.ones(1)], 0)
    with pytest.raises(TypeError, match="params"):
        R.l2_penalty([])
    with pytest.raises(TypeError, match="module"):
        R.grad_norms([torch.ones(1)])
