"""Adversarial losses and penalties as small pure functions of discriminator outputs.

Discriminators return logits; the sigmoid of the original papers lives inside these losses
(`binary_cross_entropy_with_logits` is the numerically stable form of log(sigmoid(.))).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Goodfellow et al. 2014, eq. 1, D's side: -[log D(x) + log(1 - D(G(z)))], averaged. Returned
    as the mean of the two halves, as in pix2pix ("we divide the objective by 2 while optimizing
    D"); the scale only rescales D's effective learning rate under Adam."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return (real + fake) / 2


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Goodfellow et al. 2014, section 3: G maximizes log D(G(z)) instead of minimizing
    log(1 - D(G(z))), which saturates early in training."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def wasserstein_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Critic loss of WGAN (Arjovsky et al. 2017, algorithm 1): E[D(G(z))] - E[D(x)]."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()


def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor, target: float = 1.0) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017, eq. 3 and algorithm 1, lines 4-8).

    One interpolation coefficient eps ~ U[0, 1] per sample, x_hat = eps x + (1 - eps) G(z), and
    (||grad_x_hat D(x_hat)||_2 - 1)^2 with the norm over all non-batch dimensions of each sample's
    gradient. Computed in float32 even under mixed precision: the gradient of an unscaled float16
    loss can underflow."""
    real, fake = real.detach().float(), fake.detach().float()
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    with torch.autocast(device_type=real.device.type, enabled=False):
        scores = D(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norm = grad.flatten(start_dim=1).norm(2, dim=1)  # (B, C, H, W) -> (B,)
    return ((norm - target) ** 2).mean()
