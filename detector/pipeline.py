"""Region + year + model → every patch's score, computing only what the store lacks.

The flow is one direction: grid tiles → pixels (cache or source, fetched concurrently) →
batched inference on the covered patches → per-tile store → the region's patches.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from shapely.geometry.base import BaseGeometry

from . import grid, models
from .config import data_dir
from .region import check_region, load_region
from .sources.base import ImagerySource, PixelCache, TilePixels
from .store import ScoreStore

Progress = Callable[["TileProgress"], None]


@dataclass
class TileProgress:
    """Passed to the progress callback after each tile."""

    done: int
    total: int
    from_store: int
    computed: int


@dataclass
class RunSummary:
    """The closing figures of a run."""

    model: str
    year: int
    source: str
    tiles: int = 0
    tiles_from_store: int = 0
    patches: int = 0  # patches of the region with a score
    scored_now: int = 0
    from_store: int = 0
    not_covered: int = 0  # patches of the region without imagery
    seconds: float = 0.0
    device: str = "not used (all from store)"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DetectResult:
    patches: gpd.GeoDataFrame  # covered patches of the region, every score
    summary: RunSummary
    member_columns: list[str] = field(default_factory=list)


def patch_windows(pixels: np.ndarray, tile: grid.Tile, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(N, 48, 48, B) windows of the given patches from a tile raster (H, W, B), one copy."""
    view = sliding_window_view(pixels, (grid.PATCH_PX, grid.PATCH_PX), axis=(0, 1))
    pr, pc = tile.pixel_offsets(rows, cols)
    return np.moveaxis(view[pr, pc], 1, -1)  # (N, B, 48, 48) -> (N, 48, 48, B)


