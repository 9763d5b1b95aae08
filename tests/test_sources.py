"""Imagery sources compose: the pixel cache and the read cap wrap any source, and say what they wrap."""
from __future__ import annotations

import threading
import time

import numpy as np

from detector import grid
from detector.sources import BoundedSource, CachedSource, PixelCache, TilePixels, cached

TILE = grid.Tile(32719, 100, 100)


class Counting:
    """A source that counts its reads (a remote service stands behind such a source)."""

    key = "count-src"
    cacheable = True
    cache_bands = ("B1", "B2", "B3")
    max_concurrency = 4

    def __init__(self, delay: float = 0.0):
        self.reads, self.delay, self.at_once, self._now, self._lock = 0, delay, 0, 0, threading.Lock()

    def footprint(self):
        return None

    def check(self, region, bands, year):
        pass

    def read(self, tile, bands, year):
        with self._lock:
            self.reads += 1
            self._now += 1
            self.at_once = max(self.at_once, self._now)
        time.sleep(self.delay)
        with self._lock:
            self._now -= 1
        n = grid.TILE_PX
        return TilePixels(np.full((n, n, len(bands)), 1000, np.float32), np.ones((n, n), bool), tuple(bands))


def test_a_cached_source_fetches_a_tile_once_with_every_band(tmp_path):
    inner = Counting()
    src = cached(inner, PixelCache(tmp_path / "pixels"))
    assert isinstance(src, CachedSource) and src.key == inner.key and not src.cacheable
    a = src.read(TILE, ("B2",), 2023)
    b = CachedSource(inner, PixelCache(tmp_path / "pixels")).read(TILE, ("B1", "B3"), 2023)  # a 2nd process
    assert inner.reads == 1 and a.bands == b.bands == inner.cache_bands
    assert src.read(TILE, ("B2",), 2024) is not None and inner.reads == 2, "years are cached apart"


def test_a_torn_cache_file_is_a_miss(tmp_path):
    inner = Counting()
    cache = PixelCache(tmp_path / "pixels")
    CachedSource(inner, cache).read(TILE, ("B1",), 2023)
    next((tmp_path / "pixels").rglob("*.npz")).write_bytes(b"torn")
    CachedSource(inner, cache).read(TILE, ("B1",), 2023)
    assert inner.reads == 2


def test_a_local_source_is_not_wrapped(tmp_path):
    inner = Counting()
    inner.cacheable = False
    assert cached(inner, PixelCache(tmp_path)) is inner


def test_a_bounded_source_caps_reads_at_once():
    inner = Counting(delay=0.05)
    src = BoundedSource(inner, 2)
    threads = [threading.Thread(target=src.read, args=(TILE, ("B1",), 2023)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert inner.reads == 6 and inner.at_once <= 2
    assert src.key == inner.key and src.max_concurrency == inner.max_concurrency and src.footprint() is None
