"""Reading a scene's bands onto a tile of the patch grid: exact where the lattices agree, warped otherwise.

A :class:`Scene` is one acquisition (or one composite) whose bands may lie in one multi-band
GeoTIFF, in one file per band, or in a Sentinel-2 product's JPEG 2000 files at 10, 20 and 60 m.
A band on the grid's 10 m lattice, or on a 20 m / 60 m lattice that shares its origin (as every
Sentinel-2 tile does), is copied exactly, each coarse pixel repeated over the 10 m pixels whose
centres it holds: what Earth Engine's default nearest-neighbour resampling gives on the same grid.
Anything else is reprojected (bilinear).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import rasterio
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.features import rasterize
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window
from shapely.geometry.base import BaseGeometry

from ..errors import ImageryError
from ..grid import PIXEL_M, TILE_PX, Tile

SOUTH_FALSE_NORTHING = 10_000_000.0

#: How every file is opened: named drivers alone (a VRT, or any format that points at other files or
#: URLs, is not opened), and GDAL's network file systems refused, so a file can make the server read
#: nothing but itself.
SAFE_GDAL = {
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".no-network",  # /vsicurl/ and friends: no file qualifies
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # no listing of the upload folder for side-car files
    "GDAL_PAM_ENABLED": "NO",  # no .aux.xml written next to uploads
}


def gdal_env() -> rasterio.Env:
    return rasterio.Env(**SAFE_GDAL)


def open_raster(path: str, driver: str = "GTiff"):
    """A file opened with one driver only; call inside :func:`gdal_env`. ``/vsizip/`` paths are made by
    the product reader for members of a zip it has listed; users' paths never start with /vsi."""
    return rasterio.open(path, driver=driver)


@dataclass(frozen=True)
class BandRef:
    """Where one band lies: a file (GDAL path), the 1-based band in it, and the driver to open it with."""

    path: str
    index: int = 1
    driver: str = "GTiff"


@dataclass
class Scene:
    """One image's bands, how its values become harmonized L1C numbers, and what hides its pixels."""

    name: str  # for messages: a file or product name, never a server path
    bands: dict[str, BandRef]
    footprint: BaseGeometry  # lon/lat
    nodata: float = 0.0
    factor: float = 1.0
    offset: float = 0.0
    dates: tuple[str, ...] = ()
    level: str | None = None  # "L1C", "L2A", or None when nothing says
    mask_bands: tuple[BandRef, ...] = ()  # raster masks: a pixel is hidden where any is non-zero
    mask_shapes: tuple[BaseGeometry, ...] = ()  # vector masks, in mask_crs
    mask_crs: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def years(self) -> set[int]:
        return {int(d[:4]) for d in self.dates}


def utm_zone_of(crs) -> tuple[int, bool] | None:
    """(zone, is_south) for a WGS 84 UTM CRS, else None."""
    try:
        z = CRS.from_user_input(crs).utm_zone
    except Exception:  # noqa: BLE001 - any CRS pyproj cannot read is simply not UTM
        return None
    return (int(z[:-1]), z[-1].upper() == "S") if z else None


def lattice_offset(src, tile: Tile) -> tuple[int, int, int] | None:
    """(row, col, k): the tile's top-left pixel in the file's 10 m units and the file's pixel size in
    10 m pixels, when the file lies on a lattice of k × 10 m sharing the grid's origin; else None."""
    t = src.transform
    if t.b or t.d or t.a <= 0 or t.a != -t.e:
        return None
    k = t.a / PIXEL_M
    if abs(k - round(k)) > 1e-9 or round(k) < 1:
        return None
    k = int(round(k))
    src_zone, dst_zone = utm_zone_of(src.crs), utm_zone_of(tile.crs)
    if src_zone is None or dst_zone is None or src_zone[0] != dst_zone[0]:
        return None
    dy = SOUTH_FALSE_NORTHING if src_zone[1] and not dst_zone[1] else 0.0
    col = (tile.transform.c - t.c) / PIXEL_M
    row = (t.f - dy - tile.transform.f) / PIXEL_M
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return int(round(row)), int(round(col)), k


