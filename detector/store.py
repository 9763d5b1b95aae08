"""The score store: every patch's score, per (imagery source, model, year, tile), as Parquet columns.

Scores are kept whatever their value, so a threshold change never re-runs the model and a
region that overlaps an earlier one only computes what is new. Each tile file is replaced
atomically: a run stopped at any moment leaves whole tiles or none, never half a tile.

The root is a local folder (the default ``data/scores``, or a shared folder every worker of a
cluster mounts) or an fsspec URL (``file:///…``, ``s3://bucket/scores``, ``gs://…``,
``memory://…``; the protocol's package, e.g. s3fs, is the user's to install). Local files go
through :func:`~detector.atomic.atomic_path`; on object storage a tile is one PUT, which is
atomic by itself.
"""
from __future__ import annotations

import io
import logging
import re
import threading
import zlib
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import config
from .atomic import atomic_path
from .grid import TILE, Tile, local_index, squares

#: What every tile file holds (besides member scores and ``valid_fraction``); a patch's id and square
#: follow from (epsg, row, col) and are made on demand (:func:`detector.grid.squares`).
COLUMNS = ["epsg", "row", "col", "covered", "score"]
log = logging.getLogger(__name__)
#: In-process tile locks (threads of one run, or two runs in one server process), striped: a basin
#: touches 100,000 tiles, and a lock per tile would be kept for the process's life.
_LOCKS = tuple(threading.Lock() for _ in range(256))


def _thread_lock(name: str) -> threading.Lock:
    return _LOCKS[zlib.crc32(name.encode()) % len(_LOCKS)]


