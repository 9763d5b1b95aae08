"""The command line's data commands: ``data list``, ``data fetch`` and ``stats`` over the published layers."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import DetectorError


def cmd_data_list(args: argparse.Namespace) -> int:
    from .catalog import catalog
    from .config import settings

    conf = settings()
    where = (f"the mirror folder {conf.mirror} (DETECTOR_MIRROR)" if conf.mirror
             else f"{conf.layout.downloads} (downloaded on first use)")
    print(f"published files are read from {where}\n")
    print(f"{'name':40} {'kind':12} {'here':8}  description  [licence]")
    for ds in catalog().values():
        here = "yes" if ds.available() else "not here"
        print(f"{ds.name:40} {ds.kind:12} {here:8}  {ds.description}  [{ds.licence}]")
    print("\nData: Earth Genome, mining-detector (github.com/earthrise-media/mining-detector), CC BY 4.0. "
          "Airstrips: The Intercept Brasil / The New York Times / Rainforest Investigations Network reporting.")
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from .catalog import catalog, get

    wanted = [get(n) for n in args.names] if args.names else list(catalog().values())
    failures = []
    for ds in wanted:
        try:
            path = ds.path(progress=not args.quiet)
        except DetectorError as exc:
            failures.append(ds.name)
            print(f"{ds.name:40} FAILED: {exc}", file=sys.stderr)
            continue
        print(f"{ds.name:40} ok  {path}")
    if failures:
        raise DetectorError(f"{len(failures)} of {len(wanted)} datasets could not be fetched: {', '.join(failures)}.")
    return 0


def _stats_regions(by: str):
    from . import catalog, published
    from .region import geometry_from_geojson, read_geojson
    from .stats import region_frame

    key = by.strip()
    if key in {"country", "countries"}:
        return published.countries()
    if key in {"territory", "territories"}:
        return published.territories()
    boundaries = [d.name for d in catalog.by_kind("boundary")]
    if key in boundaries:
        return published.boundary_regions(key)
    path = Path(key).expanduser()
    if path.exists() or path.suffix.lower() in {".geojson", ".json"}:
        return region_frame(geometry_from_geojson(read_geojson(path)), "region", path.stem)
    raise DetectorError(
        f"--by {by!r} is not understood. Give country, territory, a GeoJSON file, or a published boundary: "
        + ", ".join(boundaries) + "."
    )


def cmd_stats(args: argparse.Namespace) -> int:
    import json
    import math

    from . import published, stats

    regions = _stats_regions(args.by)
    table = stats.by_region(published.load_yearly_layers(), regions)
    table["period"] = table["period"].astype(str)
    table = table.round(2)
    if args.format == "json":
        rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                for row in table.to_dict("records")]  # JSON has no NaN: a missing figure is null
        text = json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    else:
        text = table.to_csv(index=False)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {len(table):,} rows ({table['region_id'].nunique():,} regions) to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    print("mined_ha: the published 'Mined area (ha)' (quote this); footprint_ha: the polygons' own area in EPSG:6933, "
          "about 5x larger. 2018 is all mining up to 2018; later periods are new mining. "
          "Data: Earth Genome, mining-detector, CC BY 4.0.", file=sys.stderr)
    return 0


def patch_layer(name: str):
    from . import catalog, published

    ds = catalog.get(name)
    if ds.kind not in catalog.LAYER_KINDS:
        raise DetectorError(f"--layer {name} is a {ds.kind} dataset; give a patch layer, e.g. "
                            + ", ".join(d.name for d in catalog.by_kind("patches")) + ".")
    return published.load_layer(name)
