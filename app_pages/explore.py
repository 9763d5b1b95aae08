"""Explore: where the published mining is, period by period, and how much of it lies in a region."""
import streamlit as st

from detector import catalog
from ui import basemaps, data, explore_map, state

view = state.current()
st.title("Explore")
st.caption(
    "Gold mining mapped by [Amazon Mining Watch](https://amazonminingwatch.org), period by period. "
    "Click a mine polygon for its facts; draw a rectangle or polygon (tools at the map's top left), pick a "
    "country or territory, or upload a GeoJSON to see a region's figures."
)

layers = data.try_load(data.layers, "The published mining data")
shown = layers is not None and data.try_load(explore_map.display_layers, "The data for the map (boundaries, airstrips)")
if not shown:
    st.stop()

periods = catalog.periods()
period_index = periods.index(view.period)
if view.basemap == "mapbox" and not basemaps.mapbox_token():
    st.info(basemaps.MAPBOX_HELP)
bm = basemaps.basemap(view.basemap, view.period)
home = explore_map.home(view)

left, right = st.columns([3, 2], gap="medium")

with right:
    facts = explore_map.clicked_facts(view)
    if facts is not None:
        with st.container(border=True):
            explore_map.facts_card(facts)
    explore_map.region_picker(view)

with left:
    explore_map.show(shown, home, bm, period_index, explore_map.fly(), on_change=explore_map.on_map_change)
    st.caption(
        f"{explore_map.mining_credit()}. Airstrips: {catalog.attribution('airstrips')}. "
        f"Boundaries: {catalog.attribution('boundaries_countries')}. Imagery: {explore_map.plain(bm.attribution)}."
    )

with right:
    region = explore_map.active_region(view)
    if region is None:
        st.info("No region yet: draw one on the map, pick a country or territory, or upload a GeoJSON.")
    else:
        explore_map.region_figures(region, view.period)
        st.button("Clear region", on_click=explore_map.clear_region)
