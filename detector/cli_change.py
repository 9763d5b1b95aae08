"""`python -m detector change`: one region over several periods, with what is new and what has accumulated."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import DetectorError
from .rule import Rule


def add_change_parser(sub) -> None:
    from .cli import DN_OFFSET_HELP, SOURCE_HELP

    c = sub.add_parser("change", help="score a region over several periods: detections, new since, cumulative")
    c.add_argument("--region", required=True, help="GeoJSON file of the region (EPSG:4326)")
    c.add_argument("--periods", required=True, metavar="LIST",
                   help="periods in time order, e.g. 2019-2024,2025Q2-2025Q3 (years, quarters, date ranges "
                        "2024-03-01..2024-06-30)")
    c.add_argument("--source", default="earthengine", help=SOURCE_HELP)
    c.add_argument("--bands", help="band order of a GeoTIFF without band descriptions")
    c.add_argument("--dn-offset", dest="dn_offset", type=float, default=None, metavar="N", help=DN_OFFSET_HELP)
    c.add_argument("--model", default=None, help="registered model name or a .h5/.keras path (default: the ensemble)")
    c.add_argument("--preset", default=None,
                   help="a rule preset: 'AMW relaxed' (single periods), 'AMW stringent' (cumulative) or one of yours")
    c.add_argument("--threshold", type=float, default=None, help="keep patches with score ≥ T (default: the model's)")
    c.add_argument("--dual", action="store_true", help="apply the isolation rule (t_iso, k, D) as well")
    c.add_argument("--t-iso", dest="t_iso", type=float, default=Rule.t_iso)
    c.add_argument("--k", type=int, default=Rule.k)
    c.add_argument("--d-km", dest="d_km", type=float, default=Rule.d_km)
    c.add_argument("--compare", action="store_true",
                   help="compare each period with the published Amazon Mining Watch layer of that period, where "
                        "there is one (agreement.csv, and the agree / ours only / published only layers)")
    c.add_argument("--out", required=True, metavar="FOLDER",
                   help="folder for periods.csv and, per period, detections_P / new_P / cumulative_P .geojson")
    c.add_argument("--max-area", dest="max_area", type=float, default=None)
    c.add_argument("--store", default=None, metavar="FOLDER|URL")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(fn=cmd_change)

    w = sub.add_parser("watch", help="regions under watch: a report of new detections for each new period")
    wsub = w.add_subparsers(dest="watch_command", required=True)
    wa = wsub.add_parser("add", help="save a region with its imagery, model and rule as a watch")
    wa.add_argument("--name", required=True)
    wa.add_argument("--region", required=True, help="GeoJSON file of the region (EPSG:4326)")
    wa.add_argument("--source", default="earthengine", help=SOURCE_HELP)
    wa.add_argument("--model", default="", help="registered model name or a model file (default: the ensemble)")
    wa.add_argument("--preset", default="AMW relaxed", help="the rule, by preset name (default: AMW relaxed)")
    wa.add_argument("--cadence", choices=["quarter", "year"], default="quarter")
    wa.set_defaults(fn=cmd_watch_add)
    wl = wsub.add_parser("list", help="the watches and their latest report")
    wl.set_defaults(fn=cmd_watch_list)
    wr = wsub.add_parser("run", help="score the newest complete period of every watch (or one) and write reports")
    wr.add_argument("--name", default=None, help="only this watch")
    wr.add_argument("--period", default=None, help="this period instead of the newest complete one (2025Q2, 2024)")
    wr.set_defaults(fn=cmd_watch_run)
    wd = wsub.add_parser("remove", help="forget a watch (its reports stay)")
    wd.add_argument("--name", required=True)
    wd.set_defaults(fn=cmd_watch_remove)


def _out_folder(text: str) -> Path:
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise DetectorError(f"--out {out} is a file; give a folder (it is made if missing).")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DetectorError(f"--out {out} cannot be made ({exc.strerror or exc}); choose a folder you can write to.") from None
    return out


def cmd_change(args: argparse.Namespace) -> int:
    from . import change, periods
    from .cli import _progress_bar, _write_atomic
    from .workspace import DetectRequest, Workspace

    spans = periods.parse_many(args.periods)
    out = _out_folder(args.out)
    ws = Workspace.from_env()
    if args.preset:
        rule = ws.preset(args.preset).rule()
    else:
        rule = ws.rule(args.threshold, args.model, dual=args.dual, t_iso=args.t_iso, k=args.k, d_km=args.d_km)
    req = DetectRequest(args.region, None, args.source, args.model, args.bands.split(",") if args.bands else None,
                        max_area_km2=args.max_area, store=args.store, dn_offset=args.dn_offset).check()
    bar, progress = _progress_bar(args.quiet)

    def on_period(i: int, n: int, period) -> None:
        bar.set_description(f"{period.label} ({i + 1}/{n})")

    outcomes = ws.change(req, spans, on_period=on_period, on_progress=progress)
    bar.close()
    runs = change.layers(change.kept_by(outcomes, rule))
    table = change.table(runs, [o.imagery_share for o in outcomes])
    table.insert(2, "computed_now", [o.summary.scored_now for o in outcomes])
    if args.compare:
        _compare(runs, outcomes, out)
    for r in runs:
        for name, frame in (("detections", r.kept), ("new", r.new), ("cumulative", r.cumulative)):
            _write_atomic(_shaped(frame, r.period), out / f"{name}_{r.period.key}.geojson")
    table.to_csv(out / "periods.csv", index=False)
    print(f"rule: {rule.describe()}")
    print(table.drop(columns=["label"]).to_string(index=False))
    for row in table.itertuples():
        if row.low_imagery:
            print(f"note: {row.label} has clear imagery on only {row.imagery_share:.0%} of the region's patches: "
                  "few detections there may mean the ground was not seen, not that nothing changed.", file=sys.stderr)
    print(f"wrote periods.csv and {3 * len(runs)} GeoJSON files to {out}")
    return 0


def _shaped(frame, period):
    from .grid import squares

    shaped = squares(frame.drop(columns=["geometry", "patch_id"], errors="ignore"))
    return shaped.assign(period=period.key)


def _compare(runs, outcomes, out: Path) -> None:
    """Agreement of each period's detections with the published layer of the same period, in the region."""
    import pandas as pd

    from . import catalog, change, published
    from .cli import _write_atomic

    known = list(catalog.periods())
    rows = []
    for r, o in zip(runs, outcomes):
        key = change.published_key(r.period, known)
        row = {"period": r.period.key, "published_layer": "" if key is None else f"mining_{key}"}
        if key is not None:
            agree, shown = change.agreement(_shaped(r.kept, r.period).geometry, published.load_layer(key).geometry,
                                            o.region)
            row |= {"ours_ha": round(agree.ours_ha, 2), "published_ha": round(agree.published_ha, 2),
                    "both_ha": round(agree.both_ha, 2), "published_covered": round(agree.published_covered, 4),
                    "ours_outside": round(agree.ours_outside, 4)}
            _write_atomic(shown, out / f"agreement_{r.period.key}.geojson")
        rows.append(row)
    agreement = pd.DataFrame(rows)
    agreement.to_csv(out / "agreement.csv", index=False)
    print(agreement.to_string(index=False))


