"""The fixed patch grid: where every 48 px patch is, independent of any run or model.

Each patch lives in the UTM zone that its region part falls in, expressed in that zone's
*northern* definition (EPSG:326zz) for both hemispheres, so the grid has no seam at the
equator (southern northings are simply negative). Patch (row, col) covers
x ∈ [col·240, col·240 + 480] m and y ∈ [row·240, row·240 + 480] m: 48 × 48 pixels of 10 m,
stride 24 px. Its id, ``"32718" style EPSG + row + col``, is therefore the same in every run.

Tiles are blocks of TILE × TILE patch positions. A tile's raster is the pixel block that all
its patches need (TILE·24 + 24 px square), so a patch is read from exactly one tile: none is
lost or duplicated at tile borders.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from .errors import RegionError
from .region import reproject

PIXEL_M = 10
PATCH_PX = 48
STRIDE_PX = 24
PATCH_M = PATCH_PX * PIXEL_M  # 480 m
STRIDE_M = STRIDE_PX * PIXEL_M  # 240 m
TILE = 32  # patch positions per tile side
TILE_PX = TILE * STRIDE_PX + (PATCH_PX - STRIDE_PX)  # 792 px


def utm_zone(lon: float) -> int:
    """UTM zone number (1–60) of a longitude; the Norway/Svalbard exceptions are ignored."""
    return min(max(math.floor((lon + 180.0) / 6.0) + 1, 1), 60)


def zone_epsg(zone: int) -> int:
    """The grid CRS of a zone: WGS 84 / UTM zone N (used for both hemispheres)."""
    return 32600 + zone


@lru_cache(maxsize=128)
def _to_utm(epsg: int) -> Transformer:
    return Transformer.from_crs("EPSG:4326", CRS.from_epsg(epsg), always_xy=True)


@lru_cache(maxsize=128)
def _to_lonlat(epsg: int) -> Transformer:
    return Transformer.from_crs(CRS.from_epsg(epsg), "EPSG:4326", always_xy=True)


def patch_id(epsg: int, row: int, col: int) -> str:
    """Stable id of a patch: grid CRS, row and column."""
    return f"{epsg}_{row}_{col}"


def patch_ids(epsg: int, rows: np.ndarray, cols: np.ndarray) -> list[str]:
    """The ids of many patches of one grid."""
    return [patch_id(epsg, r, c) for r, c in zip(rows, cols)]


def parse_patch_id(pid: str) -> tuple[int, int, int]:
    """Inverse of :func:`patch_id`."""
    epsg, row, col = pid.split("_")
    return int(epsg), int(row), int(col)


@dataclass(frozen=True, order=True)
class Tile:
    """A block of TILE × TILE patch positions in one zone's grid."""

    epsg: int
    trow: int
    tcol: int

    @property
    def key(self) -> str:
        return f"{self.epsg}_{self.trow}_{self.tcol}"

    @property
    def transform(self) -> Affine:
        """Affine transform of the tile raster (north-up, 10 m pixels)."""
        x0 = self.tcol * TILE * STRIDE_M
        ytop = self.trow * TILE * STRIDE_M + TILE_PX * PIXEL_M
        return Affine(PIXEL_M, 0, x0, 0, -PIXEL_M, ytop)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of the tile raster in the grid CRS."""
        x0 = self.tcol * TILE * STRIDE_M
        y0 = self.trow * TILE * STRIDE_M
        return x0, y0, x0 + TILE_PX * PIXEL_M, y0 + TILE_PX * PIXEL_M

    @property
    def crs(self) -> str:
        return f"EPSG:{self.epsg}"

    def pixel_offsets(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-left pixel (row, col) in the tile raster of each patch (global rows/cols)."""
        lr = np.asarray(rows) - self.trow * TILE
        lc = np.asarray(cols) - self.tcol * TILE
        return (TILE - 1 - lr) * STRIDE_PX, lc * STRIDE_PX

    def all_patches(self) -> tuple[np.ndarray, np.ndarray]:
        """Global (rows, cols) of every patch position in the tile."""
        lr, lc = np.meshgrid(np.arange(TILE), np.arange(TILE), indexing="ij")
        return (lr.ravel() + self.trow * TILE), (lc.ravel() + self.tcol * TILE)


