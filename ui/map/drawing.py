"""What a Leaflet map says back, as plain data: drawn shapes, clicks, views (tested without a browser).

The Leaflet-specific half of the maps' geometry: :mod:`detector` knows GeoJSON and shapely, this
module knows what Leaflet.draw and streamlit-folium return and how Web Mercator zooms work.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import shapely
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry


def click_tolerance_deg(lat: float, zoom: float, pixels: float = 4.0) -> float:
    """Degrees of longitude that ``pixels`` cover at a latitude and zoom: how far off a click may be."""
    return pixels * 360.0 / 256.0 / 2.0 ** zoom * max(math.cos(math.radians(lat)), 0.01)


def drawn_geometry(drawing: Mapping[str, Any] | None) -> BaseGeometry | None:
    """The polygon of a Leaflet.draw GeoJSON feature, or None for anything else."""
    if not isinstance(drawing, Mapping):
        return None
    geom = drawing.get("geometry") if drawing.get("type") == "Feature" else drawing
    if not isinstance(geom, Mapping) or geom.get("type") not in {"Polygon", "MultiPolygon"}:
        return None
    try:
        g = shape(geom)
    except Exception:  # noqa: BLE001  (shapely raises several types for malformed coordinates: not a region)
        return None
    if not g.is_valid:
        g = shapely.make_valid(g)
    return None if g.is_empty or g.area <= 0 else g


def as_rectangle(geom: BaseGeometry | None) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) when a shape is an axis-aligned rectangle (a drawn box), else None."""
    if geom is None or geom.geom_type != "Polygon" or geom.interiors:
        return None
    b = box(*geom.bounds)
    if b.area <= 0 or len(geom.exterior.coords) != 5:
        return None
    return tuple(geom.bounds) if abs(geom.area - b.area) <= 1e-9 * b.area + 1e-12 else None


def view_for_bounds(
    bounds: tuple[float, float, float, float], width_px: int = 900, height_px: int = 600, max_zoom: int = 14,
) -> tuple[float, float, int]:
    """(lat, lon, zoom) that shows ``bounds`` (west, south, east, north) whole in a map of that size."""
    w, s, e, n = bounds

    def merc_y(lat: float) -> float:
        lat = max(min(lat, 85.0), -85.0)
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    dx = max(e - w, 1e-9) / 360.0
    dy = max(merc_y(n) - merc_y(s), 1e-9) / (2 * math.pi)
    zoom = math.floor(min(math.log2(width_px / 256 / dx), math.log2(height_px / 256 / dy)))
    yc = (merc_y(n) + merc_y(s)) / 2
    lat = math.degrees(2 * math.atan(math.exp(yc)) - math.pi / 2)
    return lat, (w + e) / 2, int(max(1, min(zoom, max_zoom)))


def drawing_signature(drawing) -> str:
    """A drawing's identity: the map repeats the last drawing on every return."""
    return json.dumps(drawing, sort_keys=True, separators=(",", ":")) if drawing else ""


def wrap_lon(lon: float) -> float:
    return ((float(lon) + 180.0) % 360.0) - 180.0


def interpret(value: dict | None, seen: str) -> dict:
    """What a map return means for a page, as plain data.

    Returns ``view`` (changes for :func:`ui.state.update`: centre and zoom, and ``region`` when a
    box was drawn), ``shape`` (a drawn polygon other than a box), ``seen`` (the drawing's
    signature), ``drew`` and ``click`` ((lat, lon) or None).
    """
    from ..state import bbox_region

    value = value or {}
    out: dict = {"view": {}, "seen": seen, "click": None, "drew": False, "shape": None}
    c, z = value.get("center"), value.get("zoom")
    if isinstance(c, dict) and "lat" in c and "lng" in c and z is not None:
        out["view"].update(lat=round(max(-90.0, min(90.0, float(c["lat"]))), 4), lon=round(wrap_lon(c["lng"]), 4),
                           zoom=int(max(1, min(20, round(float(z))))))
    drawing = value.get("last_active_drawing")
    sig = drawing_signature(drawing)
    if sig and sig != seen:
        out["seen"] = sig
        geom = drawn_geometry(drawing)
        if geom is not None:
            out["drew"] = True
            rect = as_rectangle(geom)
            if rect is not None:
                out["view"]["region"] = bbox_region(*rect)
            else:
                out["view"]["region"] = ""
                out["shape"] = geom
    obj = value.get("last_object_clicked")
    if isinstance(obj, dict) and "lat" in obj and "lng" in obj and not out["drew"]:
        out["click"] = (float(obj["lat"]), wrap_lon(obj["lng"]))
    return out
