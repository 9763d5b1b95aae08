"""Throughput of the detector pipeline against the model alone and a naive per-patch loop.

Run from the repository root:

    DETECTOR_MIRROR=/work/shared/amw python3 bench/bench_pipeline.py [--model NAME] [--km 6] [--naive-n 300]

It builds a synthetic 13-band Sentinel-2-like GeoTIFF (forest with mine-like scars, as in
tests/conftest.py) of about km × km in a temporary folder, points DETECTOR_DATA_DIR at an
empty temporary store, and for each model measures, in one process:

* pipeline, cold store: ``Detector(model).run(region, 2023, open_source(tif))`` with nothing
  stored (model already loaded, first predict call already made), best of 2 runs each into a
  fresh empty store, patches/s = scored_now / s;
* pipeline, warm store: the same run again, every tile served from the score store;
* model alone: ``Scorer.score`` on the very same patches as one numpy array (best of 3);
* naive loop: one rasterio window read + ``model.predict(x[None], verbose=0)`` per patch, for
  the first --naive-n patches (the baseline), and the same loop calling ``model(x[None])``;
* for the ensemble, ``Scorer.score`` at several batch sizes (the pipeline uses 512).

Nothing in detector/ is changed; the figures are printed as Markdown tables, each row with the
CPU share other processes took meanwhile (the machine may be shared; rerun when it is not 0 %).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from isolate import isolate  # bench/ is on sys.path when run as a script
from report import best_seconds

_TMP = isolate("bench_pipeline_")

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from rasterio.windows import Window

from detector import grid, models
from detector.pipeline import Detector, covered, patch_windows
from detector.sources import open_source
from detector.store import ScoreStore

DEFAULT_MODELS = ["48px_v3.2-3.7ensemble", "48px_v3.7"]
BATCH_SIZES = [64, 256, 512, 1024]
YEAR = 2023

# ------------------------------------------------------------ synthetic scene (as tests/conftest.py)

BANDS_13 = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8A", "B8", "B9", "B10", "B11", "B12"]
# Typical top-of-atmosphere (L1C) reflectance DN of rain forest, bare mined soil and sediment pools.
_SPECTRA = {
    name: dict(zip(BANDS_13, dn))
    for name, dn in {
        "forest": (1300, 1000, 900, 600, 1000, 2200, 2600, 2900, 2700, 900, 15, 1500, 700),
        "soil": (1500, 1400, 1500, 1700, 1900, 2100, 2200, 2400, 2300, 900, 20, 3000, 2500),
        "pool": (1400, 1300, 1400, 1300, 1200, 1000, 950, 900, 900, 400, 12, 600, 400),
    }.items()
}
SCENE_CRS = "EPSG:32718"  # UTM 18S (Peruvian Amazon)
# Placed so that the region straddles a corner of four grid tiles (tile side 7.68 km, corner at
# x 606 720 m, y 8 894 080 m): the pipeline then reads and scores four tiles, as real regions do.
SCENE_X0, SCENE_YTOP, RES = 603_000.0, 8_897_000.0, 10.0
SOUTH_FALSE_NORTHING = 10_000_000.0


def write_geotiff(path: Path, width: int, height: int, x0: float, ytop: float, bands=BANDS_13, seed: int = 0) -> Path:
    """Forest with clusters of bare-soil scars and pools, uint16 DN, band descriptions set."""
    rng = np.random.default_rng(seed)
    spec = {k: np.array([v[b] for b in bands], float)[:, None] for k, v in _SPECTRA.items()}
    data = np.repeat(spec["forest"], height * width, axis=1).reshape(len(bands), height, width)
    data = data + rng.normal(0, 80, size=data.shape)
    for _ in range(max(2, width * height // 4000)):
        ccy, ccx = rng.integers(0, height), rng.integers(0, width)
        for _ in range(rng.integers(5, 20)):
            kind = "soil" if rng.random() < 0.5 else "pool"
            cy, cx, r = ccy + rng.integers(-30, 30), ccx + rng.integers(-30, 30), rng.integers(2, 6)
            r0, r1, c0, c1 = max(cy - r, 0), min(cy + r + 1, height), max(cx - r, 0), min(cx + r + 1, width)
            if r1 <= r0 or c1 <= c0:
                continue
            yy, xx = np.mgrid[r0:r1, c0:c1]
            blob = np.zeros((height, width), bool)
            blob[r0:r1, c0:c1] = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
            data[:, blob] = spec[kind] + rng.normal(0, 150, size=(len(bands), int(blob.sum())))
    data = np.clip(data, 1, 10000).astype(np.uint16)
    profile = {"driver": "GTiff", "width": width, "height": height, "count": len(bands), "dtype": "uint16",
               "crs": SCENE_CRS, "transform": from_origin(x0, ytop, RES, RES), "nodata": None}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for i, b in enumerate(bands, start=1):
            dst.set_band_description(i, b)
    return path


def lonlat_box(x0: float, y0: float, x1: float, y1: float) -> dict:
    """A GeoJSON polygon of a rectangle in the scene CRS, in lon/lat."""
    t = Transformer.from_crs(SCENE_CRS, "EPSG:4326", always_xy=True)
    lon, lat = t.transform(np.array([x0, x1, x1, x0, x0]), np.array([y0, y0, y1, y1, y0]))
    return {"type": "Polygon", "coordinates": [list(map(list, zip(lon, lat)))]}


# ------------------------------------------------------------ helpers

def machine_info() -> dict[str, str]:
    cpu = "unknown"
    family = model_no = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, val = line.partition(":")
            key, val = key.strip(), val.strip()
            if key == "model name" and cpu == "unknown":
                cpu = val
            elif key == "cpu family" and family is None:
                family = val
            elif key == "model" and model_no is None:
                model_no = val
    except OSError:
        pass
    if family is not None:
        cpu += f" (family {family}, model {model_no})"
    import tensorflow as tf
    import tf_keras

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu,
        "cores": f"{os.cpu_count()} logical ({usable} usable)",
        "python": platform.python_version(),
        "tensorflow": f"{tf.__version__} (tf_keras {tf_keras.__version__})",
        "device": models.describe_device(),
    }


def extract_windows(det: Detector, source, region: dict) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """The covered patches of the region as the pipeline would score them: (N, 48, 48, B), (epsg, row, col)."""
    from detector.region import load_region

    geom = load_region(region, None)
    wins, ids = [], []
    for tile, (rows, cols) in grid.tiles_for_region(geom).items():
        tp = source.read(tile, det.spec.bands, YEAR)
        ok = covered(tp.valid, tile, rows, cols)
        if ok.any():
            wins.append(patch_windows(tp.select(det.spec.bands), tile, rows[ok], cols[ok]))
            ids += [(tile.epsg, r, c) for r, c in zip(rows[ok].tolist(), cols[ok].tolist())]
    return np.concatenate(wins), ids


def naive_loop(tif: Path, model, bands, ids, call: bool) -> tuple[float, np.ndarray]:
    """One window read and one model call per patch; returns (seconds, member scores)."""
    out = []
    with rasterio.open(tif) as src:
        names = list(src.descriptions)
        idx = [names.index(b) + 1 for b in bands]
        t = src.transform
        t0 = time.perf_counter()
        for _, row, col in ids:
            # Patch (row, col) spans x from col·240 m, y down from row·240 + 480 m (northern definition).
            px_col = round((col * grid.STRIDE_M - t.c) / RES)
            px_row = round((t.f - SOUTH_FALSE_NORTHING - (row * grid.STRIDE_M + grid.PATCH_M)) / RES)
            a = src.read(idx, window=Window(px_col, px_row, grid.PATCH_PX, grid.PATCH_PX))
            x = np.clip(np.moveaxis(a, 0, -1).astype(np.float32) / models.SCALE, 0.0, 1.0)
            if call:
                y = model(x[None], training=False).numpy()
            else:
                y = model.predict(x[None], verbose=0)
            out.append(np.asarray(y)[0])
        secs = time.perf_counter() - t0
    return secs, np.array(out, dtype=np.float32)


class OtherCpu:
    """CPU time that other processes used while a measurement ran, in % of all cores.

    The machine may be shared (tests, other benches): a figure taken while others were busy is
    slower than the code is, and this says so.
    """

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._busy(), self._own()

    @staticmethod
    def _busy() -> float:
        try:
            f = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in f[:8])
            return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError):
            return float("nan")

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system

    def percent(self) -> float:
        wall = time.perf_counter() - self.t0
        others = (self._busy() - self.busy0) - (self._own() - self.own0)
        return max(0.0, 100.0 * others / (wall * (os.cpu_count() or 1)))


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


best_of = best_seconds  # the shared best-of timer (bench/report.py)


def fmt(x: float, nd: int = 2) -> str:
    return f"{x:,.{nd}f}"


# ------------------------------------------------------------ main

def bench_model(name: str, tif: Path, region: dict, naive_n: int, batch_sizes: list[int] | None,
                cold_repeats: int = 2) -> tuple[list, list, list[str]]:
    notes: list[str] = []
    rows: list[tuple] = []
    det = Detector(name)
    t0 = time.perf_counter()
    scorer = det.scorer
    notes.append(f"{name}: model load {time.perf_counter() - t0:.2f} s (excluded), {scorer.members} member output(s)")
    nb = len(det.spec.bands)
    # First predict calls trace the graph; make them before any timing (full and partial batch).
    t0 = time.perf_counter()
    scorer.score(np.full((scorer.batch_size + 7, 48, 48, nb), 1000, np.float32))
    notes.append(f"{name}: first Scorer.score call (graph tracing) {time.perf_counter() - t0:.2f} s (excluded)")

    # a. pipeline, cold store (best of `cold_repeats`, each into a fresh empty store) then warm store
    oc = OtherCpu()
    cold = float("inf")
    for k in range(cold_repeats):
        det.store = ScoreStore(Path(os.environ["DETECTOR_DATA_DIR"]) / f"scores-{name}-{k}")
        src = open_source(str(tif))
        t0 = time.perf_counter()
        res = det.run(region, YEAR, src)
        cold = min(cold, time.perf_counter() - t0)
        assert res.summary.from_store == 0, res.summary
    cold_oc = oc.percent()
    s = res.summary
    notes.append(f"{name}: region {s.tiles} tiles, {s.scored_now} patches scored, {s.not_covered} not covered; "
                 f"summary.seconds {s.seconds:.2f}")
    n = s.scored_now
    oc = OtherCpu()
    t0 = time.perf_counter()
    res2 = Detector(name, store=det.store).run(region, YEAR, open_source(str(tif)))
    warm = time.perf_counter() - t0
    warm_oc = oc.percent()
    assert res2.summary.scored_now == 0 and res2.summary.from_store == n, res2.summary

    # b. model alone on the same patches
    wins, ids = extract_windows(det, open_source(str(tif)), region)
    assert len(wins) == n, (len(wins), n)
    oc = OtherCpu()
    alone = best_of(lambda: scorer.score(wins), 3)
    alone_oc = oc.percent()
    members = scorer.score(wins)
    ref = res.patches.set_index("patch_id")["score"]
    pid = [grid.patch_id(*i) for i in ids]
    diff = float(np.max(np.abs(ref.loc[pid].to_numpy() - models.ensemble_mean(members))))
    notes.append(f"{name}: model-alone scores vs pipeline scores, max |diff| = {diff:.2e}")

    # c. naive per-patch loops (after a short warm-up of each call style)
    m = min(naive_n, n)
    naive_loop(tif, scorer.model, det.spec.bands, ids[:5], call=False)
    naive_loop(tif, scorer.model, det.spec.bands, ids[:5], call=True)
    oc = OtherCpu()
    naive_s, naive_scores = naive_loop(tif, scorer.model, det.spec.bands, ids[:m], call=False)
    naive_oc = oc.percent()
    oc = OtherCpu()
    call_s, call_scores = naive_loop(tif, scorer.model, det.spec.bands, ids[:m], call=True)
    call_oc = oc.percent()
    d2 = float(max(np.max(np.abs(naive_scores - members[:m])), np.max(np.abs(call_scores - members[:m]))))
    notes.append(f"{name}: naive-loop scores vs model-alone scores, max |diff| = {d2:.2e}")

    naive_rate = m / naive_s
    alone_rate = n / alone
    for what, count, secs, busy in [
        (f"pipeline, cold store (best of {cold_repeats})", n, cold, cold_oc),
        ("pipeline, warm store (all from store)", n, warm, warm_oc),
        ("model alone, Scorer.score (best of 3)", n, alone, alone_oc),
        ("naive loop, window read + model.predict", m, naive_s, naive_oc),
        ("naive loop, window read + model(x)", m, call_s, call_oc),
    ]:
        rate = count / secs
        rows.append((name, what, count, secs, rate, rate / naive_rate, rate / alone_rate, busy))

    batch_rows = []
    if batch_sizes:
        keep = scorer.batch_size
        for bs in batch_sizes:
            scorer.batch_size = bs
            scorer.score(wins[: 2 * bs])  # trace this batch shape first
            oc = OtherCpu()
            secs = best_of(lambda: scorer.score(wins), 2)
            batch_rows.append((name, bs, n, secs, n / secs, oc.percent()))
        scorer.batch_size = keep
    return rows, batch_rows, notes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", help="registered model name (repeatable); default: both "
                    + " and ".join(DEFAULT_MODELS))
    ap.add_argument("--km", type=float, default=6.0, help="side of the synthetic GeoTIFF in km (default 6)")
    ap.add_argument("--naive-n", type=int, default=300, help="patches in the naive per-patch loop (default 300)")
    ap.add_argument("--x0", type=float, default=SCENE_X0, help=f"west edge of the scene, {SCENE_CRS} m")
    ap.add_argument("--ytop", type=float, default=SCENE_YTOP, help=f"north edge of the scene, {SCENE_CRS} m")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    try:
        args = ap.parse_args(argv)
    except SystemExit:
        shutil.rmtree(_TMP, ignore_errors=True)
        raise
    names = args.model or DEFAULT_MODELS
    t_start = time.perf_counter()
    try:
        px = round(args.km * 1000 / RES)
        x0, ytop = args.x0, args.ytop
        tif = write_geotiff(_TMP / "scene.tif", px, px, x0, ytop)
        # Region: the scene less a 500 m margin, so every patch touching it lies inside the image.
        margin = 500.0
        side = px * RES
        region = lonlat_box(x0 + margin, ytop - side + margin, x0 + side - margin, ytop - margin)
        info = machine_info()
        print("# Detector pipeline benchmark\n")
        for k, v in info.items():
            print(f"- {k}: {v}")
        print(f"- load average at start: {loadavg()}")
        print(f"- scene: synthetic 13-band GeoTIFF {px}×{px} px ({args.km:g}×{args.km:g} km, {SCENE_CRS} "
              f"x0 {x0:.0f} ytop {ytop:.0f}, 10 m); "
              f"region {side / 1000 - 2 * margin / 1000:g}×{side / 1000 - 2 * margin / 1000:g} km inside it; "
              f"naive loop on the first {args.naive_n} patches")
        print(f"- store: empty temporary DETECTOR_DATA_DIR ({os.environ['DETECTOR_DATA_DIR']})\n")
        sys.stdout.flush()

        rows, brows, notes = [], [], []
        for name in names:
            sizes = BATCH_SIZES if models.resolve(name).ensemble > 1 else None
            r, b, nt = bench_model(name, tif, region, args.naive_n, sizes)
            rows += r
            brows += b
            notes += nt

        print("| model | what | patches | seconds | patches/s | × naive loop | × model alone | others' CPU |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for name, what, count, secs, rate, vs_naive, vs_alone, busy in rows:
            print(f"| {name} | {what} | {count:,} | {fmt(secs)} | {fmt(rate, 1)} "
                  f"| {fmt(vs_naive, 1)} | {fmt(vs_alone, 2)} | {busy:.0f} % |")
        if brows:
            print("\nScorer.score batch size (the pipeline uses 512), best of 2:\n")
            print("| model | batch size | patches | seconds | patches/s | others' CPU |")
            print("|---|---:|---:|---:|---:|---:|")
            for name, bs, count, secs, rate, busy in brows:
                print(f"| {name} | {bs} | {count:,} | {fmt(secs)} | {fmt(rate, 1)} | {busy:.0f} % |")
            for name in dict.fromkeys(r[0] for r in brows):
                best = max((r for r in brows if r[0] == name), key=lambda r: r[4])
                print(f"\nFastest batch size for {name}: {best[1]} ({fmt(best[4], 1)} patches/s)")
        print("\nothers' CPU: CPU time other processes used during that measurement, in % of all cores "
              "(from /proc/stat less this process); near 0 % means the figure is clean.")
        print("\nNotes:")
        for n in notes:
            print(f"- {n}")
        print(f"\nLoad average at end: {loadavg()}")
        print(f"Total bench time {time.perf_counter() - t_start:.1f} s")
    finally:
        if not args.keep:
            shutil.rmtree(_TMP, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