def patch_boxes_utm(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Patch squares in the grid CRS (shapely array)."""
    x0 = np.asarray(cols, dtype=float) * STRIDE_M
    y0 = np.asarray(rows, dtype=float) * STRIDE_M
    return shapely.box(x0, y0, x0 + PATCH_M, y0 + PATCH_M)


#: A patch square's corners in stride units from its (row, col), in :func:`shapely.box`'s ring order.
_CORNERS = ((0, PATCH_PX // STRIDE_PX), (PATCH_PX // STRIDE_PX,) * 2, (PATCH_PX // STRIDE_PX, 0), (0, 0))


def patch_polygons(epsg: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Patch squares in EPSG:4326 (their four corners transformed exactly).

    Overlapping patches share corners on the stride lattice, so each lattice point is transformed
    once and the rings are indexed from them: the same coordinates as transforming every box's
    corners, for about a third of the projection work.
    """
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    if not len(rows):
        return np.empty(0, dtype=object)
    r0, c0 = rows.min(), cols.min()
    width = int(cols.max() - c0) + 1 + PATCH_PX // STRIDE_PX
    lattice = np.concatenate([(rows - r0 + dr) * width + (cols - c0 + dc) for dr, dc in _CORNERS])
    points, ring_at = np.unique(lattice, return_inverse=True)
    x = (c0 + points % width).astype(float) * STRIDE_M
    y = (r0 + points // width).astype(float) * STRIDE_M
    lon, lat = _to_lonlat(epsg).transform(x, y)
    ring_at = ring_at.reshape(len(_CORNERS), -1).T
    ring = np.stack([lon[ring_at], lat[ring_at]], axis=-1)
    return shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))


def squares(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    """Patches given by (epsg, row, col) with their ids and squares (EPSG:4326), zone by zone in one
    vectorised call each: what the store, which keeps no shapes, gives a page or a file on demand."""
    if isinstance(frame, gpd.GeoDataFrame) and "geometry" in frame.columns and "patch_id" in frame.columns:
        return frame
    epsg = frame["epsg"].to_numpy()
    rows, cols = frame["row"].to_numpy(), frame["col"].to_numpy()
    geoms = np.empty(len(frame), dtype=object)
    ids = np.empty(len(frame), dtype=object)
    for e in np.unique(epsg):
        at = epsg == e
        geoms[at] = patch_polygons(int(e), rows[at], cols[at])
        ids[at] = patch_ids(int(e), rows[at], cols[at])
    data = pd.DataFrame(frame.drop(columns=["geometry", "patch_id"], errors="ignore"))
    data.insert(0, "patch_id", ids)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, index=data.index, crs="EPSG:4326"))


