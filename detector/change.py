"""Change over periods: what is new in each period, what has accumulated, and how it compares.

Pure functions over the detections of a multi-period run (one frame of kept patches per period,
in time order), so the CLI, the pages and watches compute "new since" and "cumulative" one way:

* **new since** in period P: patches kept in P and in no earlier period of the run;
* **cumulative** up to P: patches kept in any period up to P, each with the first period it was
  kept in and its highest score so far.

A patch is its grid position (epsg, row, col), the same in every period. Footprints are the
patches' squares dissolved, in hectares (equal-area EPSG:6933), like Detect's figures. Agreement
with the published layers compares areas of polygons, in the same equal-area projection.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from . import grid, periods, postprocess

KEY = ["epsg", "row", "col"]
#: Below this mean share of the region's patch pixels with clear imagery, a period's figures are
#: flagged: "no new mining" there may only mean "not seen".
LOW_IMAGERY = 0.5
EQUAL_AREA = "EPSG:6933"


def _keys(frame: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([frame[c].to_numpy() for c in KEY], names=KEY)


def footprint_ha(frame: pd.DataFrame) -> float:
    """The dissolved area of the patches' squares, in hectares."""
    if not len(frame):
        return 0.0
    union = grid.squares(frame[KEY]).geometry.union_all()
    return float(postprocess.area_ha(gpd.GeoSeries([union], crs="EPSG:4326"))[0])


@dataclass
class PeriodLayers:
    """One period's three layers (patch frames with epsg, row, col, score …)."""

    period: periods.Period
    kept: pd.DataFrame
    new: pd.DataFrame  # kept here and in no earlier period
    cumulative: pd.DataFrame  # kept here or earlier: first_period, score (highest so far)


def layers(kept: Sequence[tuple[periods.Period, pd.DataFrame]]) -> list[PeriodLayers]:
    """New-since and cumulative layers of each period, given each period's kept patches in time order."""
    out: list[PeriodLayers] = []
    seen = pd.DataFrame({c: pd.Series([], dtype=np.int64) for c in KEY} | {
        "first_period": pd.Series([], dtype=object), "score": pd.Series([], dtype=np.float32)})
    for period, frame in kept:
        here = frame.reset_index(drop=True)
        is_new = ~_keys(here).isin(_keys(seen))
        new = here[is_new].reset_index(drop=True)
        both = pd.concat([seen, here[KEY + ["score"]].assign(first_period=period.key)], ignore_index=True)
        # Each patch once: the first period it was kept in, its highest score up to here.
        first = both.drop_duplicates(KEY, keep="first").set_index(KEY)["first_period"]
        best = both.groupby(KEY, sort=False)["score"].max()
        seen = pd.DataFrame({"first_period": first, "score": best.reindex(first.index)}).reset_index()
        seen["epsg"] = seen["epsg"].astype(np.int64)
        out.append(PeriodLayers(period, here, new, seen.copy()))
    return out


def table(runs: Sequence[PeriodLayers], imagery: Sequence[float] | None = None) -> pd.DataFrame:
    """The per-period chart's figures: detections, new and cumulative patches and footprints.

    ``imagery``: each period's mean share of the region's patch pixels with imagery (flagged below
    :data:`LOW_IMAGERY`).
    """
    rows = []
    for i, r in enumerate(runs):
        share = float(imagery[i]) if imagery is not None else float("nan")
        rows.append({
            "period": r.period.key, "label": r.period.label,
            "detected_patches": len(r.kept), "detected_footprint_ha": round(footprint_ha(r.kept), 2),
            "new_patches": len(r.new), "new_footprint_ha": round(footprint_ha(r.new), 2),
            "cumulative_patches": len(r.cumulative), "cumulative_footprint_ha": round(footprint_ha(r.cumulative), 2),
            "imagery_share": round(share, 3), "low_imagery": bool(not np.isnan(share) and share < LOW_IMAGERY),
        })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- agreement with published polygons

@dataclass
class Agreement:
    """How our kept footprint and a set of published mining polygons overlap (hectares, equal-area)."""

    ours_ha: float
    published_ha: float
    both_ha: float

    @property
    def published_covered(self) -> float:
        """The share of the published polygons' area that our kept patches cover."""
        return self.both_ha / self.published_ha if self.published_ha else float("nan")

    @property
    def ours_outside(self) -> float:
        """The share of our kept footprint outside the published polygons."""
        return (self.ours_ha - self.both_ha) / self.ours_ha if self.ours_ha else float("nan")


def _union(geoms: gpd.GeoSeries):
    g = geoms.to_crs(EQUAL_AREA)
    return g.union_all() if len(g) else None


def agreement(ours: gpd.GeoSeries, published: gpd.GeoSeries, region=None) -> tuple[Agreement, gpd.GeoDataFrame]:
    """Areas of ours, of published and of both, and a map layer coloured by agree / ours only / published only.

    Both are clipped to ``region`` (lon/lat) first when given: the published polygons reach beyond
    a run's region.
    """
    if region is not None:
        ours = ours.clip(region) if len(ours) else ours
        published = published.clip(region) if len(published) else published
    a, b = _union(ours), _union(published)
    empty = gpd.GeoSeries([], crs=EQUAL_AREA).union_all()
    a = a if a is not None else empty
    b = b if b is not None else empty
    both = a.intersection(b)
    parts = [("agree", both), ("ours only", a.difference(b)), ("published only", b.difference(a))]
    shown = gpd.GeoDataFrame({"agreement": [n for n, _ in parts], "area_ha": [g.area / 1e4 for _, g in parts]},
                             geometry=[g for _, g in parts], crs=EQUAL_AREA)
    shown = shown[~shown.geometry.is_empty].to_crs("EPSG:4326").reset_index(drop=True)
    return Agreement(a.area / 1e4, b.area / 1e4, both.area / 1e4), shown


def published_key(period: periods.Period, known: Sequence[str]) -> str | None:
    """The published layer's period for one of ours ("2024", "2025Q2"), or None where it publishes none."""
    return period.key if period.kind in ("year", "quarter") and period.key in known else None


@dataclass
class PeriodOutcome:
    """One period of a multi-period run: its scores (from the store where they were there) and figures."""

    period: periods.Period
    scores: pd.DataFrame
    summary: object  # the period's RunSummary
    run_id: str = ""
    region: object = None  # the region scored (clipped to the imagery), lon/lat

    @property
    def imagery_share(self) -> float:
        """Mean share of the region's patch pixels with imagery (patches without any count as 0)."""
        s = self.summary
        total = int(s.patches) + int(s.not_covered)
        if not total:
            return 0.0
        vf = self.scores["valid_fraction"].to_numpy() if "valid_fraction" in self.scores.columns else np.ones(len(self.scores))
        return float(np.nansum(vf)) / total


def kept_by(outcomes: Sequence[PeriodOutcome], rule) -> list[tuple[periods.Period, pd.DataFrame]]:
    """Each period's detections under one rule, with squares (what the layers and downloads show)."""
    out = []
    for o in outcomes:
        pool = o.scores[o.scores["score"].to_numpy() >= rule.threshold]
        shaped = grid.squares(pool.reset_index(drop=True))
        out.append((o.period, rule.apply(shaped).reset_index(drop=True)))
    return out
