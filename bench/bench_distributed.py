"""Tiles per second in-process and on local Dask clusters, and the size of a whole-basin run.

Run from the repository root:

    DETECTOR_MIRROR=/work/shared/amw python3 bench/bench_distributed.py [--tiles 4] [--model NAME]
        [--skip-basin] [--basin-only] [--old-grid-zone 20]

It builds a synthetic 12-band Sentinel-2-like GeoTIFF covering tiles × tiles whole grid tiles
(1,024 patches each; 4 × 4 = 16 tiles by default) and a region that needs exactly those tiles,
then scores it into a fresh store each time:

* in-process: ``Detector(model).run`` (model loaded and traced beforehand), first and again
  last (the ratios use the better of the two: the machine may be shared);
* Dask, 1 worker (2 threads, TensorFlow 2 threads), then 2 workers (1 thread each) with
  TensorFlow at 1 thread per worker (what ``--workers 2`` sets on 2 cores) and at TensorFlow's
  default (every worker uses all cores); every worker has loaded and traced the model before
  the clock starts (cluster start and model load are reported apart).

Every run's scores are compared with the in-process run (they must be identical). Then it
computes the Amazon basin's tiles and patches for a year (``grid.region_covers``) and, with
``--old-grid-zone Z``, times the former patch-level grid on that one UTM zone (needs ~16 GB).
Figures are printed as Markdown tables with the CPU share other processes took meanwhile.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from isolate import ROOT, isolate  # bench/ is on sys.path when run as a script

_TMP = isolate("bench_distributed_")

import numpy as np
import pandas as pd
import psutil
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from rasterio.windows import Window

from detector import distributed, grid, models
from detector.pipeline import Detector
from detector.region import geometry_from_geojson
from detector.sources import open_source
from detector.store import ScoreStore

YEAR = 2023
SCENE_CRS = "EPSG:32718"
TC0, TR0 = 78, -145  # the first tile (column, row) of the block, in UTM 18's grid
BANDS_12 = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8A", "B8", "B9", "B11", "B12"]
_SPECTRA = {
    "forest": (1300, 1000, 900, 600, 1000, 2200, 2600, 2900, 2700, 900, 1500, 700),
    "soil": (1500, 1400, 1500, 1700, 1900, 2100, 2200, 2400, 2300, 900, 3000, 2500),
    "pool": (1400, 1300, 1400, 1300, 1200, 1000, 950, 900, 900, 400, 600, 400),
}
BASIN = Path(os.environ.get("DETECTOR_MIRROR", ROOT.parent / "shared" / "amw")) / "boundaries" / "amazon_basin.geojson"


def block_scene(path: Path, n: int) -> tuple[Path, dict]:
    """A GeoTIFF over n × n whole tiles, and the region whose tiles are exactly those."""
    tile_m = grid.TILE * grid.STRIDE_M
    x0 = TC0 * tile_m
    ytop_north = (TR0 + n) * tile_m + grid.STRIDE_M  # a tile raster reaches 240 m past its last patch row
    size = n * grid.TILE * grid.STRIDE_PX + grid.STRIDE_PX
    rng = np.random.default_rng(0)
    spec = {k: np.array(v, np.float32)[:, None, None] for k, v in _SPECTRA.items()}
    profile = {"driver": "GTiff", "width": size, "height": size, "count": len(BANDS_12), "dtype": "uint16",
               "crs": SCENE_CRS, "transform": from_origin(x0, ytop_north + 10_000_000, 10, 10), "tiled": True}
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, size, 512):
            h = min(512, size - r0)
            data = spec["forest"] + rng.normal(0, 80, (len(BANDS_12), h, size)).astype(np.float32)
            for _ in range(h * size // 1500):
                kind = "soil" if rng.random() < 0.5 else "pool"
                cy, cx, r = int(rng.integers(0, h)), int(rng.integers(0, size)), int(rng.integers(2, 8))
                ys, xs = slice(max(cy - r, 0), min(cy + r + 1, h)), slice(max(cx - r, 0), min(cx + r + 1, size))
                yy, xx = np.ogrid[ys, xs]
                win = data[:, ys, xs]
                win[:, (yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = spec[kind][:, :, 0]
            dst.write(np.clip(data, 1, 10000).astype(np.uint16), window=Window(0, r0, size, h))
        for i, b in enumerate(BANDS_12, start=1):
            dst.set_band_description(i, b)
    # Region: from the first tile's first patch (less the 240 m its western/southern neighbours
    # reach into it) to the last tile's last patch start + 240 m: exactly n × n × 1,024 patches.
    ybot_north = TR0 * tile_m
    t = Transformer.from_crs(SCENE_CRS, "EPSG:4326", always_xy=True)
    xs = np.array([x0 + 240.01, x0 + n * tile_m - 0.01])
    ys = np.array([ybot_north + 240.01, ybot_north + n * tile_m - 0.01]) + 10_000_000
    lon, lat = t.transform(xs[[0, 1, 1, 0, 0]], ys[[0, 0, 1, 1, 0]])
    return path, {"type": "Polygon", "coordinates": [list(map(list, zip(lon, lat)))]}


class Cpu:
    """This benchmark's CPU (itself and its worker processes) and everyone else's, during a measurement."""

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._busy(), self._own()

    @staticmethod
    def _busy() -> float:
        f = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in f[:8])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own() -> float:
        me = psutil.Process()
        total = sum(me.cpu_times()[:2])
        for child in me.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.NoSuchProcess:
                pass
        return total

    def others(self) -> float:
        wall = time.perf_counter() - self.t0
        return max(0.0, 100 * ((self._busy() - self.busy0) - (self._own() - self.own0)) / (wall * os.cpu_count()))


def scores_of(store: ScoreStore) -> pd.Series:
    frames = [pd.read_parquet(p, columns=["patch_id", "score"]) for p in Path(store.root).rglob("*.parquet")]
    return pd.concat(frames).set_index("patch_id")["score"].sort_index()


def warm(recipe: distributed.Recipe) -> str:
    """On a worker: load the model and trace its predict function, as a long run would have."""
    det, _ = distributed._worker_state(recipe)
    det.scorer.score(np.zeros((grid.TILE * grid.TILE, 48, 48, len(det.spec.bands)), np.float32))
    return distributed._device()


def run_cluster(name: str, workers: int, threads: int, tf_threads: int | None, region, tif: Path, model: str,
                ref: pd.Series) -> dict:
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, dashboard_address=":0",
                      silence_logs=50) as cluster, Client(cluster) as client:
        started = time.perf_counter() - t0
        spec, source = models.resolve(model), open_source(str(tif))
        store = ScoreStore(_TMP / f"store-{name}")
        t1 = time.perf_counter()
        client.run(warm, distributed.make_recipe(spec, store, source, YEAR, tf_threads=tf_threads))
        warmed = time.perf_counter() - t1
        cpu = Cpu()
        run = distributed.run(client, region, YEAR, source, spec, store, tf_threads=tf_threads)
        seconds, others = run.summary.seconds, cpu.others()
    assert not run.failed, run.failed
    got = scores_of(store)
    return {"what": name, "tiles": run.summary.tiles, "patches": run.summary.scored_now, "seconds": seconds,
            "per_tile": float(np.median(run.tile_seconds)), "start": started, "warm": warmed, "others": others,
            "diff": float(np.nanmax(np.abs(got.to_numpy() - ref.to_numpy()))) if got.index.equals(ref.index) else "ids differ"}


_BASIN_CODE = """
import json, sys, time
from detector import grid
from detector.region import area_km2, load_region
region = load_region(sys.argv[1], float("inf"))
old_zone = int(sys.argv[2])
t = time.perf_counter()
if old_zone:
    zps = grid.patches_for_region(grid.zone_parts(region)[old_zone])
    tiles, patches, outline = sum(len(zp.by_tile()) for zp in zps), sum(len(zp.rows) for zp in zps), None
