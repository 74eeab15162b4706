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


# --- losses of the unconditional family ------------------------------------------------------

from ganthology import losses as L  # noqa: E402


def test_pulling_away_term_is_mean_squared_cosine_over_distinct_pairs():
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # cos^2 of the pairs: (0,1) = 0, (0,2) = 1/2, (1,2) = 1/2; each ordered pair counted: 2/6
    assert torch.allclose(L.pulling_away_term(emb), torch.tensor(1 / 3))
    assert torch.allclose(L.pulling_away_term(torch.eye(4)), torch.tensor(0.0))  # orthogonal
    assert torch.allclose(L.pulling_away_term(torch.ones(3, 5) * torch.tensor([[1.0], [2.0], [3.0]])), torch.tensor(1.0))
    # scale-free, and a (B, C, H, W) embedding is flattened per sample
    x = torch.randn(6, 2, 3, 3, dtype=torch.float64)
    s = x.flatten(1)
    cos = (s @ s.t()) / (s.norm(dim=1)[:, None] * s.norm(dim=1)[None, :])
    expected = ((cos**2).sum() - 6) / (6 * 5)
    assert torch.allclose(L.pulling_away_term(x), expected)
    assert torch.allclose(L.pulling_away_term(3 * x), expected)


def test_lsgan_losses_against_hand_values():
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([-1.0, 1.0])
    # 0-1 coding (eq. 9): a = 0, b = c = 1
    d = 0.5 * ((0.25 + 1.0) / 2) + 0.5 * ((1.0 + 1.0) / 2)
    assert torch.allclose(L.lsgan_d_loss(real, fake), torch.tensor(d))
    assert torch.allclose(L.lsgan_g_loss(fake), torch.tensor(0.5 * (4.0 + 0.0) / 2))
    # a = -1, b = 1, c = 0 (eq. 8)
    d = 0.5 * ((0.25 + 1.0) / 2) + 0.5 * ((0.0 + 4.0) / 2)
    assert torch.allclose(L.lsgan_d_loss(real, fake, a=-1.0, b=1.0), torch.tensor(d))
    assert torch.allclose(L.lsgan_g_loss(fake, c=0.0), torch.tensor(0.5 * (1.0 + 1.0) / 2))


def test_hinge_losses_against_hand_values():
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([-2.0, 0.5])
    assert torch.allclose(L.hinge_d_loss(real, fake), torch.tensor((0.5 + 0.0) / 2 + (0.0 + 1.5) / 2))
    assert torch.allclose(L.hinge_g_loss(fake), torch.tensor(0.75))


def _log_sig(t):
    return torch.log(torch.sigmoid(t))


def test_relativistic_losses_against_float64_formulas():
    cr = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    cf = torch.tensor([0.3, 0.7, -1.0], dtype=torch.float64)
    # RSGAN: pairs (x_r, x_f) by position
    assert torch.allclose(L.relativistic_d_loss(cr, cf), -_log_sig(cr - cf).mean())
    assert torch.allclose(L.relativistic_g_loss(cr, cf), -_log_sig(cf - cr).mean())
    # RaSGAN: each sample against the other kind's mean, both terms on both sides
    d = -_log_sig(cr - cf.mean()).mean() - torch.log(1 - torch.sigmoid(cf - cr.mean())).mean()
    g = -_log_sig(cf - cr.mean()).mean() - torch.log(1 - torch.sigmoid(cr - cf.mean())).mean()
    assert torch.allclose(L.relativistic_average_d_loss(cr, cf), d)
    assert torch.allclose(L.relativistic_average_g_loss(cr, cf), g)


def test_relativistic_generator_losses_depend_on_the_real_scores():
    """Known defect of the reference script: G's relativistic loss was computed, then replaced by a
    plain loss of D(G(z)) alone. Ours must move with C(x_r)."""
    cf = torch.tensor([0.3, 0.7, -1.0])
    for g_loss in (L.relativistic_g_loss, L.relativistic_average_g_loss):
        cr = torch.tensor([1.0, -0.5, 2.0], requires_grad=True)
        (grad,) = torch.autograd.grad(g_loss(cr, cf), cr)
        assert grad.abs().min() > 0, g_loss.__name__


def test_boundary_seeking_loss_is_half_squared_log_ratio():
    logits = torch.tensor([-2.0, 0.0, 0.5, 3.0], dtype=torch.float64)
    d = torch.sigmoid(logits)
    expected = 0.5 * ((torch.log(d) - torch.log(1 - d)) ** 2).mean()
    assert torch.allclose(L.boundary_seeking_g_loss(logits), expected)
    assert L.boundary_seeking_g_loss(torch.zeros(3)) == 0  # on the boundary D = 1/2


