"""The Change page's parts: the periods to run, the run itself, and what changed from period to period.

Everything is computed by :mod:`detector.change` through the workspace; this module only lays it
out. A run is one Detect run per period (each scored on its own and kept in the score store, so a
re-run, or a longer list of periods, computes only what is missing); the rule re-filters the
stored scores without running the model.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from detector import catalog, change, periods, published
from detector.errors import DetectorError
from detector.pipeline import TileProgress
from detector.region import area_km2
from detector.workspace import DetectRequest

from .. import identity, workspace
from ..detect.run import markdown
from ..format import period_label, slug, whole_hectares
from ..i18n import N_, _, cached, number, text_of

RESULT, PERIODS_KEY, PRESET_KEY, PERIOD_KEY, LAYER_KEY, PLAY_KEY = (
    "change_result", "change_periods", "change_preset", "change_period", "change_layer", "change_play")
DEFAULT_PERIODS = "2019-2024,2025Q2-2025Q3"
LAYERS = {"kept": N_("Detections in the period"), "new": N_("New since the earlier periods"),
          "cumulative": N_("Cumulative up to the period"), "agreement": N_("Against the published layer")}


@dataclass
class ChangeRun:
    """A finished multi-period run as the session keeps it."""

    outcomes: list[change.PeriodOutcome]
    region_label: str
    source_label: str
    model: str

    @property
    def keys(self) -> list[str]:
        return [o.period.key for o in self.outcomes]

    @property
    def digest(self) -> str:
        return "|".join(o.run_id or o.period.key for o in self.outcomes) + f"|{self.region_label}|{self.model}"


def period_list() -> list[periods.Period] | None:
    """The periods box, read; its problem shown where it is."""
    st.session_state.setdefault(PERIODS_KEY, DEFAULT_PERIODS)
    text = st.text_input(_("Periods"), key=PERIODS_KEY,
                         help=_("Years (2019-2024), quarters (2025Q2-2025Q3) or date ranges (2024-03-01..2024-06-30), "
                                "separated by commas, in time order."))
    try:
        ps = periods.parse_many(text)
    except DetectorError as exc:
        st.error(text_of(exc))
        return None
    st.caption(_("{n} periods: {names}").format(n=len(ps), names=", ".join(period_label(p) for p in ps)))
    return ps


def current_rule():
    """The rule the Change page has chosen (its preset), also where the page is not drawn."""
    ws = workspace.current()
    name = st.session_state.get(PRESET_KEY) or "AMW relaxed"
    try:
        return ws.preset(name).rule()
    except DetectorError:
        return ws.preset("AMW relaxed").rule()


def rule_choice():
    """A preset for the rule; Amazon Mining Watch's two are always there."""
    ws = workspace.current()
    choices = {p.name: p for p in ws.presets()}
    if st.session_state.get(PRESET_KEY) not in choices:
        st.session_state[PRESET_KEY] = "AMW relaxed"
    name = st.selectbox(_("Rule"), list(choices), key=PRESET_KEY, format_func=lambda n: f"{n}: {text_of(choices[n].describe())}",
                        help=_("AMW relaxed: what Amazon Mining Watch recommends for a single period's detections; "
                               "AMW stringent: the rule of its cumulative layer. Your presets from Tune are listed too."))
    preset = choices[name]
    if preset.note:
        st.caption(_(preset.note))
    return preset.rule()


def run(req, spans: list[periods.Period], where) -> None:
    """Every period of the list for the request's region, imagery and model, with progress per period."""
    bar = where.progress(0.0, text=_("Starting…"))
    at = {"i": 0, "n": len(spans), "label": ""}

    def on_period(i: int, n: int, period) -> None:
        at.update(i=i, n=n, label=period_label(period))
        bar.progress(i / n, text=_("Period {i} of {n} ({period})").format(i=i + 1, n=n, period=period_label(period)))

    def on_progress(p: TileProgress) -> None:
        share = (at["i"] + (p.done / p.total if p.total else 1)) / at["n"]
        bar.progress(min(share, 1.0), text=_("Period {i} of {n} ({period}): tile {done} of {total}, {stored} from the "
                                             "store").format(i=at["i"] + 1, n=at["n"], period=at["label"],
                                                             done=number(p.done), total=number(p.total),
                                                             stored=number(p.from_store)))

    ws = workspace.current()
    try:
        # Each period is a run's worth of area: a list of eight periods costs eight times the region.
        with ws.gate.slot(identity.user_key(), area_km2(req.region.geometry) * len(spans), on_wait=identity.queued(bar)):
            outs = ws.change(DetectRequest(req.region.geometry, None, req.source, req.model_ref), spans,
                             on_period=on_period, on_progress=on_progress, label=req.region.name,
                             source_label=req.source_label)
    except DetectorError as exc:
        bar.empty()
        where.error(markdown(text_of(exc)) + ("\n\n" + _("The periods finished before this are kept in the score "
                                                         "store: run again to go on from there.") if at["i"] else ""))
        return
    bar.empty()
    st.session_state[RESULT] = ChangeRun(outs, req.region.name, req.source_label, outs[0].summary.model)
    st.session_state[PERIOD_KEY] = outs[-1].period.key


