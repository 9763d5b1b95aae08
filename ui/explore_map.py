"""The Explore map: a leafmap (folium) map with every published layer, round-tripped by streamlit-folium.

How it stays fast with all 45,000 polygons (see :mod:`detector.display` for the encoding):

- The map's script is the same on every rerun of a session: the layers of *every* period are in
  it, once, as compact strings decoded in the browser into one canvas polygon layer per period.
  streamlit-folium keys the component on that script, so the map is never rebuilt, and Streamlit
  sends an unchanged element as a reference to the copy the browser already holds: a click, a
  drawing or a pan reruns the page for about 10 KB, not megabytes.
- What does change (the period shown, the basemap, a region to fly to) goes in the small
  ``feature_group_to_add`` layer group: the browser restyles the period layers, swaps the tiles or
  fits the bounds without rebuilding anything, so the map stays where the user left it.
- ``st_folium`` returns only drawings, clicks, centre and zoom. The page handles them in the
  component's ``on_change`` callback, before it runs, so a pan rerun only mirrors the centre into
  the URL and every heavy result (layers, facts index, region figures) comes from a cache.
- Clicked polygons are looked up server-side (:class:`detector.display.FactsIndex`): no popups.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import folium
import folium.plugins
import streamlit as st
from branca.element import Element, MacroElement
from folium.template import Template
from shapely.geometry.base import BaseGeometry

from detector import catalog, display
from detector.display import DisplayLayers

from . import data
from .basemaps import Basemap

MAP_KEY = "explore_map"
MAP_HEIGHT = 620
#: All the page needs back from the browser; anything else changing (hover, layer toggles) reruns nothing.
RETURNED = ["last_active_drawing", "last_object_clicked", "center", "zoom"]

NEW_STYLE = {"color": "#ff2d55", "weight": 1.5, "opacity": 1.0, "fillColor": "#ff2d55", "fillOpacity": 0.55}
OLD_STYLE = {"color": "#ffb000", "weight": 1.0, "opacity": 0.9, "fillColor": "#ffb000", "fillOpacity": 0.35}
COUNTRY_STYLE = {"color": "#ffffff", "weight": 1.5, "opacity": 0.8, "fill": False, "dashArray": "6 4"}
TERRITORY_STYLE = {"color": "#3ddc84", "weight": 1.0, "opacity": 0.9, "fillColor": "#3ddc84", "fillOpacity": 0.08}
#: Drawn shapes let clicks through to the mines under them.
DRAWN_STYLE = {"color": "#00bfff", "weight": 2, "fillOpacity": 0.05, "interactive": False}
OUTLINE_STYLE = {"color": "#00bfff", "weight": 2.5, "opacity": 1.0, "fill": False, "dashArray": "8 6"}
#: Short credits for the map's attribution control; the full lines (catalog.attribution) go under the map.
MINING_SHORT_CREDIT = ('Mining: <a href="https://github.com/earthrise-media/mining-detector" target="_blank">'
                       "Earth Genome</a> (CC BY 4.0)")
AIRSTRIPS_SHORT_CREDIT = "Airstrips: The Intercept Brasil, The New York Times, RIN"
AIRSTRIP_MINING_COLOR = "#00e5ff"
AIRSTRIP_OTHER_COLOR = "#b0b7c3"


# ---------------------------------------------------------------- cached data

@st.cache_resource(show_spinner="Preparing the map layers…")
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


# ---------------------------------------------------------------- the map's JavaScript

_DECODER = """
var A = "ALPHABET", P = PRECISION, T = new Uint8Array(128);
for (var i = 0; i < 64; i++) { T[A.charCodeAt(i)] = i; }
function ints(s) {
  var out = [], v = 0, m = 1;
  for (var i = 0; i < s.length; i++) {
    var c = T[s.charCodeAt(i)];
    v += (c & 31) * m;
    if (c & 32) { m *= 32; } else { out.push(v); v = 0; m = 1; }
  }
  return out;
}
function unzz(z) { return (z % 2) ? -(z + 1) / 2 : z / 2; }
function rings(s) {
  var a = ints(s), out = [], i = 0, x = 0, y = 0;
  while (i < a.length) {
    var n = a[i++], r = new Array(n);
    for (var k = 0; k < n; k++) { x += unzz(a[i++]); y += unzz(a[i++]); r[k] = L.latLng(y / P, x / P); }
    out.push(r);
  }
  return out;
}
function points(s) {
  var a = ints(s), out = [], x = 0, y = 0;
  for (var i = 0; i < a.length; i += 2) { x += unzz(a[i]); y += unzz(a[i + 1]); out.push(L.latLng(y / P, x / P)); }
  return out;
}
""".replace("ALPHABET", display.ALPHABET).replace("PRECISION", str(display.PRECISION))


class _Raw(Element):
    """Text put into the page as it is (branca would compile it as a template: slow for megabytes)."""

    _template = Template("{{ this.text }}")

    def __init__(self, text: str):
        super().__init__()
        self.text = text


class MapLayers(MacroElement):
    """Mines of every period, boundaries, airstrips, the layer switcher, and ``window.amw`` to steer them.

    Everything is drawn on one canvas; only the mine polygons are interactive, so a click anywhere
    else never reruns the page. The period layers all start on the map (the newest as "new") so
    streamlit-folium registers its click handler on each of them.
    """

    _template = Template("""
{% macro header(this, kwargs) %}
<style>
  .leaflet-container .leaflet-control-attribution { font-size: 11px; line-height: 1.35; max-width: 75%; }
  .leaflet-control-layers { font-size: 13px; line-height: 1.5; }
  .leaflet-control-layers label { margin-bottom: 0; }