def local_index(tile: Tile, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Each patch's place among the tile's TILE·TILE positions (what set tests on a tile use, not ids)."""
    return (np.asarray(rows, dtype=np.int64) - tile.trow * TILE) * TILE + (np.asarray(cols, dtype=np.int64) - tile.tcol * TILE)


def patch_centers_lonlat(epsg: int, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre of each patch in lon/lat."""
    x = np.asarray(cols, dtype=float) * STRIDE_M + PATCH_M / 2
    y = np.asarray(rows, dtype=float) * STRIDE_M + PATCH_M / 2
    return _to_lonlat(epsg).transform(x, y)


@dataclass
class ZonePatches:
    """The patches of one zone's grid that a region touches."""

    epsg: int
    rows: np.ndarray
    cols: np.ndarray

    def by_tile(self) -> dict[Tile, np.ndarray]:
        """Indices into rows/cols grouped by tile."""
        trow = np.floor_divide(self.rows, TILE)
        tcol = np.floor_divide(self.cols, TILE)
        keys = np.stack([trow, tcol], axis=1)
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        splits = np.split(order, np.cumsum(np.bincount(inverse, minlength=len(uniq)))[:-1])
        return {Tile(self.epsg, int(tr), int(tc)): idx for (tr, tc), idx in zip(uniq, splits)}


def zone_parts(region: BaseGeometry) -> dict[int, BaseGeometry]:
    """Split a lon/lat region into the parts lying in each UTM zone strip."""
    minx, _, maxx, _ = region.bounds
    if maxx - minx > 180:
        raise RegionError("The region crosses the antimeridian (180°). Split it at 180° and run each half.")
    parts = {}
    for zone in range(utm_zone(minx), utm_zone(maxx) + 1):
        strip = box(-180 + 6 * (zone - 1), -90, -180 + 6 * zone, 90)
        part = region.intersection(strip)
        if not part.is_empty and part.area > 0:
            parts[zone] = part
    return parts


def _patch_range(local: BaseGeometry) -> tuple[int, int, int, int]:
    """(first row, last row, first col, last col) of the patch positions that may touch a UTM geometry."""
    minx, miny, maxx, maxy = local.bounds
    return (math.floor((miny - PATCH_M) / STRIDE_M), math.ceil(maxy / STRIDE_M),
            math.floor((minx - PATCH_M) / STRIDE_M), math.ceil(maxx / STRIDE_M))


def _overlaps(local: BaseGeometry, boxes: np.ndarray) -> np.ndarray:
    """Which patch boxes share area with the region: touching along an edge only is not overlap."""
    return shapely.intersects(local, boxes) & ~shapely.touches(local, boxes)


def patches_for_region(region: BaseGeometry) -> list[ZonePatches]:
    """Every grid patch that intersects the region, per UTM zone.

    A region across a zone border gets patches of both zones' grids, each covering its
    own side; within a grid every patch appears once.
    """
    out = []
    for zone, part in zone_parts(region).items():
        epsg = zone_epsg(zone)
        local = reproject(part, _to_utm(epsg))
        r0, r1, c0, c1 = _patch_range(local)
        rr, cc = np.meshgrid(np.arange(r0, r1 + 1), np.arange(c0, c1 + 1), indexing="ij")
        rr, cc = rr.ravel(), cc.ravel()
        shapely.prepare(local)
        hit = _overlaps(local, patch_boxes_utm(rr, cc))
        if hit.any():
            out.append(ZonePatches(epsg, rr[hit], cc[hit]))
    return out


@dataclass
class TileCover:
    """A tile and the patch positions of it that a region covers.

    ``mask`` (TILE·TILE booleans in :meth:`Tile.all_patches` order) is None when the tile lies
    wholly inside the region, so a whole basin's covers fit in a few megabytes: only the tiles
    on its outline carry a mask, and no patch id is made until a tile is scored.
    """

    tile: Tile
    mask: np.ndarray | None = None

    def patches(self) -> tuple[np.ndarray, np.ndarray]:
        """Global (rows, cols) of the covered patches, row by row."""
        rows, cols = self.tile.all_patches()
        return (rows, cols) if self.mask is None else (rows[self.mask], cols[self.mask])

    @property
    def n_patches(self) -> int:
        return TILE * TILE if self.mask is None else int(self.mask.sum())


def region_covers(region: BaseGeometry) -> list[TileCover]:
    """Every tile a region needs, in tile order, with the patches of it inside the region.

    Tiles are found at tile level (one box per tile against the region); only tiles that the
    outline crosses are tested patch by patch, with the very predicate of
    :func:`patches_for_region`, so the patches are the same while a basin of 100 million
    patches costs seconds and little memory instead of minutes and gigabytes.
    """
    covers: list[TileCover] = []
    tile_m = TILE_PX * PIXEL_M
    for zone, part in zone_parts(region).items():
        epsg = zone_epsg(zone)
        local = reproject(part, _to_utm(epsg))
        shapely.prepare(local)
        r0, r1, c0, c1 = _patch_range(local)
        tcols = np.arange(c0 // TILE, c1 // TILE + 1)
        x0 = tcols.astype(float) * TILE * STRIDE_M
        for trow in range(r0 // TILE, r1 // TILE + 1):
            y0 = float(trow * TILE * STRIDE_M)
            boxes = shapely.box(x0, y0, x0 + tile_m, y0 + tile_m)  # a tile's box is the union of its patches
            near = np.flatnonzero(shapely.intersects(local, boxes))
            inside = shapely.contains_properly(local, boxes[near])
            for i, whole in zip(near, inside):
                tile = Tile(epsg, trow, int(tcols[i]))
                if whole:
                    covers.append(TileCover(tile))
                    continue
                rows, cols = tile.all_patches()
                # Only the part of the region in this tile matters: a region of thousands of parts is
                # tested patch by patch against the few parts here, not all of them.
                here = local.intersection(boxes[i]) if getattr(local, "geoms", None) is not None else local
                hit = _overlaps(here, patch_boxes_utm(rows, cols))
                if hit.any():
                    covers.append(TileCover(tile, hit))
    return covers


def tiles_for_region(region: BaseGeometry) -> dict[Tile, tuple[np.ndarray, np.ndarray]]:
    """Tiles a region needs, each with the (rows, cols) of its patches inside the region."""
    return {c.tile: c.patches() for c in region_covers(region)}


def region_bounds_in(region: BaseGeometry, epsg: int) -> tuple[float, float, float, float]:
    """Bounds of a lon/lat region in a grid CRS."""
    return reproject(region, _to_utm(epsg)).bounds
