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
