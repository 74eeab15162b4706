from .grid import save_grid, save_images

__all__ = ["save_grid", "save_images"]
