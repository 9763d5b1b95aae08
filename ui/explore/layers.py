"""The Explore map: every published layer on one canvas, round-tripped by streamlit-folium.

How it stays fast with all 45,000 polygons (see :mod:`detector.display` for the encoding):

- The map's script (``ui/map/js/explore.js`` and its data) is the same on every rerun of a
  session: the layers of *every* period are in it, once, decoded in the browser into one canvas
  polygon layer per period. streamlit-folium keys the component on that script, so the map is
  never rebuilt, and Streamlit sends an unchanged element as a reference to the copy the browser
  already holds: a click, a drawing or a pan reruns the page for about 10 KB, not megabytes.
- What does change (the period shown, the basemap, a region to fly to) goes in the small
  ``feature_group_to_add`` group (``amw.view``): the browser restyles the period layers, swaps the
  tiles or fits the bounds without rebuilding anything, so the map stays where the user left it.
- ``st_folium`` returns only drawings, clicks, centre and zoom; :func:`ui.region_state.on_map_change`
  handles them before the page runs. Clicked polygons are looked up server-side
  (:class:`detector.display.FactsIndex`): no popups.
"""
from __future__ import annotations

import functools

import folium
import streamlit as st

from detector import catalog, display
from detector.display import DisplayLayers

from .. import data, region_state
from ..format import period_label
from ..i18n import N_, _, cached
from ..map.basemaps import Basemap
from ..map.kernel import MAP_HEIGHT, OUTLINE_STYLE, Fly, Home, MapScript, ViewCall, draw_tools, only_leaflet, view_group

MAP_KEY = "explore_map"
#: All the page needs back from the browser; anything else changing (hover, layer toggles) reruns nothing.
RETURNED = ["last_active_drawing", "last_object_clicked", "center", "zoom"]

SELECTED_STYLE = {"color": "#ffffff", "weight": 3, "opacity": 1.0, "fill": False}  # the clicked mine polygon
NEW_STYLE = {"color": "#ff2d55", "weight": 1.5, "opacity": 1.0, "fillColor": "#ff2d55", "fillOpacity": 0.55}
OLD_STYLE = {"color": "#ffb000", "weight": 1.0, "opacity": 0.9, "fillColor": "#ffb000", "fillOpacity": 0.35}
COUNTRY_STYLE = {"color": "#ffffff", "weight": 1.5, "opacity": 0.8, "fill": False, "dashArray": "6 4"}
TERRITORY_STYLE = {"color": "#3ddc84", "weight": 1.0, "opacity": 0.9, "fillColor": "#3ddc84", "fillOpacity": 0.08}
#: Short credits for the map's attribution control; the full lines (catalog.attribution) go under the map.
MINING_SHORT_CREDIT = ('Mining: <a href="https://github.com/earthrise-media/mining-detector" target="_blank">'
                       "Earth Genome</a> (CC BY 4.0)")
AIRSTRIPS_SHORT_CREDIT = "Airstrips: The Intercept Brasil, The New York Times, RIN"
AIRSTRIP_MINING_COLOR = "#00e5ff"
AIRSTRIP_OTHER_COLOR = "#b0b7c3"


@cached(st.cache_resource, N_("Preparing the map layers…"))
def display_layers() -> DisplayLayers:
    """Every layer the map draws, encoded once per server (a DetectorError when data is missing)."""
    return display.display_layers(data.layers(), data.countries(), data.territories(), data.airstrips(),
                                  catalog.periods())


@st.cache_resource(show_spinner=False)
def facts_index() -> display.FactsIndex:
    """Finds the polygon under a click; built once per server (country and territory joined in)."""
    layers = data.layers()
    return display.FactsIndex(layers, display.region_join(layers, data.countries(), data.territories()),
                              catalog.periods())


