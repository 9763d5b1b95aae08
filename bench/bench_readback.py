"""A region's scores read back from the store (reopen, collect, a warm re-run), in tiles/s.

Run from the repository root:

    python3 bench/bench_readback.py [--side 6] [--repeat 5]

Fills a store with ``--side`` × ``--side`` whole tiles (1,024 patches each, six member scores, as the
ensemble writes them) and reads the region back: the old way (GeoParquet tile files, one
``gpd.read_parquet`` each, concatenated), tile by tile with today's reader, and in columnar scans
(:meth:`ScoreStore.scan`), with and without patch ids and squares. Best of ``--repeat``, one process.
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
import pandas as pd  # noqa: E402

from detector import grid, readback  # noqa: E402
from detector.concurrency import bounded_map  # noqa: E402
from detector.pipeline import _tile_frame  # noqa: E402
from detector.store import ScoreStore  # noqa: E402
from report import best_seconds  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    covers = [grid.TileCover(grid.Tile(32721, -370 + r, 30 + c)) for r in range(args.side) for c in range(args.side)]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = ScoreStore(tmp / "scores")
        old = tmp / "old"
        old.mkdir()
        for cv in covers:
            rows, cols = cv.patches()
            frame = _tile_frame(6, cv.tile, rows, cols, np.ones(len(rows), bool), rng.random((len(rows), 6), np.float32))
            frame["valid_fraction"] = np.float32(1)
            store.write_tile("k", "m", 2023, cv.tile, frame)
            grid.squares(frame).to_parquet(old / f"{cv.tile.key}.parquet", index=False)  # the layout before

        def old_way():
            parts = [f.result() for _, f in bounded_map(lambda cv: gpd.read_parquet(old / f"{cv.tile.key}.parquet"),
                                                        covers, readback.IO_THREADS)]
            return pd.concat(parts, ignore_index=True)

        def one_by_one():
            return [f.result() for _, f in bounded_map(
                lambda cv: store.read_tile("k", "m", 2023, cv.tile, geometry=False), covers, readback.IO_THREADS)]

        n = len(covers)
        kept = len(readback.read_region(store, "k", "m", 2023, covers, min_score=0.7).patches)
        rows_out = [
            ("old: GeoParquet tiles, gpd.read_parquet each (8 threads)", best_seconds(old_way, args.repeat)),
            ("read_tile one by one, scores only (8 threads)", best_seconds(one_by_one, args.repeat)),
            ("read_region, columnar scan, scores only",
             best_seconds(lambda: readback.read_region(store, "k", "m", 2023, covers, geometry=False), args.repeat)),
            ("read_region, columnar scan, with ids and squares",
             best_seconds(lambda: readback.read_region(store, "k", "m", 2023, covers), args.repeat)),
            (f"read_region, score ≥ 0.7 ({kept:,} patches) with squares",
             best_seconds(lambda: readback.read_region(store, "k", "m", 2023, covers, min_score=0.7), args.repeat)),
        ]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{n} whole tiles, {n * grid.TILE * grid.TILE:,} patches, 6 members\n")
    base = rows_out[0][1]
    print("| read-back | ms per tile | tiles/s | × old |")
    print("|---|---:|---:|---:|")
    for name, sec in rows_out:
        print(f"| {name} | {sec / n * 1000:.2f} | {n / sec:,.0f} | {base / sec:.1f} |")


if __name__ == "__main__":
    main()
