"""What every imagery source provides: the protocol, and a tile's pixels."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from shapely.geometry.base import BaseGeometry

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
    give the same pixels). ``cacheable`` says whether fetched tiles are worth keeping on disk
    (a remote service: yes; a local file: no), and ``cache_bands`` which bands to fetch for the
    cache (every band the source has, so 12- and 13-band models share one fetch; None: the bands
    asked for). ``max_concurrency`` is how many reads may run at once. ``footprint`` is the
    lon/lat outline of the imagery, or None where it is unbounded (a global service).
    ``check`` fails early, before any work, when the source cannot serve the region or bands;
    ``read`` returns one tile. A source whose period can still be running (a service serving "this
    year so far") also has ``period_end(year)``: the exclusive end date it composites to when that is
    before the year's end, else None; :func:`storage_key` puts that date into every key.
    """

    key: str
    cacheable: bool
    cache_bands: tuple[str, ...] | None
    max_concurrency: int

    def footprint(self) -> BaseGeometry | None: ...

    def check(self, region: BaseGeometry, bands: Sequence[str], year: int) -> None: ...

    def read(self, tile: Tile, bands: Sequence[str], year: int) -> TilePixels: ...


def storage_key(source: ImagerySource, year: int) -> str:
    """The key a source's pixels and scores of ``year`` are kept under.

    The source's key, with the period's end date added while the period is not over: a run in
    February composites January only, and must not be reused for good as "the year" by later runs.
    """
    end = getattr(source, "period_end", None)
    day = end(year) if callable(end) else None
    return source.key if day is None else f"{source.key}-to{day.isoformat()}"
