"""ganthology: GAN papers as one installable package.

    ganthology list                      # the models
    ganthology train dcgan --dataset digits --steps 1500
    ganthology sample runs/dcgan-digits
"""
from .api import build_model, evaluate, load, make_config, train_model, translate, upscale
from .errors import GanthologyError
from .registry import get_model, list_datasets, list_models, register_model

__version__ = "0.1.0"
__all__ = [
    "GanthologyError",
    "build_model",
    "evaluate",
    "get_model",
    "list_datasets",
    "list_models",
    "load",
    "make_config",
    "register_model",
    "train_model",
    "translate",
    "upscale",
]