def run_period_label(key: str) -> str:
    """A run's period (a key of its table) as it reads: a year is a year here, never the published baseline."""
    return period_label(periods.parse(key))


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The run's table as the page shows it: periods as they read, headers in the visitor's language."""
    shown = table.drop(columns=["region", "imagery"]).assign(label=table["period"].map(run_period_label))
    names = {"label": _("period"), "detected_patches": _("detected patches"),
             "detected_footprint_ha": _("detected footprint (ha)"), "new_patches": _("new patches"),
             "new_footprint_ha": _("new footprint (ha)"), "cumulative_patches": _("cumulative patches"),
             "cumulative_footprint_ha": _("cumulative footprint (ha)"), "imagery_share": _("clear imagery"),
             "low_imagery": _("little clear imagery"), "computed_now": _("computed now")}
    return shown.drop(columns=["period"]).rename(columns=names)


def agreement_table(figures: dict) -> pd.DataFrame:
    """The agreement figures with headers in the visitor's language (the keys are marked where made)."""
    return pd.DataFrame([figures]).rename(columns=_)


AGREEMENT_SHARES = (N_("published covered by ours"), N_("ours outside published"))


def current() -> ChangeRun | None:
    return st.session_state.get(RESULT)


@st.cache_data(show_spinner=False, max_entries=16)
def layers_for(digest: str, rule: tuple, _run: ChangeRun) -> tuple[list[change.PeriodLayers], pd.DataFrame]:
    """The run's layers and table under a rule (once per run and rule)."""
    from detector.rule import Rule

    runs = change.layers(change.kept_by(_run.outcomes, Rule(*rule)))
    table = change.table(runs, [o.imagery_share for o in _run.outcomes])
    table.insert(0, "region", _run.region_label)
    table.insert(1, "imagery", _run.source_label)
    table["computed_now"] = [o.summary.scored_now for o in _run.outcomes]
    return runs, table


def chart(table: pd.DataFrame) -> go.Figure:
    """New footprint per period as bars, the cumulative footprint as a line (patch footprint, hectares)."""
    fig = go.Figure()
    x = table["period"].map(run_period_label)
    fig.add_bar(x=x, y=table["new_footprint_ha"], name=_("new since earlier periods (ha)"), marker_color="#e16462")
    fig.add_scatter(x=x, y=table["cumulative_footprint_ha"], name=_("cumulative (ha)"), mode="lines+markers",
                    line={"color": "#fca636", "width": 3})
    fig.add_scatter(x=x, y=table["detected_footprint_ha"], name=_("detected in the period (ha)"),
                    mode="lines+markers", line={"color": "#6a00a8", "dash": "dot"})
    low = table["low_imagery"].to_numpy()
    if low.any():
        fig.add_scatter(x=x[low], y=[0] * int(low.sum()), name=_("little clear imagery"), mode="markers",
                        marker={"symbol": "x", "size": 12, "color": "#9aa4b1"})
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": -0.2},
                      yaxis_title=_("patch footprint (ha)"), title=_("Patch footprint per period"),
                      xaxis={"type": "category"})
    return fig


def low_imagery_notes(table: pd.DataFrame) -> None:
    for row in table[table["low_imagery"]].itertuples():
        st.warning(_("**{period}**: clear imagery on only {share:.0%} of the region's patch pixels. Few detections "
                     "there may mean the ground was not seen, not that nothing changed.").format(
            period=run_period_label(row.period), share=row.imagery_share))


