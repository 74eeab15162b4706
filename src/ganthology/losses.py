"""Adversarial losses and penalties as small pure functions of discriminator outputs.

Discriminators return logits; the sigmoid of the original papers lives inside these losses
(`binary_cross_entropy_with_logits` is the numerically stable form of log(sigmoid(.))).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """Goodfellow et al. 2014, eq. 1, D's side: -[log D(x) + log(1 - D(G(z)))], averaged. Returned
    as the mean of the two halves, as in pix2pix ("we divide the objective by 2 while optimizing
    D"); the scale only rescales D's effective learning rate under Adam. `real_label` < 1 is
    one-sided label smoothing (Salimans et al. 2016, section 3.4): the target of real images only,
    so that D's optimum stops growing without bound where the data lie and fakes keep target 0."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
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


def pulling_away_term(emb: torch.Tensor) -> torch.Tensor:
    """EBGAN's pulling-away term (Zhao et al. 2017, section 2.4, eq. 6).

    f_PT(S) = 1 / (N (N - 1)) * sum_i sum_{j != i} (S_i^T S_j / (||S_i|| ||S_j||))^2

    the mean squared cosine similarity between the embeddings of different samples of a batch; the
    generator minimizes it to make its samples' embeddings orthogonal (diverse). `emb` is (B, ...)
    and is flattened per sample. Needs B >= 2."""
    s = F.normalize(emb.flatten(start_dim=1), dim=1)  # (B, ...) -> (B, K), unit rows
    n = s.shape[0]
    if n < 2:
        raise ValueError("pulling_away_term needs a batch of at least 2 embeddings.")
    cos2 = (s @ s.t()) ** 2  # (B, B)
    # the diagonal is exactly 1 for nonzero rows (cos of a vector with itself): drop it
    off_diag = cos2.sum() - cos2.diagonal().sum()
    return off_diag / (n * (n - 1))


# --- least squares (LSGAN) --------------------------------------------------------------------


def lsgan_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor, a: float = 0.0, b: float = 1.0) -> torch.Tensor:
    """LSGAN, D's side (Mao et al. 2017, eq. 2): 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2], with
    `a` the label of fake data and `b` that of real data. `D` outputs raw scores (no sigmoid)."""
    return 0.5 * ((real_scores - b) ** 2).mean() + 0.5 * ((fake_scores - a) ** 2).mean()


