"""Growth figures beside a region's numbers (Explore, Trends): × the baseline, % change, share of the region."""
from __future__ import annotations

import streamlit as st

from detector import trends
from detector.region import area_km2


def line(table, period: str, measure: trends.Measure, geometry) -> str:
    """The growth figures as one sentence, for a narrow panel (Explore's); figures that cannot be said left out."""
    g = trends.growth(table, period, measure, area_km2(geometry) * 100)
    parts = []
    if g["times_baseline"] is not None:
        parts.append(f"**{g['times_baseline']:.2f}×** the {trends.BASELINE} baseline")
    if g["change_pct"] is not None:
        parts.append(f"new {measure.name} **{g['change_pct']:+.0f}%** against {trends.period_label(g['previous'])}")
    if g["share_of_area"] is not None:
        parts.append(f"**{g['share_of_area']:.2%}** of the region {trends.up_to(period)}")
    return " · ".join(parts)


def show(table, period: str, measure: trends.Measure, geometry) -> None:
    """Three metrics; a figure that cannot be said reads "—" with why in its help."""
    g = trends.growth(table, period, measure, area_km2(geometry) * 100)
    a, b, c = st.columns(3)
    a.metric(f"× the {trends.BASELINE} baseline", "—" if g["times_baseline"] is None else f"{g['times_baseline']:.2f}×",
             help=f"{measure.name.capitalize()} {trends.up_to(period)} against all of it up to {trends.BASELINE}"
                  + ("" if g["times_baseline"] is not None else " (none recorded by then, or this is the baseline)"))
    b.metric("Change in new area", "—" if g["change_pct"] is None else f"{g['change_pct']:+.0f}%",
             help=(f"New {measure.name} in {trends.period_label(period)} against {trends.period_label(g['previous'])}"
                   if g["change_pct"] is not None else
                   "Compared only with the period before of the same kind: a year with a year, a quarter with a quarter "
                   "(and never with the baseline)."))
    c.metric("Share of the region", "—" if g["share_of_area"] is None else f"{g['share_of_area']:.2%}",
             help=f"{measure.name.capitalize()} {trends.up_to(period)} as a share of the region's area")