</style>
{% endmacro %}
{% macro script(this, kwargs) %}
(function (map) {
{{ this.decoder }}
var R = L.canvas({padding: 0.4, tolerance: 3});
/* One canvas for everything, drawings included: a second canvas on top would swallow the clicks
   meant for the mines under it. */
map.options.renderer = R;

var amw = window.amw = {map: map, periods: {{ this.periods|tojson }}, mines: [], flown: null,
  newStyle: {{ this.new_style|tojson }}, oldStyle: {{ this.old_style|tojson }}, outlineStyle: {{ this.outline_style|tojson }},
  rings: rings, renderer: R};
var credit = {{ this.credit|tojson }};
var M = {{ this.layers.mines|tojson }};
/* Mines are drawn by their own path routine: a ring that covers no more than a pixel (every one of
   them when zoomed out to the basin) becomes one small square, drawn once per pixel. The canvas then
   gets a few thousand squares instead of 45,000 rings when zoomed out. */
var Mines = L.Polygon.extend({
  _updatePath: function () {
    var Rn = this._renderer, parts = this._parts, ctx = Rn._ctx;
    if (!Rn._drawing || !parts.length) { return; }
    var seen = new Set();
    ctx.beginPath();
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i], n = part.length, p = part[0];
      if (n < 3) {
        var key = Math.round(p.x) * 100003 + Math.round(p.y);
        if (!seen.has(key)) { seen.add(key); ctx.rect(Math.round(p.x) - 0.5, Math.round(p.y) - 0.5, 1, 1); }
        continue;
      }
      ctx.moveTo(p.x, p.y);
      for (var j = 1; j < n; j++) { ctx.lineTo(part[j].x, part[j].y); }
      ctx.closePath();
    }
    Rn._fillStroke(ctx, this);
  }
});
for (var i = 0; i < M.length; i++) {
  var rr = rings(M[i]);
  amw.mines.push(rr.length ? new Mines(rr, L.extend({renderer: R, attribution: credit, interactive: true}, amw.oldStyle)) : null);
}
amw.oldGroup = L.layerGroup().addTo(map);
amw.newGroup = L.layerGroup().addTo(map);
var terr = L.polygon(rings({{ this.layers.territories|tojson }}),
  L.extend({renderer: R, interactive: false}, {{ this.territory_style|tojson }})).addTo(map);
var ctry = L.polygon(rings({{ this.layers.countries|tojson }}),
  L.extend({renderer: R, interactive: false}, {{ this.country_style|tojson }})).addTo(map);
