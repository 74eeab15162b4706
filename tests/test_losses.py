from __future__ import annotations

import torch

from ganthology.losses import d_loss_bce, g_loss_nonsaturating, gradient_penalty


def test_bce_losses_against_hand_values():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    d = -(torch.log(sig(real)).mean() + torch.log(1 - sig(fake)).mean()) / 2
    assert torch.allclose(d_loss_bce(real, fake), d, atol=1e-6)
    assert torch.allclose(g_loss_nonsaturating(fake), -torch.log(sig(fake)).mean(), atol=1e-6)


def test_gradient_penalty_uses_per_sample_norm_over_all_dims():
    """For D(x) = sum(w * x) the gradient is w for every sample: penalty = (||w||_2 - 1)^2 with the
    norm over C, H and W together (taking it over dim=1 only, as one reference script did, differs)."""
    w = torch.randn(1, 2, 3, 3, dtype=torch.float64)

    def D(x):
        return (x.double() * w).flatten(1).sum(1)

    real, fake = torch.randn(5, 2, 3, 3), torch.randn(5, 2, 3, 3)
    gp = gradient_penalty(D, real, fake)
    expected = (w.flatten().norm() - 1) ** 2
    assert torch.allclose(gp.double(), expected, rtol=1e-6)
    wrong = ((w.norm(2, dim=1) - 1) ** 2).mean()
    assert not torch.allclose(gp.double(), wrong, rtol=1e-3)


def test_gradient_penalty_draws_one_coefficient_per_sample():
    """x_hat lies on the segment between each real/fake pair with one eps per sample."""
    seen = {}

    def D(x):
        seen["x"] = x.detach()
        return x.flatten(1).sum(1)

    real, fake = torch.zeros(4, 1, 2, 2), torch.ones(4, 1, 2, 2)
    gradient_penalty(D, real, fake)
    x = seen["x"]  # (1 - eps) for each sample, the same across its pixels
    assert torch.allclose(x, x[:, :1, :1, :1].expand_as(x))
    assert len(set(x[:, 0, 0, 0].tolist())) == 4
