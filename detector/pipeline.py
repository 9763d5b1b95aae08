"""Region + year + model → every patch's score, computing only what the store lacks.

The flow is one direction: grid tiles → pixels (cache or source, fetched concurrently) →
batched inference on the covered patches → per-tile store → the region's patches.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from shapely.geometry.base import BaseGeometry

from . import config, grid, models
from . import indices as spectral
from .concurrency import bounded_map
from .readback import assemble
from .region import check_region, load_region
from .sources import ImagerySource, PixelCache, cached, storage_key
from .store import ScoreStore

Progress = Callable[["TileProgress"], None]


@dataclass
class TileProgress:
    """Passed to the progress callback after each tile."""

    done: int
    total: int
    from_store: int
    computed: int
    failed: int = 0  # tiles given up on (distributed runs; an in-process run stops at the first)


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
    partly_covered: int = 0  # patches scored although some of their pixels had no imagery (filled with 0)
    seconds: float = 0.0
    device: str = "not used (all from store)"
    damaged: int = 0  # stored tiles found unreadable or not their key's, and scored again

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DetectResult:
    patches: gpd.GeoDataFrame  # covered patches of the region, every score
    summary: RunSummary
    member_columns: list[str] = field(default_factory=list)


def patch_windows(pixels: np.ndarray, tile: grid.Tile, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(N, 48, 48, B) windows of the given patches from a tile raster (H, W, B): one copy, C-contiguous
    (what a model takes without copying again), each window's rows copied whole."""
    p = grid.PATCH_PX
    view = sliding_window_view(pixels, (p, p, pixels.shape[-1]))  # (H-p+1, W-p+1, 1, p, p, B)
    pr, pc = tile.pixel_offsets(rows, cols)
    return view[pr, pc, 0]


