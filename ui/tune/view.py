"""The Tune page's pieces: the rule's controls, figures, curves, the outcome map and the presets panel.

The numbers come from :mod:`detector.evaluate`; this module only caches and draws them. The curves
depend on the layer, the isolation settings and the labels, never on the threshold itself, so
moving the threshold slider redraws a marker, not the curves.
"""
from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import shapely
import streamlit as st

from detector import evaluate, presets
from detector.errors import DetectorError
from detector.labels import CATEGORIES
from detector.rule import DEFAULT as DEFAULT_RULE

from .. import coverage, state, workspace
from ..format import hectares, plain
from ..i18n import N_, _, cached, number, text_of
from ..map.basemaps import basemap
from ..review import layers as review_layers
from ..review import maps as review_maps

THRESHOLDS = np.round(np.linspace(0.0, 1.0, 101), 2)
#: Outcome colours on the map; false positives take their look-alike's colour.
COLORS = {"true positive": "#2ecc71", "missed mine": "#ff00ff", "unlabelled": "#cfd8dc", "unsure": "#607d8b"}
#: The outcomes (the rows' ``outcome`` values) as the page names them.
OUTCOMES = {"true positive": N_("true positive"), "missed mine": N_("missed mine"), "unlabelled": N_("unlabelled"),
            "unsure": N_("unsure"), "false positive": N_("false positive")}
FP_COLORS = {
    "aquaculture": "#1f77ff", "riverbank": "#f1c40f", "farm_pond": "#17becf", "landslide": "#a0522d",
    "industrial": "#9467bd", "cloud": "#ecf0f1", "other": "#ff4136", None: "#ff4136",
}
MAP_HEIGHT = 560


# ---------------------------------------------------------------- cached numbers

@st.cache_resource(show_spinner=False, max_entries=8)
def cells(name: str) -> evaluate.Cells:
    return evaluate.cells(review_layers.load(name))


@cached(st.cache_data, N_("Judging the layer against the labels…"), max_entries=32)
def truth(name: str, store_url: str, labels_version: int) -> pd.DataFrame:
    """Each patch's truth from the current labels (the store is append-only: its size is its version)."""
    return evaluate.truth(review_layers.load(name), name, review_layers.label_store().current())


@cached(st.cache_data, N_("Computing the curves…"), max_entries=32)
def curve(name: str, dual: bool, t_iso: float, k: int, d_km: float, store_url: str, labels_version: int,
          min_valid: float = 0.0) -> pd.DataFrame:
    layer = review_layers.load(name)
    rule = evaluate.Rule(0.5, dual, t_iso, k, d_km, min_valid)
    return evaluate.curve(layer, truth(name, store_url, labels_version)["truth"], rule, THRESHOLDS, cells(name))


# ---------------------------------------------------------------- controls

_DUAL, _TISO, _K, _D, _PRESET = "tune_dual", "tune_t_iso", "tune_k", "tune_d_km", "tune_preset"
_MEMO = "rule_memo"  # the rule's last values, kept across pages (not a widget key)


def rule_controls(view: state.View) -> evaluate.Rule:
    """A saved preset to start from, the isolation rule's switch and sliders; the threshold is the shared
    sidebar's. Tune and Detect both call this, so a preset saved on one applies on the other."""
    saved = workspace.current().presets()
    if saved:
        described = {p.name: text_of(p.describe()) for p in saved}
        if st.session_state.get(_PRESET) not in described:
            st.session_state[_PRESET] = None
        st.selectbox(_("Start from a preset"), [None, *described], key=_PRESET, on_change=_on_preset,
                     placeholder=_("Choose a preset"),
                     format_func=lambda n: "—" if n is None else f"{n}: {described[n]}",
                     help=_("Sets the threshold and the isolation rule. AMW relaxed / stringent are Amazon Mining "
                            "Watch's rules (single period / cumulative); Tune's 'Save preset' adds yours."))
    # Streamlit forgets a widget's value on a page that does not draw it; the rule is kept beside the widgets,
    # so coming back to Detect or Tune finds the isolation rule as it was left, like the sidebar's threshold.
    memo = st.session_state.setdefault(_MEMO, {})
    for key, default in ((_DUAL, DEFAULT_RULE.dual), (_TISO, DEFAULT_RULE.t_iso), (_K, DEFAULT_RULE.k),
                         (_D, DEFAULT_RULE.d_km), (coverage.RULE_KEY, 0)):
        if key not in st.session_state:
            st.session_state[key] = memo.get(key, default)
    dual = st.toggle(_("Isolation rule"), key=_DUAL,
                     help=_("Mining comes in clusters: a patch whose k-th nearest kept neighbour is farther than D "
                            "must reach the higher isolation threshold."))
    c1, c2, c3 = st.columns(3)
    t_iso = c1.slider(_("Isolation threshold (t_iso)"), 0.0, 1.0, step=0.01, key=_TISO, disabled=not dual)
    k = c2.slider(_("Neighbours (k)"), 1, 20, step=1, key=_K, disabled=not dual)
    d_km = c3.slider(_("Distance D (km)"), 0.5, 20.0, step=0.5, key=_D, disabled=not dual)
    min_valid = coverage.imagery_share(coverage.RULE_KEY)
    memo.update({_DUAL: dual, _TISO: t_iso, _K: k, _D: d_km, coverage.RULE_KEY: st.session_state[coverage.RULE_KEY]})
    return evaluate.Rule(view.threshold, dual, t_iso, k, d_km, min_valid)



