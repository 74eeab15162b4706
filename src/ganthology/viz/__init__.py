from .grid import match_channels, save_grid, save_images
from .scatter import save_scatter

__all__ = ["match_channels", "save_grid", "save_images", "save_scatter"]
