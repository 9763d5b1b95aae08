"""The Detect map: every scored patch of a result, coloured by score, re-filtered without a rebuild.

Built as the Explore map is (:mod:`ui.explore_map`): the map's script holds the result once —
every patch as a ring in :mod:`detector.display`'s compact encoding, sorted by score — and stays
the same for as long as the result does, so Streamlit sends it once. Patches sorted by score make
"score ≥ threshold" one index, and the score bins (one colour each) index ranges, so what changes
with the threshold or the isolation rule is a few numbers and the short list of patches the rule
drops, sent in the small ``feature_group_to_add`` script: the browser then redraws the canvas
without rebuilding anything, and the map stays where the user left it. The dissolved polygons
travel there too (encoded): they are the outlines of the detections.
"""
from __future__ import annotations

from dataclasses import dataclass

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import streamlit as st
from branca.element import MacroElement
from folium.template import Template
from shapely.geometry.base import BaseGeometry

from detector import display

from . import explore_map
from .basemaps import Basemap
from .detect_results import Filtered, Result
from .explore_map import _DECODER, Fly, Home, _Raw  # the Explore map's decoder and raw-script element

MAP_HEIGHT = 620
#: The drawing tools are all the page needs back: a pan or zoom never reruns it.
RETURNED = ["last_active_drawing"]
BINS = 20
#: Plasma, dark (low scores) to bright (high): bright detections stand out on forest and on grey.
_ANCHORS = ("#0d0887", "#6a00a8", "#b12a90", "#e16462", "#fca636", "#f0f921")
LOW_STYLE = {"color": "#9aa4b1", "weight": 0.4, "opacity": 0.5, "fillColor": "#9aa4b1", "fillOpacity": 0.12}
TOP_STYLE = {"color": "#00e5ff", "weight": 3, "opacity": 1.0, "fill": False}
POLYGON_STYLE = {"color": "#ffffff", "weight": 1.6, "opacity": 0.95, "fill": False}
RAN_STYLE = {"color": "#ffffff", "weight": 1.2, "opacity": 0.7, "fill": False, "dashArray": "3 5"}


def bin_colors(n: int = BINS) -> list[str]:
    """One colour per score bin [k/n, (k+1)/n), interpolated along the anchors."""
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in _ANCHORS], dtype=float)
    at = (np.arange(n) + 0.5) / n * (len(rgb) - 1)
    lo = np.floor(at).astype(int)
    mix = rgb[lo] + (rgb[np.minimum(lo + 1, len(rgb) - 1)] - rgb[lo]) * (at - lo)[:, None]
    return ["#" + "".join(f"{round(v):02x}" for v in row) for row in mix]


def bin_starts(scores: np.ndarray, n: int = BINS) -> list[int]:
    """For ascending scores: index where each bin starts, and the length (n + 1 numbers)."""
    return [int(np.count_nonzero(scores < k / n)) for k in range(n)] + [len(scores)]


def encode_indices(idx: np.ndarray) -> str:
    """Ascending indices as varint deltas (the browser's ``idx`` decodes them)."""
    return display.encode_varints(np.diff(np.asarray(idx, dtype=np.int64), prepend=0))


@dataclass(frozen=True)
class ResultLayer:
    """A result, encoded for the map once."""

    rings: str  # one ring per patch, score ascending
    bins: tuple[int, ...]
    outline: str  # the run's region
    bounds: tuple[float, float, float, float]
    digest: str


@st.cache_resource(show_spinner=False, max_entries=8)
def result_layer(digest: str, _patches: gpd.GeoDataFrame, _region: BaseGeometry) -> ResultLayer:
    rings = display.encode_rings(_patches.geometry.values)
    return ResultLayer(rings, tuple(bin_starts(_patches["score"].to_numpy())), explore_map.outline_of(_region),
                       tuple(_region.bounds), digest)


_EMPTY = ResultLayer("", tuple([0] * (BINS + 1)), "", (0, 0, 0, 0), "none")