def _on_preset() -> None:
    name = st.session_state.get(_PRESET)
    if name:
        apply_preset(name)


def apply_preset(name: str) -> None:
    """A saved preset's settings into the sliders (a callback: it runs before the widgets are drawn)."""
    p = workspace.current().preset(name)
    st.session_state.update({_DUAL: p.dual, _TISO: p.t_iso, _K: p.k, _D: p.d_km,
                             coverage.RULE_KEY: int(round(p.min_valid * 100))})
    state.update(threshold=p.threshold)  # and the sidebar's slider with it (ui.state.update mirrors it)


# ---------------------------------------------------------------- figures

def pct(x: float) -> str:
    return "–" if x is None or math.isnan(x) else number(100 * x, ".1f") + "%"


def figures(s: evaluate.Scores, footprint_ha: float, labelled: int) -> None:
    """Precision, recall, F1, kept patches and footprint for the rule."""
    c = st.columns(5)
    c[0].metric(_("Precision"), pct(s.precision),
                help=_("{tp} mines of {n} labelled patches kept").format(tp=s.tp, n=s.tp + s.fp))
    c[1].metric(_("Recall"), pct(s.recall), help=_("{tp} of the {n} labelled mines kept").format(tp=s.tp, n=s.tp + s.fn))
    c[2].metric("F1", pct(s.f1))
    c[3].metric(_("Patches kept"), number(s.kept),
                help=_("{unlabelled} of them unlabelled, {unsure} unsure").format(unlabelled=number(s.unlabelled),
                                                                                 unsure=s.unsure))
    c[4].metric(_("Footprint kept"), hectares(footprint_ha, compact=True),
                help=_("Area of the kept patches, overlaps counted once (480 m squares: not mined area)"))
    st.caption(_(
        "Against {n} labelled patches of this layer (true positives {tp}, false positives {fp}, missed mines {fn}). "
        "The layer holds only what the model scored above its publishing threshold, so recall is relative to that: "
        "mines the model missed altogether are not in it."
    ).format(n=number(labelled), tp=s.tp, fp=s.fp, fn=s.fn))


def sampled(sp: evaluate.SampledPrecision) -> None:
    """The unbiased precision estimate from the random-sample labels, with its 95 % Wilson interval."""
    if sp.labelled == 0:
        st.info(_("No random-sample labels above this threshold yet. On **Review**, choose the queue "
                  "*Random sample*: those labels give an unbiased precision estimate with a confidence interval."))
        return
    st.metric(_("Precision, random sample"), pct(sp.precision),
              help=_("Only labels made in Review's random queue: a uniform sample of the layer."))
    st.caption(_("{mines} mines among {n} randomly sampled patches kept; 95% Wilson interval {low} – {high}.").format(
        mines=sp.mines, n=sp.labelled, low=pct(sp.low), high=pct(sp.high)))


