"""The command line: ``python -m detector detect|models|data|stats|labels …``.

User errors (DetectorError) are printed as one clear line and exit with status 2; nothing is
written unless the whole run succeeded.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .atomic import atomic_path
from .cli_change import add_change_parser
from .cli_data import cmd_data_fetch, cmd_data_list, cmd_stats, patch_layer
from .errors import DetectorError
from .rule import Rule

OUT_SUFFIXES = {".geojson", ".json", ".parquet"}
SOURCE_HELP = ("'earthengine' (default), a GeoTIFF file, a Sentinel-2 product (.SAFE folder or .zip), or a folder of "
               "GeoTIFFs (one file per band works too) or of products (combined as the period's median)")
DN_OFFSET_HELP = ("add N to a GeoTIFF's values before scoring, where its metadata does not say: -1000 for L1C "
                  "digital numbers of processing baseline 04.00 or later that still carry the offset, 0 to apply "
                  "none (default: what the metadata says)")


def add_period_args(parser: argparse.ArgumentParser) -> None:
    """--year, --period, or --start/--end: one definition for every command that scores a period."""
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--year", type=int, default=None,
                   help="the imagery year (Earth Engine needs a period; a GeoTIFF whose metadata gives its acquisition "
                        "date may leave it out, and one that contradicts it is refused)")
    g.add_argument("--period", default=None, metavar="P",
                   help="a year (2023), a quarter (2025Q2) or a date range (2024-03-01..2024-06-30)")
    parser.add_argument("--start", default=None, metavar="YYYY-MM-DD", help="first day of a date range (with --end)")
    parser.add_argument("--end", default=None, metavar="YYYY-MM-DD", help="last day of a date range (included)")


def period_of(args: argparse.Namespace):
    """The period the options name, or None (the imagery's own year)."""
    from . import periods

    if (args.start is None) != (args.end is None):
        raise DetectorError("Give both --start and --end (a date range), or neither.")
    if args.start is not None:
        if args.year is not None or args.period is not None:
            raise DetectorError("Give --start/--end, or --year, or --period: one of them.")
        return periods.between(args.start, args.end)
    if args.period is not None:
        return periods.parse(args.period)
    return args.year


def _write_atomic(gdf, out: Path) -> None:
    """Write GeoJSON or GeoParquet through a temporary file, so a failure leaves no half file."""
    _check_out(out)
    suffix = out.suffix.lower()
    with atomic_path(out) as tmp:
        if suffix == ".parquet":
            gdf.to_parquet(tmp, index=False)
        else:
            tmp.write_text(gdf.to_json(drop_id=True), encoding="utf-8")


def _check_out(out: Path) -> None:
    """Refuse an output the run could not write, before any work is done."""
    import tempfile

    if out.suffix.lower() not in OUT_SUFFIXES:
        raise DetectorError(f"--out must end in .geojson or .parquet, not {out.suffix or 'nothing'}.")
    if out.is_dir():
        raise DetectorError(f"--out {out} is a folder; give a file name ending in .geojson or .parquet.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise DetectorError(f"--out {out} cannot be written ({exc.strerror or exc}); choose a folder you can "
                            "write to. Nothing was scored.") from None


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _progress_bar(quiet: bool):
    from tqdm import tqdm

    bar = tqdm(total=None, unit="tile", desc="tiles", disable=quiet)

    def progress(p):
        bar.total = p.total
        bar.n = p.done
        bar.set_postfix(from_store=p.from_store, computed=p.computed, **({"failed": p.failed} if p.failed else {}),
                        refresh=False)
        bar.refresh()

    return bar, progress


def cmd_detect(args: argparse.Namespace) -> int:
    from .grid import squares
    from .workspace import DetectRequest, Workspace

    out = Path(args.out)
    _check_out(out)
    ws = Workspace.from_env()
    req = DetectRequest(args.region, period_of(args), args.source, args.model, args.bands.split(",") if args.bands else None,
                        max_area_km2=args.max_area, workers=args.workers, scheduler=args.scheduler,
                        retries=args.retries, fetch_per_worker=args.fetch_per_worker, store=args.store,
                        dn_offset=args.dn_offset).check()
    rule = ws.rule(args.threshold, args.model, dual=args.dual, t_iso=args.t_iso, k=args.k, d_km=args.d_km)
    bar, progress = _progress_bar(args.quiet)
    outcome = ws.detect(req, on_progress=progress, echo=None if args.quiet else lambda line: bar.write(line, file=sys.stderr))
    bar.close()
    s, patches, failed = outcome.summary, outcome.scores, outcome.failed
    for note in outcome.notes:
        print(f"note: {note}", file=sys.stderr)
    lines = [f"patches scored: {s.patches:,} ({s.scored_now:,} computed now, {s.from_store:,} from the store)"
             + (f"; {s.partly_covered:,} of them partly without imagery (filled with 0, as the published "
                "pipeline does)" if s.partly_covered else "")
             + (f"; {s.not_covered:,} without any imagery" if s.not_covered else "")]
    if s.damaged:
        lines.append(f"{s.damaged:,} stored tiles were damaged (unreadable, or another tile's file) and were scored "
                     "again")
    if outcome.on_cluster:
        lines.append(f"tiles: {s.tiles:,} ({s.tiles_from_store:,} whole in the store); tiles failed: {len(failed):,}")
    if patches is not None and "valid_fraction" in patches.columns and args.min_valid > 0:
        patches = patches[patches["valid_fraction"] >= args.min_valid]
    if patches is not None:
        # Ids and squares only for what is written: every patch with --all, else those the rule can keep.
        patches = squares(patches if args.all else patches[patches["score"].to_numpy() >= rule.threshold])
        kept = rule.apply(patches)
        _write_atomic(patches if args.all else kept, out)
        lines.append(f"above threshold {rule.threshold:g}{' (dual rule)' if rule.dual else ''}: {len(kept):,}")
    lines.append(f"time: {s.seconds:.1f} s; device: {s.device}")
    if patches is not None:
        lines.append(f"wrote {len(patches) if args.all else len(kept):,} patches to {out}")
    print("\n".join(lines))
    if failed:
        print(f"{len(failed):,} of {s.tiles:,} tiles failed after {args.retries + 1} attempts each:", file=sys.stderr)
        for key, error in sorted(failed.items()):
            print(f"  tile {key}: {error}", file=sys.stderr)
        print(f"Nothing was written to {out}. The finished tiles are kept in the store: run the same command "
              "again to resume; only the failed tiles are computed.", file=sys.stderr)
        return 1
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from .models import registry

    print(f"{'name':24} {'bands':>5} {'members':>7} {'thr':>4}  {'here':4}  description")
    for i, (name, spec) in enumerate(registry().items()):
        tag = " (default)" if i == 0 else ""
        print(f"{name:24} {len(spec.bands):>5} {spec.ensemble:>7} {spec.threshold:>4}  "
              f"{'yes' if spec.available() else 'no':4}  {spec.description}{tag}")
    return 0


def _labels(database: str | None):
    """The label store a --database URL names, else the workspace's (DATABASE_URL or SQLite in the data folder)."""
    from .labels import LabelStore
    from .workspace import Workspace

    return LabelStore(database) if database else Workspace.from_env().label_store()


def cmd_labels_import(args: argparse.Namespace) -> int:
    from .sampling import sampling_path

    files = [sampling_path(f, "`labels import`") for f in args.files]
    layer = patch_layer(args.layer) if args.layer else None
    store = _labels(args.database)
    reports = store.import_sampling(files, layer, args.layer, reviewer=args.reviewer)
    inside = f"in {args.layer}" if args.layer else "(no --layer: labelled as points)"
    print(f"{'file':60} {'label':25} {'points':>6} {'skipped':>7} {'inside':>6} {'patches':>7} {'added':>6} {'same':>5}")
    for r in reports:
        what = "mine" if r.is_mine == "yes" else f"not a mine: {r.category}" if r.category else "not a mine"
        print(f"{r.file:60} {what:25} {r.points:>6} {r.skipped:>7} {r.inside:>6} {r.patches:>7} {r.added:>6} "
              f"{r.unchanged:>5}")
    print(f"skipped: features without a usable point (null or non-numeric coordinates); inside / patches: points "
          f"falling in the layer's patches {inside}, and the patches they label; same: already in the store. "
          f"Store: {store!r}")
    return 0


def cmd_labels_export(args: argparse.Namespace) -> int:

    res = _labels(args.database).export(args.out)
    for name, path in res.files.items():
        print(f"{res.counts[name]:>6}  {path}")
    print("points of the reviewers' current labels (the majority where they disagree; unsure left out), "
          "in the sampling-location format the training step reads")
    if res.left_out():
        print(res.left_out())
    return 0


def cmd_labels_stats(args: argparse.Namespace) -> int:
    import json

    from .labels import CATEGORIES

    s = _labels(args.database).stats()
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


def cmd_train(args: argparse.Namespace) -> int:
    from .training import TrainOptions
    from .workspace import Workspace

    result = Workspace.from_env().train(TrainOptions(
        name=args.out, year=args.year, source=args.source, labels=args.labels or (), positives=args.positives or (),
        negatives=args.negatives or (), base=args.base, architecture=args.architecture,
        indices=None if args.indices is None else args.indices.split(","),
        source_bands=args.bands.split(",") if args.bands else None, dn_offset=args.dn_offset, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, patience=args.patience, seed=args.seed, val_fraction=args.val_fraction,
        block_km=args.block_km, force=args.force, description=args.description or "", quiet=args.quiet,
    ))
    print(result.text())
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m detector", description="Find gold mines in Sentinel-2 imagery.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("detect", help="score every 48 px patch of a region for a year")
    d.add_argument("--region", required=True, help="GeoJSON file of the region (EPSG:4326)")
    add_period_args(d)
    d.add_argument("--source", default="earthengine", help=SOURCE_HELP)
    d.add_argument("--bands", help="band order of a GeoTIFF without band descriptions, e.g. B1,B2,…")
    d.add_argument("--dn-offset", dest="dn_offset", type=float, default=None, metavar="N",
                   help=DN_OFFSET_HELP)
    d.add_argument("--model", default=None, help="registered model name or a .h5/.keras path (default: the ensemble)")
    d.add_argument("--threshold", type=float, default=None, help="keep patches with score ≥ T (default: the model's)")
    d.add_argument("--dual", action="store_true", help="apply the isolation rule (t_iso, k, D) as well")
    d.add_argument("--t-iso", dest="t_iso", type=float, default=Rule.t_iso,
                   help=f"isolated patches need this score (default {Rule.t_iso:g})")
    d.add_argument("--k", type=int, default=Rule.k, help=f"neighbours counted (default {Rule.k})")
    d.add_argument("--d-km", dest="d_km", type=float, default=Rule.d_km,
                   help=f"isolated: the k-th neighbour is farther than this (default {Rule.d_km:g} km)")
    d.add_argument("--out", required=True, help="FILE.geojson or FILE.parquet")
    d.add_argument("--all", action="store_true", help="write every scored patch, not only those above T")
    d.add_argument("--min-valid", dest="min_valid", type=_fraction, default=0.0, metavar="F",
                   help="keep only patches with at least this share of pixels with imagery (0–1; default 0: every "
                        "scored patch, as the published runs)")
    d.add_argument("--max-area", dest="max_area", type=float, default=None,
                   help="raise the on-demand size limit (km²; default DETECTOR_MAX_AREA_KM2 or 2500)")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.add_argument("--store", default=None, metavar="FOLDER|URL",
                   help="score store: a folder (shared by all workers on a cluster) or an fsspec URL such as "
                        "s3://bucket/scores (default: data/scores)")
    dc = d.add_argument_group("Dask cluster (basin-scale runs; no on-demand size limit)")
    dc.add_argument("--workers", type=int, default=None, metavar="N",
                    help="start a local Dask cluster of N worker processes and map the tiles over it")
    dc.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                    help="run on an existing Dask cluster (every worker needs this code, the model and the store)")
    dc.add_argument("--retries", type=int, default=2, help="times a failed tile is tried again (default 2)")
    dc.add_argument("--fetch-per-worker", dest="fetch_per_worker", type=int, default=None, metavar="K",
                    help="imagery requests at once per worker process (default: the source's limit, 8 for "
                         "Earth Engine, 2 for GeoTIFF)")
    d.set_defaults(fn=cmd_detect)
    add_change_parser(sub)

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

    tr = sub.add_parser(
        "train", help="train or fine-tune a model from labelled points, and register it for Detect and Tune",
        description="Labelled points → the 48 px grid patch nearest each → its pixels from the imagery → a model "
                    "trained with rotations and flips and class weights, validated on whole blocks of land held out "
                    "→ data/models/NAME.h5 + NAME.toml + NAME.report.json, selectable by --model NAME.",
    )
    tr.add_argument("--labels", nargs="+", action="extend", metavar="SRC",
                    help="a folder from `labels export`, the Review page's labels.zip, 'store' (the label store; or "
                         "a database URL), or sampling files / published sampling names whose file name says "
                         "positives or negatives")
    tr.add_argument("--positives", nargs="+", action="extend", metavar="FILE",
                    help="point files (or published sampling names) that are all mines")
    tr.add_argument("--negatives", nargs="+", action="extend", metavar="FILE",
                    help="point files (or published sampling names) that are all not mines")
    tr.add_argument("--year", required=True, type=int, help="the imagery year the labels describe")
    tr.add_argument("--source", default="earthengine", help=SOURCE_HELP)
    tr.add_argument("--bands", help="band order of a GeoTIFF without band descriptions, e.g. B1,B2,…")
    tr.add_argument("--dn-offset", dest="dn_offset", type=float, default=None, metavar="N", help=DN_OFFSET_HELP)
    tr.add_argument("--out", required=True, metavar="NAME",
                    help="the new model's name (not a published one); --model NAME selects it afterwards")
    tr.add_argument("--force", action="store_true",
                    help="replace an earlier trained model of the same name (its stored scores are forgotten, so "
                         "Detect scores again with the new one); without it an existing name is refused")
    tr.add_argument("--base", metavar="MODEL",
                    help="fine-tune this registered single model (e.g. 48px_v3.7) instead of training from scratch")
    tr.add_argument("--architecture", metavar="MODEL",
                    help="train from scratch with this registered single model's architecture and bands "
                         "(default 48px_v3.7; 48px_v4.21 for 13 bands)")
    tr.add_argument("--indices", metavar="LIST",
                    help="spectral indices as extra input channels, e.g. ndvi,mndwi,bsi (known: ndvi, ndwi, mndwi, "
                         "ndmi, nbr, bsi, ndti); default none, or the base model's")
    tr.add_argument("--epochs", type=int, default=40, help="at most this many epochs (default 40; early stopping)")
    tr.add_argument("--patience", type=int, default=8,
                    help="stop after this many epochs without a better validation loss (default 8)")
    tr.add_argument("--batch-size", dest="batch_size", type=int, default=32)
    tr.add_argument("--learning-rate", dest="learning_rate", type=float, default=None,
                    help="Adam's learning rate (default 1e-3 from scratch, 1e-4 fine-tuning)")
    tr.add_argument("--seed", type=int, default=0, help="seed of the split, the weights and the augmentation")
    tr.add_argument("--val-fraction", dest="val_fraction", type=float, default=0.25,
                    help="share of the labelled patches held out for validation (default 0.25)")
    tr.add_argument("--block-km", dest="block_km", type=float, default=5.0,
                    help="validation takes whole square blocks of this size, so neighbours never straddle the split "
                         "(default 5 km)")
    tr.add_argument("--description", help="a line saying what the model is for (default: how it was trained)")
    tr.add_argument("--quiet", action="store_true", help="no progress bars")
    tr.set_defaults(fn=cmd_train)
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
