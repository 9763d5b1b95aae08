"""Plotly figures for the Trends page: pure functions from the tables of :mod:`detector.trends`.

Every figure names its measure (mined area or footprint) on the value axis, marks the ≤2018
baseline apart from the yearly growth, and colours a country the same way in every chart.
"""
from __future__ import annotations

import zlib

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from detector.trends import BASELINE, Measure

from ..format import period_label, sentence
from ..growth import up_to
from ..i18n import _

#: One colour per Amazon country (colour-blind-safe qualitative palette), the same in every chart.
COUNTRY_COLORS = {
    "Brazil": "#88CCEE", "Peru": "#CC6677", "Venezuela": "#DDCC77", "Suriname": "#117733",
    "Guyana": "#332288", "French Guiana": "#AA4499", "Bolivia": "#44AA99", "Ecuador": "#999933",
    "Colombia": "#882255", "": "#888888",
}
_SPARE = ["#661100", "#6699CC", "#888888", "#DDDDDD", "#E69F00", "#56B4E9", "#009E73", "#F0E442"]
_HA = "%{y:,.0f} ha"


def color_for(name: str) -> str:
    """A country's colour; other names get a stable spare colour."""
    return COUNTRY_COLORS.get(name) or _SPARE[zlib.crc32(name.encode()) % len(_SPARE)]


def _tick(label: str) -> str:
    """Two-line tick text, so nine periods fit a half-width chart without slanting ("2025<br>Q3", "≤2018<br>baseline")."""
    first, _sep, rest = label.partition(" ")
    return f"{first}<br>{rest.strip('()')}" if rest else first


def _x(periods) -> list[str]:
    """The periods of a table (keys or English labels) as the visitor reads them."""
    return [period_label(p) for p in periods]


def _hatch(periods) -> list[str]:
    """The baseline's bar hatched (everything up to 2018, not one year's)."""
    base = period_label(BASELINE)
    return ["/" if period_label(p) == base else "" for p in periods]


def new_title(measure: Measure) -> str:
    return sentence(_("New {measure} per period (ha)").format(measure=_(measure.name)))


def cumulative_title(measure: Measure) -> str:
    return sentence(_("Cumulative {measure} (ha)").format(measure=_(measure.name)))


def _layout(fig: go.Figure, title: str, y_title: str, periods, x_title: str | None = None) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        xaxis_title=x_title or _("Period"), yaxis_title=y_title,
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0, "xanchor": "left", "title_text": "", "traceorder": "normal"},
        margin={"l": 10, "r": 10, "t": 70, "b": 10}, hovermode="x unified", height=520,
    )
    fig.update_yaxes(tickformat=",.0f", rangemode="tozero")
    labels = _x(periods)
    fig.update_xaxes(type="category", tickangle=0, tickvals=labels, ticktext=[_tick(p) for p in labels])
    return fig


def _series(wide: pd.DataFrame) -> list[str]:
    return [c for c in wide.columns if c not in ("period", "Total")]


def new_by_region(wide: pd.DataFrame, measure: Measure, title: str | None = None) -> go.Figure:
    """Stacked bars of new area per period, one colour per region; the baseline bar is hatched."""
    fig = go.Figure()
    hatch = _hatch(wide["period"])
    for name in _series(wide):
        fig.add_bar(
            x=_x(wide["period"]), y=wide[name], name=name, marker_color=color_for(name),
            marker_pattern_shape=hatch, marker_pattern_fillmode="overlay", marker_pattern_solidity=0.25,
            hovertemplate=f"{name}: {_HA}<extra></extra>",
        )
    fig.update_layout(barmode="stack")
    return _layout(fig, title or sentence(_("New {measure} per period, by country").format(measure=_(measure.name)))
                   + "<br><sup>" + _("hatched: the ≤2018 baseline, everything detected up to 2018") + "</sup>",
                   new_title(measure), wide["period"])


def cumulative_by_region(wide: pd.DataFrame, measure: Measure, title: str | None = None) -> go.Figure:
    """Stacked areas of cumulative area per period: the top edge is the whole basin's total."""
    fig = go.Figure()
    for name in _series(wide):
        fig.add_scatter(
            x=_x(wide["period"]), y=wide[name], name=name, mode="lines", stackgroup="one",
            line={"width": 0.5, "color": color_for(name)}, fillcolor=color_for(name),
            hovertemplate=f"{name}: {_HA}<extra></extra>",
        )
    return _layout(fig, title or sentence(_("Cumulative {measure}, by country").format(measure=_(measure.name))),
                   cumulative_title(measure), wide["period"])


def top_regions(top: pd.DataFrame, measure: Measure, period: str, title: str | None = None) -> go.Figure:
    """Horizontal bars, largest on top, coloured by country; the hover names the country."""
    fig = go.Figure()
    order = list(top["region"])[::-1]  # plotly draws the first category at the bottom
    for country, rows in top.groupby("country", sort=False):
        fig.add_bar(
            y=rows["region"], x=rows[measure.cumulative_col], orientation="h", name=country or _("unknown country"),
            marker_color=color_for(country), customdata=rows[["country", measure.new_col]].to_numpy(),
            hovertemplate=(f"<b>%{{y}}</b><br>%{{customdata[0]}}<br>{_(measure.name)} {up_to(period)}: "
                           f"%{{x:,.0f}} ha<br>{_('new in {period}').format(period=period_label(period))}: "
                           "%{customdata[1]:,.0f} ha<extra></extra>"),
        )
    fig.update_layout(
        title={"text": title or _("Indigenous territories with the largest {measure}, {up_to}").format(
                   measure=_(measure.name), up_to=up_to(period)),
                   "x": 0, "xanchor": "left"},
        xaxis_title=sentence(_("Cumulative {measure}, {up_to} (ha)").format(measure=_(measure.name), up_to=up_to(period))),
        yaxis_title=None, barmode="stack", legend={"title_text": _("Country")}, margin={"l": 10, "r": 10, "t": 60, "b": 10},
        height=max(320, 26 * len(top) + 120),
    )
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=order, automargin=True)
    fig.update_xaxes(tickformat=",.0f", rangemode="tozero")
    return fig


def region_trend(tbl: pd.DataFrame, measure: Measure, name: str) -> go.Figure:
    """One region: new area per period as bars (left axis), the cumulative line (right axis)."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    hatch = _hatch(tbl["period"])
    fig.add_bar(x=_x(tbl["period"]), y=tbl[measure.new_col], name=_("new {measure}").format(measure=_(measure.name)), marker_color="#CC6677",
                marker_pattern_shape=hatch, marker_pattern_fillmode="overlay", marker_pattern_solidity=0.25,
                hovertemplate=f"{_('new')}: {_HA}<extra></extra>", secondary_y=False)
    fig.add_scatter(x=_x(tbl["period"]), y=tbl[measure.cumulative_col], name=_("cumulative {measure}").format(measure=_(measure.name)),
                    mode="lines+markers", line={"color": "#332288", "width": 2},
                    hovertemplate=f"{_('cumulative')}: {_HA}<extra></extra>", secondary_y=True)
    _layout(fig, _("{region}: new and cumulative {measure}").format(region=name, measure=_(measure.name)),
            new_title(measure), tbl["period"])
    fig.update_yaxes(title_text=cumulative_title(measure), secondary_y=True, tickformat=",.0f", rangemode="tozero",
                     showgrid=False, tickmode="auto")
    return fig
