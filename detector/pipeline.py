"""Region + year + model → every patch's score, computing only what the store lacks.

The flow is one direction: grid tiles → pixels (cache or source, fetched concurrently) →
batched inference on the covered patches → per-tile store → the region's patches.
"""
from __future__ import annotations

import functools
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

from . import config, grid, models, periods
from . import indices as spectral
from .concurrency import bounded_map
from .readback import SCAN_TILES, assemble, complete_part
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
        """As JSON holds it: the period by its key (a year stays a number)."""
        out = asdict(self)
        p = periods.of(self.year)
        out["year"] = p.year if p.kind == "year" else p.key
        return out


@dataclass
class DetectResult:
    """A run's answer: every covered patch's score; ids and squares are made when first asked for."""

    scores: pd.DataFrame  # covered patches of the region, every score (epsg, row, col, score, …)
    summary: RunSummary
    member_columns: list[str] = field(default_factory=list)

    @functools.cached_property
    def patches(self) -> gpd.GeoDataFrame:
        """The scores with patch ids and squares (EPSG:4326), made once from (epsg, row, col)."""
        return grid.squares(self.scores)


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


def _tile_frame(n_members: int, tile: grid.Tile, rows, cols, ok, members: np.ndarray | None) -> pd.DataFrame:
    n = len(rows)
    score = np.full(n, np.nan, dtype=np.float32)
    data: dict[str, Any] = {
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
    return pd.DataFrame(data)


@dataclass
class TileOutcome:
    """What scoring one tile did; the in-process run and a Dask task both get one."""

    tile: grid.Tile
    patches: pd.DataFrame  # the tile's patches in the region, stored and new, with `covered` (no shapes)
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
    stored = _upgrade(detector.store.read_tile(key, spec.name, year, tile, geometry=False))
    have: pd.DataFrame | None = None
    if stored is not None:
        stored_at = grid.local_index(tile, stored["row"].to_numpy(), stored["col"].to_numpy())
        want = np.zeros(grid.TILE * grid.TILE, dtype=bool)
        want[grid.local_index(tile, rows, cols)] = True
        have = stored[want[stored_at]]
        there = np.zeros(grid.TILE * grid.TILE, dtype=bool)
        there[stored_at] = True
        missing = ~there[grid.local_index(tile, rows, cols)]
        if not missing.any():
            return TileOutcome(tile, have, int(have["covered"].sum()), 0, False)
        rows, cols = rows[missing], cols[missing]
    tp = source.read(tile, spec.bands, year)
    scorer = detector.scorer
    frac = valid_fraction(tp.valid, tile, rows, cols)
    ok = scoreable(frac)
    if ok.any():
        raster = spectral.model_input(filled(tp, spec.bands), spec.bands, spec.indices)  # per pixel, once per tile
        members = scorer.score_raster(raster, *tile.pixel_offsets(rows[ok], cols[ok]))
    else:
        members = None
    new = _tile_frame(scorer.members, tile, rows, cols, ok, members)
    new["valid_fraction"] = frac
    merged = new if stored is None else pd.concat([stored, new], ignore_index=True)
    detector.store.write_tile(key, spec.name, year, tile, merged)
    patches = new if have is None else pd.concat([have, new], ignore_index=True)
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
        """Score every patch of the region; tiles already in the store are not recomputed.

        Tiles the store holds whole for the region come back in columnar scans, without the tile
        lock, imagery or the model (tile files are replaced atomically, so a read sees a whole
        tile); only the others go through :func:`score_tile`.
        """
        t0 = time.perf_counter()
        if isinstance(region, BaseGeometry):
            check_region(region, limit_km2)
        else:
            region = load_region(region, limit_km2)
        spec = self.spec
        year = periods.of(year)
        source.check(region, spec.bands, year)
        source = self.imagery(source)
        covers = grid.region_covers(region)
        key = storage_key(source, year)
        damaged_before = self.store.damaged_count
        summary = RunSummary(model=spec.name, year=year, source=key, tiles=len(covers))
        total = len(covers)
        if on_progress:
            on_progress(TileProgress(0, total, 0, 0))
        frames: list[pd.DataFrame | None] = [None] * total
        done = 0

        def tally(i: int, part: pd.DataFrame, from_store: int, scored: int, computed: bool) -> None:
            nonlocal done
            frames[i] = part
            done += 1
            summary.from_store += from_store
            summary.scored_now += scored
            if computed:
                if summary.device.startswith("not used"):
                    summary.device = models.describe_device()
            else:
                summary.tiles_from_store += 1
            if on_progress:
                on_progress(TileProgress(done, total, summary.tiles_from_store, done - summary.tiles_from_store))

        todo: list[int] = []
        for at in range(0, total, SCAN_TILES):
            chunk = range(at, min(at + SCAN_TILES, total))
            scanned = self.store.scan(key, spec.name, year, [covers[i].tile for i in chunk])
            for i in chunk:
                c = covers[i]
                part = complete_part(scanned.get(c.tile), c.tile, *c.patches(), whole=c.mask is None)
                if part is None:
                    todo.append(i)
                else:
                    tally(i, part, int(part["covered"].sum()), 0, False)

        def work(i: int) -> TileOutcome:
            return score_tile(self, source, year, covers[i].tile, *covers[i].patches())

        # Tiles go through a small thread pool: one tile's imagery is read while another's is
        # scored (the scorer itself runs one batch at a time).
        for i, fut in bounded_map(work, todo, source.max_concurrency):
            out = fut.result()
            tally(i, out.patches, out.from_store, out.scored, out.computed)

        scores, summary.not_covered = assemble([f for f in frames if f is not None], year, spec.name, geometry=False)
        if "valid_fraction" in scores.columns:
            summary.partly_covered = int((scores["valid_fraction"] < 1).sum())
        summary.damaged = self.store.damaged_count - damaged_before
        summary.patches = len(scores)
        summary.seconds = time.perf_counter() - t0
        members = [c for c in scores.columns if c.startswith("member_")]
        return DetectResult(scores, summary, members)


def detect(region, year: int, source: ImagerySource, model: str | Path | None = None, **kwargs) -> DetectResult:
    """One-shot convenience: load the model and run."""
    return Detector(model).run(region, year, source, **kwargs)
