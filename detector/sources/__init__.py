"""Imagery sources: pixels of a tile of the patch grid, in the bands a model asks for."""
from .base import ImagerySource, TilePixels, open_source

__all__ = ["ImagerySource", "TilePixels", "open_source"]