def lsgan_g_loss(fake_scores: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """LSGAN, G's side (Mao et al. 2017, eq. 2): 1/2 E[(D(G(z)) - c)^2], with `c` the value G wants D
    to believe for fake data. a=-1, b=1, c=0 minimizes the Pearson chi^2 divergence (eq. 8);
    a=0, b=1, c=1 is the 0-1 coding (eq. 9)."""
    return 0.5 * ((fake_scores - c) ** 2).mean()


# --- hinge ------------------------------------------------------------------------------------


def hinge_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Hinge loss, D's side (Lim & Ye 2017, arXiv:1705.02894, eq. 8; Miyato et al. 2018, eq. 16):
    E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def hinge_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Hinge loss, G's side: -E[D(G(z))] (the same as the Wasserstein generator loss)."""
    return -fake_scores.mean()


# --- relativistic (Jolicoeur-Martineau 2018, arXiv:1807.00734) --------------------------------
# C(x) is the critic's raw output (a logit). The relativistic discriminator estimates the
# probability that real data is more realistic than fake data: D(x_r, x_f) = sigmoid(C(x_r) - C(x_f)).
# softplus(-t) = -log(sigmoid(t)) is the stable form.


def relativistic_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RSGAN, D's side (section 4, the RSGAN objective): -E_{(x_r, x_f)}[log sigmoid(C(x_r) - C(x_f))],
    with real and fake paired by position in the batch."""
    return F.softplus(-(real_logits - fake_logits)).mean()


def relativistic_g_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RSGAN, G's side (section 4, the RSGAN objective): -E_{(x_r, x_f)}[log sigmoid(C(x_f) - C(x_r))]. It depends on
    C(x_r): G raises its samples' score *relative to* the real ones (section 3)."""
    return F.softplus(-(fake_logits - real_logits)).mean()


def relativistic_average_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RaSGAN, D's side (section 4, the RaSGAN objective):
    -E_{x_r}[log sigmoid(C(x_r) - E_{x_f} C(x_f))] - E_{x_f}[log(1 - sigmoid(C(x_f) - E_{x_r} C(x_r)))]."""
    real_rel = real_logits - fake_logits.mean()
    fake_rel = fake_logits - real_logits.mean()
    # log(1 - sigmoid(t)) = -softplus(t)
    return F.softplus(-real_rel).mean() + F.softplus(fake_rel).mean()


def relativistic_average_g_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RaSGAN, G's side (section 4, the RaSGAN objective): the D loss with the roles of real and fake swapped,
    -E_{x_f}[log sigmoid(C(x_f) - E C(x_r))] - E_{x_r}[log(1 - sigmoid(C(x_r) - E C(x_f)))].
    Both terms are used: the second is how G's samples move C(x_r)'s relative score down."""
    return relativistic_average_d_loss(fake_logits, real_logits)


# --- boundary-seeking GAN ---------------------------------------------------------------------


def boundary_seeking_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """BGAN, G's side for continuous data (Hjelm et al. 2018, arXiv:1702.08431, section 2, the continuous-variable objective):
    1/2 E[(log D(G(z)) - log(1 - D(G(z))))^2]. With D(x) = sigmoid(l), log D - log(1 - D) = l, so the
    loss is 1/2 E[l^2]: G aims at D's decision boundary D = 1/2, where the importance weights
    p_data / p_g estimated by D are 1."""
    return 0.5 * (fake_logits**2).mean()


# --- Softmax GAN (Lin 2017, arXiv:1704.06191) -------------------------------------------------
# D assigns each sample an energy D(x); the batch B = B+ (real) u B- (fake) gets the Boltzmann
# distribution P(x) = exp(-D(x)) / Z_B with Z_B = sum_{x in B} exp(-D(x)) (section 2). Our
# discriminators return logits where higher means "more real", so the energy is -logit.


def softmax_gan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Softmax GAN, D's side (section 2, L_D): cross-entropy between the target that puts
    1/|B+| on every real sample and 0 on fakes and the softmax over the whole batch:
    L_D = sum_{x in B+} D(x) / |B+| + ln Z_B."""
    logits = torch.cat([real_logits.flatten(), fake_logits.flatten()])
    return -real_logits.mean() + torch.logsumexp(logits, dim=0)


def softmax_gan_g_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Softmax GAN, G's side (section 2, L_G): cross-entropy with the uniform target
    1/(|B+| + |B-|) over real and fake: L_G = sum_{x in B} D(x) / |B| + ln Z_B."""
    logits = torch.cat([real_logits.flatten(), fake_logits.flatten()])
    return -logits.mean() + torch.logsumexp(logits, dim=0)


# --- penalties on D's input gradient ----------------------------------------------------------


def _input_gradient_norm(D, x: torch.Tensor) -> torch.Tensor:
    """||grad_x D(x)||_2 per sample, the gradient flattened over all non-batch dims: (B, ...) -> (B,).
    In float32 and outside autocast (as `gradient_penalty`), with a graph so that the norm can be
    backpropagated into D."""
    x = x.detach().float().requires_grad_(True)
    with torch.autocast(device_type=x.device.type, enabled=False):
        scores = D(x)
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return grad.flatten(start_dim=1).norm(2, dim=1)


def dragan_penalty(D, real: torch.Tensor, C: float = 1.0, k: float = 1.0) -> torch.Tensor:
    """DRAGAN penalty (Kodali et al. 2017, arXiv:1705.07215, section 5, the DRAGAN penalty):
    E_{x ~ P_real, delta}[(||grad D(x + delta)||_2 - k)^2], the gradient norm constrained in a
    neighbourhood of the real data only, where mode collapse creates sharp gradients.
    The perturbation is the authors' code's: x + C * 0.5 * std(x) * u with u ~ U[0, 1] per element
    and std(x) over the whole batch. The norm is taken over each sample's FLATTENED gradient (one
    PyTorch-GAN script took it over dim=1 of a 4-D gradient, i.e. per pixel)."""
    real = real.detach().float()
    perturbed = real + C * 0.5 * real.std() * torch.rand_like(real)
    return ((_input_gradient_norm(D, perturbed) - k) ** 2).mean()


def wgan_div_penalty(D, real: torch.Tensor, fake: torch.Tensor, k: float = 2.0, p: float = 6.0) -> torch.Tensor:
    """WGAN-div penalty (Wu et al. 2018, arXiv:1712.01026, the WGAN-div objective and algorithm 1):
    k E_{x ~ P_u}[||grad D(x)||_2^p] with P_u the real and generated samples together (the
    authors' code), i.e. k/2 (E_real[.] + E_fake[.]) for equal batch sizes. Unlike WGAN-GP the
    gradient is pushed towards 0, not 1, and no Lipschitz constraint is needed (section 3).
    Norm over each sample's flattened gradient."""
    norms = torch.cat([_input_gradient_norm(D, real), _input_gradient_norm(D, fake)])
    return k * (norms**p).mean()
