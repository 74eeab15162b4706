import torch
from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """DCGAN, section 4: "All weights were initialized from a zero-centered Normal distribution
    with standard deviation 0.02." BatchNorm scales get N(1, 0.02), shifts 0 (as in the authors'
    and PyTorch's reference code). Use as `net.apply(dcgan_init)`."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d, nn.InstanceNorm2d)) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def uniform_init(net: nn.Module, r: float) -> None:
    """pylearn2's `irange`: every weight uniform in [-r, r], every bias 0 (r = 0: leave PyTorch's)."""
    if r <= 0:
        return
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -r, r)
            nn.init.zeros_(m.bias)


def marginal_bias_(out: nn.Linear, images: torch.Tensor) -> None:
    """The bias of G's last layer (before its Tanh) from uint8 training images (N, C, H, W): per
    pixel the log-odds of its mean in [0, 1], clipped to [1e-3, 1 - 1e-3] (pylearn2's
    init_sigmoid_bias_from_marginals), halved because tanh(b) = 2 sigmoid(2b) - 1."""
    p = (images.float().mean(0) / 255.0).clamp(1e-3, 1 - 1e-3).flatten()  # (C*H*W,)
    with torch.no_grad():
        out.bias.copy_(0.5 * torch.log(p / (1 - p)))