def cmd_watch_add(args: argparse.Namespace) -> int:
    from .watches import watch_of
    from .workspace import Workspace

    ws = Workspace.from_env()
    ws.preset(args.preset)  # refused now, with the list, if there is no such preset
    geom = ws.load_region(args.region, float("inf"))
    path = ws.watches.save(watch_of(args.name, geom, args.source, args.model, args.preset, args.cadence,
                                    Path(args.region).stem))
    print(f"watch {args.name!r} saved ({path.name}); run it with: python -m detector watch run --name {args.name!r}")
    return 0


def cmd_watch_list(args: argparse.Namespace) -> int:
    from .workspace import Workspace

    ws = Workspace.from_env()
    watches = ws.watches.list()
    if not watches:
        print("no watches yet: add one with `python -m detector watch add` or on the Change page")
    for w in watches:
        latest = ws.watches.latest_report(w)
        last = (f"{latest['label']}: {latest['new_patches']} new ({latest['new_footprint_ha']:.1f} ha)"
                + (", little clear imagery" if latest["low_imagery"] else "")) if latest else "not run yet"
        print(f"{w.name:24} {w.cadence:8} {w.preset:16} {last}")
    return 0


def cmd_watch_run(args: argparse.Namespace) -> int:
    from .workspace import Workspace

    ws = Workspace.from_env()
    names = [args.name] if args.name else [w.name for w in ws.watches.list()]
    if not names:
        print("no watches to run", file=sys.stderr)
        return 0
    failed = 0
    for name in names:
        try:
            rep = ws.run_watch(name, args.period)
        except DetectorError as exc:
            failed += 1
            print(f"watch {name!r}: {exc}", file=sys.stderr)
            continue
        f = rep.figures
        what = ("too little clear imagery to tell" if f["low_imagery"] else f"{f['new_patches']} new detections "
                f"({f['new_footprint_ha']:.1f} ha)")
        print(f"{name}: {f['label']}: {what}; {rep.computed:,} patches computed now; report {rep.folder / 'report.html'}")
    return 1 if failed else 0


def cmd_watch_remove(args: argparse.Namespace) -> int:
    from .workspace import Workspace

    Workspace.from_env().watches.delete(args.name)
    print(f"watch {args.name!r} removed (its reports are kept)")
    return 0
