"""The score store: every patch's score, per (imagery source, model, year, tile), as GeoParquet.

Scores are kept whatever their value, so a threshold change never re-runs the model and a
region that overlaps an earlier one only computes what is new. Each tile file is replaced
atomically: a run stopped at any moment leaves whole tiles or none, never half a tile.
"""
from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd

from .atomic import atomic_path
from .config import data_dir
from .grid import Tile

COLUMNS = ["patch_id", "epsg", "row", "col", "covered", "score"]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


class ScoreStore:
    """Tile files under ``root/{source}/{model}/{year}/{tile}.parquet``."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else data_dir() / "scores"

    def tile_path(self, source_key: str, model: str, year: int, tile: Tile) -> Path:
        return self.root / _safe(source_key) / _safe(model) / str(year) / f"{tile.key}.parquet"

    def read_tile(self, source_key: str, model: str, year: int, tile: Tile) -> gpd.GeoDataFrame | None:
        path = self.tile_path(source_key, model, year, tile)
        if not path.exists():
            return None
        return gpd.read_parquet(path)

    def write_tile(self, source_key: str, model: str, year: int, tile: Tile, gdf: gpd.GeoDataFrame) -> None:
        path = self.tile_path(source_key, model, year, tile)
        with atomic_path(path) as tmp:
            gdf.to_parquet(tmp, index=False)

    def runs(self) -> pd.DataFrame:
        """What the store holds: one row per (source, model, year) with tile counts."""
        rows = []
        for year_dir in self.root.glob("*/*/*"):
            if year_dir.is_dir():
                files = list(year_dir.glob("*.parquet"))
                rows.append({
                    "source": year_dir.parent.parent.name, "model": year_dir.parent.name,
                    "year": year_dir.name, "tiles": len(files),
                })
        return pd.DataFrame(rows, columns=["source", "model", "year", "tiles"])
