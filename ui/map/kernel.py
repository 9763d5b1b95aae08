"""Putting a page's JavaScript and its data on a folium map, once; and where the map looks.

A page's map script lives in ``ui/map/js/NAME.js`` as a function ``(map, cfg)``; :class:`MapScript`
adds the codec and that file to the map with its configuration as JSON. The script of a map is
the same on every rerun while its data is, so streamlit-folium never rebuilds the map; what
changes (period, rule, region) goes in the small ``feature_group_to_add`` group through
:class:`ViewCall`, which calls the page's JavaScript API with a few numbers.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
from branca.element import Element, MacroElement
from folium.template import Template
from shapely.geometry.base import BaseGeometry

from detector import display

from .basemaps import Basemap

JS_DIR = Path(__file__).parent / "js"
#: Drawn shapes let clicks through to the mines under them.
DRAWN_STYLE = {"color": "#00bfff", "weight": 2, "fillOpacity": 0.05, "interactive": False}
OUTLINE_STYLE = {"color": "#00bfff", "weight": 2.5, "opacity": 1.0, "fill": False, "dashArray": "8 6"}
MAP_HEIGHT = 720  # tall: the map is what the pages are about


@functools.cache
def asset(name: str) -> str:
    """A file of ``ui/map/js`` (shipped with the package)."""
    return (JS_DIR / name).read_text(encoding="utf-8")


def codec_config() -> dict[str, Any]:
    """What the browser's codec needs to decode :mod:`detector.display`'s rings."""
    return {"alphabet": display.ALPHABET, "precision": display.PRECISION}


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no "</script>" can close it early)."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


class Raw(Element):
    """Text put into the page as it is (branca would compile it as a template: slow for megabytes)."""

    _template = Template("{{ this.text }}")

    def __init__(self, text: str):
        super().__init__()
        self.text = text


class MapScript(MacroElement):
    """``window.<entry>(map, cfg)`` from ``js/<script>.js``, with the codec, run when the map is made.

    streamlit-folium reads an element's ``script`` macro; the macro only calls :meth:`script_text`,
    so the (megabytes of) configuration is never compiled as a template.
    """

    _template = Template("""
{% macro header(this, kwargs) %}{{ this.css_text() }}{% endmacro %}
{% macro script(this, kwargs) %}{{ this.script_text() }}{% endmacro %}
""")

    def __init__(self, name: str, script: str, entry: str, config: dict[str, Any], css: str | None = None):
        super().__init__()
        self._name = name
        self.script, self.entry, self.config, self.css = script, entry, config, css

    def css_text(self) -> str:
        return f"<style>\n{asset(self.css)}</style>" if self.css else ""

    def script_text(self) -> str:
        return (f"{asset('codec.js')}\n{asset(self.script)}\n"
                f"window.{self.entry}({self._parent.get_name()}, {_script_json(self.config)});")

    def render(self, **kwargs):
        """Straight into the page, not through the figure's templates."""
        figure = self.get_root()
        if self.css:
            figure.header.add_child(Element(self.css_text()), name=self.get_name())
        figure.script.add_child(Raw(self.script_text()), name=self.get_name())


class ViewCall(MacroElement):
    """``window.<api>(group, view)`` where the page's script is loaded: the part of a map that changes."""

    _template = Template("""
{% macro script(this, kwargs) %}
if (window.{{ this.guard }}) { {{ this.api }}({{ this._parent.get_name() }}, {{ this.view|tojson }}); }
{% endmacro %}
""")

    def __init__(self, name: str, guard: str, api: str, view: dict[str, Any]):
        super().__init__()
        self._name = name
        self.guard, self.api, self.view = guard, api, view


@dataclass(frozen=True)
class Home:
    """Where the map opens; fixed for a session so the map's script (and so the map) never changes."""

    lat: float
    lon: float
    zoom: int
    bounds: tuple[float, float, float, float] | None = None  # fit these instead, when set

    def leaflet_bounds(self) -> list[list[float]] | None:
        return _leaflet(self.bounds)


@dataclass(frozen=True)
class Fly:
    """A region the map should show: fitted once per ``nonce``, outlined while it is the region."""

    nonce: str
    bounds: tuple[float, float, float, float] | None  # west, south, east, north; None: stay put
    outline: str = ""  # encoded rings (detector.display.encode_rings)
    clear_drawn: bool = True

    def leaflet_bounds(self) -> list[list[float]] | None:
        return _leaflet(self.bounds)


def _leaflet(bounds: tuple[float, float, float, float] | None) -> list[list[float]] | None:
    if not bounds:
        return None
    w, s, e, n = bounds
    return [[s, w], [n, e]]


def outline_of(geometry: BaseGeometry) -> str:
    """A region's outline for the map, simplified for a zoom of 12 (≈ 40 m)."""
    g = gpd.GeoSeries([geometry], crs="EPSG:4326")
    return display.encode_rings(display.simplify_for_zoom(g, 12).values)


def draw_tools() -> folium.plugins.Draw:
    """Rectangle and polygon tools only; a new drawing replaces the last one ("Clear region" clears it)."""
    shape = {"shapeOptions": DRAWN_STYLE}
    return folium.plugins.Draw(
        export=False, position="topleft", show_geometry_on_click=False, edit_options={"edit": False, "remove": False},
        draw_options={**dict.fromkeys(("polyline", "circle", "marker", "circlemarker"), False),
                      "rectangle": shape, "polygon": {**shape, "allowIntersection": False}},
    )


def only_leaflet(m: folium.Map) -> folium.Map:
    """Drop folium's jQuery, Bootstrap and Font Awesome (for markers these maps do not use): five fewer
    CDN requests and 0.5 MB before the map can start."""
    m.default_js = [js for js in m.default_js if js[0] == "leaflet"]
    m.default_css = [css for css in m.default_css if css[0] == "leaflet_css"]
    return m


def view_group(basemap: Basemap, *elements: MacroElement) -> folium.FeatureGroup:
    """The dynamic part of a map: the basemap's tiles (with their attribution) and the view calls."""
    fg = folium.FeatureGroup(name="view", control=False)
    folium.TileLayer(tiles=basemap.url, attr=basemap.attribution, name=basemap.name, max_zoom=19,
                     max_native_zoom=basemap.max_zoom, control=False).add_to(fg)
    for element in elements:
        element.add_to(fg)
    return fg
