"""One file per paper. Importing this package registers every model."""
from . import cgan, dcgan, gan, pix2pix, wgan_gp  # noqa: F401
from . import bgan, dragan, lsgan, relativistic_gan, softmax_gan, wgan, wgan_div  # noqa: F401
from . import began, ebgan  # noqa: F401
from . import acgan, cluster_gan, infogan, sgan  # noqa: F401
from . import aae, bigan, vae_gan  # noqa: F401
from . import stargan  # noqa: F401
from . import pixelda  # noqa: F401
from . import cyclegan  # noqa: F401
from . import srgan, srresnet  # noqa: F401
from .base import DataInfo, GANModel, frozen

__all__ = ["DataInfo", "GANModel", "frozen"]