/* Airstrips: all the points of one colour in a single canvas layer (1,269 markers would be 1,269 layers). */
var Dots = L.Path.extend({
  initialize: function (latlngs, options) { L.setOptions(this, options); this._latlngs = latlngs; },
  getBounds: function () { return L.latLngBounds(this._latlngs); },
  _project: function () {
    var map = this._map, r = this.options.radius + this.options.weight, b = new L.Bounds();
    this._pts = this._latlngs.map(function (ll) { var p = map.latLngToLayerPoint(ll); b.extend(p); return p; });
    this._pxBounds = this._pts.length ? new L.Bounds(b.min.subtract([r, r]), b.max.add([r, r])) : undefined;
  },
  _update: function () { if (this._map) { this._updatePath(); } },
  _updatePath: function () {
    var Rn = this._renderer, ctx = Rn._ctx, r = this.options.radius, pts = this._pts;
    if (!Rn._drawing || !pts || !pts.length) { return; }
    ctx.beginPath();
    for (var i = 0; i < pts.length; i++) { ctx.moveTo(pts[i].x + r, pts[i].y); ctx.arc(pts[i].x, pts[i].y, r, 0, 2 * Math.PI); }
    Rn._fillStroke(ctx, this);
  },
  _containsPoint: function () { return false; },
  _empty: function () { return !this._pts || !this._pts.length; }
});
var air = L.layerGroup(), airCredit = {{ this.airstrip_credit|tojson }};
[[{{ this.layers.airstrips_other|tojson }}, {{ this.airstrip_other|tojson }}],
 [{{ this.layers.airstrips_mining|tojson }}, {{ this.airstrip_mining|tojson }}]].forEach(function (spec) {
  air.addLayer(new Dots(points(spec[0]), {renderer: R, interactive: false, radius: 3.5, weight: 1, color: "#000", fill: true,
    fillColor: spec[1], fillOpacity: 0.95, attribution: airCredit}));
});
air.addTo(map);
amw.setPeriod = function (k) {
  amw.shown = k;
  for (var i = 0; i < amw.mines.length; i++) {
    var p = amw.mines[i];
    if (!p) { continue; }
    var want = i < k ? amw.oldGroup : (i === k ? amw.newGroup : null);
    [amw.oldGroup, amw.newGroup].forEach(function (g) { if (g !== want && g.hasLayer(p)) { g.removeLayer(p); } });
    if (want) {
      p.setStyle(want === amw.newGroup ? amw.newStyle : amw.oldStyle);
      if (!want.hasLayer(p)) { want.addLayer(p); }
    }
  }
  if (amw.mines[k] && amw.newGroup.hasLayer(amw.mines[k]) && amw.mines[k]._map) { amw.mines[k].bringToFront(); }
  var lab = document.getElementById("amw-new-label");
  if (lab) { lab.textContent = amw.periods[k] === amw.periods[0] ? "up to " + amw.periods[k] : "new in " + amw.periods[k]; }
  var old = document.getElementById("amw-old-label");
  if (old) { old.textContent = "before " + amw.periods[k]; }
};
amw.fly = function (nonce, bounds, clearDrawn) {
  if (amw.flown === nonce) { return; }
  amw.flown = nonce;
  if (clearDrawn && window.drawnItems && window.drawnItems.clearLayers) { window.drawnItems.clearLayers(); }
  if (bounds) { map.fitBounds(bounds, {animate: false}); }
};
amw.outline = function (group, encoded) {
  var rr = rings(encoded);
  if (rr.length) { group.addLayer(L.polygon(rr, L.extend({renderer: R, interactive: false}, amw.outlineStyle))); }
};
map.on("draw:drawstart", function () {
  if (window.drawnItems && window.drawnItems.clearLayers) { window.drawnItems.clearLayers(); }
});
function swatch(c, round) {
  return '<i style="display:inline-block;width:11px;height:11px;margin:0 5px 0 2px;background:' + c +
    ';border:1px solid #333;' + (round ? 'border-radius:50%;' : '') + '"></i>';
}
var overlays = {};
overlays[swatch(amw.newStyle.color) + 'Mining <span id="amw-new-label">new in the period</span>'] = amw.newGroup;
overlays[swatch(amw.oldStyle.color) + 'Mining <span id="amw-old-label">before the period</span>'] = amw.oldGroup;
overlays[swatch({{ this.territory_style.color|tojson }}) + 'Indigenous territories'] = terr;
overlays[swatch("#ffffff") + 'Countries (Amazon part)'] = ctry;
overlays[swatch({{ this.airstrip_other|tojson }}, true) + 'Airstrips (' + swatch({{ this.airstrip_mining|tojson }}, true) +
  'mining within 20 km)'] = air;
