"""What a region costs to read and to grid, for the regions visitors can upload.

Run from the repository root:

    python3 bench/bench_region.py [--repeat 3]

Measured in one process, best of ``--repeat``:

* ``grid.region_covers`` (the grid every run uses) against ``grid.patches_for_region`` (the
  patch-by-patch reference it must agree with) on a region of many small parts, the shape that
  made the grid slow: its patch sets are checked equal in the same run;
* the time to refuse hostile regions (a self-intersecting outline of 20,000 jittered vertices;
  70,000 tiny squares), which before the bound were repaired or gridded for minutes.

Figures are printed as a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from shapely.geometry import box  # noqa: E402

from detector import grid, region  # noqa: E402
from detector.errors import RegionError  # noqa: E402


def many_parts(n: int) -> shapely.Geometry:
    side = int(np.ceil(np.sqrt(n)))
    return shapely.union_all([box(-70 + (i % side) * 0.01, -12 + (i // side) * 0.01,
                                  -70 + (i % side) * 0.01 + 0.003, -12 + (i // side) * 0.01 + 0.003)
                              for i in range(n)])


def bowtie(n: int) -> bytes:
    t = np.linspace(0, 2 * np.pi, n)
    rng = np.random.default_rng(0)
    ring = np.column_stack([-70 + 0.1 * np.sin(2 * t) + rng.normal(0, 0.002, n),
                            -12 + 0.1 * np.sin(t) + rng.normal(0, 0.002, n)]).tolist()
    return json.dumps({"type": "Polygon", "coordinates": [ring + [ring[0]]]}).encode()


def squares(n: int) -> bytes:
    return json.dumps({"type": "MultiPolygon", "coordinates": [
        [[[-70 + (i % 300) * 0.002, -12 + (i // 300) * 0.002], [-69.999 + (i % 300) * 0.002, -12 + (i // 300) * 0.002],
          [-69.999 + (i % 300) * 0.002, -11.999 + (i // 300) * 0.002], [-70 + (i % 300) * 0.002, -12 + (i // 300) * 0.002]]]
        for i in range(n)]}).encode()


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def refuse(content: bytes) -> tuple[float, str]:
    t0 = time.perf_counter()
    try:
        region.region_from_content(content, "bench")
        what = "accepted"
    except RegionError as exc:
        what = str(exc).split(".")[0]
    return time.perf_counter() - t0, what


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("\n| region | parts | grid.region_covers (s) | patches_for_region, reference (s) | ratio | same patches |")
    print("|---|---:|---:|---:|---:|---|")
    for n in (500, 2000, 4900):
        g = many_parts(n)
        t_cov, covers = best(lambda g=g: grid.region_covers(g), args.repeat)
        t_ref, ref = best(lambda g=g: grid.patches_for_region(g), args.repeat)
        got = {(c.tile.epsg, int(r), int(cc)) for c in covers for r, cc in zip(*c.patches())}
        want = {(z.epsg, int(r), int(cc)) for z in ref for r, cc in zip(z.rows, z.cols)}
        print(f"| {n:,} small squares | {n:,} | {t_cov:.2f} | {t_ref:.2f} | {t_ref / t_cov:.1f}× | {got == want} |")
    print("\n| hostile upload | refused in (s) | message |")
    print("|---|---:|---|")
    for name, content in (("self-intersecting outline, 20,000 vertices", bowtie(20_000)),
                          ("70,000 tiny squares (14 MB)", squares(70_000))):
        t, what = refuse(content)
        print(f"| {name} | {t:.2f} | {what} |")


if __name__ == "__main__":
    main()