def map_layers(layers: DisplayLayers, home: Home) -> MapScript:
    """Mines of every period, boundaries, airstrips and the layer switcher (``window.amw``)."""
    from ..map.kernel import codec_config

    config = {
        **codec_config(), "periods": list(layers.periods), "credit": MINING_SHORT_CREDIT,
        "period_labels": [period_label(p) for p in layers.periods],
        "airstrip_credit": AIRSTRIPS_SHORT_CREDIT, "airstrip_mining": AIRSTRIP_MINING_COLOR,
        "airstrip_other": AIRSTRIP_OTHER_COLOR, "home_bounds": home.leaflet_bounds(), "words": map_words(),
        "styles": {"new": NEW_STYLE, "old": OLD_STYLE, "selected": SELECTED_STYLE, "outline": OUTLINE_STYLE, "country": COUNTRY_STYLE,
                   "territory": TERRITORY_STYLE},
        "layers": {"mines": list(layers.mines), "territories": layers.territories, "countries": layers.countries,
                   "airstrips_mining": layers.airstrips_mining, "airstrips_other": layers.airstrips_other,
                   "airstrip_labels_mining": list(layers.airstrip_labels_mining),
                   "airstrip_labels_other": list(layers.airstrip_labels_other), "digest": layers.digest},
    }
    return MapScript("AmwLayers", "explore.js", "amwExplore", config, css="explore.css")


def map_words() -> dict[str, str]:
    """The map's own words (layer switcher, airstrip popup) in the visitor's language."""
    return {"mining": _("Mining"), "new_in": _("new in {period}"), "up_to": _("up to {period}"),
            "before": _("before {period}"), "territories": _("Indigenous territories"),
            "countries": _("Countries (Amazon part)"), "airstrips": _("Airstrips"),
            "mining_near": _("mining within 20 km"), "mining_seen": _("Mining seen within 20 km"),
            "no_mining": _("No mining reported within 20 km")}


def swipe_settings(left: Basemap, right: Basemap) -> dict:
    """A two-year comparison: ``left``'s imagery left of the divider, the basemap (``right``) right of it."""
    return {"url": left.url, "attribution": left.attribution, "max_zoom": left.max_zoom,
            "left": left.name, "right": right.name}


def view_settings(period_index: int, fly: Fly | None, swipe: dict | None = None) -> ViewCall:
    """The part of the map that changes with the view: period, region outline, a region to fly to, a swipe."""
    return ViewCall("AmwView", "amw", "amw.view", {
        "period_index": int(period_index), "nonce": fly.nonce if fly else "",
        "bounds": fly.leaflet_bounds() if fly and fly.bounds else None, "outline": fly.outline if fly else "",
        "clear_drawn": bool(fly.clear_drawn) if fly else False, "swipe": swipe,
    })


def build_map(layers: DisplayLayers, home: Home) -> folium.Map:
    """The static map: no tiles (the view group brings them), every layer, the draw tools."""
    import leafmap.foliumap as leafmap

    m = only_leaflet(leafmap.Map(location=[home.lat, home.lon], zoom=home.zoom, tiles=None, prefer_canvas=True,
                                 fullscreen_control=False, max_zoom=19, min_zoom=3, world_copy_jump=True))
    draw_tools().add_to(m)
    place_search().add_to(m)
    map_layers(layers, home).add_to(m)
    return m


def place_search():
    """A place search on the map (the browser asks OpenStreetMap's Nominatim): the map goes to the place
    chosen; nothing reaches the server, and the page does not rerun."""
    from folium.plugins import Geocoder

    return Geocoder(collapsed=True, position="topleft", add_marker=False, zoom=11,
                    placeholder=_("Search a place (town, river, territory)…"))


def show(layers: DisplayLayers, home: Home, basemap: Basemap, period_index: int, fly: Fly | None,
         swipe: dict | None = None) -> dict:
    """Draw the map; returns what st_folium returns (also in ``st.session_state[MAP_KEY]``)."""
    from streamlit_folium import st_folium

    return st_folium(
        build_map(layers, home), key=MAP_KEY, height=MAP_HEIGHT, use_container_width=True,
        returned_objects=RETURNED, feature_group_to_add=view_group(basemap, view_settings(period_index, fly, swipe)),
        on_change=functools.partial(region_state.on_map_change, MAP_KEY),
    ) or {}


def mining_credit() -> str:
    return _("Mining: {credit}").format(credit=catalog.attribution(catalog.yearly_layers()[-1].name))
