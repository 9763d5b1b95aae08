"""Scores read back from the store for a region: how runs are assembled, reopened and collected.

One way to turn stored tiles into a region's patches, whoever asks: an in-process run gathering
what it scored, a cluster run collecting a basin tile by tile, a run reopened from the Detect
page's list. Reading back never touches imagery or the model.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from . import grid, periods
from .concurrency import bounded_map
from .store import ScoreStore

#: Threads that read tiles back (I/O, mostly waiting).
IO_THREADS = 8
#: Tiles read back in one columnar scan: a basin goes through in chunks, never all of it in memory.
SCAN_TILES = 2048


def region_rows(stored: pd.DataFrame, tile: grid.Tile, rows: np.ndarray, cols: np.ndarray) -> pd.DataFrame:
    """The stored rows of the given patches (a tile file may also hold other regions' patches)."""
    want = np.zeros(grid.TILE * grid.TILE, dtype=bool)
    want[grid.local_index(tile, rows, cols)] = True
    return stored[want[grid.local_index(tile, stored["row"].to_numpy(), stored["col"].to_numpy())]]


def complete_part(stored: pd.DataFrame | None, tile: grid.Tile, rows: np.ndarray, cols: np.ndarray,
                  whole: bool = False) -> pd.DataFrame | None:
    """The stored rows of the given patches when the store has every one of them, else None.

    ``whole`` says the patches are all of the tile's (a tile inside the region): a count is enough.
    """
    if stored is None:
        return None
    if whole:
        return stored if len(stored) == grid.TILE * grid.TILE else None
    part = region_rows(stored, tile, rows, cols)
    return part if len(part) == len(rows) else None


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"epsg": pd.Series([], dtype=np.int32), "row": pd.Series([], dtype=np.int64),
                         "col": pd.Series([], dtype=np.int64), "covered": pd.Series([], dtype=bool),
                         "score": pd.Series([], dtype=np.float32)})


def assemble(frames: list[pd.DataFrame], year: int, model: str,
             geometry: bool = True) -> tuple[pd.DataFrame, int]:
    """The region's covered patches as a run returns them, and how many had no imagery.

    With ``geometry`` (the default) a GeoDataFrame with patch ids and squares; without, the plain
    scores (epsg, row, col, score, …): ids and squares cost more than reading the scores back, so
    callers that first filter (a threshold, a file of detections) make them for what they keep
    (:func:`detector.grid.squares`).
    """
    allp = pd.concat(frames, ignore_index=True) if frames else _empty()
    allp = allp.drop(columns=["geometry", "patch_id", "year", "period", "model"], errors="ignore")
    cov = allp["covered"].to_numpy().astype(bool)
    patches = allp[cov].drop(columns=["covered"]).reset_index(drop=True)
    p = periods.of(year)
    patches.insert(0, "year", p.year)
    if p.kind != "year":
        patches.insert(1, "period", p.key)
    patches.insert(1 + (p.kind != "year"), "model", model)
    if geometry:
        return grid.squares(patches), int((~cov).sum())
    return patches, int((~cov).sum())


@dataclass
class ReadBack:
    """A region's stored patches, and the tiles the store did not have."""

    patches: pd.DataFrame
    not_covered: int
    tiles: int
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0


def read_region(store: ScoreStore, source_key: str, model: str, year: int,
                region: BaseGeometry | Sequence[grid.TileCover], min_score: float | None = None,
                geometry: bool = True) -> ReadBack:
    """The region's scored patches from the store alone.

    Tiles come back in one columnar scan (:meth:`ScoreStore.scan`); the ones it leaves out are read
    one by one. ``min_score`` keeps only patches scoring at least that much, so a basin's detections
    can be gathered without holding its 100 million patches at once. A tile the store lacks, or
    holds only in part for the region, is listed in ``missing``. ``geometry``: see :func:`assemble`.
    """
    t0 = time.perf_counter()
    covers = grid.region_covers(region) if isinstance(region, BaseGeometry) else list(region)
    frames: list[pd.DataFrame] = []
    missing: list[str] = []
    for at in range(0, len(covers), SCAN_TILES):
        chunk = covers[at:at + SCAN_TILES]
        scanned = store.scan(source_key, model, year, [c.tile for c in chunk])

        def read(cover: grid.TileCover, scanned: dict = scanned) -> pd.DataFrame | None:
            stored = scanned.get(cover.tile)
            if stored is None:
                stored = store.read_tile(source_key, model, year, cover.tile, geometry=False)
            part = None if stored is None else complete_part(stored, cover.tile, *cover.patches(),
                                                              whole=cover.mask is None)
            if part is None:
                return None  # absent, or stored for another region only: this one's patches are not all there
            return part if min_score is None else part[part["score"] >= min_score]

        got: dict[int, pd.DataFrame | None] = {i: read(c) for i, c in enumerate(chunk) if c.tile in scanned}
        slow = [(i, c) for i, c in enumerate(chunk) if c.tile not in scanned]
        for (i, _), fut in bounded_map(lambda item, read=read: read(item[1]), slow, IO_THREADS):
            got[i] = fut.result()
        frames += [got[i] for i in range(len(chunk)) if got[i] is not None]
        missing += [chunk[i].tile.key for i in range(len(chunk)) if got[i] is None]
    patches, not_covered = assemble(frames, year, model, geometry)
    return ReadBack(patches, not_covered, len(covers), missing, time.perf_counter() - t0)