def valid_fraction(valid: np.ndarray, tile: grid.Tile, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The share of each patch's pixels that have imagery (integral image of the valid mask)."""
    good = np.pad(np.cumsum(np.cumsum(valid, axis=0, dtype=np.int64), axis=1), ((1, 0), (1, 0)))
    pr, pc = tile.pixel_offsets(rows, cols)
    p = grid.PATCH_PX
    n_good = good[pr + p, pc + p] - good[pr, pc + p] - good[pr + p, pc] + good[pr, pc]
    return (n_good / float(p * p)).astype(np.float32)


def covered(valid: np.ndarray, tile: grid.Tile, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether every pixel of each patch has imagery (what training asks of its windows)."""
    return valid_fraction(valid, tile, rows, cols) >= 1.0


def scoreable(fraction: np.ndarray) -> np.ndarray:
    """Which patches are scored: every one with any imagery, as the published pipeline does.

    Earth Engine's NUMPY_NDARRAY export gives masked pixels as 0, and the published runs (and the
    training chips they were trained on) score every patch that way; a patch with no imagery at all
    says nothing and is not scored. Masked pixels are filled with 0 here too (:func:`filled`), and
    each patch's ``valid_fraction`` is stored, so a page or a command can ask for more coverage.
    """
    return fraction > 0


def filled(tp, bands) -> np.ndarray:
    """The tile's pixels in the model's bands, every pixel without imagery set to 0, as the models saw
    them in training (one copy: the band selection, zeroed in place)."""
    pixels = tp.select(bands)
    pixels[~tp.valid] = 0
    return pixels


def _tile_frame(n_members: int, tile: grid.Tile, rows, cols, ok, members: np.ndarray | None) -> gpd.GeoDataFrame:
    n = len(rows)
    score = np.full(n, np.nan, dtype=np.float32)
    data: dict[str, Any] = {
        "patch_id": grid.patch_ids(tile.epsg, rows, cols),
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


@dataclass
class TileOutcome:
    """What scoring one tile did; the in-process run and a Dask task both get one."""

    tile: grid.Tile
    patches: gpd.GeoDataFrame  # the tile's patches in the region, stored and new, with `covered`
    from_store: int  # covered patches of the region served from the store
    scored: int  # patches the model scored now
    computed: bool  # whether the tile needed imagery and the model

    @property
    def not_covered(self) -> int:
        return int((~self.patches["covered"].astype(bool)).sum())


def score_tile(detector: Detector, source: ImagerySource, year: int, tile: grid.Tile,
               rows: np.ndarray, cols: np.ndarray) -> TileOutcome:
    """Score one tile's patches that the store lacks, and store the tile again, whole.

    This is the unit of work both for :meth:`Detector.run` and for a Dask worker, so the two
    write the very same files. ``source`` is read as given: callers pass :meth:`Detector.imagery`
    of their source, so pixels go through the pixel cache. A tile stored complete is answered from the store without
    touching the imagery or the model; a partly stored one (an overlapping earlier region) only
    scores its missing patches and is rewritten, old and new together, in one atomic write.
    """
    # One run at a time per tile: read, score what is missing, write back old and new together.
    key = storage_key(source, year)
    with detector.store.tile_lock(key, detector.spec.name, year, tile):
        return _score_tile_locked(detector, source, key, year, tile, rows, cols)


def _score_tile_locked(detector: Detector, source: ImagerySource, key: str, year: int, tile: grid.Tile,
                       rows: np.ndarray, cols: np.ndarray) -> TileOutcome:
    spec = detector.spec
    stored = _upgrade(detector.store.read_tile(key, spec.name, year, tile))
    have: pd.DataFrame | None = None
    if stored is not None:
        ids = pd.Index(grid.patch_ids(tile.epsg, rows, cols))
        in_region = stored["patch_id"].isin(ids)
        have = stored[in_region]
        missing = ~ids.isin(stored["patch_id"])
        if not missing.any():
            return TileOutcome(tile, have, int(have["covered"].sum()), 0, False)
        rows, cols = rows[missing], cols[missing]
    tp = source.read(tile, spec.bands, year)
    scorer = detector.scorer
    frac = valid_fraction(tp.valid, tile, rows, cols)
    ok = scoreable(frac)
    if ok.any():
        raster = spectral.model_input(filled(tp, spec.bands), spec.bands, spec.indices)  # per pixel, once per tile
        r_ok, c_ok = rows[ok], cols[ok]
        members = scorer.score_cut(lambda i, j: patch_windows(raster, tile, r_ok[i:j], c_ok[i:j]), len(r_ok))
    else:
        members = None
    new = _tile_frame(scorer.members, tile, rows, cols, ok, members)
    new["valid_fraction"] = frac
    merged = new if stored is None else pd.concat([stored, new], ignore_index=True)
    detector.store.write_tile(key, spec.name, year, tile, gpd.GeoDataFrame(merged, crs="EPSG:4326"))
    patches = new if have is None else gpd.GeoDataFrame(pd.concat([have, new], ignore_index=True), crs="EPSG:4326")
    from_store = 0 if have is None else int(have["covered"].sum())
    return TileOutcome(tile, patches, from_store, int(ok.sum()), True)


def _upgrade(stored: pd.DataFrame | None) -> pd.DataFrame | None:
    """A tile stored before coverage was kept: its scored patches were whole (fraction 1); the ones it
    left unscored for a missing pixel are dropped, so they are scored now under today's policy."""
    if stored is None or "valid_fraction" in stored.columns:
        return stored
    kept = stored[stored["covered"].astype(bool)].copy()
    kept["valid_fraction"] = np.float32(1.0)
    return kept


class Detector:
    """Holds a loaded model across runs (the pages keep one per process)."""

    def __init__(self, model: str | Path | None = None, store: ScoreStore | None = None,
                 pixel_cache: PixelCache | None = None):
        self.spec = models.resolve(model)
        self.store = store or ScoreStore()
        self.pixel_cache = pixel_cache or PixelCache(config.layout().pixels)
        self._scorer: models.Scorer | None = None
        self._load_lock = threading.Lock()  # tiles are scored from several threads: load once

    @property
    def scorer(self) -> models.Scorer:
        if self._scorer is None:
            with self._load_lock:
                if self._scorer is None:
                    self._scorer = models.load(self.spec)
        return self._scorer

    @property
    def patches_scored(self) -> int:
        """Patches the model has scored in this detector's life (0 while it is not loaded)."""
        return self._scorer.patches_scored if self._scorer is not None else 0

    def imagery(self, source: ImagerySource) -> ImagerySource:
        """The source as this detector reads it: through its pixel cache where that is worth it."""
        return cached(source, self.pixel_cache)

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
        source = self.imagery(source)
        tiles = grid.tiles_for_region(region)
        damaged_before = self.store.damaged_count
        summary = RunSummary(model=spec.name, year=year, source=storage_key(source, year), tiles=len(tiles))

        if on_progress:
            on_progress(TileProgress(0, len(tiles), 0, 0))
        frames: list[gpd.GeoDataFrame] = []

        def work(item: tuple[grid.Tile, tuple[np.ndarray, np.ndarray]]) -> TileOutcome:
            return score_tile(self, source, year, item[0], *item[1])

        # Tiles go through a small thread pool: one tile's imagery is read while another's is
        # scored (the scorer itself runs one batch at a time).
        for done, (_, fut) in enumerate(bounded_map(work, list(tiles.items()), source.max_concurrency), start=1):
            out = fut.result()
            frames.append(out.patches)
            summary.from_store += out.from_store
            summary.scored_now += out.scored
            if out.computed:
                if summary.device.startswith("not used"):
                    summary.device = models.describe_device()
            else:
                summary.tiles_from_store += 1
            if on_progress:
                on_progress(TileProgress(done, len(tiles), summary.tiles_from_store, done - summary.tiles_from_store))

        patches, summary.not_covered = assemble(frames, year, spec.name)
        if "valid_fraction" in patches.columns:
            summary.partly_covered = int((patches["valid_fraction"] < 1).sum())
        summary.damaged = self.store.damaged_count - damaged_before
        summary.patches = len(patches)
        summary.seconds = time.perf_counter() - t0
        members = [c for c in patches.columns if c.startswith("member_")]
        return DetectResult(patches, summary, members)


def detect(region, year: int, source: ImagerySource, model: str | Path | None = None, **kwargs) -> DetectResult:
    """One-shot convenience: load the model and run."""
    return Detector(model).run(region, year, source, **kwargs)
