"""Explore: where the published mining is, period by period, and how much of it lies in a region."""
import streamlit as st

from detector import catalog
from ui import data, region_state, state
from ui.explore import layers, panels
from ui.format import plain
from ui.i18n import N_, _
from ui.map import basemaps

view = state.current()
st.title(_("Explore"))
state.phone_controls()
st.caption(_(
    "Gold mining mapped by [Amazon Mining Watch](https://amazonminingwatch.org), period by period. "
    "Click a mine polygon for its facts; draw a rectangle or polygon (tools at the map's top left), pick a "
    "country or territory, or upload a GeoJSON to see a region's figures."
))

published = data.try_load(data.layers, N_("The published mining data"))
shown = published is not None and data.try_load(layers.display_layers, N_("The data for the map (boundaries, airstrips)"))
if not shown:
    st.stop()

periods = catalog.periods()
period_index = periods.index(view.period)
bm = basemaps.basemap(view.basemap, view.period)
home = region_state.home(view)

left, right = st.columns([2, 1], gap="medium")  # the map takes two thirds

with right:
    facts = panels.clicked_facts(view)
    if facts is not None:
        with st.container(border=True):
            panels.facts_card(facts)
    panels.region_picker(view)
    swipe = panels.swipe_picker(view, bm)

with left:
    layers.show(shown, home, bm, period_index, region_state.fly(), swipe)
    if view.basemap == "mapbox" and not basemaps.mapbox_token():
        st.info(_(basemaps.MAPBOX_HELP))  # below the map: an element above it would move it, and it would reload
    st.caption(_("{mining}. Airstrips: {airstrips}. Boundaries: {boundaries}. Imagery: {imagery}.").format(
        mining=layers.mining_credit(), airstrips=catalog.attribution("airstrips"),
        boundaries=catalog.attribution("boundaries_countries"), imagery=plain(bm.attribution)))

with right:
    region = region_state.active_region(view)
    if region is None:
        st.info(_("No region yet: draw one on the map, pick a country or territory, or upload a GeoJSON."))
    else:
        panels.region_figures(region, view.period)
        st.button(_("Clear region"), on_click=region_state.clear_region)
