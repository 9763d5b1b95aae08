"""One score-store tile (1,024 patches, a six-member ensemble) written and read, old layout against new.

Run from the repository root:

    python3 bench/bench_store.py [--repeat 20]

The old layout is GeoParquet with each patch's square (what the store wrote before issue 15); the new
one holds plain columns and rebuilds squares from (row, col) where a reader wants them. Best of
``--repeat``, one process; a Markdown table with ratios against the old read.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402

from detector import grid  # noqa: E402
from detector.pipeline import _tile_frame  # noqa: E402
from detector.store import ScoreStore  # noqa: E402
from report import best_seconds, print_ratio_table  # noqa: E402


def best_ms(fn, repeat: int) -> float:
    return best_seconds(fn, repeat) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    tile = grid.Tile(32619, -60, 10)
    rows, cols = np.mgrid[tile.trow * grid.TILE:(tile.trow + 1) * grid.TILE, tile.tcol * grid.TILE:(tile.tcol + 1) * grid.TILE]
    rows, cols = rows.ravel(), cols.ravel()
    members = np.random.default_rng(0).random((len(rows), 6)).astype(np.float32)
    frame = _tile_frame(6, tile, rows, cols, np.ones(len(rows), bool), members)
    frame["valid_fraction"] = np.float32(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = ScoreStore(tmp / "scores")
        old = tmp / "old.parquet"
        frame.to_parquet(old, index=False)
        store.write_tile("k", "m", 2023, tile, frame)
        rows_out = [
            ("old: gpd.read_parquet (GeoParquet)", best_ms(lambda: gpd.read_parquet(old), args.repeat)),
            ("new: read_tile, squares rebuilt", best_ms(lambda: store.read_tile("k", "m", 2023, tile), args.repeat)),
            ("new: read_tile, patch_id + score only",
             best_ms(lambda: store.read_tile("k", "m", 2023, tile, columns=["patch_id", "score"]), args.repeat)),
            ("old: GeoDataFrame.to_parquet", best_ms(lambda: frame.to_parquet(tmp / "x.parquet", index=False), args.repeat)),
            ("new: write_tile (atomic)", best_ms(lambda: store.write_tile("k", "m", 2023, tile, frame), args.repeat)),
        ]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"one tile of {len(rows):,} patches, 6 members\n")
    print_ratio_table("operation", "ms", [(name, ms / 1000) for name, ms in rows_out], base_label="× old read")


if __name__ == "__main__":
    main()