L.control.layers(null, overlays, {collapsed: false, position: "topright"}).addTo(map);
amw.setPeriod(amw.periods.length - 1);
{% if this.home_bounds %}map.fitBounds({{ this.home_bounds|tojson }}, {animate: false});  /* before the first report */{% endif %}
/* data {{ this.layers.digest }} */
})({{ this._parent.get_name() }});
{% endmacro %}
""")

    def render(self, **kwargs):
        """As MacroElement.render, but the (megabytes of) script is not compiled as a Jinja template."""
        figure = self.get_root()
        module = self._template.module
        figure.header.add_child(Element(module.header(self, kwargs)), name=self.get_name())
        figure.script.add_child(_Raw(module.script(self, kwargs)), name=self.get_name())

    def __init__(self, layers: DisplayLayers, credit: str, airstrip_credit: str,
                 home_bounds: tuple[float, float, float, float] | None = None):
        super().__init__()
        self._name = "AmwLayers"
        w, s, e, n = home_bounds or (0, 0, 0, 0)
        self.home_bounds = [[s, w], [n, e]] if home_bounds else None
        self.layers = layers
        self.decoder = _DECODER
        self.periods = list(layers.periods)
        self.credit = credit
        self.airstrip_credit = airstrip_credit
        self.new_style, self.old_style, self.outline_style = NEW_STYLE, OLD_STYLE, OUTLINE_STYLE
        self.country_style, self.territory_style = COUNTRY_STYLE, TERRITORY_STYLE
        self.airstrip_mining, self.airstrip_other = AIRSTRIP_MINING_COLOR, AIRSTRIP_OTHER_COLOR


class ViewSettings(MacroElement):
    """The part of the map that changes with the view: period, region outline, a region to fly to."""

    _template = Template("""
{% macro script(this, kwargs) %}
if (window.amw) {
  amw.setPeriod({{ this.period_index }});
  {% if this.outline %}amw.outline({{ this._parent.get_name() }}, {{ this.outline|tojson }});{% endif %}
  {% if this.nonce %}amw.fly({{ this.nonce|tojson }}, {{ this.bounds|tojson }}, {{ this.clear_drawn|tojson }});{% endif %}
}
{% endmacro %}
""")

    def __init__(self, period_index: int, fly: Fly | None):
        super().__init__()
        self._name = "AmwView"
        self.period_index = int(period_index)
        self.nonce = fly.nonce if fly else ""
        self.bounds = fly.leaflet_bounds() if fly and fly.bounds else None
        self.outline = fly.outline if fly else ""
        self.clear_drawn = bool(fly.clear_drawn) if fly else False


# ---------------------------------------------------------------- building the map

@dataclass(frozen=True)
class Home:
    """Where the map opens; fixed for a session so the map's script (and so the map) never changes."""

    lat: float
    lon: float
    zoom: int
    bounds: tuple[float, float, float, float] | None = None  # fit these instead, when set


@dataclass(frozen=True)
class Fly:
    """A region the map should show: fitted once per ``nonce``, outlined while it is the region."""

    nonce: str
    bounds: tuple[float, float, float, float] | None  # west, south, east, north; None: stay put
    outline: str = ""  # encoded rings (detector.display.encode_rings)
    clear_drawn: bool = True

    def leaflet_bounds(self) -> list[list[float]] | None:
        if not self.bounds:
            return None
        w, s, e, n = self.bounds
        return [[s, w], [n, e]]


def outline_of(geometry: BaseGeometry) -> str:
    """A region's outline for the map, simplified for a zoom of 12 (≈ 40 m)."""
    import geopandas as gpd

    g = gpd.GeoSeries([geometry], crs="EPSG:4326")
    return display.encode_rings(display.simplify_for_zoom(g, 12).values)


def build_map(layers: DisplayLayers, home: Home) -> folium.Map:
    """The static map: no tiles (the view settings bring them), every layer, the draw tools."""
    import leafmap.foliumap as leafmap

    m = leafmap.Map(location=[home.lat, home.lon], zoom=home.zoom, tiles=None, prefer_canvas=True,
                    fullscreen_control=False, max_zoom=19, min_zoom=3, world_copy_jump=True)
    # Only Leaflet itself: folium's jQuery, Bootstrap and Font Awesome (for markers this map does not
    # use) would be five more CDN requests and 0.5 MB before the map can start.
    m.default_js = [js for js in m.default_js if js[0] == "leaflet"]
    m.default_css = [css for css in m.default_css if css[0] == "leaflet_css"]
    folium.plugins.Draw(
        export=False, position="topleft", show_geometry_on_click=False,
        draw_options={"polyline": False, "circle": False, "marker": False, "circlemarker": False,
                      "rectangle": {"shapeOptions": DRAWN_STYLE}, "polygon": {"allowIntersection": False,
                                                                             "shapeOptions": DRAWN_STYLE}},
        # No edit or delete tools: a new drawing replaces the last one, and "Clear region" clears it.
        edit_options={"edit": False, "remove": False},
    ).add_to(m)
    MapLayers(layers, MINING_SHORT_CREDIT, AIRSTRIPS_SHORT_CREDIT, home.bounds).add_to(m)
    return m