def test_softmax_gan_losses_against_the_energy_formulas():
    real = torch.tensor([1.0, 2.0, -0.5], dtype=torch.float64)  # logits = -energy
    fake = torch.tensor([0.0, -1.0, 0.5], dtype=torch.float64)
    e_r, e_f = -real, -fake
    log_z = torch.log(torch.exp(-e_r).sum() + torch.exp(-e_f).sum())
    assert torch.allclose(L.softmax_gan_d_loss(real, fake), e_r.sum() / 3 + log_z)
    assert torch.allclose(L.softmax_gan_g_loss(real, fake), (e_r.sum() + e_f.sum()) / 6 + log_z)
    # ... which are cross-entropies with targets 1/|B+| on reals (D) and uniform 1/|B| (G)
    logp = torch.log_softmax(torch.cat([real, fake]), 0)
    t_d = torch.tensor([1 / 3] * 3 + [0.0] * 3, dtype=torch.float64)
    assert torch.allclose(L.softmax_gan_d_loss(real, fake), -(t_d * logp).sum())
    assert torch.allclose(L.softmax_gan_g_loss(real, fake), -(logp / 6).sum())


def _linear_D(w):
    return lambda x: (x.double() * w).flatten(1).sum(1)


def _quadratic_D(x):
    """D(x) = 1/2 ||x||^2 per sample: its input gradient is x itself, different for every sample."""
    return 0.5 * (x.double() ** 2).flatten(1).sum(1)


def test_dragan_penalty_closed_forms_with_per_sample_flattened_norm():
    """Known defect of the reference script: the norm over dim=1 of an unflattened (B, C, H, W)
    gradient. For a linear D the gradient is w everywhere: (||w||_2 - k)^2, norm over C, H, W."""
    w = torch.randn(1, 2, 3, 3, dtype=torch.float64)
    real = torch.randn(5, 2, 3, 3)
    pen = L.dragan_penalty(_linear_D(w), real)
    assert torch.allclose(pen.double(), (w.flatten().norm() - 1) ** 2, rtol=1e-6)
    assert not torch.allclose(pen.double(), ((w.norm(2, dim=1) - 1) ** 2).mean(), rtol=1e-3)
    assert torch.allclose(L.dragan_penalty(_linear_D(w), real, k=2.0).double(), (w.flatten().norm() - 2) ** 2, rtol=1e-6)
    # without perturbation (C = 0) a quadratic D has gradient x_i at x_i: one norm per sample
    expected = ((real.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert torch.allclose(L.dragan_penalty(_quadratic_D, real, C=0.0), expected, rtol=1e-5)


def test_dragan_penalty_perturbs_the_real_points_upwards_by_half_a_std():
    seen = {}

    def D(x):
        seen["x"] = x.detach()
        return x.flatten(1).sum(1)

    real = torch.randn(16, 1, 4, 4)
    L.dragan_penalty(D, real, C=2.0)
    delta = seen["x"] - real
    bound = 2.0 * 0.5 * real.std()
    assert (delta >= 0).all() and (delta <= bound + 1e-6).all()
    assert delta.max() > 0.5 * bound, "the noise spans [0, C * 0.5 * std(x)]"
    assert len(set(delta.flatten().tolist())) > 200, "one draw per element"


def test_wgan_div_penalty_closed_forms():
    """k E[||grad||^p] over real and fake samples together, the norm over each flattened gradient."""
    w = torch.randn(1, 2, 3, 3, dtype=torch.float64)
    real, fake = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3)
    pen = L.wgan_div_penalty(_linear_D(w), real, fake)
    assert torch.allclose(pen.double(), 2 * w.flatten().norm() ** 6, rtol=1e-6)
    norms = torch.cat([real.flatten(1).norm(dim=1), fake.flatten(1).norm(dim=1)]).double()
    pen = L.wgan_div_penalty(_quadratic_D, real, fake, k=3.0, p=2.0)
    assert torch.allclose(pen.double(), 3.0 * (norms**2).mean(), rtol=1e-5)
    wrong = 3.0 * torch.cat([real.norm(dim=1), fake.norm(dim=1)]).pow(2).mean()  # per pixel
    assert not torch.allclose(pen.double(), wrong.double(), rtol=1e-3)


def test_penalties_backpropagate_into_D():
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    real, fake = torch.randn(3, 2, 2, 2), torch.randn(3, 2, 2, 2)
    for pen in (L.dragan_penalty(D, real), L.wgan_div_penalty(D, real, fake, p=2.0)):
        grads = torch.autograd.grad(pen, list(D.parameters()), allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads)
