"""A watch's run for one period and the report it writes (GeoJSON, CSV, a one-page HTML summary).

The report holds only what the scores and the rule give (no run time, no machine's paths), so the
same watch and period always write the same bytes: a second run changes nothing.
"""
from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import change, periods
from .atomic import atomic_path
from .grid import squares
from .watches import Watch, WatchStore, newest_complete, previous


@dataclass
class WatchReport:
    watch: Watch
    period: periods.Period
    folder: Path
    figures: dict
    computed: int  # patches the model scored for this report (0 when all came from the store)


def _write(path: Path, data: bytes | str) -> None:
    with atomic_path(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")


def _figure(size: tuple[float, float]):
    """A matplotlib figure drawn off screen (no display on a server or in cron)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)


def _png(fig) -> bytes:
    """The figure as PNG bytes, with no varying metadata (the same figure, the same bytes), and closed."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def map_image(region, before: pd.DataFrame, new: pd.DataFrame) -> bytes:
    """The region's outline, what was detected before (grey) and what is new (red), as a PNG."""
    import geopandas as gpd

    fig, ax = _figure((6, 6))
    gpd.GeoSeries([region], crs="EPSG:4326").boundary.plot(ax=ax, color="#0077b6", linewidth=1.5, linestyle="--")
    if len(before):
        squares(before[change.KEY]).plot(ax=ax, color="#9aa4b1", edgecolor="#6b7280", linewidth=0.3)
    if len(new):
        squares(new[change.KEY]).plot(ax=ax, color="#e63946", edgecolor="#9d0208", linewidth=0.4)
    ax.set_facecolor("#f4f1ea")
    ax.set_aspect("equal")
    ax.set_title("new detections (red), detected before (grey)")
    ax.tick_params(labelsize=7)
    return _png(fig)


def chart_image(table: pd.DataFrame) -> bytes:
    """Detected and new patch footprint per period, as a PNG."""
    fig, ax = _figure((6, 3))
    x = range(len(table))
    ax.bar([i - 0.2 for i in x], table["detected_footprint_ha"], width=0.4, color="#6a00a8", label="detected (ha)")
    ax.bar([i + 0.2 for i in x], table["new_footprint_ha"], width=0.4, color="#e63946", label="new (ha)")
    ax.set_xticks(list(x), table["label"])
    ax.set_ylabel("patch footprint (ha)")
    ax.legend(fontsize=8)
    return _png(fig)


def run(ws, watch: Watch, store: WatchStore, period: periods.Period | str | None = None,
        today=None) -> WatchReport:
    """Score the watch's period (default: its newest complete one) and the one before; write the report."""
    from .workspace import DetectRequest

    p = periods.of(period) if period is not None else newest_complete(watch.cadence, today)
    before = previous(p)
    rule = ws.preset(watch.preset).rule()
    req = DetectRequest(watch.geometry, None, watch.source, watch.model or None)
    outs = ws.change(req, [before, p])
    runs = change.layers(change.kept_by(outs, rule))
    table = change.table(runs, [o.imagery_share for o in outs])
    last = runs[-1]
    low = bool(table["low_imagery"].iloc[-1])
    folder = store.report_dir(watch, p)
    new = squares(last.new.drop(columns=["geometry", "patch_id"], errors="ignore")).sort_values(
        "score", ascending=False, kind="stable").reset_index(drop=True)
    pts = new.geometry.representative_point()
    csv = pd.DataFrame({"patch_id": new["patch_id"], "score": new["score"].round(4), "lat": pts.y.round(5),
                        "lon": pts.x.round(5), "period": p.key, "watch": watch.name})
    figures = {
        "watch": watch.name, "region": watch.region_label or watch.name, "period": p.key, "label": p.label,
        "previous": before.key, "rule": rule.describe(), "model": outs[-1].summary.model,
        "new_patches": len(new), "new_footprint_ha": float(table["new_footprint_ha"].iloc[-1]),
        "detected_patches": int(table["detected_patches"].iloc[-1]),
        "detected_footprint_ha": float(table["detected_footprint_ha"].iloc[-1]),
        "imagery_share": float(table["imagery_share"].iloc[-1]), "low_imagery": low,
    }
    _write(folder / "new.geojson", new.assign(period=p.key, watch=watch.name).to_json(drop_id=True))
    _write(folder / "new.csv", csv.to_csv(index=False))
    _write(folder / "summary.json", json.dumps(figures, indent=1, ensure_ascii=False) + "\n")
    earlier = runs[0].cumulative
    _write(folder / "report.html", _html(figures, map_image(outs[-1].region or watch.geometry, earlier, last.new),
                                         chart_image(table), csv))
    return WatchReport(watch, p, folder, figures, sum(o.summary.scored_now for o in outs))


def _html(f: dict, map_png: bytes, chart_png: bytes, csv: pd.DataFrame) -> str:
    e = html.escape
    if f["low_imagery"]:
        headline = (f"<p class='warn'>Too little clear imagery in {e(f['label'])}: only {f['imagery_share']:.0%} of the "
                    "region's patch pixels were seen. This report cannot say whether mining grew; "
                    f"{f['new_patches']} new detections were found in what was seen.</p>")
    elif f["new_patches"]:
        headline = (f"<p class='new'><b>{f['new_patches']} new detections</b> ({f['new_footprint_ha']:,.1f} ha of patch "
                    f"footprint) in {e(f['label'])}, not detected in {e(f['previous'])}.</p>")
    else:
        headline = f"<p>No new detections in {e(f['label'])} (clear imagery on {f['imagery_share']:.0%} of the region).</p>"
    rows = "".join(f"<tr><td>{e(r.patch_id)}</td><td>{r.score:.3f}</td><td>{r.lat:.5f}</td><td>{r.lon:.5f}</td></tr>"
                   for r in csv.head(25).itertuples())
    img = lambda b, alt: f"<img alt='{alt}' src='data:image/png;base64,{base64.b64encode(b).decode()}'>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(f['watch'])} · {e(f['label'])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2937}}
.warn{{background:#fff4e5;border-left:4px solid #f59e0b;padding:.6rem}}.new{{background:#fdecec;border-left:4px solid #e63946;padding:.6rem}}
table{{border-collapse:collapse;font-size:.9rem}}td,th{{border-bottom:1px solid #e5e7eb;padding:.2rem .6rem;text-align:left}}
.row{{display:flex;gap:1rem;flex-wrap:wrap}} img{{max-width:100%}}</style></head>
<body><h1>{e(f['watch'])}: {e(f['label'])}</h1>
<p>{e(f['region'])} · model {e(f['model'])} · rule: {e(f['rule'])} · compared with {e(f['previous'])}</p>
{headline}
<div class="row">{img(map_png, "map of new detections")}{img(chart_png, "detected and new footprint per period")}</div>
<h2>New detections (highest scores first{", first 25" if len(csv) > 25 else ""})</h2>
<table><tr><th>patch</th><th>score</th><th>lat</th><th>lon</th></tr>{rows}</table>
<p><small>Patch footprint: the detected 480 m patches merged, not mined area. Scores: Earth Genome's mining-detector
models (MIT); rules AMW relaxed / stringent from Amazon Mining Watch.</small></p>
</body></html>
"""
