"""Scores read back from the store for a region: how runs are assembled, reopened and collected.

One way to turn stored tiles into a region's patches, whoever asks: an in-process run gathering
what it scored, a cluster run collecting a basin tile by tile, a run reopened from the Detect
page's list. Reading back never touches imagery or the model.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from . import grid
from .concurrency import bounded_map
from .store import ScoreStore

#: Threads that read tiles back (I/O, mostly waiting).
IO_THREADS = 8


def region_rows(stored: pd.DataFrame, tile: grid.Tile, rows: np.ndarray, cols: np.ndarray) -> pd.DataFrame:
    """The stored rows of the given patches (a tile file may also hold other regions' patches)."""
    return stored[stored["patch_id"].isin(grid.patch_ids(tile.epsg, rows, cols))]


def _empty() -> gpd.GeoDataFrame:
    cols = {c: [] for c in ["patch_id", "epsg", "row", "col", "covered", "score"]}
    return gpd.GeoDataFrame(cols, geometry=[], crs="EPSG:4326")


def assemble(frames: list[pd.DataFrame], year: int, model: str) -> tuple[gpd.GeoDataFrame, int]:
    """The region's covered patches as a run returns them, and how many had no imagery."""
    allp = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326") if frames else _empty()
    not_covered = int((~allp["covered"].astype(bool)).sum())
    patches = allp[allp["covered"].astype(bool)].drop(columns=["covered"]).reset_index(drop=True)
    patches.insert(1, "year", year)
    patches.insert(2, "model", model)
    patches = patches[[c for c in patches.columns if c != "geometry"] + ["geometry"]]  # one order, however made
    return gpd.GeoDataFrame(patches, geometry="geometry", crs="EPSG:4326"), not_covered


@dataclass
class ReadBack:
    """A region's stored patches, and the tiles the store did not have."""

    patches: gpd.GeoDataFrame
    not_covered: int
    tiles: int
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0


def read_region(store: ScoreStore, source_key: str, model: str, year: int,
                region: BaseGeometry | Sequence[grid.TileCover], min_score: float | None = None) -> ReadBack:
    """The region's scored patches from the store alone.

    ``min_score`` keeps only patches scoring at least that much, tile by tile, so a basin's
    detections can be gathered without holding its 100 million patches at once. A tile the store
    lacks, or holds only in part for the region, is listed in ``missing``.
    """
    t0 = time.perf_counter()
    covers = grid.region_covers(region) if isinstance(region, BaseGeometry) else list(region)

    def read(cover: grid.TileCover) -> pd.DataFrame | None:
        stored = store.read_tile(source_key, model, year, cover.tile)
        if stored is None:
            return None
        part = stored if cover.mask is None else region_rows(stored, cover.tile, *cover.patches())
        if len(part) < cover.n_patches:
            return None  # stored for another region only: this one's patches are not all there
        return part if min_score is None else part[part["score"] >= min_score]

    frames, missing = [], []
    for cover, fut in bounded_map(read, covers, IO_THREADS):
        frame = fut.result()
        if frame is None:
            missing.append(cover.tile.key)
        else:
            frames.append(frame)
    patches, not_covered = assemble(frames, year, model)
    return ReadBack(patches, not_covered, len(covers), missing, time.perf_counter() - t0)
