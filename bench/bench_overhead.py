"""The pipeline's own cost per tile, with a stand-in model whose arithmetic costs nothing.

Run from the repository root:

    python3 bench/bench_overhead.py [--tiles 3] [--profile]

Builds, in a temporary folder, a synthetic 12-band GeoTIFF on the grid's lattice covering
``--tiles`` × ``--tiles`` grid tiles, and a stand-in Keras model (one 1×1 convolution and a
global mean: the published input shape, next to no arithmetic). Then, in one process:

* cold: every tile read, windowed, scored and stored (ms per tile, tiles/s);
* warm: the same region again, every tile from the score store;
* the stand-in model alone on the same number of windows, already where the model runs (what the
  engine's cut leaves it to do), to subtract; and, for reference, the same windows scored from the
  host (``Scorer.score``: TensorFlow copies each batch in).

``--profile`` scores the tiles once more, one after another in this thread on an empty store, and
prints the top functions by own time (cProfile sees only its own thread, so not the run's pool).
"""
from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np  # noqa: E402


def _noise_geotiff(path: Path, x0: float, ytop: float, px: int, bands) -> Path:
    """A tiled 12-band UInt16 GeoTIFF of plausible DN noise: reading it costs what a real file costs."""
    import rasterio
    from rasterio.transform import from_origin

    profile = dict(driver="GTiff", width=px, height=px, count=len(bands), dtype="uint16", crs="EPSG:32721",
                   transform=from_origin(x0, ytop, 10, 10), tiled=True, blockxsize=512, blockysize=512)
    rng = np.random.default_rng(0)
    with rasterio.open(path, "w", **profile) as dst:
        for i, b in enumerate(bands, start=1):
            dst.write(rng.integers(200, 4000, (px, px), dtype=np.uint16), i)
            dst.set_band_description(i, b)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiles", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["DETECTOR_DATA_DIR"] = str(tmp / "data")
        from shapely.geometry import box
        from synthetic import BANDS_12

        from detector import grid
        from detector.pipeline import Detector
        from detector.sources.local import LocalSource
        from detector.store import ScoreStore

        tile0 = grid.Tile(32721, -370, 30)  # southern UTM 21 as the grid has it (negative northings)
        x0, ytop = tile0.transform.c, tile0.transform.f + 10_000_000.0  # the file in EPSG:32721
        px = args.tiles * grid.TILE * grid.STRIDE_PX
        tif = _noise_geotiff(tmp / "scene.tif", x0, ytop, px, BANDS_12)
        import tf_keras as K

        model = K.Sequential([K.layers.Input((48, 48, 12)), K.layers.Conv2D(1, 1, activation="sigmoid"),
                              K.layers.GlobalAveragePooling2D()])
        stand_in = tmp / "standin.h5"
        model.save(stand_in)
        from rasterio.warp import transform_bounds

        inner = 1200.0  # stay inside the file: whole tiles of patches
        region = box(*transform_bounds("EPSG:32721", "EPSG:4326", x0 + inner, ytop - px * 10 + inner,
                                       x0 + px * 10 - inner, ytop - inner))
        det = Detector(str(stand_in), store=ScoreStore(tmp / "scores"))
        source = LocalSource(tif)
        det.scorer.score(np.zeros((8, 48, 48, 12), np.float32))  # load and first call outside the timing
        t0 = time.perf_counter()
        cold = det.run(region, 2023, source)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm = det.run(region, 2023, source)
        warm_s = time.perf_counter() - t0
        n = cold.summary.scored_now
        x = np.random.default_rng(0).integers(200, 4000, (min(n, 4096), 48, 48, 12)).astype(np.float32)
        t0 = time.perf_counter()
        det.scorer.score(x)
        host_s = (time.perf_counter() - t0) * n / len(x)
        rt = det.scorer.engine.rt  # the model alone: windows already where the model runs, full batches
        ready = [rt.concat([rt.put(x[i:i + det.scorer.batch_size])]) for i in range(0, len(x), det.scorer.batch_size)]
        t0 = time.perf_counter()
        for w in ready:
            rt.score(w)
        model_s = (time.perf_counter() - t0) * n / len(x)
        tiles = cold.summary.tiles
        prof = None
        if args.profile:
            from detector.pipeline import score_tile

            prof, det.store = cProfile.Profile(), ScoreStore(tmp / "scores-profile")
            imagery = det.imagery(source)
            prof.enable()
            for tile, (rows, cols) in grid.tiles_for_region(region).items():
                score_tile(det, imagery, 2023, tile, rows, cols)
            prof.disable()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{tiles} tiles, {n:,} patches, stand-in model (1×1 conv)\n")
    print("| what | ms per tile | tiles/s |")
    print("|---|---:|---:|")
    for name, sec in (("cold run, all of it", cold_s),
                      ("stand-in model on host windows (Scorer.score: copy in, batches of 512)", host_s),
                      ("stand-in model alone (windows already on the device, same patches)", model_s),
                      ("cold run minus the model: the pipeline's own cost", cold_s - model_s),
                      ("warm run (every tile from the store)", warm_s)):
        print(f"| {name} | {sec / tiles * 1000:.1f} | {tiles / sec:.1f} |")
    assert warm.summary.scored_now == 0
    if prof:
        print()
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
