"""Turning the view's region (a named boundary, a drawn box) or an upload into a geometry."""
from __future__ import annotations

from dataclasses import dataclass

from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from detector.region import region_from_content

from . import data
from .i18n import _
from .state import parse_bbox


@dataclass(frozen=True)
class Region:
    key: str  # the view's region string
    name: str
    geometry: BaseGeometry


def resolve(key: str) -> Region | None:
    """The region a view names, or None (no region, or an id that no longer exists)."""
    if not key:
        return None
    kind, _sep, ident = key.partition(":")
    if kind == "bbox":
        b = parse_bbox(key)
        return Region(key, _("Drawn rectangle"), box(*b)) if b else None
    table = {"country": data.countries, "territory": data.territories}.get(kind)
    if table is None:
        return None
    rows = table()
    hit = rows[rows["region_id"] == ident]
    if hit.empty:
        return None
    return Region(key, str(hit["region_name"].iloc[0]), hit.geometry.iloc[0])


def from_upload(raw: bytes, filename: str = "upload") -> Region:
    """A region from an uploaded GeoJSON file; a DetectorError says what is wrong with it."""
    geom = region_from_content(raw, filename)
    return Region(f"upload:{filename}", filename, geom)
