from .grid import match_channels, save_grid, save_images

__all__ = ["match_channels", "save_grid", "save_images"]
