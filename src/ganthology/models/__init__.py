"""One file per paper. Importing this package registers every model: each module in it is imported,
so a new paper's file registers itself without a list to edit."""
import importlib
import pkgutil

from .base import DataInfo, GANModel, frozen

for _m in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["DataInfo", "GANModel", "frozen"]
