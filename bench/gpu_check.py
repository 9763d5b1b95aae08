"""One-command GPU check: the published ensemble on whichever Keras 3 backend the machine has.

    bash bench/gpu.sh            # or: python3 bench/gpu_check.py [--backend jax|torch] [--tiles 8]

For a machine with a GPU, PyTorch or JAX, no TensorFlow and no network. It installs nothing:
keras (pure Python) and what it needs that the machine lacks may be carried as wheels in
``.whl/`` (put on ``sys.path``). It loads the ensemble with :mod:`detector.backends` (the
detector package's heavy imports are skipped), then prints patches/s for

* the model alone: full batches of ready (N, 48, 48, 12) float32 inputs;
* windows from the host: synthetic 792 × 792 px tile rasters in DN, cut into the grid's 1,024
  windows per tile on the host, scaled and clipped, sent to the model batch by batch (the path
  before the scoring engine);
* the pipeline's path, :mod:`detector.engine`: each tile raster made model input on the host
  (scaled and clipped per pixel), sent to the device from two tile threads at once, its windows
  cut there, batches across tiles;

and their ratios to the model alone. Synthetic pixels: the figures are speed, not accuracy.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for wheel in sorted((ROOT / ".whl").glob("*.whl")):
    sys.path.append(str(wheel))
# detector.backends needs only detector.errors: skip the package's __init__ (geopandas, rasterio, …).
_pkg = types.ModuleType("detector")
_pkg.__path__ = [str(ROOT / "detector")]
sys.modules.setdefault("detector", _pkg)

import numpy as np

from detector import backends, engine

TILE_PX, PATCH, STRIDE, PER_SIDE = 792, 48, 24, 32


def pick(requested: str) -> str:
    if requested != "auto":
        return requested
    for name in ("jax", "torch"):
        if importlib.util.find_spec(name):
            return name
    sys.exit("Neither jax nor torch is installed: nothing for Keras 3 to run on.")


def windows(tile: np.ndarray) -> np.ndarray:
    """The grid's 32 × 32 windows of one tile raster (a strided view, then one copy)."""
    view = np.lib.stride_tricks.sliding_window_view(tile, (PATCH, PATCH), axis=(0, 1))[::STRIDE, ::STRIDE]
    return np.ascontiguousarray(view[:PER_SIDE, :PER_SIDE].transpose(0, 1, 3, 4, 2).reshape(-1, PATCH, PATCH, tile.shape[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="auto", choices=["auto", "jax", "torch"])
    ap.add_argument("--tiles", type=int, default=8)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--model", default=None, help="the ensemble .h5 (default: the mirror's)")
    args = ap.parse_args()
    backend = pick(args.backend)
    mirror = Path(os.environ.get("DETECTOR_MIRROR") or ROOT.parent / "shared" / "amw")
    path = Path(args.model) if args.model else mirror / "models" / "48px_v3.2-3.7ensemble_2024-02-13.h5"
    t0 = time.perf_counter()
    model = backends.load_h5(path, backend)
    load_s = time.perf_counter() - t0
    print(f"backend {backend}; device {backends.device(backend)}; model {path.name} loaded in {load_s:.1f} s")
    rng = np.random.default_rng(0)
    tiles = [rng.integers(200, 4000, size=(TILE_PX, TILE_PX, 12)).astype(np.float32) for _ in range(args.tiles)]
    ready = np.clip(windows(tiles[0]) / 10_000.0, 0, 1).astype(np.float32)
    model.predict_on_batch(ready[: args.batch])  # compile / warm up
    t0 = time.perf_counter()
    for _ in range(args.tiles):
        for i in range(0, len(ready), args.batch):
            np.asarray(model.predict_on_batch(ready[i : i + args.batch]))
    alone = args.tiles * len(ready) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for tile in tiles:
        x = np.clip(windows(tile) / 10_000.0, 0, 1).astype(np.float32)
        for i in range(0, len(x), args.batch):
            np.asarray(model.predict_on_batch(x[i : i + args.batch]))
    piped = args.tiles * len(ready) / (time.perf_counter() - t0)
    eng = engine.Engine(engine.runtime(model, backend, 12), int(model.output_shape[-1]), args.batch)
    at = np.arange(PER_SIDE) * STRIDE
    pr, pc = (a.ravel() for a in np.meshgrid(at, at, indexing="ij"))
    eng.score(np.clip(tiles[0] / 10_000.0, 0, 1).astype(np.float32), pr, pc)  # trace the cut
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda t: eng.score(np.clip(t / 10_000.0, 0, 1).astype(np.float32), pr, pc), tiles))
    served = args.tiles * len(ready) / (time.perf_counter() - t0)
    print("| what | patches/s | × model alone |\n|---|---:|---:|")
    print(f"| model alone ({backend}), ready batches of {args.batch} | {alone:,.0f} | 1.00 |")
    print(f"| windows cut on the host, sent batch by batch | {piped:,.0f} | {piped / alone:.2f} |")
    print(f"| the pipeline's engine: rasters to the device, windows cut there | {served:,.0f} | {served / alone:.2f} |")


if __name__ == "__main__":
    main()
