"""Blocks that several papers use identically. A block moves here only when it is shared as is."""
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .init import dcgan_init
from .mlp import Maxout
from .patchgan import PatchGANDiscriminator
from .unet import UNetGenerator

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "Maxout",
    "PatchGANDiscriminator",
    "UNetGenerator",
    "dcgan_init",
]
