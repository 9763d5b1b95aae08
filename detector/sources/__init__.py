"""Imagery sources: pixels of a tile of the patch grid, in the bands a model asks for."""
from __future__ import annotations

from typing import Any

from .base import ImagerySource, TilePixels, storage_key
from .wrappers import BoundedSource, CachedSource, PixelCache, cached


def open_source(spec: str | None, **kwargs: Any) -> ImagerySource:
    """``earthengine`` (default), or the path of a GeoTIFF, a Sentinel-2 product (.SAFE or .zip) or a folder of them."""
    if spec in (None, "", "earthengine", "ee"):
        from .earthengine import EarthEngineSource

        return EarthEngineSource(**kwargs)
    from .local import LocalSource

    return LocalSource(spec, **kwargs)


__all__ = ["BoundedSource", "CachedSource", "ImagerySource", "PixelCache", "TilePixels", "cached", "open_source", "storage_key"]