@cached(st.cache_data, N_("Comparing with the published layer…"), max_entries=32)
def agreement_for(digest: str, rule: tuple, key: str, _runs, _region) -> tuple[dict, object] | None:
    """Agreement of the period's detections with Amazon Mining Watch's layer of the same period."""
    from detector.grid import squares

    layer = next(r for r in _runs if r.period.key == key)
    pub_key = change.published_key(layer.period, list(catalog.periods()))
    if pub_key is None:
        return None
    pub = published.load_layer(pub_key)
    ours = squares(layer.kept[["epsg", "row", "col"]]).geometry if len(layer.kept) else squares(layer.kept).geometry
    agree, shown = change.agreement(ours, pub.geometry, _region)
    covered, outside = AGREEMENT_SHARES
    return ({N_("published layer"): f"mining_{pub_key}", N_("ours (ha)"): round(agree.ours_ha, 1),
             N_("published (ha)"): round(agree.published_ha, 1), N_("both (ha)"): round(agree.both_ha, 1),
             covered: agree.published_covered, outside: agree.ours_outside},
            shown)


def downloads(run_: ChangeRun, runs: list[change.PeriodLayers], table: pd.DataFrame, key: str, rule) -> None:
    """The figures as CSV; the period's three layers as GeoJSON (region and imagery in every feature).

    Each file is made when its button is pressed, not on every period switch (three GeoJSONs a switch
    was most of the server's part of it)."""
    layer = next(r for r in runs if r.period.key == key)
    name = slug(run_.region_label)
    cols = st.columns(4)
    cols[0].download_button(_("Figures (CSV)"), lambda: table.assign(rule=rule.describe()).to_csv(index=False),
                            f"change_{name}.csv", "text/csv", key="change_csv", on_click="ignore",
                            icon=":material/download:")
    for col, (what, frame, title) in zip(cols[1:], (("detections", layer.kept, _("Detections {period}")),
                                                    ("new", layer.new, _("New {period}")),
                                                    ("cumulative", layer.cumulative, _("Cumulative {period}")))):
        col.download_button(title.format(period=period_label(layer.period)),
                            functools.partial(layer_geojson, frame, key, run_.region_label, run_.source_label),
                            f"{what}_{name}_{key}.geojson", "application/geo+json", key=f"change_dl_{what}",
                            on_click="ignore", icon=":material/download:")


def layer_geojson(frame: pd.DataFrame, key: str, region: str, imagery: str) -> str:
    """A period layer's patches as squares, with period, region and imagery in every feature."""
    from detector.grid import squares

    shaped = squares(frame.drop(columns=["geometry", "patch_id"], errors="ignore"))
    return shaped.assign(period=key, region=region, imagery=imagery).to_json(drop_id=True)


def figures_row(table: pd.DataFrame, key: str) -> None:
    row = table[table["period"] == key].iloc[0]
    c = st.columns(4)
    patches = _("{n} patches")
    c[0].metric(_("Detected"), whole_hectares(row.detected_footprint_ha), patches.format(n=number(row.detected_patches)),
                delta_color="off", delta_arrow="off",
                help=_("Patch footprint detected in {period}").format(period=run_period_label(row.period)))
    c[1].metric(_("New"), whole_hectares(row.new_footprint_ha), patches.format(n=number(row.new_patches)), delta_color="off",
                delta_arrow="off", help=_("Detected in {period} and in no earlier period of the run").format(period=run_period_label(row.period)))
    c[2].metric(_("Cumulative"), whole_hectares(row.cumulative_footprint_ha),
                patches.format(n=number(row.cumulative_patches)), delta_color="off", delta_arrow="off",
                help=_("Detected in any period of the run up to {period}").format(period=run_period_label(row.period)))
    c[3].metric(_("Clear imagery"), number(row.imagery_share, ".0%"),
                help=_("Mean share of the region's patch pixels with imagery"))


def period_geojson(frame: pd.DataFrame) -> str:
    """A layer's patches dissolved into polygons, as GeoJSON for the map."""
    from detector import postprocess
    from detector.grid import squares

    if not len(frame):
        return json.dumps({"type": "FeatureCollection", "features": []})
    polys = postprocess.dissolve(squares(frame.drop(columns=["geometry", "patch_id"], errors="ignore")))
    return polys.to_json(drop_id=True)
