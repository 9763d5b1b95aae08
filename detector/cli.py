"""The command line: ``python -m detector detect|models …``.

User errors (DetectorError) are printed as one clear line and exit with status 2; nothing is
written unless the whole run succeeded.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from .errors import DetectorError


def _write_atomic(gdf, out: Path) -> None:
    """Write GeoJSON or GeoParquet through a temporary file, so a failure leaves no half file."""
    suffix = out.suffix.lower()
    if suffix not in {".geojson", ".json", ".parquet"}:
        raise DetectorError(f"--out must end in .geojson or .parquet, not {out.suffix or 'nothing'}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=suffix + ".tmp")
    os.close(fd)
    try:
        if suffix == ".parquet":
            gdf.to_parquet(tmp, index=False)
        else:
            Path(tmp).write_text(gdf.to_json(drop_id=True), encoding="utf-8")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