def read_aligned(src, idx: list[int], offset: tuple[int, int, int], fill: float) -> np.ndarray:
    """(bands, TILE_PX, TILE_PX): the window under the tile, coarse pixels repeated; outside the file ``fill``."""
    row, col, k = offset
    out = np.full((len(idx), TILE_PX, TILE_PX), fill, dtype=np.float32)
    # 10 m rows/cols of the tile that fall inside the file, in the file's 10 m units.
    r0, c0 = max(row, 0), max(col, 0)
    r1, c1 = min(row + TILE_PX, src.height * k), min(col + TILE_PX, src.width * k)
    if r1 <= r0 or c1 <= c0:
        return out
    fr0, fc0, fr1, fc1 = r0 // k, c0 // k, -(-r1 // k), -(-c1 // k)
    data = src.read(idx, window=Window(fc0, fr0, fc1 - fc0, fr1 - fr0)).astype(np.float32)
    if k > 1:
        data = data.repeat(k, axis=1).repeat(k, axis=2)
    dr, dc = r0 - fr0 * k, c0 - fc0 * k
    out[:, r0 - row : r1 - row, c0 - col : c1 - col] = data[:, dr : dr + (r1 - r0), dc : dc + (c1 - c0)]
    return out


def read_file(ref_path: str, driver: str, idx: list[int], tile: Tile, nodata: float, name: str) -> np.ndarray:
    """(bands, H, W) float32 of one file on the tile; pixels outside the file are ``nodata``."""
    try:
        with gdal_env(), open_raster(ref_path, driver) as src:
            offset = lattice_offset(src, tile)
            if offset is not None:
                return read_aligned(src, idx, offset, nodata)
            with WarpedVRT(
                src, crs=tile.crs, transform=tile.transform, width=TILE_PX, height=TILE_PX,
                resampling=Resampling.bilinear, src_nodata=nodata, nodata=nodata,
            ) as vrt:
                return vrt.read(idx).astype(np.float32)
    except rasterio.errors.RasterioError as exc:
        raise ImageryError(
            "{name} could not be read for tile {tile_key} ({short}): the file is damaged or cut short "
            "(an interrupted download or copy?). Download or export it again.",
            name=name, tile_key=tile.key, short=short(exc)
        ) from None


def read_scene(scene: Scene, tile: Tile, bands: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, bands) harmonized L1C numbers and the (H, W) mask of pixels with every band and no cloud."""
    data = np.empty((len(bands), TILE_PX, TILE_PX), dtype=np.float32)
    by_file: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for i, b in enumerate(bands):
        ref = scene.bands[b]
        by_file.setdefault((ref.path, ref.driver), []).append((i, ref.index))
    for (path, driver), pairs in by_file.items():
        got = read_file(path, driver, [j for _, j in pairs], tile, scene.nodata, scene.name)
        for (i, _), band in zip(pairs, got):
            data[i] = band
    ok = np.all((data != scene.nodata) & np.isfinite(data), axis=0)
    ok &= ~_masked(scene, tile)
    if scene.factor != 1.0:
        data *= np.float32(scene.factor)
    if scene.offset:
        # As S2_HARMONIZED: the offset removed, values that would go below zero held at zero.
        np.maximum(data + np.float32(scene.offset), 0, out=data)
    return np.moveaxis(data, 0, -1), ok


def _masked(scene: Scene, tile: Tile) -> np.ndarray:
    """Pixels the scene's own cloud mask hides."""
    hidden = np.zeros((TILE_PX, TILE_PX), dtype=bool)
    for ref in scene.mask_bands:
        # The mask's nodata must not hide anything: read outside-the-file as 0 (clear).
        hidden |= read_file(ref.path, ref.driver, [ref.index], tile, 0.0, scene.name)[0] != 0
    if scene.mask_shapes:
        shapes = scene.mask_shapes
        if scene.mask_crs and CRS.from_user_input(scene.mask_crs) != CRS.from_user_input(tile.crs):
            import shapely
            from pyproj import Transformer

            move = Transformer.from_crs(scene.mask_crs, tile.crs, always_xy=True).transform
            shapes = tuple(shapely.transform(list(shapes), lambda xy: np.column_stack(move(xy[:, 0], xy[:, 1]))))
        hidden |= rasterize(((s, 1) for s in shapes), out_shape=(TILE_PX, TILE_PX), transform=tile.transform,
                            fill=0, dtype="uint8").astype(bool)
    return hidden


def short(exc: Exception) -> str:
    """GDAL's message without the server's file paths."""
    return re.sub(r"(/[^\s:'\"]+)+", "…", str(exc))[:200]
