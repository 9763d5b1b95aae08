"""The Explore map: every published layer on one canvas, drawn in the page itself (:mod:`ui.map.live`).

How it stays fast with all 45,000 polygons (see :mod:`detector.display` for the encoding):

- The layers of *every* period travel once, in their own element whose data is the same on every
  rerun (Streamlit then sends a reference to the copy the browser holds), and are decoded in the
  browser into one canvas polygon layer per period (``ui/map/js/explore.js``).
- What does change (the period shown, the basemap, a region to fly to, a swipe) goes in the small
  map element (:func:`view_settings`): the browser restyles the period layers, swaps the tiles or fits
  the bounds without rebuilding anything, so the map stays where the user left it.
- The map reports only what the user did (a drawing, a click on a mine, a pan), never its opening
  view; :func:`ui.region_state.on_map_change` handles it before the page runs. Clicked polygons are
  looked up server-side (:class:`detector.display.FactsIndex`): no popups.
"""
from __future__ import annotations

import functools

import streamlit as st

from detector import catalog, display
from detector.display import DisplayLayers

from .. import data, region_state
from ..format import period_label
from ..i18n import N_, _, cached
from ..map import live
from ..map.basemaps import Basemap
from ..map.kernel import OUTLINE_STYLE, Fly, Home

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


def map_config(layers: DisplayLayers, home: Home) -> dict:
    """What the map's script needs besides the layers themselves: styles, words, periods, credits."""
    from ..map.kernel import codec_config

    return {
        **codec_config(), "periods": list(layers.periods), "credit": MINING_SHORT_CREDIT,
        "period_labels": [period_label(p) for p in layers.periods],
        "airstrip_credit": AIRSTRIPS_SHORT_CREDIT, "airstrip_mining": AIRSTRIP_MINING_COLOR,
        "airstrip_other": AIRSTRIP_OTHER_COLOR, "home_bounds": home.leaflet_bounds(), "words": map_words(),
        "styles": {"new": NEW_STYLE, "old": OLD_STYLE, "selected": SELECTED_STYLE, "outline": OUTLINE_STYLE, "country": COUNTRY_STYLE,
                   "territory": TERRITORY_STYLE},
    }


def map_data(layers: DisplayLayers) -> dict:
    """The megabytes: mines of every period, boundaries, airstrips (the same on every rerun)."""
    return {"mines": list(layers.mines), "territories": layers.territories, "countries": layers.countries,
            "airstrips_mining": layers.airstrips_mining, "airstrips_other": layers.airstrips_other,
            "airstrip_labels_mining": list(layers.airstrip_labels_mining),
            "airstrip_labels_other": list(layers.airstrip_labels_other), "digest": layers.digest}


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


def view_settings(period_index: int, fly: Fly | None, swipe: dict | None = None) -> dict:
    """The part of the map that changes with the view: period, region outline, a region to fly to, a swipe."""
    return {
        "period_index": int(period_index), "nonce": fly.nonce if fly else "",
        "bounds": fly.leaflet_bounds() if fly and fly.bounds else None, "outline": fly.outline if fly else "",
        "clear_drawn": bool(fly.clear_drawn) if fly else False, "swipe": swipe,
    }


def show(layers: DisplayLayers, home: Home, basemap: Basemap, period_index: int, fly: Fly | None,
         swipe: dict | None = None) -> None:
    """Draw the map the first time, steer it after that; what the user does there reaches
    :func:`ui.region_state.on_map_change` before the page reruns."""
    live.show(MAP_KEY, "explore.js", "amwExplore", map_config(layers, home), home=home, basemap=basemap,
              view=view_settings(period_index, fly, swipe), css="explore.css", layers=map_data(layers),
              digest=layers.digest, on_change=functools.partial(region_state.on_map_change, MAP_KEY, live=True),
              search=_("Search a place (town, river, territory)…"), draw=True)


def mining_credit() -> str:
    return _("Mining: {credit}").format(credit=catalog.attribution(catalog.yearly_layers()[-1].name))
