"""What a grid tile costs to read from Sentinel-2 products, against the same pixels as one GeoTIFF.

Run from the repository root:

    python3 bench/bench_products.py [--px 1584] [--products 4] [--repeat 3]

Builds, in a temporary folder, synthetic L1C products in the Data Space layout (tests/s2_products.py:
13 lossless JPEG 2000 bands at 10/20/60 m in 1024-px JP2 tiles as ESA writes them, the cloud mask)
over ``--px`` × ``--px`` pixels, and the stacked 13-band GeoTIFF of the same pixels. Then reads
every grid tile over it (all 13 bands, best of ``--repeat``):

* the stacked GeoTIFF (the baseline),
* one product (``.SAFE`` folder), and the same product as a ``.zip`` (read through /vsizip/),
* ``--products`` products of a period (per-pixel median of their masked scenes),
* the product read again through the pixel cache (what a second model or a re-run pays).

Figures are printed as a Markdown table with ratios against the GeoTIFF baseline.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np
import rasterio
from s2_products import BANDS_13, truth, write_product
from shapely.geometry import shape
from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, SHUFFLED, lonlat_box, write_geotiff

from detector import grid
from detector.sources import CachedSource, PixelCache
from detector.sources.local import LocalSource
from report import best_seconds, print_ratio_table


def timed(source, tiles, repeat: int) -> float:
    """Best seconds per tile over ``repeat`` passes."""
    return best_seconds(lambda: [source.read(tile, list(BANDS_13), 2023) for tile in tiles], repeat) / len(tiles)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--px", type=int, default=1584, help="scene side in 10 m pixels (a multiple of 6)")
    ap.add_argument("--products", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    px = args.px // 6 * 6
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        src_tif = write_geotiff(tmp / "src.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, px, px, bands=SHUFFLED)
        data, profile = truth(src_tif)
        stacked = tmp / "stacked.tif"
        with rasterio.open(stacked, "w", **{**profile, "count": 13, "tiled": True, "blockxsize": 512,
                                            "blockysize": 512}) as dst:
            dst.write(data)
            for i, b in enumerate(BANDS_13, start=1):
                dst.set_band_description(i, b)
        one = write_product(tmp / "one", data, profile)
        zipped = write_product(tmp / "zip", data, profile, as_zip=True)
        rng = np.random.default_rng(1)
        for i in range(args.products):
            clouds = rng.random((px // 6, px // 6)) < 0.2
            write_product(tmp / "period", data, profile, date=f"2023-{i + 3:02d}-15", clouds60=clouds,
                          tile_id=f"T18LX{i}")
        build = time.perf_counter() - t0
        region = shape(lonlat_box(SCENE_CRS, SCENE_X0, SCENE_YTOP - px * 10, SCENE_X0 + px * 10, SCENE_YTOP))
        tiles = [c.tile for c in grid.region_covers(region)]
        cache = CachedSource(LocalSource(one), PixelCache(tmp / "pixels"))
        cache.read(tiles[0], list(BANDS_13), 2023)  # warm the first tile's entry, then all of them
        for tile in tiles:
            cache.read(tile, list(BANDS_13), 2023)
        rows = [
            ("stacked GeoTIFF (baseline)", timed(LocalSource(stacked), tiles, args.repeat)),
            ("one product (.SAFE folder)", timed(LocalSource(one), tiles, args.repeat)),
            ("one product (.zip)", timed(LocalSource(zipped), tiles, args.repeat)),
            (f"{args.products} products, median", timed(LocalSource(tmp / "period"), tiles, args.repeat)),
            ("one product, from the pixel cache", timed(cache, tiles, args.repeat)),
        ]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"rasterio {rasterio.__version__} (GDAL {rasterio.__gdal_version__}); scene {px} × {px} px "
          f"({len(tiles)} grid tiles of {grid.TILE_PX} px, 13 bands); build {build:.1f} s\n")
    print_ratio_table("read of one grid tile", "ms per tile", rows, digits=0)


if __name__ == "__main__":
    main()