def view_group(basemap: Basemap, period_index: int, fly: Fly | None) -> folium.FeatureGroup:
    """The dynamic part: the basemap's tiles (with their attribution) and the view settings."""
    fg = folium.FeatureGroup(name="view", control=False)
    folium.TileLayer(tiles=basemap.url, attr=basemap.attribution, name=basemap.name, max_zoom=19,
                     max_native_zoom=basemap.max_zoom, control=False).add_to(fg)
    ViewSettings(period_index, fly).add_to(fg)
    return fg


def show(layers: DisplayLayers, home: Home, basemap: Basemap, period_index: int, fly: Fly | None,
         on_change=None) -> dict:
    """Draw the map; returns what st_folium returns (also in ``st.session_state[MAP_KEY]``)."""
    from streamlit_folium import st_folium

    return st_folium(
        build_map(layers, home), key=MAP_KEY, height=MAP_HEIGHT, use_container_width=True,
        returned_objects=RETURNED, feature_group_to_add=view_group(basemap, period_index, fly),
        on_change=on_change,
    ) or {}


def mining_credit() -> str:
    return "Mining: " + catalog.attribution(catalog.yearly_layers()[-1].name)


def plain(html: str) -> str:
    """An HTML attribution as plain text, for captions."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def drawing_signature(drawing) -> str:
    return json.dumps(drawing, sort_keys=True, separators=(",", ":")) if drawing else ""


# ---------------------------------------------------------------- the page's session state

_HOME, _FLY, _SHAPE, _SEEN, _CLICK, _N, _UPLOAD_ERROR = (
    "explore_home", "explore_fly", "explore_shape", "explore_seen_drawing", "explore_click", "explore_n",
    "explore_upload_error",
)


def _nonce() -> str:
    st.session_state[_N] = st.session_state.get(_N, 0) + 1
    return f"fly{st.session_state[_N]}"


def _fly_to(geometry: BaseGeometry) -> Fly:
    return Fly(_nonce(), tuple(geometry.bounds), outline_of(geometry), clear_drawn=True)


def home(view) -> Home:
    """Where the map opens in this session, decided on the first run from the URL and kept.

    A link with a centre and zoom opens there; a link naming only a region opens on that region.
    The region of the link is outlined either way.
    """
    if _HOME not in st.session_state:
        from . import regions

        region = regions.resolve(view.region)
        explicit = any(k in st.query_params for k in ("lat", "lon", "zoom"))
        h = Home(view.lat, view.lon, view.zoom)
        if region is not None:
            if not explicit:
                lat, lon, zoom = display.view_for_bounds(region.geometry.bounds)
                h = Home(lat, lon, zoom, tuple(region.geometry.bounds))
            st.session_state[_FLY] = Fly("home", None, outline_of(region.geometry), clear_drawn=False)
        st.session_state[_HOME] = h
    return st.session_state[_HOME]


def fly() -> Fly | None:
    return st.session_state.get(_FLY)


def active_region(view):
    """The region whose figures the page shows: a drawn polygon or upload, else the view's region."""
    from . import regions

    shape = st.session_state.get(_SHAPE)
    if shape is not None and not view.region:
        return shape
    return regions.resolve(view.region)


def clicked() -> tuple[float, float] | None:
    return st.session_state.get(_CLICK)


def upload_error() -> str | None:
    return st.session_state.get(_UPLOAD_ERROR)


def _wrap_lon(lon: float) -> float:
    return ((float(lon) + 180.0) % 360.0) - 180.0


