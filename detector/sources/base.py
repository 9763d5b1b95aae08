"""What every imagery source provides, and the on-disk cache of fetched tile pixels."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from shapely.geometry.base import BaseGeometry

from ..atomic import atomic_path
from ..grid import Tile


@dataclass
class TilePixels:
    """A tile's raster: reflectance DN (H, W, bands) float32 and a validity mask (H, W)."""

    pixels: np.ndarray
    valid: np.ndarray
    bands: tuple[str, ...]

    def select(self, bands: Sequence[str]) -> np.ndarray:
        """The pixels in a model's band order."""
        idx = [self.bands.index(b) for b in bands]
        return self.pixels[..., idx]


class ImagerySource(Protocol):
    """A provider of Sentinel-2 pixels on the grid.

    ``key`` names the source in cache and store paths (two sources with the same key must
    give the same pixels). ``check`` fails early, before any work, when the source cannot
    serve the region or bands; ``read`` returns one tile.
    """

    key: str
    cacheable: bool
    max_concurrency: int

    def check(self, region: BaseGeometry, bands: Sequence[str], year: int) -> None: ...

    def read(self, tile: Tile, bands: Sequence[str], year: int) -> TilePixels: ...


class PixelCache:
    """Fetched tile pixels on disk, keyed by source, year and tile, shared by all models."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, source_key: str, year: int, tile: Tile) -> Path:
        return self.root / source_key / str(year) / f"{tile.key}.npz"

    def get(self, source_key: str, year: int, tile: Tile, bands: Sequence[str]) -> TilePixels | None:
        path = self._path(source_key, year, tile)
        if not path.exists():
            return None
        try:
            with np.load(path) as z:
                cached = TilePixels(z["pixels"], z["valid"], tuple(str(b) for b in z["bands"]))
        except Exception:  # a torn or foreign file is a cache miss, not a failure
            return None
        if not set(bands) <= set(cached.bands):
            return None
        return cached

    def put(self, source_key: str, year: int, tile: Tile, tp: TilePixels) -> None:
        path = self._path(source_key, year, tile)
        with atomic_path(path) as tmp:
            np.savez(tmp, pixels=tp.pixels, valid=tp.valid, bands=np.array(tp.bands))


def open_source(spec: str | None, **kwargs) -> ImagerySource:
    """``earthengine`` (default) or the path of a GeoTIFF file or folder."""
    if spec in (None, "", "earthengine", "ee"):
        from .earthengine import EarthEngineSource

        return EarthEngineSource(**kwargs)
    from .geotiff import GeoTiffSource

    return GeoTiffSource(spec, **kwargs)