class ResultLayers(MacroElement):
    """Every patch of the result, the legend and the layer switcher, and ``window.det`` to steer them."""

    _template = Template("""
{% macro header(this, kwargs) %}
<style>
  .leaflet-container .leaflet-control-attribution { font-size: 11px; line-height: 1.35; max-width: 75%; }
  .det-legend { background: rgba(255,255,255,0.9); padding: 6px 8px; border-radius: 4px; font: 12px/1.4 sans-serif; width: 190px; }
  .det-legend .bar { display: flex; height: 10px; margin: 3px 0; }
  .det-legend .bar i { flex: 1; }
  .det-legend .ticks { display: flex; justify-content: space-between; }
</style>
{% endmacro %}
{% macro script(this, kwargs) %}
(function (map) {
{{ this.decoder }}
var R = L.canvas({padding: 0.4});
map.options.renderer = R;
var B = {{ this.layer.bins|tojson }}, C = {{ this.colors|tojson }}, all = rings({{ this.layer.rings|tojson }});
function idx(s) { var a = ints(s), t = 0; for (var i = 0; i < a.length; i++) { t += a[i]; a[i] = t; } return a; }
/* Overlapping patches of one bin fill once (nonzero rule); bins are drawn low to high, so each
   place shows the highest score covering it. smoothFactor 0: a patch never simplifies away. */
function squares(style) {
  return L.polygon([], L.extend({renderer: R, interactive: false, smoothFactor: 0, fillRule: "nonzero"}, style));
}
var det = window.det = {map: map, n: all.length, shown: 0, flown: null, digest: {{ this.layer.digest|tojson }}};
det.low = squares({{ this.low_style|tojson }});
det.high = C.map(function (c) { return squares({color: c, weight: 0.5, opacity: 0.9, fillColor: c, fillOpacity: 0.7}); });
det.top = squares({{ this.top_style|tojson }});
det.polygons = squares({{ this.polygon_style|tojson }});
det.region = L.layerGroup().addTo(map);
var ran = L.polygon(rings({{ this.layer.outline|tojson }}), L.extend({renderer: R, interactive: false}, {{ this.ran_style|tojson }})).addTo(map);
var below = L.layerGroup([det.low]), above = L.layerGroup(det.high).addTo(map), outlines = L.layerGroup([det.polygons, det.top]).addTo(map);
L.control.layers(null, {"Detections, coloured by score": above, "Dissolved polygons": outlines,
  "Patches below the threshold": below, "Region of the run": ran, "Region chosen": det.region},
  {collapsed: true, position: "topright"}).addTo(map);
var legend = L.control({position: "bottomright"});
legend.onAdd = function () {
  var d = L.DomUtil.create("div", "det-legend");
  d.innerHTML = "<b>Patch score</b> <span id='det-thr'></span><div class='bar'>" +
    C.map(function (c) { return "<i style='background:" + c + "'></i>"; }).join("") +
    "</div><div class='ticks'><span>0</span><span>0.5</span><span>1</span></div>";
  return d;
};
legend.addTo(map);
/* The patches below the threshold (most of them) are only handed to their layer while it is shown. */
function fillLow() { if (det.lowRings && below._map) { det.low.setLatLngs(det.lowRings); det.lowRings = null; } }
below.on("add", fillLow);
det.apply = function (start, drop, top, polygons, threshold) {
  var t0 = performance.now(), gone = new Set(idx(drop)), hi = C.map(function () { return []; }), lo = [];
  for (var b = 0; b < C.length; b++) {
    for (var i = B[b]; i < B[b + 1]; i++) { (i < start || gone.has(i) ? lo : hi[b]).push(all[i]); }
  }
  det.lowRings = lo;
  fillLow();
  det.high.forEach(function (layer, k) { layer.setLatLngs(hi[k]); });
  det.top.setLatLngs(idx(top).map(function (i) { return all[i]; }));
  det.polygons.setLatLngs(rings(polygons));
  det.shown = all.length - lo.length;
  det.threshold = threshold;
  det.applyMs = performance.now() - t0;
  var t = document.getElementById("det-thr");
  if (t) { t.textContent = "(shown: \\u2265 " + threshold.toFixed(2) + ")"; }
};
det.view = function (nonce, bounds, outline, clearDrawn) {
  det.region.clearLayers();
  if (outline) { det.region.addLayer(L.polygon(rings(outline), L.extend({renderer: R, interactive: false}, {{ this.outline_style|tojson }}))); }
  if (!nonce || det.flown === nonce) { return; }
  det.flown = nonce;
  if (clearDrawn && window.drawnItems && window.drawnItems.clearLayers) { window.drawnItems.clearLayers(); }
  if (bounds) { map.fitBounds(bounds, {animate: false}); }
};
map.on("draw:drawstart", function () { if (window.drawnItems && window.drawnItems.clearLayers) { window.drawnItems.clearLayers(); } });
{% if this.home_bounds %}map.fitBounds({{ this.home_bounds|tojson }}, {animate: false});{% endif %}
})({{ this._parent.get_name() }});
{% endmacro %}
""")

    def render(self, **kwargs):
        """As MacroElement.render, but the (large) script is not compiled as a template."""
        figure = self.get_root()
        module = self._template.module
        figure.header.add_child(folium.Element(module.header(self, kwargs)), name=self.get_name())
        figure.script.add_child(_Raw(module.script(self, kwargs)), name=self.get_name())

    def __init__(self, layer: ResultLayer, home_bounds: tuple[float, float, float, float] | None):
        super().__init__()
        self._name = "DetectLayers"
        self.layer, self.decoder, self.colors = layer, _DECODER, bin_colors()
        w, s, e, n = home_bounds or (0, 0, 0, 0)
        self.home_bounds = [[s, w], [n, e]] if home_bounds else None
        self.low_style, self.top_style, self.polygon_style = LOW_STYLE, TOP_STYLE, POLYGON_STYLE
        self.ran_style, self.outline_style = RAN_STYLE, explore_map.OUTLINE_STYLE