def interpret(value: dict | None, seen: str) -> dict:
    """What a map return means for the page, as plain data (tested without a browser).

    Returns ``view`` (changes for :func:`ui.state.update`), ``shape`` (a drawn polygon, when one
    was just drawn), ``seen`` (the drawing's signature) and ``click`` ((lat, lon) or None).
    """
    value = value or {}
    out: dict = {"view": {}, "seen": seen, "click": None, "drew": False, "shape": None}
    c, z = value.get("center"), value.get("zoom")
    if isinstance(c, dict) and "lat" in c and "lng" in c and z is not None:
        out["view"].update(lat=round(max(-90.0, min(90.0, float(c["lat"]))), 4), lon=round(_wrap_lon(c["lng"]), 4),
                           zoom=int(max(1, min(20, round(float(z))))))
    drawing = value.get("last_active_drawing")
    sig = drawing_signature(drawing)
    if sig and sig != seen:
        out["seen"] = sig
        geom = display.drawn_geometry(drawing)
        if geom is not None:
            from .state import bbox_region

            out["drew"] = True
            rect = display.as_rectangle(geom)
            if rect is not None:
                out["view"]["region"] = bbox_region(*rect)
            else:
                out["view"]["region"] = ""
                out["shape"] = geom
    obj = value.get("last_object_clicked")
    if isinstance(obj, dict) and "lat" in obj and "lng" in obj and not out["drew"]:
        out["click"] = (float(obj["lat"]), _wrap_lon(obj["lng"]))
    return out


def on_map_change() -> None:
    """st_folium's on_change: apply a drawing, a click or a pan before the page reruns."""
    from . import regions, state

    got = interpret(st.session_state.get(MAP_KEY), st.session_state.get(_SEEN, ""))
    st.session_state[_SEEN] = got["seen"]
    st.session_state[_CLICK] = got["click"]
    if got["drew"]:
        st.session_state[_SHAPE] = regions.Region("drawn", "Drawn polygon", got["shape"]) if got["shape"] else None
        if fly() is not None and fly().outline:
            st.session_state[_FLY] = None  # the old region's outline goes; the drawing stays where it is
    if got["view"]:
        state.update(**got["view"])


def pick(kind: str, widget_key: str) -> None:
    """A country or territory chosen in a select box: it becomes the region and the map goes there."""
    from . import regions, state

    ident = st.session_state.get(widget_key)
    key = f"{kind}:{ident}" if ident else ""
    region = regions.resolve(key)
    st.session_state[_SHAPE] = None
    st.session_state[_CLICK] = None
    st.session_state[_FLY] = _fly_to(region.geometry) if region is not None else None
    state.update(region=key if region is not None else "")


def on_upload(widget_key: str) -> None:
    """A GeoJSON file uploaded: it becomes the region (a DetectorError's message is kept to show)."""
    from detector.errors import DetectorError

    from . import regions, state

    st.session_state[_UPLOAD_ERROR] = None
    f = st.session_state.get(widget_key)
    if f is None:
        return
    try:
        region = regions.from_upload(f.getvalue(), f.name)
    except DetectorError as exc:
        st.session_state[_UPLOAD_ERROR] = str(exc)
        return
    st.session_state[_SHAPE] = region
    st.session_state[_CLICK] = None
    st.session_state[_FLY] = _fly_to(region.geometry)
    state.update(region="")


def clear_region() -> None:
    from . import state

    st.session_state[_SHAPE] = None
    st.session_state[_FLY] = Fly(_nonce(), None, "", clear_drawn=True)
    state.update(region="")


# ---------------------------------------------------------------- the page's widgets and figures

def region_picker(view) -> None:
    """Country and territory select boxes (sorted by name) and the GeoJSON upload."""
    countries, territories = data.countries(), data.territories()
    kind, _, ident = view.region.partition(":")
    st.subheader("Region")
    c_ids = [None, *countries.sort_values("region_name")["region_id"]]
    c_names = dict(zip(countries["region_id"], countries["region_name"]))
    key = f"explore_country|{view.region}"  # a new region, a new box showing it
    st.selectbox("Country", c_ids, index=c_ids.index(ident) if kind == "country" and ident in c_ids else 0,
                 format_func=lambda i: "—" if i is None else c_names[i], key=key, on_change=pick, args=("country", key))
    labels = territories["region_name"] + " (" + territories["country"].astype(str) + ")"
    t_names = dict(sorted(zip(territories["region_id"], labels), key=lambda kv: kv[1].lower()))
    t_ids = [None, *t_names]
    key = f"explore_territory|{view.region}"
    st.selectbox("Indigenous territory", t_ids,
                 index=t_ids.index(ident) if kind == "territory" and ident in t_ids else 0,
                 format_func=lambda i: "—" if i is None else t_names[i], key=key, on_change=pick,
                 args=("territory", key))
    key = "explore_upload"
    st.file_uploader("Or upload a GeoJSON region", type=["geojson", "json"], key=key, on_change=on_upload, args=(key,))
    if upload_error():
        st.error(upload_error())