def pr_chart(cv: pd.DataFrame, threshold: float) -> go.Figure:
    ok = cv[cv["precision"].notna()]
    fig = go.Figure(go.Scatter(x=ok["recall"], y=ok["precision"], mode="lines+markers", marker={"size": 4},
                               customdata=ok[["threshold", "kept"]].to_numpy(), name="threshold",
                               hovertemplate=_("threshold %{customdata[0]:.2f}<br>precision %{y:.1%}<br>"
                                               "recall %{x:.1%}<br>%{customdata[1]:,} patches kept") + "<extra></extra>"))
    here = cv.iloc[[int(np.argmin(np.abs(cv["threshold"] - threshold)))]]
    fig.add_trace(go.Scatter(x=here["recall"], y=here["precision"], mode="markers", name="this threshold",
                             marker={"size": 13, "color": "#ff2d55", "symbol": "diamond"},
                             hovertemplate=_("threshold {threshold:.2f}").format(threshold=threshold) + "<extra></extra>"))
    fig.update_layout(title={"text": _("Precision–recall (labelled patches)"), "font": {"size": 14}}, height=320,
                      margin={"l": 0, "r": 0, "t": 36, "b": 0}, showlegend=False,
                      xaxis={"title": _("Recall"), "tickformat": ".0%", "range": [0, 1.02]},
                      yaxis={"title": _("Precision"), "tickformat": ".0%", "range": [0, 1.02]})
    return fig


def area_chart(cv: pd.DataFrame, threshold: float) -> go.Figure:
    fig = go.Figure(go.Scatter(x=cv["threshold"], y=cv["footprint_ha"], mode="lines", name="footprint",
                               customdata=cv[["kept"]].to_numpy(),
                               hovertemplate=_("threshold %{x:.2f}<br>%{y:,.0f} ha<br>%{customdata[0]:,} patches")
                               + "<extra></extra>"))
    fig.add_vline(x=threshold, line={"color": "#ff2d55", "dash": "dash"})
    fig.update_layout(title={"text": _("Footprint kept vs threshold (ha)"), "font": {"size": 14}}, height=320,
                      margin={"l": 0, "r": 0, "t": 36, "b": 0}, showlegend=False,
                      xaxis={"title": _("Threshold"), "range": [0, 1]},
                      yaxis={"title": _("Footprint (ha, overlaps once)"), "rangemode": "tozero"})
    return fig


# ---------------------------------------------------------------- the map

def outcome_frame(layer: gpd.GeoDataFrame, outcome: np.ndarray, category: pd.Series) -> gpd.GeoDataFrame:
    """The patches the map shows (kept ones, and missed mines) with their outcome and colour."""
    show = pd.Series(outcome).isin(["true positive", "false positive", "missed mine", "unlabelled", "unsure"])
    rows = layer.loc[show.to_numpy(), ["patch_id", "score", "geometry"]].copy()
    rows["outcome"] = outcome[show.to_numpy()]
    cats = category.to_numpy()[show.to_numpy()]
    rows["category"] = [CATEGORIES.get(c, "") if isinstance(c, str) else "" for c in cats]
    rows["color"] = [FP_COLORS.get(c if isinstance(c, str) else None) if o == "false positive" else COLORS[o]
                     for o, c in zip(rows["outcome"], cats)]
    rows["score"] = rows["score"].round(3)
    return rows


def _features(part: gpd.GeoDataFrame, tooltip: bool) -> dict:
    """GeoJSON of a group at 1e-5° (about 1 m): labelled patches one feature each (for their tooltip), the
    unlabelled thousands as a single multipolygon, so the map stays small for the largest layers."""
    geoms = shapely.set_precision(part.geometry.to_numpy(), 1e-5)
    if not tooltip:
        return {"type": "Feature", "properties": {},
                "geometry": json.loads(shapely.to_geojson(shapely.multipolygons(geoms)))}
    props = part[["outcome", "category", "score"]].to_dict("records")
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p, "geometry": json.loads(g)}
        for p, g in zip(props, shapely.to_geojson(geoms))]}


