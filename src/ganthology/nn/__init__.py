"""Blocks that several papers use identically. A block moves here only when it is shared as is."""
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .factory import MLPDiscriminator, MLPGenerator, make_discriminator, make_generator
from .init import dcgan_init, marginal_bias_, uniform_init
from .mlp import Maxout
from .patchgan import PatchGANDiscriminator
from .perceptual import VGGFeatures
from .resnet import ResidualBlock, ResnetGenerator, norm_layer
from .srresnet import SRGANDiscriminator, SRResNetGenerator
from .unet import UNetGenerator

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "Maxout",
    "PatchGANDiscriminator",
    "ResidualBlock",
    "ResnetGenerator",
    "SRGANDiscriminator",
    "SRResNetGenerator",
    "UNetGenerator",
    "VGGFeatures",
    "dcgan_init",
    "make_discriminator",
    "make_generator",
    "norm_layer",
]