def region_figures(region, period: str) -> None:
    """The region's mined area and footprint, new in the period and in total, and its trend."""
    import shapely

    table = data.region_stats(shapely.to_wkb(region.geometry), region.key, region.name)
    row = table[table["period"] == period].iloc[0]
    first = period == catalog.periods()[0]
    st.markdown(f"**{region.name}**")
    a, b = st.columns(2)
    for col, label, value in (
        (a, f"Mined, {'up to' if first else 'new in'} {period}", row["new_mined_ha"]),
        (b, f"Mined, total to {period}", row["cumulative_mined_ha"]),
        (a, "Footprint, new", row["new_footprint_ha"]),
        (b, "Footprint, total", row["cumulative_footprint_ha"]),
    ):
        col.metric(label, hectares(value, compact=True), help=hectares(value))
    st.caption(
        "Mined area is the mined land inside the published polygons: quote this one. The footprint is the "
        "polygons' own area (merged 480 m detection squares); it overstates mined land about "
        f"{footprint_ratio():.0f}×. 2018 is all mining up to 2018."
    )
    st.plotly_chart(trend_chart(table, period), width="stretch", config={"displayModeBar": False})


def clicked_facts(view) -> display.Facts | None:
    """The facts of the mine polygon last clicked, among those shown for the view's period."""
    point = clicked()
    if point is None:
        return None
    lat, lon = point
    return facts_index().at(lon, lat, view.period, display.click_tolerance_deg(lat, view.zoom))


def hectares(value: float, compact: bool = False) -> str:
    """Hectares for a figure: whole hectares from 100 up, one decimal below ("n/a" for a missing figure).

    ``compact`` writes ten thousand and more in thousands ("13.6k ha"), so a metric fits a narrow column.
    """
    if math.isnan(value):  # a layer without mined-area figures
        return "n/a"
    if compact and abs(value) >= 10_000:
        return f"{value / 1000:,.1f}k ha"
    return f"{value:,.0f} ha" if abs(value) >= 100 or value == 0 else f"{value:,.1f} ha"


@st.cache_resource(show_spinner=False)
def footprint_ratio() -> float:
    """How much the footprint overstates mined land over all published layers (≈ 5)."""
    from detector import stats

    return stats.footprint_ratio(data.layers())


def trend_chart(table, period: str):
    """New mined area per period, the selected period marked."""
    import plotly.graph_objects as go

    x = [str(p) for p in table["period"]]
    y = table["new_mined_ha"].fillna(0).to_numpy()
    colors = [NEW_STYLE["color"] if p == period else "#8d99ae" for p in x]
    fig = go.Figure(go.Bar(x=x, y=y, marker_color=colors, hovertemplate="%{x}: %{y:,.0f} ha<extra></extra>"))
    fig.update_layout(
        title={"text": "New mined area per period (ha)", "font": {"size": 13}}, height=230,
        margin={"l": 0, "r": 0, "t": 32, "b": 0}, showlegend=False, bargap=0.25,
        xaxis={"type": "category", "tickfont": {"size": 10}}, yaxis={"tickfont": {"size": 10}, "rangemode": "tozero"},
    )
    return fig


def facts_card(facts: display.Facts) -> None:
    """The clicked polygon's facts."""
    first = facts.period == catalog.periods()[0]
    when = f"up to {facts.period}" if first else f"new in {facts.period}"
    st.markdown(f"**Mine polygon**, {when}" + ("" if facts.is_new else " (before the selected period)"))
    st.markdown(
        f"- Mined area: **{hectares(facts.mined_area_ha)}**\n"
        f"- Footprint (polygon area): {hectares(facts.footprint_ha)}\n"
        f"- Country: {facts.country or 'outside the Amazon boundaries'}\n"
        f"- Indigenous territory: {facts.territory or 'none'}"
    )
