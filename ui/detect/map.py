"""The Detect map: every scored patch of a result, coloured by score, re-filtered without a rebuild.

Built as the Explore map is (:mod:`ui.explore.layers`): the map's script (``ui/map/js/detect.js``) holds the result once —
every patch as a ring in :mod:`detector.display`'s compact encoding, sorted by score — and stays
the same for as long as the result does, so Streamlit sends it once. Patches sorted by score make
"score ≥ threshold" one index, and the score bins (one colour each) index ranges, so what changes
with the threshold or the isolation rule is a few numbers and the short list of patches the rule
drops, sent in the small ``feature_group_to_add`` script: the browser then redraws the canvas
without rebuilding anything, and the map stays where the user left it. The dissolved polygons
travel there too (encoded): they are the outlines of the detections.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import streamlit as st
from shapely.geometry.base import BaseGeometry

from detector import display

from .. import region_state
from ..i18n import _
from ..map import drawing
from ..map.basemaps import Basemap
from ..map.kernel import (
    MAP_HEIGHT,
    OUTLINE_STYLE,
    Fly,
    Home,
    MapScript,
    ViewCall,
    codec_config,
    draw_tools,
    only_leaflet,
    outline_of,
    view_group,
)
from .results import Filtered, Result

MAP_KEY = "detect_map"
#: The drawing tools are all the page needs back: a pan or zoom never reruns it.
RETURNED = ["last_active_drawing"]
BINS = 20
#: Plasma, dark (low scores) to bright (high): bright detections stand out on forest and on grey.
_ANCHORS = ("#0d0887", "#6a00a8", "#b12a90", "#e16462", "#fca636", "#f0f921")
LOW_STYLE = {"color": "#9aa4b1", "weight": 0.4, "opacity": 0.5, "fillColor": "#9aa4b1", "fillOpacity": 0.12}
TOP_STYLE = {"color": "#00e5ff", "weight": 3, "opacity": 1.0, "fill": False}
POLYGON_STYLE = {"color": "#ffffff", "weight": 1.6, "opacity": 0.95, "fill": False}
RAN_STYLE = {"color": "#ffffff", "weight": 1.2, "opacity": 0.7, "fill": False, "dashArray": "3 5"}
#: The imagery's own outline (a GeoTIFF or product) and Amazon Mining Watch's polygons, for orientation.
IMAGE_STYLE = {"color": "#7CFC00", "weight": 2, "opacity": 0.9, "fill": False, "dashArray": "2 4"}
PUBLISHED_STYLE = {"color": "#ff4d6d", "weight": 1, "opacity": 0.9, "fillColor": "#ff4d6d", "fillOpacity": 0.12}


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
    published: str = ""  # Amazon Mining Watch's polygons in the run's region (every period), for orientation


@st.cache_resource(show_spinner=False, max_entries=8)
def result_layer(digest: str, _patches: gpd.GeoDataFrame, _region: BaseGeometry) -> ResultLayer:
    rings = display.encode_rings(_patches.geometry.values)
    return ResultLayer(rings, tuple(bin_starts(_patches["score"].to_numpy())), outline_of(_region),
                       tuple(_region.bounds), digest, published_rings(_region))


def published_rings(region: BaseGeometry) -> str:
    """The published mining polygons that reach into a region, encoded; "" where the data is not here."""
    from detector import catalog, stats

    from .. import data

    try:
        polys = stats.region_polygons(data.layers(), region, catalog.periods()[-1])
    except Exception:  # noqa: BLE001 - orientation only: a map without it is still the result
        return ""
    return display.encode_rings(polys.geometry.values)


_EMPTY = ResultLayer("", tuple([0] * (BINS + 1)), "", (0, 0, 0, 0), "none")


def result_layers(layer: ResultLayer, home_bounds: tuple[float, float, float, float] | None) -> MapScript:
    """Every patch of the result, the legend and the layer switcher (``window.det``)."""
    config = {
        **codec_config(), "bins": list(layer.bins), "colors": bin_colors(), "rings": layer.rings,
        "published": layer.published,
        "outline": layer.outline, "digest": layer.digest, "home_bounds": Home(0, 0, 0, home_bounds).leaflet_bounds(),
        "styles": {"low": LOW_STYLE, "top": TOP_STYLE, "polygon": POLYGON_STYLE, "ran": RAN_STYLE,
                   "outline": OUTLINE_STYLE, "image": IMAGE_STYLE, "published": PUBLISHED_STYLE},
        "words": map_words(),
    }
    return MapScript("DetectLayers", "detect.js", "amwDetect", config, css="detect.css")


def map_words() -> dict[str, str]:
    """The map's own words (layer switcher, legend) in the visitor's language."""
    return {"above": _("Detections, coloured by score"), "polygons": _("Dissolved polygons"),
            "below": _("Patches below the threshold"), "ran": _("Region of the run"), "region": _("Region chosen"),
            "image": _("Outline of the imagery"), "published": _("Published mining (Amazon Mining Watch)"),
            "score": _("Patch score"), "shown": _("(shown: ≥ {threshold})")}


def result_view(f: Filtered | None, top: np.ndarray, threshold: float, fly: Fly | None, outline: str,
                image: str = "") -> ViewCall:
    """What changes without a rebuild: the detections under the rule, their polygons, the region chosen."""
    return ViewCall("DetectView", "det", "det.update", {
        "start": f.start if f is not None else 0,
        "drop": encode_indices(f.dropped) if f is not None else "",
        "polygons": display.encode_rings(f.polygons.geometry.values) if f is not None else "",
        "top": encode_indices(top), "threshold": float(threshold),
        "nonce": fly.nonce if fly else "", "bounds": fly.leaflet_bounds() if fly else None,
        "clear_drawn": bool(fly.clear_drawn) if fly else False, "outline": outline, "image": image,
    })


def build_map(layer: ResultLayer, home: Home) -> folium.Map:
    """The static map: no tiles (the view group brings them), the result's patches, the drawing tools."""
    m = only_leaflet(folium.Map(location=[home.lat, home.lon], zoom_start=home.zoom, tiles=None, prefer_canvas=True,
                                max_zoom=19, min_zoom=3, world_copy_jump=True, control_scale=True))
    draw_tools().add_to(m)
    result_layers(layer, home.bounds).add_to(m)
    return m


def home_for(result: Result | None, view) -> Home:
    """Where the map opens: on a result's region, else where the session's maps open."""
    if result is None:
        return region_state.home(view)
    b = tuple(result.record.geometry.bounds)
    lat, lon, zoom = drawing.view_for_bounds(b)
    return Home(lat, lon, zoom, b)


def show(result: Result | None, f: Filtered | None, top: np.ndarray, threshold: float, basemap: Basemap,
         fly: Fly | None, region: BaseGeometry | None, view, image: BaseGeometry | None = None) -> None:
    """Draw the map; a drawing becomes the session's region (:func:`ui.region_state.on_map_change`)."""
    from streamlit_folium import st_folium

    layer = result_layer(result.digest, result.patches, result.record.geometry) if result is not None else _EMPTY
    fg = view_group(basemap, result_view(f, top, threshold, fly, outline_of(region) if region is not None else "",
                                         outline_of(image) if image is not None else ""))
    st_folium(build_map(layer, home_for(result, view)), key=MAP_KEY, height=MAP_HEIGHT,
              use_container_width=True, returned_objects=RETURNED, feature_group_to_add=fg,
              on_change=functools.partial(region_state.on_map_change, MAP_KEY))
