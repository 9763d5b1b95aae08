"""Folium maps of patches for Review and Tune: an outline over imagery, a wider context, coloured outcomes.

The maps are static pictures for the page (``st_folium`` returns nothing, so panning never reruns
it). Tiles that cannot load (offline) leave a grey background; the outlines still draw.
"""
from __future__ import annotations

import folium
import geopandas as gpd
from branca.element import Element
from shapely.geometry.base import BaseGeometry

from ..map.basemaps import Basemap, basemap

OUTLINE = {"color": "#00e5ff", "weight": 3, "fill": False}
NEIGHBOUR = {"color": "#ffb000", "weight": 1, "fillOpacity": 0.08}
#: Small print for the credits and the layer list, so they do not cover a small map.
_CSS = """<style>
.leaflet-container .leaflet-control-attribution { font-size: 10px; line-height: 1.3; max-width: 85%; }
.leaflet-control-layers { font-size: 12px; line-height: 1.4; }
.leaflet-control-layers label { margin-bottom: 0; }
.leaflet-control-scale-line { font-size: 10px; line-height: 1.2; padding: 0 4px; }
</style>"""


def base_map(bounds: tuple[float, float, float, float], tiles: Basemap, pad: float = 0.0,
             zoom_control: bool = True) -> folium.Map:
    """A map fitted to ``bounds`` (w, s, e, n) grown by ``pad`` of its size, over one basemap."""
    w, s, e, n = bounds
    dx, dy = (e - w) * pad, (n - s) * pad
    m = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=14, tiles=None, control_scale=True,
                   zoom_control=zoom_control, prefer_canvas=True)
    folium.TileLayer(tiles=tiles.url, attr=tiles.attribution, name=tiles.name, max_zoom=19,
                     max_native_zoom=tiles.max_zoom).add_to(m)
    m.get_root().header.add_child(Element(_CSS))
    m.fit_bounds([[s - dy, w - dx], [n + dy, e + dx]])
    return m


def add_shapes(m: folium.Map, gdf: gpd.GeoDataFrame, style: dict, tooltip: str | None = None,
               name: str | None = None) -> None:
    """Draw a frame's polygons in one style (a tooltip field when given)."""
    if gdf.empty:
        return
    layer = folium.GeoJson(gdf[[tooltip, "geometry"]] if tooltip else gdf[["geometry"]], name=name,
                           style_function=lambda _f, s=style: s,
                           tooltip=folium.GeoJsonTooltip([tooltip]) if tooltip else None)
    layer.add_to(m)


def patch_map(geometry: BaseGeometry, key: str, period: str, pad: float = 0.6) -> folium.Map:
    """The patch outlined over one basemap ("esri" high resolution, "s2cloudless" of the year)."""
    m = base_map(geometry.bounds, basemap(key, period), pad=pad)
    folium.GeoJson(geometry.__geo_interface__, style_function=lambda _f: OUTLINE).add_to(m)
    return m


def context_map(geometry: BaseGeometry, neighbours: gpd.GeoDataFrame, period: str) -> folium.Map:
    """A wider view: the layer's other patches around this one, over high-resolution imagery."""
    m = base_map(geometry.bounds, basemap("esri", period), pad=8.0)
    add_shapes(m, neighbours, NEIGHBOUR, tooltip="score" if "score" in neighbours.columns else None)
    folium.GeoJson(geometry.__geo_interface__, style_function=lambda _f: OUTLINE).add_to(m)
    return m


def show(m: folium.Map, key: str, height: int) -> None:
    """Put a map on the page; it sends nothing back, so panning it reruns nothing."""
    from streamlit_folium import st_folium

    st_folium(m, key=key, height=height, use_container_width=True, returned_objects=[])
