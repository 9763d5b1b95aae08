"""Explore's side panels: the region picker, a region's figures and trend, a clicked polygon's facts."""
from __future__ import annotations

import streamlit as st

from detector import catalog, display, trends

from .. import data, growth, region_state
from ..format import hectares, slug
from ..i18n import _, chart
from ..map import drawing
from . import layers
from .layers import NEW_STYLE, facts_index


def region_picker(view) -> None:
    """Country and territory select boxes (sorted by name) and the GeoJSON upload."""
    countries, territories = data.countries(), data.territories()
    kind, _sep, ident = view.region.partition(":")
    st.subheader(_("Region"))
    c_ids = [None, *countries.sort_values("region_name")["region_id"]]
    c_names = dict(zip(countries["region_id"], countries["region_name"]))
    key = f"explore_country|{view.region}"  # a new region, a new box showing it
    st.selectbox(_("Country"), c_ids, index=c_ids.index(ident) if kind == "country" and ident in c_ids else 0,
                 format_func=lambda i: "—" if i is None else c_names[i], key=key, on_change=region_state.pick,
                 args=("country", key))
    labels = territories["region_name"] + " (" + territories["country"].astype(str) + ")"
    t_names = dict(sorted(zip(territories["region_id"], labels), key=lambda kv: kv[1].lower()))
    t_ids = [None, *t_names]
    key = f"explore_territory|{view.region}"
    st.selectbox(_("Indigenous territory"), t_ids,
                 index=t_ids.index(ident) if kind == "territory" and ident in t_ids else 0,
                 format_func=lambda i: "—" if i is None else t_names[i], key=key, on_change=region_state.pick,
                 args=("territory", key))
    key = "explore_upload"
    st.file_uploader(_("Or upload a GeoJSON region"), type=["geojson", "json"], key=key, on_change=region_state.on_upload,
                     args=(key,))
    if region_state.upload_error():
        st.error(region_state.upload_error())


def region_figures(region, period: str) -> None:
    """The region's mined area and footprint, new in the period and in total, and its trend."""
    import shapely

    table = data.region_stats(shapely.to_wkb(region.geometry), region.key, region.name)
    row = table[table["period"] == period].iloc[0]
    first = period == catalog.periods()[0]
    st.markdown(f"**{region.name}**")
    a, b = st.columns(2)
    for col, label, value in (
        (a, (_("Mined, up to {period}") if first else _("Mined, new in {period}")).format(period=period),
         row["new_mined_ha"]),
        (b, _("Mined, total to {period}").format(period=period), row["cumulative_mined_ha"]),
        (a, _("Footprint, new"), row["new_footprint_ha"]),
        (b, _("Footprint, total"), row["cumulative_footprint_ha"]),
    ):
        col.metric(label, hectares(value, compact=True), help=hectares(value))
    said = growth.line(table, period, trends.MEASURES["mined"], region.geometry)
    if said:
        st.markdown(_("Mined area: {figures}.").format(figures=said),
                    help=_("Growth: everything mined up to the period against the 2018 baseline; the new area "
                           "against the period before of the same kind (a year with a year, a quarter with a "
                           "quarter); the share of the region's area mined."))
    st.caption(_(
        "Mined area is the mined land inside the published polygons: quote this one. The footprint is the "
        "polygons' own area (merged 480 m detection squares); {ratio} 2018 is all mining up to 2018."
    ).format(ratio=overstatement(row, period)))
    st.plotly_chart(chart(trend_chart(table, period)), width="stretch", config={"displayModeBar": False})
    st.download_button(_("Mining polygons up to {period} (GeoJSON)").format(period=period),
                       lambda: polygons_geojson(region, period),
                       f"mining_{slug(region.name)}_to_{period}.geojson", "application/geo+json",
                       key="explore_polygons_download", on_click="ignore", icon=":material/download:",
                       help=_("The published polygons that reach into the region, of every period up to this one, "
                              "whole, each with its period, mined area, footprint and the share inside the region."))


def polygons_geojson(region, period: str) -> str:
    """The region's published polygons as GeoJSON (made when the button is pressed)."""
    from detector import stats

    polys = stats.region_polygons(data.layers(), region.geometry, period)
    return polys.assign(region=region.name, source="Amazon Mining Watch").to_json(drop_id=True)


def clicked_facts(view) -> display.Facts | None:
    """The facts of the mine polygon last clicked, among those shown for the view's period."""
    point = region_state.clicked()
    if point is None:
        return None
    lat, lon = point
    return facts_index().at(lon, lat, view.period, drawing.click_tolerance_deg(lat, view.zoom))


def overstatement(row, period: str) -> str:
    """How much the footprint overstates mined land in this region (it ranges from about 3× to 15×)."""
    mined, foot = float(row["cumulative_mined_ha"]), float(row["cumulative_footprint_ha"])
    if not mined > 0:
        return _("with no mined area recorded here, it has no ratio to it.")
    return _("here it is {ratio:.1f}× the mined area (totals to {period}).").format(ratio=foot / mined, period=period)


def trend_chart(table, period: str):
    """New mined area per period, the selected period marked."""
    import plotly.graph_objects as go

    x = [str(p) for p in table["period"]]
    y = table["new_mined_ha"].fillna(0).to_numpy()
    colors = [NEW_STYLE["color"] if p == period else "#8d99ae" for p in x]
    fig = go.Figure(go.Bar(x=x, y=y, marker_color=colors, hovertemplate="%{x}: %{y:,.0f} ha<extra></extra>"))
    fig.update_layout(
        title={"text": _("New mined area per period (ha)"), "font": {"size": 13}}, height=230,
        margin={"l": 0, "r": 0, "t": 32, "b": 0}, showlegend=False, bargap=0.25,
        xaxis={"type": "category", "tickfont": {"size": 10}}, yaxis={"tickfont": {"size": 10}, "rangemode": "tozero"},
    )
    return fig


def facts_card(facts: display.Facts) -> None:
    """The clicked polygon's facts."""
    first = facts.period == catalog.periods()[0]
    when = (_("up to {period}") if first else _("new in {period}")).format(period=facts.period)
    st.markdown(_("**Mine polygon**, {when}").format(when=when)
                + ("" if facts.is_new else " " + _("(before the selected period)")))
    st.markdown("\n".join((
        "- " + _("Mined area: **{area}**").format(area=hectares(facts.mined_area_ha)),
        "- " + _("Footprint (polygon area): {area}").format(area=hectares(facts.footprint_ha)),
        "- " + _("Country: {name}").format(name=facts.country or _("outside the Amazon boundaries")),
        "- " + _("Indigenous territory: {name}").format(name=facts.territory or _("none")),
    )))


def swipe_picker(view, right) -> dict | None:
    """"Compare two years": the imagery of another year left of a divider on the map, the basemap right of it."""
    from ..map import basemaps

    if not st.toggle(_("Compare imagery of two years (swipe)"), key="explore_swipe",
                     help=_("Sentinel-2 cloudless imagery of another year on the left of a divider you drag across "
                            "the map; the basemap of the period on the right; the mining on top of both.")):
        return None
    years = list(basemaps.S2CLOUDLESS_YEARS)
    if st.session_state.get("explore_swipe_year") not in years:
        st.session_state["explore_swipe_year"] = years[1] if len(years) > 1 else years[0]
    year = st.select_slider(_("Left of the divider"), options=years, key="explore_swipe_year")
    return layers.swipe_settings(basemaps.basemap("s2cloudless", str(year)), right)
