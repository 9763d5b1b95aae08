"""Growth figures beside a region's numbers (Explore, Trends): × the baseline, % change, share of the region."""
from __future__ import annotations

import streamlit as st

from detector import trends
from detector.region import area_km2

from .format import period_label, sentence
from .i18n import N_, _, number

#: The measures' words (detector.trends.MEASURES), for the catalogue.
WORDS = (N_("mined area"), N_("footprint"), N_("Mined area (published mask)"),
         N_("Footprint (polygon area, several times larger)"))


def up_to(period: str) -> str:
    """"up to 2025 Q3" in the visitor's language (the baseline reads "up to 2018")."""
    return _("up to {period}").format(period=trends.BASELINE if str(period) == trends.BASELINE
                                      else period_label(period))


def line(table, period: str, measure: trends.Measure, geometry) -> str:
    """The growth figures as one sentence, for a narrow panel (Explore's); figures that cannot be said left out."""
    g = trends.growth(table, period, measure, area_km2(geometry) * 100)
    parts = []
    name = _(measure.name)
    if g["times_baseline"] is not None:
        parts.append(_("**{times:.2f}×** the {baseline} baseline").format(times=g["times_baseline"],
                                                                          baseline=trends.BASELINE))
    if g["change_pct"] is not None:
        parts.append(_("new {measure} **{change:+.0f}%** against {previous}").format(
            measure=name, change=g["change_pct"], previous=period_label(g["previous"])))
    if g["share_of_area"] is not None:
        parts.append(_("**{share:.2%}** of the region {up_to}").format(share=g["share_of_area"], up_to=up_to(period)))
    return " · ".join(parts)


def show(table, period: str, measure: trends.Measure, geometry) -> None:
    """Three metrics; a figure that cannot be said reads "—" with why in its help."""
    g = trends.growth(table, period, measure, area_km2(geometry) * 100)
    a, b, c = st.columns(3)
    name = _(measure.name)
    a.metric(_("× the {baseline} baseline").format(baseline=trends.BASELINE),
             "—" if g["times_baseline"] is None else number(g["times_baseline"], ".2f") + "×",
             help=_("{measure} {up_to} against all of it up to {baseline}").format(
                 measure=name.capitalize(), up_to=up_to(period), baseline=trends.BASELINE)
                  + ("" if g["times_baseline"] is not None else " " + _("(none recorded by then, or this is the baseline)")))
    b.metric(_("Change in new area"), "—" if g["change_pct"] is None else f"{g['change_pct']:+.0f}%",
             help=(sentence(_("New {measure} in {period} against {previous}").format(
                       measure=name, period=period_label(period), previous=period_label(g["previous"])))
                   if g["change_pct"] is not None else
                   _("Compared only with the period before of the same kind: a year with a year, a quarter with a "
                     "quarter (and never with the baseline).")))
    c.metric(_("Share of the region"), "—" if g["share_of_area"] is None else number(g['share_of_area'], ".2%"),
             help=_("{measure} {up_to} as a share of the region's area").format(measure=name.capitalize(),
                                                                                up_to=up_to(period)))
