"""Shaping the area statistics into the tables the Trends charts draw and users download.

Pure functions over the long tables of :func:`detector.stats.by_region` (one row per region and
period). Two things every table must get right, because a reader quotes them:

- **which area**: the published mined area (segmentation mask) or the polygons' footprint,
  about five times larger. A :class:`Measure` carries the column names and the wording, so a
  chart, its table and its CSV always say the same thing.
- **what a period is**: "2018" is the baseline (all mining detected up to 2018, not one year's
  growth) and "2025Q2"/"2025Q3" are single quarters. :func:`period_label` spells this out.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

BASELINE = "2018"


@dataclass(frozen=True)
class Measure:
    """One of the two areas, with the words to label it."""

    key: str
    name: str  # "mined area" / "footprint", for sentences
    option: str  # the toggle's label
    new_col: str
    cumulative_col: str
    layer_col: str  # the per-polygon column of the published layers

    @property
    def new_title(self) -> str:
        return f"New {self.name} per period (ha)"

    @property
    def cumulative_title(self) -> str:
        return f"Cumulative {self.name} (ha)"


MEASURES: dict[str, Measure] = {
    "mined": Measure("mined", "mined area", "Mined area (published mask)", "new_mined_ha", "cumulative_mined_ha",
                     "mined_area_ha"),
    "footprint": Measure(
        "footprint", "footprint", "Footprint (polygon area, several times larger)", "new_footprint_ha", "cumulative_footprint_ha",
        "footprint_ha",
    ),
}


def period_label(period: str) -> str:
    """How a period reads on an axis or in a table: the baseline and the quarters say what they are."""
    p = str(period)
    if p == BASELINE:
        return f"≤{BASELINE} (baseline)"
    if len(p) == 6 and p[4] == "Q":
        return f"{p[:4]} {p[4:]}"
    return p


def up_to(period: str) -> str:
    """"up to 2021"; the baseline is already everything up to 2018, so it reads "up to 2018"."""
    return f"up to {BASELINE}" if str(period) == BASELINE else f"up to {period_label(period)}"


def _periods(table: pd.DataFrame) -> list[str]:
    col = table["period"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.astype(str))
        return [str(p) for p in col.cat.categories if str(p) in present]
    return list(dict.fromkeys(col.astype(str)))


def by_period(table: pd.DataFrame, column: str, total: bool = True) -> pd.DataFrame:
    """Periods down, regions across (largest first), one stats column's values; a Total column.

    Regions with nothing in any period are left out: a stacked chart cannot show them anyway.
    The ``period`` column holds :func:`period_label` text, in time order.
    """
    periods = _periods(table)
    wide = table.pivot_table(index=table["period"].astype(str), columns="region_name", values=column,
                             aggfunc="sum", observed=True, dropna=False)
    wide = wide.reindex(periods).fillna(0.0)
    size = wide.abs().sum().sort_values(ascending=False, kind="stable")
    wide = wide[[c for c in size.index if size[c] > 0]]
    wide.columns = [str(c) for c in wide.columns]
    if total:
        wide["Total"] = wide.sum(axis=1)
    wide.insert(0, "period", [period_label(p) for p in wide.index])
    return wide.reset_index(drop=True)


def top_regions(table: pd.DataFrame, regions: pd.DataFrame, period: str, measure: Measure, n: int = 15) -> pd.DataFrame:
    """The n regions with the most cumulative area up to and including ``period``.

    ``regions`` gives each ``region_id`` its ``country`` (and ``status`` where known). Regions with
    none are left out, so fewer than n rows come back when few regions have mining. Names that
    more than one region shares get the id added, so every bar has its own label.
    Columns: region, country, status, region_id, the cumulative column, the new column (``period``).
    """
    rows = table[table["period"].astype(str) == str(period)]
    rows = rows[rows[measure.cumulative_col] > 0]
    rows = rows.sort_values([measure.cumulative_col, "region_id"], ascending=[False, True]).head(max(int(n), 0))
    meta = regions.drop(columns="geometry", errors="ignore").drop_duplicates("region_id").set_index("region_id")
    names = table.drop_duplicates("region_id").set_index("region_id")["region_name"].astype(str)
    shared = set(names[names.duplicated(keep=False)])
    ids = rows["region_id"].astype(str)
    out = pd.DataFrame({
        "region": [f"{nm} ({i})" if nm in shared else nm for nm, i in zip(rows["region_name"].astype(str), ids)],
        "country": ids.map(meta["country"]).fillna("") if "country" in meta else "",
        "status": ids.map(meta["status"]).fillna("") if "status" in meta else "",
        "region_id": ids,
        measure.cumulative_col: rows[measure.cumulative_col].to_numpy(),
        measure.new_col: rows[measure.new_col].to_numpy(),
    })
    return out.reset_index(drop=True)


def region_table(table: pd.DataFrame, measure: Measure) -> pd.DataFrame:
    """One region's new and cumulative area per period (summed if the table holds several regions)."""
    periods = _periods(table)
    g = table.groupby(table["period"].astype(str))[[measure.new_col, measure.cumulative_col]].sum()
    g = g.reindex(periods).fillna(0.0)
    g.insert(0, "period", [period_label(p) for p in g.index])
    return g.reset_index(drop=True)


def found_nothing(table: pd.DataFrame) -> bool:
    """Whether a region's table holds no mining at all (all footprints zero)."""
    return not (table["new_footprint_ha"].fillna(0) > 0).any()


def at_period(table: pd.DataFrame, period: str, measure: Measure) -> tuple[float, float]:
    """The (cumulative, new) area of all regions together at one period."""
    rows = table[table["period"].astype(str) == str(period)]
    return float(rows[measure.cumulative_col].sum()), float(rows[measure.new_col].sum())


def to_csv(table: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV for a download button (hectares to two decimals, no index)."""
    return table.to_csv(index=False, float_format="%.2f").encode("utf-8")


def _same_kind(a: str, b: str) -> bool:
    """Two periods whose new areas compare: both whole years (not the baseline), or both quarters."""
    return a != BASELINE and b != BASELINE and (("Q" in a) == ("Q" in b))


def growth(table: pd.DataFrame, period: str, measure: Measure, area_ha: float | None = None) -> dict:
    """Growth figures of a region's table at a period: × the baseline, % change of the new area against the
    previous period of the same kind, and the share of the region's area (``area_ha``) taken up to the period.

    A figure that cannot be said is None: no baseline area, the period is the baseline, the previous
    period is of another kind (a year against a quarter), or no area given.
    """
    rows = table.groupby(table["period"].astype(str))[[measure.new_col, measure.cumulative_col]].sum()
    periods = [p for p in _periods(table) if p in rows.index]
    p = str(period)
    if p not in rows.index:
        return {"times_baseline": None, "change_pct": None, "previous": None, "share_of_area": None}
    cum = float(rows.loc[p, measure.cumulative_col])
    base = float(rows.loc[BASELINE, measure.cumulative_col]) if BASELINE in rows.index else 0.0
    times = cum / base if base > 0 and p != BASELINE else None
    i = periods.index(p)
    prev = periods[i - 1] if i > 0 else None
    change = None
    if prev is not None and _same_kind(prev, p):
        before = float(rows.loc[prev, measure.new_col])
        change = (float(rows.loc[p, measure.new_col]) - before) / before * 100 if before > 0 else None
    share = cum / area_ha if area_ha and area_ha > 0 else None
    return {"times_baseline": times, "change_pct": change, "previous": prev if change is not None else None,
            "share_of_area": share}
