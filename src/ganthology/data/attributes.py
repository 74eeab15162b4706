"""Exact ground truths for attribute translation: datasets whose attributes are known transformations.

An attribute dataset (`digit_attrs`) whose images are made from an untransformed "source" image by
known transformations can render the image that *any* attribute vector should give. A model that
changes attributes (StarGAN) is then scored by PSNR/SSIM against that render, not only by a
classifier. Datasets of photographs (CelebA) have no such renderer: `attribute_renderer` returns None
for them, and their translations are scored by an attribute classifier alone.

A renderer takes the source images in [-1, 1] (N, C_src, H, W) and attribute vectors (N, K) of 0/1
and returns the images in [-1, 1] (N, C, H, W) that have those attributes.
"""
from __future__ import annotations

from typing import Callable

import torch

from .core import to_model_range, to_uint8

Renderer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_RENDERERS: dict[str, Renderer] = {}


def register_attribute_renderer(name: str):
    """Decorator: `fn(source, attr) -> images` renders dataset `name`'s attributes exactly."""

    def wrap(fn: Renderer) -> Renderer:
        _RENDERERS[name] = fn
        return fn

    return wrap


def attribute_renderer(name: str) -> Renderer | None:
    """The exact renderer of dataset `name`'s attributes, or None when it has none (photographs)."""
    return _RENDERERS.get(name)


@register_attribute_renderer("digit_attrs")
def _render_digit_attrs(source: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
    # the sources are uint8 digits shown in [-1, 1], so the round trip to uint8 is exact
    from .embedded import apply_digit_attributes

    out = apply_digit_attributes(to_uint8(source).cpu(), attr.detach().round().cpu())
    return to_model_range(out).to(source.device)


__all__ = ["attribute_renderer", "register_attribute_renderer"]
