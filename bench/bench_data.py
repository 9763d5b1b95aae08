"""Loading the published yearly layers and the area statistics over them.

Run from the repository root:

    DETECTOR_MIRROR=/work/shared/amw python3 bench/bench_data.py [--repeat 5]

Measured in one process (imports done first), each step repeated and reported as best and median:

* cold load: ``published.load_yearly_layers()`` into an empty data folder: parse the nine GeoJSON
  files (45,011 polygons, 17 MB) after checking their sha256, normalise, measure footprints, write
  the GeoParquet cache (the source files themselves are in the OS file cache after the first run);
* warm load: the same call again, read from the GeoParquet cache;
* stats by country / by territory: ``stats.by_region(layers, regions)`` with the layers already
  in memory (9 countries, 237 territories; the regions themselves come from the warm cache);
* the command line end to end (``python -m detector stats --by country`` with a warm cache), as a
  user would time it: interpreter start, imports, warm load, stats, CSV.

It also prints the basin totals per period and the footprint / mined-area ratio. Figures are
printed as Markdown tables.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from isolate import ROOT, isolate  # bench/ is on sys.path when run as a script

_TMP = isolate("bench_data_")

import geopandas as gpd
import shapely

from detector import fetch, published, stats


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _time(fn, repeat: int, before=None) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        if before is not None:
            before()
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def _empty_data_dir() -> None:
    shutil.rmtree(_TMP / "data", ignore_errors=True)
    fetch._verified.cache_clear()  # a cold start checks each source's sha256 again


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if not os.environ.get("DETECTOR_MIRROR"):
        print("Set DETECTOR_MIRROR to the published-data mirror (../shared/amw).", file=sys.stderr)
        return 2

    rows = []
    cold, _ = _time(published.load_yearly_layers, args.repeat, before=_empty_data_dir)
    rows.append(("cold load, all 9 yearly layers (GeoJSON → normalise → GeoParquet)", cold))
    warm, layers = _time(published.load_yearly_layers, args.repeat)
    rows.append(("warm load, all 9 yearly layers (GeoParquet)", warm))
    countries, territories = published.countries(), published.territories()
    t_c, by_country = _time(lambda: stats.by_region(layers, countries), args.repeat)
    rows.append((f"stats by country ({len(countries)} regions × {len(layers):,} polygons)", t_c))
    t_t, by_terr = _time(lambda: stats.by_region(layers, territories), args.repeat)
    rows.append((f"stats by territory ({len(territories)} regions × {len(layers):,} polygons)", t_t))
    cli = []
    for _ in range(max(1, args.repeat // 2)):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "detector", "stats", "--by", "country"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cli.append(time.perf_counter() - t)
    rows.append(("`python -m detector stats --by country`, end to end, warm cache", cli))

    print(f"Machine: {_cpu()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
          f"geopandas {gpd.__version__}, shapely {shapely.__version__} (GEOS {shapely.geos_version_string}).\n")
    print("| step | best (s) | median (s) | runs |")
    print("|---|---:|---:|---:|")
    for name, times in rows:
        print(f"| {name} | {min(times):.3f} | {statistics.median(times):.3f} | {len(times)} |")

    whole = stats.totals(layers)
    inside = by_country.groupby("period", observed=True)[["new_mined_ha", "new_footprint_ha"]].sum()
    print("\nBasin totals per period (ha; mined = published 'Mined area (ha)', footprint = polygon area in EPSG:6933):\n")
    print("| period | polygons | new mined | cumulative mined | new footprint | footprint / mined | mined inside the 9 countries |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    counts = layers.groupby("period", observed=True).size()
    for _, r in whole.iterrows():
        p = r["period"]
        print(f"| {p} | {counts[p]:,} | {r['new_mined_ha']:,.0f} | {r['cumulative_mined_ha']:,.0f} | "
              f"{r['new_footprint_ha']:,.0f} | {r['new_footprint_ha'] / r['new_mined_ha']:.2f} | "
              f"{inside.loc[p, 'new_mined_ha']:,.0f} |")
    print(f"\nFootprint / mined area, all periods: {stats.footprint_ratio(layers):.2f}")
    top = by_terr[by_terr["period"] == by_terr["period"].cat.categories[-1]].nlargest(5, "cumulative_mined_ha")
    print("Territories with the most mined land by 2025Q3: " + "; ".join(
        f"{r.region_name} ({r.region_id}) {r.cumulative_mined_ha:,.0f} ha" for r in top.itertuples()))
    shutil.rmtree(_TMP, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
