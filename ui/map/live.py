"""Maps drawn straight into Streamlit's page (components v2), for the page that must open fastest.

A folium map travels through streamlit-folium: an iframe, its own React bundle, Leaflet loaded inside
it, and a first report of the map's view that reruns the page. A live map is a Leaflet map in the
page itself (``js/live.js``): Leaflet and its draw and search plugins come from the CDN addresses
folium uses (one definition: folium's), the page's map script (``js/<script>.js``: a function
``window.<entry>(map, cfg)`` that returns its handle on the map, whose ``view(group, v)`` applies a
view) runs once, and every rerun after that only steers it. Its layers are a second element whose data never changes while the layers
do not, so a rerun sends Streamlit's reference to it, not the megabytes again.
"""
from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

import folium
import folium.plugins
import streamlit as st

from ..i18n import _
from .basemaps import Basemap
from .kernel import DRAWN_STYLE, MAP_HEIGHT, Home, asset

#: The state a live map reports (what the user did): streamlit-folium's names, for ui.map.drawing.
STATE = "map"


def _addresses(*elements: type) -> list[str]:
    return [url for e in elements for _name, url in e.default_js]


def assets() -> dict[str, list[str]]:
    """Leaflet, Leaflet.draw and the place search, from the addresses folium loads them from."""
    leaflet = [url for name, url in folium.Map.default_js if name == "leaflet"]
    leaflet_css = [url for name, url in folium.Map.default_css if name == "leaflet_css"]
    plugins = (folium.plugins.Draw, folium.plugins.Geocoder)
    return {"js": leaflet + _addresses(*plugins),
            "css": leaflet_css + [url for p in plugins for _name, url in p.default_css]}


@functools.cache
def _layers_component():
    return st.components.v2.component("amw.map_layers", js=f"{asset('layers_registry.js')}\n{asset('live_layers.js')}")


@functools.cache
def _map_component(script: str, css: str | None):
    style = f".amw-map {{ width: 100%; height: {MAP_HEIGHT}px; }}\n" + (asset(css) if css else "")
    return st.components.v2.component(
        f"amw.map_{script.removesuffix('.js')}", html='<div class="amw-map"></div>', css=style,
        js=f"{asset('codec.js')}\n{asset('layers_registry.js')}\n{asset(script)}\n{asset('live.js')}", isolate_styles=False,
    )


def basemap_settings(basemap: Basemap) -> dict[str, Any]:
    return {"url": basemap.url, "attribution": basemap.attribution, "max_zoom": basemap.max_zoom}


def show(key: str, script: str, entry: str, config: dict[str, Any], *, home: Home, basemap: Basemap,
         view: dict[str, Any], css: str | None = None, layers: dict[str, Any] | None = None, digest: str = "",
         on_change: Callable[[], None] | None = None, search: str = "", draw: bool = False, canvas: bool = True,
         scale: bool = False, handle: str = "amw") -> None:
    """Draw (the first time) or steer the map ``key``.

    ``config`` is what the map is made from (a change remakes it where it stands: the language's words);
    ``view`` what steers it on every rerun. ``layers`` (keyed by ``digest``) travel in their own element.
    With ``on_change``, the map reports what the user drew, clicked or moved (read it with
    :func:`reported`); without, it never reruns the page. ``handle`` names the page script's handle on
    the map in the browser (``window.amw``), for the page's tests.
    """
    built = hashlib.sha1(json.dumps([config, search, draw], sort_keys=True).encode()).hexdigest()
    callbacks = {"on_map_change": on_change} if on_change is not None else {}
    _map_component(script, css)(
        key=key, height=MAP_HEIGHT, **callbacks,
        data={"entry": entry, "global": handle, "config": config, "digest": digest if layers is not None else "",
              "assets": assets(), "search": search, "draw": draw, "canvas": canvas, "scale": scale,
              "report": on_change is not None, "built": built,
              "failed": _("The map could not load ({error}). Check the connection and reload the page."),
              "home": {"lat": home.lat, "lon": home.lon, "zoom": home.zoom}, "drawn_style": DRAWN_STYLE,
              "basemap": basemap_settings(basemap), "view": view},
    )
    if layers is not None:
        _layers_component()(key=f"{key}_layers", data={"digest": digest, "layers": layers}, height=0)


def reported(key: str) -> dict | None:
    """What the map ``key`` last reported (drawing, click, centre, zoom), as streamlit-folium names them."""
    value = st.session_state.get(key)
    try:
        got = value[STATE] if value is not None else None
    except (KeyError, TypeError):
        return None
    return got if isinstance(got, dict) else None