def covered(valid: np.ndarray, tile: grid.Tile, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether every pixel of each patch has imagery (integral image of the invalid mask)."""
    bad = np.pad(np.cumsum(np.cumsum(~valid, axis=0, dtype=np.int64), axis=1), ((1, 0), (1, 0)))
    pr, pc = tile.pixel_offsets(rows, cols)
    p = grid.PATCH_PX
    n_bad = bad[pr + p, pc + p] - bad[pr, pc + p] - bad[pr + p, pc] + bad[pr, pc]
    return n_bad == 0


def _tile_frame(n_members: int, tile: grid.Tile, rows, cols, ok, members: np.ndarray | None) -> gpd.GeoDataFrame:
    n = len(rows)
    score = np.full(n, np.nan, dtype=np.float32)
    data: dict[str, Any] = {
        "patch_id": [grid.patch_id(tile.epsg, r, c) for r, c in zip(rows, cols)],
        "epsg": np.full(n, tile.epsg, dtype=np.int32),
        "row": np.asarray(rows, dtype=np.int64),
        "col": np.asarray(cols, dtype=np.int64),
        "covered": ok,
    }
    if members is not None and len(members):
        score[ok] = models.ensemble_mean(members)
    data["score"] = score
    if n_members > 1:
        for m in range(n_members):
            col = np.full(n, np.nan, dtype=np.float32)
            if members is not None and len(members):
                col[ok] = members[:, m]
            data[f"member_{m}"] = col
    return gpd.GeoDataFrame(data, geometry=grid.patch_polygons(tile.epsg, rows, cols), crs="EPSG:4326")


def _bounded_map(fn: Callable, items: list, workers: int) -> Iterator[tuple[Any, Future]]:
    """Run fn over items on a thread pool, at most 2×workers in flight, results in order."""
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        pending: list[tuple[Any, Future]] = []
        it = iter(items)
        for item in it:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            item, fut = pending.pop(0)
            yield item, fut
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(fn, nxt)))


class Detector:
    """Holds a loaded model across runs (the pages keep one per process)."""

    def __init__(self, model: str | Path | None = None, store: ScoreStore | None = None,
                 pixel_cache: PixelCache | None = None):
        self.spec = models.resolve(model)
        self.store = store or ScoreStore()
        self.pixel_cache = pixel_cache or PixelCache(data_dir() / "pixels")
        self._scorer: models.Scorer | None = None

    @property
    def scorer(self) -> models.Scorer:
        if self._scorer is None:
            self._scorer = models.load(self.spec)
        return self._scorer

    @property
    def patches_scored(self) -> int:
        """Patches the model has scored in this detector's life (0 while it is not loaded)."""
        return self._scorer.patches_scored if self._scorer is not None else 0

    def _pixels(self, source: ImagerySource, year: int, tile: grid.Tile) -> TilePixels:
        bands = self.spec.bands
        if source.cacheable:
            hit = self.pixel_cache.get(source.key, year, tile, bands)
            if hit is not None:
                return hit
            # Cache every band the source has to offer, so 12- and 13-band models share it.
            fetch_bands = getattr(source, "cache_bands", bands)
            tp = source.read(tile, fetch_bands, year)
            self.pixel_cache.put(source.key, year, tile, tp)
            return tp
        return source.read(tile, bands, year)

    def run(self, region: BaseGeometry | str | Path | dict, year: int, source: ImagerySource,
            on_progress: Progress | None = None, limit_km2: float | None = None) -> DetectResult:
        """Score every patch of the region; tiles already in the store are not recomputed."""
        t0 = time.perf_counter()
        if isinstance(region, BaseGeometry):
            check_region(region, limit_km2)
        else:
            region = load_region(region, limit_km2)
        spec = self.spec
        source.check(region, spec.bands, year)
        tiles = grid.tiles_for_region(region)
        summary = RunSummary(model=spec.name, year=year, source=source.key, tiles=len(tiles))

        if on_progress:
            on_progress(TileProgress(0, len(tiles), 0, 0))
        frames: list[gpd.GeoDataFrame] = []
        todo: list[tuple[grid.Tile, np.ndarray, np.ndarray, gpd.GeoDataFrame | None]] = []
        done = 0
        for tile, (rows, cols) in tiles.items():
            stored = self.store.read_tile(source.key, spec.name, year, tile)
            ids = [grid.patch_id(tile.epsg, r, c) for r, c in zip(rows, cols)]
            if stored is not None:
                have = stored["patch_id"].isin(ids)
                missing = ~pd.Index(ids).isin(stored["patch_id"])
                if not missing.any():
                    frames.append(stored[have])
                    summary.from_store += int(stored.loc[have, "covered"].sum())
                    summary.tiles_from_store += 1
                    done += 1
                    if on_progress:
                        on_progress(TileProgress(done, len(tiles), summary.tiles_from_store, done - summary.tiles_from_store))
                    continue
                todo.append((tile, rows[missing], cols[missing], stored))
                frames.append(stored[have])
                summary.from_store += int(stored.loc[have, "covered"].sum())
            else:
                todo.append((tile, rows, cols, None))

        if todo:
            summary.device = models.describe_device()
            scorer = self.scorer
            fetch = lambda job: self._pixels(source, year, job[0])
            for (tile, rows, cols, stored), fut in _bounded_map(fetch, todo, source.max_concurrency):
                tp = fut.result()
                ok = covered(tp.valid, tile, rows, cols)
                pix = tp.select(spec.bands)
                members = scorer.score(patch_windows(pix, tile, rows[ok], cols[ok])) if ok.any() else None
                new = _tile_frame(scorer.members, tile, rows, cols, ok, members)
                merged = new if stored is None else pd.concat([stored, new], ignore_index=True)
                self.store.write_tile(source.key, spec.name, year, tile, gpd.GeoDataFrame(merged, crs="EPSG:4326"))
                frames.append(new)
                summary.scored_now += int(ok.sum())
                done += 1
                if on_progress:
                    on_progress(TileProgress(done, len(tiles), summary.tiles_from_store, done - summary.tiles_from_store))

        allp = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326") if frames else _empty(spec)
        summary.not_covered = int((~allp["covered"].astype(bool)).sum())
        patches = allp[allp["covered"].astype(bool)].drop(columns=["covered"]).reset_index(drop=True)
        patches.insert(1, "year", year)
        patches.insert(2, "model", spec.name)
        summary.patches = len(patches)
        summary.seconds = time.perf_counter() - t0
        members = [c for c in patches.columns if c.startswith("member_")]
        return DetectResult(gpd.GeoDataFrame(patches, geometry="geometry", crs="EPSG:4326"), summary, members)


def _empty(spec: models.ModelSpec) -> gpd.GeoDataFrame:
    cols = {c: [] for c in ["patch_id", "epsg", "row", "col", "covered", "score"]}
    return gpd.GeoDataFrame(cols, geometry=[], crs="EPSG:4326")


def detect(region, year: int, source: ImagerySource, model: str | Path | None = None, **kwargs) -> DetectResult:
    """One-shot convenience: load the model and run."""
    return Detector(model).run(region, year, source, **kwargs)