else:
    covers = grid.region_covers(region)
    tiles, patches = len(covers), sum(c.n_patches for c in covers)
    outline = sum(c.mask is not None for c in covers)
dt = time.perf_counter() - t
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec.
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"km2": area_km2(region), "zones": len(grid.zone_parts(region)), "tiles": tiles,
                  "patches": patches, "outline": outline, "seconds": dt, "rss_gb": hwm_kb * 1024 / 1e9}))
"""


BASIN_HEADER = ("| region | grid | tiles | patches | outline tiles (with a mask) | seconds "
                "| peak RSS GB (whole process: Python, imports, region, grid) |\n|---|---|---:|---:|---:|---:|---:|\n")


def basin(old_zone: int | None) -> tuple[list[str], int, int]:
    """The basin's grid in a fresh process of its own, so that its peak memory is its own."""
    import json
    import subprocess

    def measure(zone: int) -> dict:
        out = subprocess.run([sys.executable, "-c", _BASIN_CODE, str(BASIN), str(zone)], cwd=ROOT,
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    m = measure(0)
    lines = [(f"| Amazon basin, whole ({m['km2']:,.0f} km², {m['zones']} UTM zones) | `grid.region_covers` "
              f"| {m['tiles']:,} | {m['patches']:,} | {m['outline']:,} | {m['seconds']:.1f} | {m['rss_gb']:.2f} |")]
    if old_zone:
        o = measure(old_zone)
        lines.append(f"| Amazon basin, zone {old_zone} only | former patch-level grid (`patches_for_region` + "
                     f"`by_tile`) | {o['tiles']:,} | {o['patches']:,} | – | {o['seconds']:.1f} | {o['rss_gb']:.2f} |")
    return lines, m["tiles"], m["patches"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiles", type=int, default=4, help="tiles per side of the scene (default 4: 16 tiles)")
    ap.add_argument("--model", default="48px_v3.2-3.7ensemble")
    ap.add_argument("--skip-basin", action="store_true")
    ap.add_argument("--old-grid-zone", type=int, default=None, help="also time the former grid on this UTM zone")
    ap.add_argument("--basin-only", action="store_true", help="only the basin's grid, no scoring runs")
    args = ap.parse_args(argv)
    if args.basin_only:
        lines, _, _ = basin(args.old_grid_zone)
        print(BASIN_HEADER + "\n".join(lines))
        return 0
    import tensorflow as tf

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{models.describe_device()}; Python {platform.python_version()}, TensorFlow {tf.__version__}")
    try:
        tif, region_json = block_scene(_TMP / "block.tif", args.tiles)
        region = geometry_from_geojson(region_json)

        # in-process baseline (model loaded and traced first), measured first and again last:
        # the machine may be shared, and the ratios use the better of the two.
        det = Detector(args.model)
        det.scorer.score(np.zeros((grid.TILE * grid.TILE, 48, 48, len(det.spec.bands)), np.float32))

        def in_process(label: str, k: int) -> dict:
            det.store = ScoreStore(_TMP / f"store-in-process-{k}")
            cpu = Cpu()
            res = det.run(region, YEAR, open_source(str(tif)), limit_km2=float("inf"))
            assert res.summary.scored_now == args.tiles ** 2 * grid.TILE ** 2, res.summary
            got = scores_of(det.store)
            return {"what": label, "tiles": res.summary.tiles, "patches": res.summary.scored_now,
                    "seconds": res.summary.seconds, "per_tile": None, "start": 0.0, "warm": 0.0,
                    "others": cpu.others(), "scores": got}

        first = in_process("in-process (`Detector.run`, TensorFlow default threads)", 1)
        ref = first.pop("scores")
        first["diff"] = 0.0
        rows = [first]
        rows.append(run_cluster("Dask, 1 worker × 2 threads, TensorFlow 2 threads", 1, 2, 2, region, tif, args.model, ref))
        rows.append(run_cluster("Dask, 2 workers × 1 thread, TensorFlow 1 thread each (`--workers 2`)", 2, 1, 1,
                                region, tif, args.model, ref))
        rows.append(run_cluster("Dask, 2 workers × 1 thread, TensorFlow default threads (2 each)", 2, 1, None,
                                region, tif, args.model, ref))
        last = in_process("in-process again, after the cluster runs", 2)
        got = last.pop("scores")
        last["diff"] = float(np.nanmax(np.abs(got.to_numpy() - ref.to_numpy())))
        rows.append(last)
        base_tps = max(r["tiles"] / r["seconds"] for r in (first, last))

        print(f"\nmodel {args.model}; {args.tiles}×{args.tiles} = {args.tiles ** 2} whole tiles, "
              f"{first['patches']:,} patches, GeoTIFF source, fresh store each run\n")
        print("| run | tiles | patches | seconds | tiles/s | patches/s | × in-process (better of its two runs) "
              "| median s/tile on a worker | cluster start s | model load + trace s | max abs Δscore vs in-process "
              "| others' CPU |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            tps = r["tiles"] / r["seconds"]
            print(f"| {r['what']} | {r['tiles']} | {r['patches']:,} | {r['seconds']:.1f} | {tps:.3f} "
                  f"| {r['patches'] / r['seconds']:.0f} | {tps / base_tps:.2f} "
                  f"| {'–' if r['per_tile'] is None else format(r['per_tile'], '.2f')} | {r['start']:.1f} | {r['warm']:.1f} | {r['diff']} | {r['others']:.0f} % |")

        if not args.skip_basin:
            lines, n_tiles, _ = basin(args.old_grid_zone)
            print("\n" + BASIN_HEADER + "\n".join(lines))
            print("\nWhole-basin scoring time implied by the rows above (one year, this CPU, imagery fetch not included):\n")
            print("| run | tiles/s | basin hours |")
            print("|---|---:|---:|")
            for r in rows:
                tps = r["tiles"] / r["seconds"]
                print(f"| {r['what']} | {tps:.3f} | {n_tiles / tps / 3600:,.0f} |")
    finally:
        shutil.rmtree(_TMP, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
