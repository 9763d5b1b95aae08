"""Sources that wrap a source: the on-disk pixel cache, and a cap on reads at once.

Both behave as the source they wrap (same key, same check), so the pipeline, training and Dask
workers compose them instead of each caching or throttling in its own way.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from shapely.geometry.base import BaseGeometry

from ..atomic import atomic_path
from ..grid import Tile
from .base import ImagerySource, TilePixels, storage_key


class PixelCache:
    """Fetched tile pixels on disk, keyed by source, year and tile, shared by all models."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, source_key: str, year: int, tile: Tile) -> Path:
        return self.root / source_key / str(year) / f"{tile.key}.npz"

    def get(self, source_key: str, year: int, tile: Tile, bands: Sequence[str]) -> TilePixels | None:
        path = self._path(source_key, year, tile)
        if not path.exists():
            return None
        try:
            with np.load(path) as z:
                cached = TilePixels(z["pixels"], z["valid"], tuple(str(b) for b in z["bands"]))
        except Exception:  # noqa: BLE001 - a torn or foreign file is a cache miss, not a failure
            return None
        if not set(bands) <= set(cached.bands):
            return None
        return cached

    def put(self, source_key: str, year: int, tile: Tile, tp: TilePixels) -> None:
        path = self._path(source_key, year, tile)
        with atomic_path(path) as tmp:
            np.savez(tmp, pixels=tp.pixels, valid=tp.valid, bands=np.array(tp.bands))


class _Wrapper:
    """Everything but ``read`` is the inner source's."""

    def __init__(self, inner: ImagerySource):
        self.inner = inner
        self.key = inner.key
        self.cacheable = inner.cacheable
        self.cache_bands = getattr(inner, "cache_bands", None)
        self.max_concurrency = inner.max_concurrency
        if hasattr(inner, "period_end"):
            self.period_end = inner.period_end

    def footprint(self) -> BaseGeometry | None:
        return self.inner.footprint()

    def check(self, region: BaseGeometry, bands: Sequence[str], year: int) -> None:
        self.inner.check(region, bands, year)


class CachedSource(_Wrapper):
    """Reads through a :class:`PixelCache`: a tile fetched once is never fetched again."""

    def __init__(self, inner: ImagerySource, cache: PixelCache):
        super().__init__(inner)
        self.cache = cache
        self.cacheable = False  # already cached: a second wrapper would only copy files

    def read(self, tile: Tile, bands: Sequence[str], year: int) -> TilePixels:
        key = storage_key(self.inner, year)
        hit = self.cache.get(key, year, tile, bands)
        if hit is not None:
            return hit
        tp = self.inner.read(tile, self.cache_bands or tuple(bands), year)
        self.cache.put(key, year, tile, tp)
        return tp


class BoundedSource(_Wrapper):
    """Reads wait for one of ``slots``: a worker's many threads send the service at most that many."""

    def __init__(self, inner: ImagerySource, slots: int):
        super().__init__(inner)
        self._slots = threading.BoundedSemaphore(max(int(slots), 1))

    def read(self, tile: Tile, bands: Sequence[str], year: int) -> TilePixels:
        with self._slots:
            return self.inner.read(tile, bands, year)


def cached(source: ImagerySource, cache: PixelCache) -> ImagerySource:
    """The source read through the cache where caching is worth it, else the source itself."""
    return CachedSource(source, cache) if source.cacheable else source
