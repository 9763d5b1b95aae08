"""A run's result on the Detect page: re-filtering by threshold, figures, the image answer, downloads.

The model never runs here. A result holds every scored patch, sorted by score (ascending), so
"score ≥ threshold" is the tail of the table from one index on, and the map only needs that
index to re-filter (see :mod:`ui.detect.map`). The isolation rule, the dissolve and the figures
are computed once per (result, threshold, rule) and cached.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st

from detector import postprocess
from detector.pipeline import DetectResult, RunSummary
from detector.rule import Rule
from detector.runs import RunRecord

from ..format import hectares, slug
from ..i18n import _, ngettext, number, text_of

#: Patches whose score is within this of the highest "carry" it (float32 scores of equal patches).
TOP_TOLERANCE = 1e-6


@dataclass
class Result:
    """A run (or a reopened one) as the page keeps it in the session."""

    record: RunRecord
    patches: gpd.GeoDataFrame  # every scored patch, score ascending, index 0…n-1
    summary: RunSummary
    geotiff: bool  # imagery was a GeoTIFF: the page answers "does this image contain a mine?"
    digest: str  # changes with the scores: the cache key of everything derived
    reopened: bool = False

    @classmethod
    def of(cls, res: DetectResult, record: RunRecord, geotiff: bool, reopened: bool = False) -> Result:
        order = np.argsort(res.patches["score"].to_numpy(), kind="stable")
        patches = res.patches.iloc[order].reset_index(drop=True)
        h = hashlib.sha1(record.run_id.encode())
        h.update(patches["score"].to_numpy(dtype=np.float32).tobytes())
        h.update("\0".join(patches["patch_id"]).encode())
        return cls(record, patches, res.summary, geotiff, h.hexdigest()[:16], reopened)

    @property
    def scores(self) -> np.ndarray:
        return self.patches["score"].to_numpy()


@dataclass
class Filtered:
    """The detections of a result under a rule."""

    start: int  # patches[start:] score ≥ threshold
    dropped: np.ndarray  # indices ≥ start that the isolation rule removes
    kept: np.ndarray  # indices of the detections, ascending
    polygons: gpd.GeoDataFrame  # the detections dissolved


def apply_rule(patches: gpd.GeoDataFrame, rule: Rule) -> Filtered:
    """Detections of score-sorted patches under a rule (pure; the page caches it)."""
    start = int(np.count_nonzero(patches["score"].to_numpy() < rule.threshold))  # as postprocess.above compares
    kept = np.flatnonzero(rule.kept(patches)) if rule.filters_rows else np.arange(start, len(patches))
    dropped = np.setdiff1d(np.arange(start, len(patches)), kept)
    return Filtered(start, dropped, kept, postprocess.dissolve(patches.iloc[kept]))


@st.cache_data(show_spinner=False, max_entries=128)
def filtered(digest: str, rule: tuple, _patches: gpd.GeoDataFrame) -> Filtered:
    """:func:`apply_rule`, once per (result, rule); ``digest`` names the patches."""
    return apply_rule(_patches, Rule(*rule))


def top_patches(scores) -> np.ndarray:
    """Indices of the patches that carry the highest score (scores ascending)."""
    scores = np.asarray(scores)
    if not len(scores):
        return np.empty(0, dtype=int)
    return np.flatnonzero(scores >= scores[-1] - TOP_TOLERANCE)


#: Below this share of the model's recommended threshold, the sidebar's threshold gets a warning.
LOW_THRESHOLD_SHARE = 0.75


def image_answer(result: Result, recommended: float) -> str:
    """The first seed study's question, answered at the model's recommended threshold (not the slider's:
    a slider at 0.05 would call any image "mining"): does this image contain a mine?"""
    scores = result.scores
    if not len(scores):
        return _("No patch of the image could be scored (no patch has imagery).")
    best = float(scores[-1])
    top = result.patches.iloc[top_patches(scores)]
    where = ", ".join(f"`{p}`" for p in top["patch_id"][:5]) + (" …" if len(top) > 5 else "")
    if best >= recommended:
        head = _("**Highest patch score {best:.2f}** (≥ the model's recommended threshold {recommended:.2f}: likely "
                 "contains mining).")
    else:
        head = _("**Highest patch score {best:.2f}** (< the model's recommended threshold {recommended:.2f}: no "
                 "mining detected).")
    carried = ngettext("Carried by {n} patch: {where} (outlined in cyan on the map).",
                       "Carried by {n} patches: {where} (outlined in cyan on the map).", len(top))
    return head.format(best=best, recommended=recommended) + " " + carried.format(n=len(top), where=where)


def low_threshold_warning(threshold: float, recommended: float) -> str | None:
    """A warning when the sidebar's threshold is far below the model's recommended one, else None."""
    if threshold >= LOW_THRESHOLD_SHARE * recommended:
        return None
    return _("The threshold in the sidebar ({threshold:.2f}) is far below this model's recommended {recommended:.2f}: "
             "the map and the figures count many patches the model does not call mining. The image's verdict uses "
             "the recommended threshold.").format(threshold=threshold, recommended=recommended)


def figures_table(result: Result, f: Filtered, rule: Rule) -> pd.DataFrame:
    """The headline figures of a result under a rule, with what they describe (the CSV download)."""
    kept = result.patches.iloc[f.kept]
    row = postprocess.figures(kept, f.polygons).iloc[0].to_dict()
    r = result.record
    return pd.DataFrame([{
        "region": r.region_label, "area_km2": r.area_km2, "period": r.the_period.key, "model": r.model, "imagery": r.source_label,
        "rule": rule.describe(), "patches_scored": len(result.patches), "detections": int(row["patches"]),
        "polygons": int(row["polygons"]), "footprint_ha": round(row["footprint_ha"], 2),
        "max_score": round(float(result.scores[-1]), 4) if len(result.patches) else float("nan"),
    }])


def polygons_frame(polygons: gpd.GeoDataFrame) -> pd.DataFrame:
    """Dissolved polygons, largest first, with a point to find each."""
    if polygons.empty:
        return pd.DataFrame(columns=["footprint_ha", "patches", "max_score", "mean_score", "lat", "lon"])
    pts = polygons.geometry.representative_point()
    out = pd.DataFrame({
        "footprint_ha": polygons["footprint_ha"].round(1), "patches": polygons["patches"],
        "max_score": polygons["max_score"].round(3), "mean_score": polygons["mean_score"].round(3),
        "lat": pts.y.round(5), "lon": pts.x.round(5),
    })
    return out.sort_values("footprint_ha", ascending=False).reset_index(drop=True)


def polygons_table(polygons: gpd.GeoDataFrame) -> None:
    """The dissolved polygons, headed in the visitor's language."""
    table = polygons_frame(polygons).rename(columns={
        "footprint_ha": _("footprint (ha)"), "patches": _("patches"), "max_score": _("highest score"),
        "mean_score": _("mean score"), "lat": _("lat"), "lon": _("lon")})
    st.dataframe(table, hide_index=True, width="stretch", height=min(300, 38 + 35 * max(len(table), 1)))