class ResultView(MacroElement):
    """What changes without a rebuild: the detections under the rule, their polygons, the region chosen."""

    _template = Template("""
{% macro script(this, kwargs) %}
if (window.det) {
  det.apply({{ this.start }}, {{ this.drop|tojson }}, {{ this.top|tojson }}, {{ this.polygons|tojson }}, {{ this.threshold }});
  det.view({{ this.nonce|tojson }}, {{ this.bounds|tojson }}, {{ this.outline|tojson }}, {{ this.clear_drawn|tojson }});
}
{% endmacro %}
""")

    def __init__(self, f: Filtered | None, top: np.ndarray, threshold: float, fly: Fly | None, outline: str):
        super().__init__()
        self._name = "DetectView"
        self.start = f.start if f is not None else 0
        self.drop = encode_indices(f.dropped) if f is not None else ""
        self.polygons = display.encode_rings(f.polygons.geometry.values) if f is not None else ""
        self.top, self.threshold = encode_indices(top), float(threshold)
        self.nonce = fly.nonce if fly else ""
        self.bounds = fly.leaflet_bounds() if fly else None
        self.clear_drawn = bool(fly.clear_drawn) if fly else False
        self.outline = outline


def build_map(layer: ResultLayer, home: Home) -> folium.Map:
    """The static map: no tiles (the view group brings them), the result's patches, the drawing tools."""
    m = folium.Map(location=[home.lat, home.lon], zoom_start=home.zoom, tiles=None, prefer_canvas=True, max_zoom=19,
                   min_zoom=3, world_copy_jump=True, control_scale=True)
    m.default_js = [js for js in m.default_js if js[0] == "leaflet"]  # only Leaflet itself (see Explore)
    m.default_css = [css for css in m.default_css if css[0] == "leaflet_css"]
    shape = {"shapeOptions": explore_map.DRAWN_STYLE}
    folium.plugins.Draw(
        export=False, position="topleft", show_geometry_on_click=False, edit_options={"edit": False, "remove": False},
        draw_options={**dict.fromkeys(("polyline", "circle", "marker", "circlemarker"), False),
                      "rectangle": shape, "polygon": {**shape, "allowIntersection": False}},
    ).add_to(m)
    ResultLayers(layer, home.bounds).add_to(m)
    return m


def home_for(result: Result | None, view) -> Home:
    """Where the map opens: on a result's region, else where Explore's map opened in this session."""
    if result is None:
        return explore_map.home(view)
    b = tuple(result.record.geometry.bounds)
    lat, lon, zoom = display.view_for_bounds(b)
    return Home(lat, lon, zoom, b)


def show(result: Result | None, f: Filtered | None, top: np.ndarray, threshold: float, basemap: Basemap,
         fly: Fly | None, region: BaseGeometry | None, view) -> None:
    """Draw the map; a drawing goes to Explore's region state (``explore_map.on_map_change``)."""
    from streamlit_folium import st_folium

    layer = result_layer(result.digest, result.patches, result.record.geometry) if result is not None else _EMPTY
    fg = folium.FeatureGroup(name="view", control=False)
    folium.TileLayer(tiles=basemap.url, attr=basemap.attribution, name=basemap.name, max_zoom=19,
                     max_native_zoom=basemap.max_zoom, control=False).add_to(fg)
    ResultView(f, top, threshold, fly, explore_map.outline_of(region) if region is not None else "").add_to(fg)
    # Explore's map key: the map's return lands where explore_map.on_map_change reads it, so a region
    # drawn here is the region on Explore too.
    st_folium(build_map(layer, home_for(result, view)), key=explore_map.MAP_KEY, height=MAP_HEIGHT,
              use_container_width=True, returned_objects=RETURNED, feature_group_to_add=fg,
              on_change=explore_map.on_map_change)