def tile_problem(frame: pd.DataFrame, tile: Tile, needed: list[str] | None = None) -> str | None:
    """Why a stored frame is not this tile's scores (None when it is): columns missing, another tile's
    patches, a patch twice."""
    for col in needed if needed is not None else COLUMNS:
        if col not in frame.columns:
            return f"the column {col!r} is missing"
    rows, cols = np.asarray(frame["row"]), np.asarray(frame["col"])
    if len(frame) and (
        (frame["epsg"].to_numpy() != tile.epsg).any() or (rows // TILE != tile.trow).any()
        or (cols // TILE != tile.tcol).any()
    ):
        return "it holds patches of another tile"
    if len(np.unique(local_index(tile, rows, cols))) < len(frame):
        return "it holds a patch twice"
    return None


def with_geometry(frame: pd.DataFrame, tile: Tile | None = None) -> gpd.GeoDataFrame:
    """Stored rows with their patch ids and squares (EPSG:4326), made from (epsg, row, col)."""
    return squares(frame)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _local_root(root: Path | str) -> Path | None:
    """The folder a root names when it is on this machine's file system, else None."""
    text = str(root)
    if "://" not in text:
        return Path(text).expanduser()
    if text.startswith(("file://", "local://")):
        import fsspec

        _, path = fsspec.core.url_to_fs(text)
        return Path(path)
    return None


class ScoreStore:
    """Tile files under ``root/{source}/{model}/{year}/{tile}.parquet``.

    ``storage_options`` go to fsspec for a URL root (credentials, endpoint); a store pickles as
    its root and options, so a Dask worker reopens the same store.
    """

    def __init__(self, root: Path | str | None = None, **storage_options: Any):
        root = root if root is not None else config.layout().scores
        self.storage_options = storage_options
        #: Tiles found unreadable or not their key's: how many, and the latest (tile key, why); they are
        #: recomputed, never merged. Bounded: a server's store lives as long as the process.
        self.damaged_count = 0
        self._damaged_lock = threading.Lock()  # tiles are read from several threads
        self.damaged: deque[tuple[str, str]] = deque(maxlen=100)
        local = _local_root(root)
        if local is not None:
            self.root: Path | str = local
            self.url = str(local)
            self._fs = None
        else:
            import fsspec

            self._fs, path = fsspec.core.url_to_fs(str(root), **storage_options)
            self.url = str(root).rstrip("/")
            self.root = self.url
            self._base = path.rstrip("/")

    def __reduce__(self):
        return (_reopen, (self.url, self.storage_options))

    def __repr__(self) -> str:
        return f"ScoreStore({self.url!r})"

    @property
    def is_local(self) -> bool:
        return self._fs is None

    def _rel(self, source_key: str, model: str, year: int) -> str:
        return f"{_safe(source_key)}/{_safe(model)}/{year}"

    def _tile_rel(self, source_key: str, model: str, year: int, tile: Tile) -> str:
        return f"{self._rel(source_key, model, year)}/{tile.key}.parquet"

    def tile_path(self, source_key: str, model: str, year: int, tile: Tile) -> Path | str:
        """The tile's file: a Path for a local store, the URL otherwise."""
        rel = self._tile_rel(source_key, model, year, tile)
        return self.root / rel if self.is_local else f"{self.url}/{rel}"

    def _fs_path(self, rel: str) -> str:
        return f"{self._base}/{rel}"

    def has_tile(self, source_key: str, model: str, year: int, tile: Tile) -> bool:
        if self.is_local:
            return self.tile_path(source_key, model, year, tile).exists()
        return self._fs.exists(self._fs_path(self._tile_rel(source_key, model, year, tile)))

    def tile_keys(self, source_key: str, model: str, year: int) -> set[str]:
        """Keys of the tiles stored for (source, model, year), from one listing of the folder."""
        rel = self._rel(source_key, model, year)
        if self.is_local:
            folder = self.root / rel
            names = [p.name for p in folder.glob("*.parquet")] if folder.is_dir() else []
        else:
            try:
                names = [Path(p).name for p in self._fs.ls(self._fs_path(rel), detail=False)]
            except FileNotFoundError:
                names = []
        return {n[: -len(".parquet")] for n in names if n.endswith(".parquet") and not n.startswith(".")}

    def read_tile(self, source_key: str, model: str, year: int, tile: Tile,
                  columns: list[str] | None = None, geometry: bool = True) -> gpd.GeoDataFrame | pd.DataFrame | None:
        """The stored tile (None when absent or damaged).

        Every stored column, with patch ids and squares made from (row, col) unless ``geometry`` is
        False; or only ``columns`` (plus "geometry"/"patch_id" when named there).
        """
        rel = self._tile_rel(source_key, model, year, tile)
        if self.is_local:
            path = self.root / rel
            if not path.exists():
                return None
            src: Any = path
        else:
            try:
                src = io.BytesIO(self._fs.cat_file(self._fs_path(rel)))
            except FileNotFoundError:
                return None
        derived = {"geometry", "patch_id"}
        needed = COLUMNS if columns is None else sorted({*columns, "epsg", "row", "col"} - derived)
        try:
            pf = pq.ParquetFile(src)
            # Tiles written before the store held plain columns also carry patch ids and a geometry
            # column: never read, but made again from (row, col) where wanted, so old stores open as they are.
            names = [n for n in pf.schema_arrow.names if n not in derived]
            frame = pf.read(columns=names if columns is None else [c for c in needed if c in names],
                            use_threads=False).to_pandas()
        except Exception as exc:  # noqa: BLE001 - torn, truncated, foreign: every reader error means "not a tile"
            return self._damaged(tile, f"it cannot be read ({type(exc).__name__})")
        problem = tile_problem(frame, tile, needed)
        if problem:
            return self._damaged(tile, problem)
        if columns is None:
            return with_geometry(frame) if geometry else frame
        if derived & set(columns):
            frame = with_geometry(frame)
        return frame[[c for c in columns if c in frame.columns]]

    def scan(self, source_key: str, model: str, year: int, tiles: list[Tile]) -> dict[Tile, pd.DataFrame]:
        """Many tiles' stored columns in one columnar scan (a pyarrow dataset over their files).

        The fast way back for re-runs, reopening and collecting: about half a millisecond a tile
        where reading them one by one costs several. Only a local store is scanned; a tile that is
        absent, or whose file is not plainly its own (damaged, another tile's, an older layout) is
        left out, so the caller reads it the careful way (:meth:`read_tile`).
        """
        if not self.is_local or not tiles:
            return {}
        have = self.tile_keys(source_key, model, year)
        files = {str(self.tile_path(source_key, model, year, t)): t for t in tiles if t.key in have}
        if not files:
            return {}
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        try:
            dataset = ds.dataset(list(files), format="parquet")
            names = [n for n in dataset.schema.names if n not in ("geometry", "patch_id")]
            if "valid_fraction" not in names:
                return {}  # an older layout: each tile is upgraded on its own
            table = dataset.to_table(columns=[*names, "__filename"])
        except Exception:  # noqa: BLE001 - one damaged file spoils the scan: read tile by tile instead
            return {}
        where = pc.dictionary_encode(table.column("__filename")).combine_chunks()
        frame = table.drop_columns(["__filename"]).to_pandas()
        codes = where.indices.to_numpy(zero_copy_only=False)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(where.dictionary) + 1))
        out: dict[Tile, pd.DataFrame] = {}
        for i, name in enumerate(where.dictionary.to_pylist()):
            tile = files[name]
            part = frame.iloc[order[bounds[i]:bounds[i + 1]]].reset_index(drop=True)
            if tile_problem(part, tile) is None and not part["valid_fraction"].isna().any():
                out[tile] = part
        return out

    def _damaged(self, tile: Tile, why: str) -> None:
        """Report a tile file that is not the tile's scores; the caller recomputes it."""
        with self._damaged_lock:
            self.damaged.append((tile.key, why))
            self.damaged_count += 1
        log.warning("score store %s: tile %s is damaged (%s); it is scored again", self.url, tile.key, why)

    @contextmanager
    def tile_lock(self, source_key: str, model: str, year: int, tile: Tile):
        """Hold the tile for a read-modify-write, so two runs over one tile never drop each other's patches.

        In-process with a lock per tile; across processes on a local store with an advisory file lock
        (``fcntl.flock``) beside the tile. On object storage a tile is one PUT: runs there should not
        overlap regions at the same time (the Dask run reads whole tiles only).
        """
        rel = self._tile_rel(source_key, model, year, tile)
        with _thread_lock(f"{self.url}/{rel}"):
            if not self.is_local:
                yield
                return
            import fcntl

            lock_path = self.root / (rel + ".lock")
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            with open(lock_path, "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    def write_tile(self, source_key: str, model: str, year: int, tile: Tile, gdf: pd.DataFrame) -> None:
        """The tile's scores, as plain columns: the patch squares follow from (epsg, row, col)."""
        rel = self._tile_rel(source_key, model, year, tile)
        table = pa.Table.from_pandas(pd.DataFrame(gdf.drop(columns="geometry", errors="ignore")), preserve_index=False)
        if self.is_local:
            with atomic_path(self.root / rel) as tmp:
                pq.write_table(table, tmp)
            return
        buf = io.BytesIO()
        pq.write_table(table, buf)
        # One whole-object write (a single PUT on object storage): readers see all of it or none.
        self._fs.pipe_file(self._fs_path(rel), buf.getvalue())

    def runs(self) -> pd.DataFrame:
        """What the store holds: one row per (source, model, year) with tile counts."""
        rows = []
        if self.is_local:
            for year_dir in self.root.glob("*/*/*"):
                if year_dir.is_dir():
                    files = [f for f in year_dir.glob("*.parquet") if not f.name.startswith(".")]
                    rows.append({
                        "source": year_dir.parent.parent.name, "model": year_dir.parent.name,
                        "year": year_dir.name, "tiles": len(files),
                    })
        else:
            counts: dict[tuple[str, str, str], int] = {}
            for path in self._fs.glob(self._fs_path("*/*/*/*.parquet")):
                source, model, year = path[len(self._base) + 1:].split("/")[:3]
                counts[(source, model, year)] = counts.get((source, model, year), 0) + 1
            rows = [{"source": s, "model": m, "year": y, "tiles": n} for (s, m, y), n in sorted(counts.items())]
        return pd.DataFrame(rows, columns=["source", "model", "year", "tiles"])


def _reopen(url: str, storage_options: dict[str, Any]) -> ScoreStore:
    return ScoreStore(url, **storage_options)