def patches_geojson(result: Result, f: Filtered) -> str:
    """The detections with their scores (and member scores), as GeoJSON."""
    kept = result.patches.iloc[f.kept[::-1]]  # highest score first
    r = result.record
    return kept.assign(region=r.region_label, imagery=r.source_label).to_json(drop_id=True)


def model_credit(result: Result | None) -> str:
    if result is None or not result.record.model.startswith("48px_"):
        return _("Published models: Earth Genome, mining-detector (MIT).")
    return _("Scores: {model}, Earth Genome mining-detector (MIT).").format(model=result.record.model)


def show_figures(result: Result, f: Filtered, rule: Rule) -> None:
    """Metrics: detections, polygons, footprint, highest score."""
    row = figures_table(result, f, rule).iloc[0]
    a, b, c, d = st.columns(4)
    a.metric(_("Detections"), number(row['detections']), help=_("Patches with {rule}.").format(rule=text_of(rule.describe())))
    b.metric(_("Polygons"), number(row['polygons']), help=_("Detections dissolved: touching or overlapping patches merged."))
    c.metric(_("Mined footprint"), hectares(row["footprint_ha"], compact=True),
             help=_("Area of the dissolved polygons (equal-area EPSG:6933): the footprint of the detection squares, "
                    "which overstates the mined land itself several times."))
    d.metric(_("Highest score"), "n/a" if np.isnan(row["max_score"]) else number(row['max_score'], ".2f"),
             help=_("The highest patch score in the region, whatever the threshold."))
    st.caption(_("{n} patches scored in the region; detections: {rule}.").format(n=number(row['patches_scored']),
                                                                                rule=text_of(rule.describe())))


def download_stem(result: Result, rule: Rule) -> str:
    """Downloaded files name what they hold: region, year, model, threshold."""
    r = result.record
    return f"detections_{slug(r.region_label)}_{r.the_period.key}_{r.model}_{rule.threshold:.2f}"


def downloads(result: Result, f: Filtered, rule: Rule) -> None:
    """GeoJSON of the detections and the polygons, CSV of the figures (built when clicked)."""
    stem = download_stem(result, rule)
    a, b, c = st.columns(3)
    a.download_button(_("Patches (GeoJSON)"), lambda: patches_geojson(result, f), f"{stem}_patches.geojson",
                      "application/geo+json", key="detect_dl_patches", on_click="ignore", width="stretch")
    b.download_button(_("Polygons (GeoJSON)"), lambda: f.polygons.to_json(drop_id=True), f"{stem}_polygons.geojson",
                      "application/geo+json", key="detect_dl_polygons", on_click="ignore", width="stretch")
    c.download_button(_("Figures (CSV)"), lambda: figures_table(result, f, rule).to_csv(index=False), f"{stem}_figures.csv",
                      "text/csv", key="detect_dl_figures", on_click="ignore", width="stretch")
