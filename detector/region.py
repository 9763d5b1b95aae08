"""Read and check the region a user wants scored.

A region arrives as a GeoJSON file, a GeoJSON string or a mapping (FeatureCollection,
Feature or bare geometry) in EPSG:4326. Everything that would make a run fail late or
silently do the wrong thing is refused here, before any imagery or model work starts.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from .config import max_area_km2
from .errors import RegionError

#: Files larger than this are refused before parsing: they are almost never a region.
MAX_GEOJSON_BYTES = 50 * 1024 * 1024

_TO_EQUAL_AREA = Transformer.from_crs("EPSG:4326", "EPSG:6933", always_xy=True)


def area_km2(geom: BaseGeometry) -> float:
    """Area of a lon/lat geometry in km², measured in the equal-area EPSG:6933."""
    return reproject(geom, _TO_EQUAL_AREA).area / 1e6


def reproject(geom: BaseGeometry, transformer: Transformer) -> BaseGeometry:
    """Apply a pyproj transformer (built with always_xy=True) to a shapely geometry."""
    return shapely.transform(geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def _too_big(what: str, size: int) -> RegionError:
    return RegionError(
        "{what} is {value:.0f} MB, more than the {value2:.0f} MB a region may be. Simplify it (e.g. "
        "`ogr2ogr -simplify 0.001`) or draw the outline you need.",
        what=what, value=size / 1e6, value2=MAX_GEOJSON_BYTES / 1e6
    )


def parse_geojson(content: bytes | str, name: str = "The region") -> dict:
    """GeoJSON from uploaded *content*: never read as a file name, whatever it says."""
    if len(content) > MAX_GEOJSON_BYTES:
        raise _too_big(name, len(content))
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegionError(
            "{name} is not valid GeoJSON ({exc_msg} at line {exc_lineno}, column {exc_colno}). Save it "
            "again from your GIS, or check it at geojson.io.",
            name=name, exc_msg=exc.msg, exc_lineno=exc.lineno, exc_colno=exc.colno
        ) from None
    except RecursionError:
        raise RegionError("{name} is nested too deeply to be GeoJSON. Save it again from your GIS.", name=name) from None
    if not isinstance(data, dict):
        raise RegionError("{name} is not a GeoJSON object. Give a FeatureCollection, Feature or Polygon.", name=name)
    return data


def read_geojson(source: str | Path | Mapping[str, Any]) -> dict:
    """GeoJSON from a file the user named (the CLI), or a mapping; content goes to :func:`parse_geojson`."""
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, str) and source.lstrip().startswith("{"):  # JSON text given in code
        return parse_geojson(source)
    path = Path(source).expanduser()
    if not path.is_file():
        raise RegionError("Region file {path} does not exist (or is not a file). Give the path of a GeoJSON file.", path=path)
    size = path.stat().st_size
    if size > MAX_GEOJSON_BYTES:
        raise _too_big(f"Region file {path}", size)
    return parse_geojson(path.read_bytes(), f"The region in {path}")


def geometry_from_geojson(data: Mapping[str, Any]) -> BaseGeometry:
    """Union of every polygon in a GeoJSON object (lines and points are ignored)."""
    kind = data.get("type")
    if kind == "FeatureCollection":
        geoms = [f.get("geometry") for f in data.get("features") or [] if isinstance(f, Mapping)]
    elif kind == "Feature":
        geoms = [data.get("geometry")]
    elif kind in {"Polygon", "MultiPolygon", "GeometryCollection"}:
        geoms = [data]
    else:
        raise RegionError(
            "GeoJSON of type {kind!r} cannot be a region. Give a FeatureCollection, Feature, Polygon or "
            "MultiPolygon.",
            kind=kind
        )
    shapes = []
    for g in geoms:
        if not g:
            continue
        try:
            shapes.append(shape(g))
        except Exception as exc:  # noqa: BLE001 - shapely raises several types for malformed coordinates
            raise RegionError("The region has a malformed geometry ({plain}). Fix or redraw it.", plain=_plain(exc)) from None
    _bound_the_work(shapes)
    polys = []
    for geom in shapes:
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        polys.extend(p for p in getattr(geom, "geoms", [geom]) if p.geom_type in {"Polygon", "MultiPolygon"})
    if not polys:
        raise RegionError("The region has no polygon in it. Draw or upload an area, not points or lines.")
    return shapely.union_all(polys)


#: What a region may cost to read: repairing a self-intersecting outline takes seconds at a few
#: thousand vertices and minutes at twenty thousand, and every part is gridded on its own.
MAX_VERTICES = 200_000
MAX_REPAIR_VERTICES = 2_000
MAX_PARTS = 5_000


def _plain(exc: Exception) -> str:
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__


def _bound_the_work(shapes: list[BaseGeometry]) -> None:
    """Refuse, before any expensive step, coordinates out of range and regions too costly to read."""
    parts = sum(len(getattr(g, "geoms", [g])) for g in shapes)
    if parts > MAX_PARTS:
        raise RegionError(
            "The region has {parts:,} separate parts, more than the {max_parts:,} a region may have. "
            "Merge or simplify them in your GIS (e.g. dissolve, then `ogr2ogr -simplify 0.001`), or draw "
            "one outline.",
            parts=parts, max_parts=MAX_PARTS
        )
    coords = shapely.get_coordinates(shapes) if shapes else np.empty((0, 2))
    if len(coords) > MAX_VERTICES:
        raise RegionError(
            "The region has {n_coords:,} vertices, more than the {max_vertices:,} a region may have. "
            "Simplify it in your GIS (e.g. `ogr2ogr -simplify 0.001`).",
            n_coords=len(coords), max_vertices=MAX_VERTICES
        )
    if len(coords) and not np.isfinite(coords).all():
        raise RegionError("The region has coordinates that are not numbers (NaN or infinite). Fix or redraw it.")
    if len(coords) and (np.abs(coords[:, 0]).max() > 180 or np.abs(coords[:, 1]).max() > 90):
        raise RegionError(
            "The region's coordinates are outside longitude −180…180 / latitude −90…90. "
            "Is it in EPSG:4326 (longitude, latitude order)?"
        )
    for g in shapes:
        n = shapely.get_num_coordinates(g)
        if n > MAX_REPAIR_VERTICES and not g.is_valid:
            raise RegionError(
                "The region's outline crosses itself and has {n:,} vertices, too many to repair here (at "
                "most {max_repair_vertices:,}). Repair it in your GIS (e.g. QGIS 'Fix geometries') or "
                "simplify it.",
                n=n, max_repair_vertices=MAX_REPAIR_VERTICES
            )


def region_from_content(content: bytes | str, name: str = "The region") -> BaseGeometry:
    """The one reader of visitor-supplied regions (every page's uploader): content, checked, any size."""
    geom = geometry_from_geojson(parse_geojson(content, name))
    check_region(geom, float("inf"))
    return geom


def clip_to_imagery(geom: BaseGeometry, footprint: BaseGeometry | None) -> BaseGeometry:
    """The part of a region the imagery covers (a whole country scored with one image is the image's part);
    the region itself where the imagery is unbounded (Earth Engine) or does not touch it (the source then
    says so, with both extents)."""
    if footprint is None or footprint.is_empty or footprint.contains(geom):
        return geom
    part = geom.intersection(footprint)
    return geom if part.is_empty or part.area == 0 else part


def check_region(geom: BaseGeometry, limit_km2: float | None = None) -> float:
    """Refuse empty, out-of-range, antimeridian-crossing or too large regions; return km²."""
    if geom.is_empty:
        raise RegionError("The region is empty. Draw or upload an area to score.")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise RegionError(
            "The region's coordinates are outside longitude −180…180 / latitude −90…90. "
            "Is it in EPSG:4326 (longitude, latitude order)? A region across the antimeridian "
            "must be split at 180° into two regions."
        )
    if maxx - minx > 180:
        raise RegionError(
            "The region crosses the antimeridian (180°), which the patch grid cannot span. "
            "Split it at 180° and run each half separately."
        )
    km2 = area_km2(geom)
    if km2 <= 0:
        raise RegionError("The region has zero area. Draw or upload a polygon that encloses an area.")
    limit = max_area_km2() if limit_km2 is None else limit_km2
    if km2 > limit:
        raise RegionError(
            "The region covers {km2:,.0f} km², more than the on-demand limit of {limit:,.0f} km². Run it "
            "from the command line with a higher limit (`python -m detector detect ... --max-area "
            "{km2:.0f}` or DETECTOR_MAX_AREA_KM2), or split it into smaller regions.",
            km2=km2, limit=limit
        )
    return km2


def load_region(source: str | Path | Mapping[str, Any], limit_km2: float | None = None) -> BaseGeometry:
    """Read, validate and size-check a region; the single entry point callers use."""
    geom = geometry_from_geojson(read_geojson(source))
    check_region(geom, limit_km2)
    return geom