def outcome_map(rows: gpd.GeoDataFrame, layer_bounds, period: str, basemap_key: str):
    """Kept patches coloured by outcome (false positives by look-alike), missed mines dashed, over a basemap;
    it opens on the labelled patches (the whole layer when none is labelled)."""
    import folium

    labelled = rows[rows["outcome"] != "unlabelled"]
    bounds = labelled.total_bounds if len(labelled) else layer_bounds  # open where the labels are
    m = review_maps.base_map(tuple(bounds), basemap(basemap_key, period), pad=0.05)
    groups = [(o, _(OUTCOMES[o]), rows[rows["outcome"] == o]) for o in ("unlabelled", "unsure", "true positive")]
    fp = rows[rows["outcome"] == "false positive"]
    groups += [("false positive", _("false positive: {category}").format(category=(_(c) if c else _("no category")).lower()), part)
               for c, part in fp.groupby("category")]
    groups.append(("missed mine", _(OUTCOMES["missed mine"]), rows[rows["outcome"] == "missed mine"]))
    for outcome, label, part in groups:  # labelled outcomes drawn last, on top
        if part.empty:
            continue
        color, dashed = part["color"].iloc[0], outcome == "missed mine"
        # labelled patches get a thick outline, so they show as dots when the whole layer is in view
        style = {"color": color, "weight": 1 if outcome == "unlabelled" else 3, "fillColor": color,
                 "fillOpacity": 0.0 if dashed else 0.45, "dashArray": "4 3" if dashed else None}
        tooltip = outcome != "unlabelled"
        folium.GeoJson(_features(part, tooltip), name=f"{label} ({number(len(part))})", style_function=lambda _f, s=style: s,
                       tooltip=folium.GeoJsonTooltip(["outcome", "category", "score"]) if tooltip else None,
                       ).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def legend(rows: gpd.GeoDataFrame) -> None:
    def chip(color: str, text: str, n: int) -> str:
        return (f'<span style="display:inline-block;width:.9em;height:.9em;background:{color};'
                f'border:1px solid #555;margin:0 .3em 0 .9em;vertical-align:-.1em"></span>{text} ({number(n)})')

    parts = [chip(COLORS[o], _(OUTCOMES[o]), int((rows["outcome"] == o).sum())) for o in ("true positive", "missed mine",
                                                                                        "unlabelled", "unsure")]
    fp = rows[rows["outcome"] == "false positive"]
    for cat, n in fp["category"].value_counts().items():
        key = next((k for k, v in CATEGORIES.items() if v == cat), None)
        name = _(cat) if cat else _("no category")
        parts.append(chip(FP_COLORS.get(key), _("false positive: {category}").format(category=name.lower()), int(n)))
    st.markdown(" ".join(parts), unsafe_allow_html=True)


def imagery_credit(period: str, basemap_key: str) -> str:
    return plain(basemap(basemap_key, period).attribution)


# ---------------------------------------------------------------- presets

def presets_panel(rule: evaluate.Rule, layer: str, s: evaluate.Scores, labelled: int, reviewer: str = "") -> None:
    """Save the rule as a named preset; list and re-apply the saved ones."""
    with st.form("tune_save_preset", clear_on_submit=False, border=False):
        c1, c2 = st.columns([2, 3])
        name = c1.text_input(_("Preset name"), placeholder=_("e.g. amazon-strict"))
        note = c2.text_input(_("Note (optional)"))
        saved = st.form_submit_button(_("Save preset"), icon=":material/save:", key="tune_save_preset_button")
    if saved:
        try:
            workspace.current().save_preset(presets.Preset(
                name=name.strip(), threshold=float(rule.threshold), dual=rule.dual, t_iso=float(rule.t_iso),
                k=int(rule.k), d_km=float(rule.d_km), min_valid=float(rule.min_valid), layer=layer, precision=_num(s.precision),
                recall=_num(s.recall), labelled=labelled, author=reviewer, note=note))
            st.success(_("Saved preset **{name}**: {rule}. Explore and Detect can use it.").format(
                name=name.strip(), rule=text_of(rule.describe())))
        except DetectorError as exc:
            st.error(text_of(exc))
    saved_presets = workspace.current().presets()
    if saved_presets:
        table = pd.DataFrame([{_("name"): p.name, _("rule"): text_of(p.describe()),
                               _("precision"): pct(p.precision or math.nan), _("recall"): pct(p.recall or math.nan),
                               _("tuned on"): p.layer, _("saved"): p.saved_at[:16], _("note"): _(p.note) if p.note else ""}
                              for p in saved_presets])
        st.dataframe(table, hide_index=True, width="stretch")
        st.caption(_("Apply one with 'Start from a preset' above the sliders (here and on Detect)."))


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)
