"""The command line: ``python -m detector detect|models|data|stats|labels …``.

User errors (DetectorError) are printed as one clear line and exit with status 2; nothing is
written unless the whole run succeeded.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .atomic import atomic_path
from .errors import DetectorError


def _write_atomic(gdf, out: Path) -> None:
    """Write GeoJSON or GeoParquet through a temporary file, so a failure leaves no half file."""
    suffix = out.suffix.lower()
    if suffix not in {".geojson", ".json", ".parquet"}:
        raise DetectorError(f"--out must end in .geojson or .parquet, not {out.suffix or 'nothing'}.")
    with atomic_path(out) as tmp:
        if suffix == ".parquet":
            gdf.to_parquet(tmp, index=False)
        else:
            tmp.write_text(gdf.to_json(drop_id=True), encoding="utf-8")


def cmd_detect(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from . import postprocess
    from .pipeline import Detector
    from .region import load_region
    from .sources import open_source

    out = Path(args.out)
    if out.suffix.lower() not in {".geojson", ".json", ".parquet"}:
        raise DetectorError(f"--out must end in .geojson or .parquet, not {out.suffix or 'nothing'}.")
    region = load_region(args.region, args.max_area)
    bands = args.bands.split(",") if args.bands else None
    source = open_source(args.source, bands=bands)
    det = Detector(args.model)
    threshold = det.spec.threshold if args.threshold is None else args.threshold
    bar = tqdm(total=None, unit="tile", desc="tiles", disable=args.quiet)

    def progress(p):
        bar.total = p.total
        bar.n = p.done
        bar.set_postfix(from_store=p.from_store, computed=p.computed)
        bar.refresh()

    res = det.run(region, args.year, source, on_progress=progress, limit_km2=args.max_area)
    bar.close()
    patches = res.patches
    if args.dual:
        kept = postprocess.dual_threshold(patches, threshold, args.t_iso, args.k, args.d_km)
    else:
        kept = postprocess.above(patches, threshold)
    _write_atomic(patches if args.all else kept, out)
    s = res.summary
    print(
        f"patches scored: {s.patches:,} ({s.scored_now:,} computed now, {s.from_store:,} from the store)"
        + (f"; {s.not_covered:,} without imagery" if s.not_covered else "")
        + f"\nabove threshold {threshold:g}{' (dual rule)' if args.dual else ''}: {len(kept):,}"
        + f"\ntime: {s.seconds:.1f} s; device: {s.device}"
        + f"\nwrote {len(patches) if args.all else len(kept):,} patches to {out}"
    )
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from .models import registry

    print(f"{'name':24} {'bands':>5} {'members':>7} {'thr':>4}  {'here':4}  description")
    for i, (name, spec) in enumerate(registry().items()):
        tag = " (default)" if i == 0 else ""
        print(f"{name:24} {len(spec.bands):>5} {spec.ensemble:>7} {spec.threshold:>4}  "
              f"{'yes' if spec.available() else 'no':4}  {spec.description}{tag}")
    return 0


def cmd_data_list(args: argparse.Namespace) -> int:
    from .catalog import catalog
    from .config import data_dir, mirror_dir

    mirror = mirror_dir()
    where = f"the mirror folder {mirror} (DETECTOR_MIRROR)" if mirror else f"{data_dir() / 'downloads'} (downloaded on first use)"
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


def _sampling_path(arg: str) -> Path:
    """A sampling-location file: a path, or the name of a published sampling dataset (`data list`)."""
    from . import catalog

    path = Path(arg).expanduser()
    if path.exists() or arg.lower().endswith((".geojson", ".json")):
        return path
    ds = catalog.get(arg)
    if ds.kind != "sampling":
        raise DetectorError(f"{arg} is a {ds.kind} dataset; `labels import` takes sampling-location files.")
    return ds.path(progress=False)


def _layer(name: str):
    from . import catalog, published

    ds = catalog.get(name)
    if ds.kind not in catalog.LAYER_KINDS:
        raise DetectorError(f"--layer {name} is a {ds.kind} dataset; give a patch layer, e.g. "
                            + ", ".join(d.name for d in catalog.by_kind("patches")) + ".")
    return published.load_layer(name)


def cmd_labels_import(args: argparse.Namespace) -> int:
    from .labels import LabelStore

    files = [_sampling_path(f) for f in args.files]
    layer = _layer(args.layer) if args.layer else None
    store = LabelStore(args.database)
    reports = store.import_sampling(files, layer, args.layer, reviewer=args.reviewer)
    inside = f"in {args.layer}" if args.layer else "(no --layer: labelled as points)"
    print(f"{'file':60} {'label':25} {'points':>6} {'inside':>6} {'patches':>7} {'added':>6} {'same':>5}")
    for r in reports:
        what = "mine" if r.is_mine == "yes" else f"not a mine: {r.category}" if r.category else "not a mine"
        print(f"{r.file:60} {what:25} {r.points:>6} {r.inside:>6} {r.patches:>7} {r.added:>6} {r.unchanged:>5}")
    print(f"inside / patches: points falling in the layer's patches {inside}, and the patches they label; "
          f"same: already in the store. Store: {store!r}")
    return 0


def cmd_labels_export(args: argparse.Namespace) -> int:
    from .labels import LabelStore

    res = LabelStore(args.database).export(args.out)
    for name, path in res.files.items():
        print(f"{res.counts[name]:>6}  {path}")
    print("points of the reviewers' current labels (the majority where they disagree; unsure left out), "
          "in the sampling-location format the training step reads")
    return 0


def cmd_labels_stats(args: argparse.Namespace) -> int:
    import json

    from .labels import CATEGORIES, LabelStore

    s = LabelStore(args.database).stats()
    if args.format == "json":
        print(json.dumps(s, indent=1))
        return 0
    print(f"{s['current']:,} current labels on {s['items']:,} items by {s['reviewers']} reviewers "
          f"({s['records']:,} records in all, history included); {s['with_patch']:,} on patches")
    print("answers:    " + ", ".join(f"{k} {v:,}" for k, v in s["by_answer"].items()))
    print("look-alikes: " + (", ".join(f"{CATEGORIES.get(k, k)} {v:,}" for k, v in s["by_category"].items()) or "none"))
    for who, n in s["by_reviewer"].items():
        print(f"  {n:>6,}  {who}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m detector", description="Find gold mines in Sentinel-2 imagery.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("detect", help="score every 48 px patch of a region for a year")
    d.add_argument("--region", required=True, help="GeoJSON file of the region (EPSG:4326)")
    d.add_argument("--year", required=True, type=int)
    d.add_argument("--source", default="earthengine", help="'earthengine' (default) or a GeoTIFF file/folder")
    d.add_argument("--bands", help="band order of a GeoTIFF without band descriptions, e.g. B1,B2,…")
    d.add_argument("--model", default=None, help="registered model name or a .h5/.keras path (default: the ensemble)")
    d.add_argument("--threshold", type=float, default=None, help="keep patches with score ≥ T (default: the model's)")
    d.add_argument("--dual", action="store_true", help="apply the isolation rule (t_iso, k, D) as well")
    d.add_argument("--t-iso", dest="t_iso", type=float, default=0.75)
    d.add_argument("--k", type=int, default=5)
    d.add_argument("--d-km", dest="d_km", type=float, default=3.0)
    d.add_argument("--out", required=True, help="FILE.geojson or FILE.parquet")
    d.add_argument("--all", action="store_true", help="write every scored patch, not only those above T")
    d.add_argument("--max-area", dest="max_area", type=float, default=None,
                   help="raise the on-demand size limit (km²; default DETECTOR_MAX_AREA_KM2 or 2500)")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(fn=cmd_detect)

    m = sub.add_parser("models", help="the registered models")
    msub = m.add_subparsers(dest="models_command", required=True)
    ml = msub.add_parser("list", help="list the registered models")
    ml.set_defaults(fn=cmd_models_list)

    dt = sub.add_parser("data", help="the published Amazon Mining Watch data")
    dsub = dt.add_subparsers(dest="data_command", required=True)
    dl = dsub.add_parser("list", help="list the published datasets and whether each is here (never downloads)")
    dl.set_defaults(fn=cmd_data_list)
    df = dsub.add_parser("fetch", help="download (or, with DETECTOR_MIRROR, verify) published datasets")
    df.add_argument("names", nargs="*", metavar="NAME", help="dataset names from `data list` (default: all)")
    df.add_argument("--quiet", action="store_true", help="no progress bar")
    df.set_defaults(fn=cmd_data_fetch)

    st = sub.add_parser("stats", help="new and cumulative mined area per region and period")
    st.add_argument("--by", required=True, metavar="country|territory|BOUNDARY|REGION.geojson",
                    help="countries, indigenous territories, a published boundary name, or your own GeoJSON region")
    st.add_argument("--format", choices=["csv", "json"], default="csv")
    st.add_argument("--out", help="write to FILE instead of standard output")
    st.set_defaults(fn=cmd_stats)

    lb = sub.add_parser("labels", help="the reviewers' label store: import, export, stats")
    lb.add_argument("--database", default=None, metavar="URL",
                    help="SQLAlchemy URL (default: DATABASE_URL, else data/labels.sqlite)")
    lsub = lb.add_subparsers(dest="labels_command", required=True)
    li = lsub.add_parser("import", help="sampling-location files (*positives* mines, *negatives* look-alikes) as labels")
    li.add_argument("files", nargs="+", metavar="FILE",
                    help="GeoJSON point files, or published sampling dataset names (`data list`)")
    li.add_argument("--layer", help="a patch layer (e.g. patches_amazon1_v3.7_2023): points inside its patches "
                                    "label those patches")
    li.add_argument("--reviewer", help="who the labels are from (default: import:<file name>)")
    li.set_defaults(fn=cmd_labels_import)
    le = lsub.add_parser("export", help="current labels as sampling-location GeoJSON (positives, negatives) for training")
    le.add_argument("--out", required=True, metavar="DIR")
    le.set_defaults(fn=cmd_labels_export)
    ls = lsub.add_parser("stats", help="how many labels, by answer, look-alike and reviewer")
    ls.add_argument("--format", choices=["text", "json"], default="text")
    ls.set_defaults(fn=cmd_labels_stats)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except DetectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished tiles are kept in the store; run again to resume.", file=sys.stderr)
        return 130
