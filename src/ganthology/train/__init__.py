"""Iteration, devices, precision, distribution, logging, sampling and checkpoints: written once."""
from .checkpoint import export_generator, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .trainer import Trainer

__all__ = ["TrainConfig", "Trainer", "export_generator", "load_checkpoint", "save_checkpoint"]
