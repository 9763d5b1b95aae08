"""A user's own Sentinel-2 GeoTIFF (or a folder of them) as the imagery source.

Bands are matched by their descriptions (B1 … B12, also B01 … B12), so a file in any band
order works; each tile is read into the patch grid with rasterio. When the file is already
on the grid's 10 m pixel lattice in the same UTM zone (e.g. a Sentinel-2 L1C tile, in either
hemisphere's EPSG), pixels are copied exactly; otherwise they are reprojected (bilinear).
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from ..errors import ImageryError
from ..grid import PIXEL_M, TILE_PX, Tile
from .base import TilePixels

# "B02", "B02_10m", "B8A_20m", "b8a", "B2 (490 nm)": the band number, then anything but a letter or digit.
_BAND_RE = re.compile(r"^B0?(\d{1,2}A?)(?![0-9A-Z])")
_S2_BANDS = {f"B{i}" for i in range(1, 13)} | {"B8A"}
SOUTH_FALSE_NORTHING = 10_000_000.0


#: How every file is opened: the GeoTIFF driver alone (a VRT, or any format that points at other files or
#: URLs, is not opened), and GDAL's network file systems refused, so a file can make the server read
#: nothing but itself.
_SAFE_GDAL = {
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".no-network",  # /vsicurl/ and friends: no file qualifies
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # no listing of the upload folder for side-car files
    "GDAL_PAM_ENABLED": "NO",  # no .aux.xml written next to uploads
}


def _open(path: Path):
    """The file, opened as a GeoTIFF only (see _SAFE_GDAL); call inside :func:`_env`."""
    if str(path).startswith("/vsi"):
        raise ImageryError(f"{path} is a GDAL virtual path; give a GeoTIFF file on this machine.")
    return rasterio.open(path, driver="GTiff")


def _env() -> rasterio.Env:
    return rasterio.Env(**_SAFE_GDAL)


def band_name(description: str | None) -> str | None:
    """Normalise a band description ('B02', 'b8a', 'B4 (red)') to 'B2', 'B8A', 'B4'."""
    if not description:
        return None
    m = _BAND_RE.match(description.strip().upper())
    name = f"B{m.group(1)}" if m else None
    return name if name in _S2_BANDS else None


@dataclass
class _File:
    path: Path
    bands: dict[str, int]  # band name -> 1-based index
    footprint: BaseGeometry  # lon/lat
    nodata: float
    scale: float = 1.0  # values × scale = Sentinel-2 L1C digital numbers (10,000 for float reflectance)
    dates: tuple[str, ...] = ()  # acquisition dates (YYYY-MM-DD) its metadata states, if any


def _utm_zone_of(crs) -> tuple[int, bool] | None:
    """(zone, is_south) for a WGS 84 UTM CRS, else None."""
    try:
        z = CRS.from_user_input(crs).utm_zone
    except Exception:
        return None
    return (int(z[:-1]), z[-1].upper() == "S") if z else None


class GeoTiffSource:
    """Pixels from local GeoTIFF files; see the module docstring."""

    cacheable = False  # local reads are as fast as the cache would be
    cache_bands = None
    max_concurrency = 2

    def __init__(self, path: str | Path, bands: Sequence[str] | None = None, **_):
        root = Path(path).expanduser()
        if root.is_dir():
            paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in {".tif", ".tiff"})
            if not paths:
                raise ImageryError(f"The folder {root} has no .tif/.tiff files. Give a Sentinel-2 GeoTIFF or a folder of them.")
        elif root.is_file():
            paths = [root]
        else:
            raise ImageryError(f"No GeoTIFF at {root}. Give the path of a Sentinel-2 GeoTIFF file or folder.")
        self.files = [self._inspect(p, bands) for p in paths]
        digest = hashlib.sha1()
        for f in self.files:
            st = f.path.stat()
            digest.update(f"{f.path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
        self.key = f"tif-{digest.hexdigest()[:12]}"

    @staticmethod
    def _inspect(path: Path, override: Sequence[str] | None) -> _File:
        try:
            with _env():
                src = _open(path)
        except rasterio.errors.RasterioIOError:
            raise ImageryError(
                f"{path.name} is not a readable GeoTIFF: it is damaged or cut short, or in another format (only "
                "GeoTIFF files are read; a VRT or another format is not). Export or download the scene again as a "
                "GeoTIFF."
            ) from None
        with src:
            if src.crs is None:
                raise ImageryError(f"{path.name} has no coordinate reference system. Save it with its CRS (georeferenced).")
            if override:
                if len(override) != src.count:
                    raise ImageryError(f"--bands lists {len(override)} bands but {path.name} has {src.count}.")
                names = [band_name(b) for b in override]
            else:
                names = [band_name(d) for d in src.descriptions]
            if not any(names):
                raise ImageryError(
                    f"{path.name} does not name its bands. Set band descriptions to B1 … B12 (e.g. with "
                    "rasterio's `set_band_description`), or pass the order with --bands B1,B2,…"
                )
            bands = {n: i + 1 for i, n in enumerate(names) if n}
            west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
            nodata = src.nodata if src.nodata is not None else 0.0
            scale = _value_scale(src, path, list(bands.values()), float(nodata))
            return _File(path, bands, box(west, south, east, north), float(nodata), scale, _acquisition_dates(src))

    @property
    def dates(self) -> tuple[str, ...]:
        """The acquisition dates the files' metadata gives (empty when none does)."""
        return tuple(sorted({d for f in self.files for d in f.dates}))

    @property
    def years(self) -> tuple[int, ...]:
        """The years the files' metadata says the imagery was taken in (empty when none says)."""
        return tuple(sorted({int(d[:4]) for d in self.dates}))

    def check(self, region: BaseGeometry, bands: Sequence[str], year: int) -> None:
        """Refuse before any work when bands are missing, no file touches the region, or the files'
        acquisition dates contradict the year asked for."""
        if self.years and year not in self.years:
            dates = self.dates
            raise ImageryError(
                f"The GeoTIFF's metadata dates its imagery {', '.join(dates[:4])}{' …' if len(dates) > 4 else ''} "
                f"(year {', '.join(map(str, self.years))}), not {year}. Give --year "
                f"{self.years[-1]} (or leave --year out: it is read from the file), or choose the image of {year}."
            )
        for f in self.files:
            missing = [b for b in bands if b not in f.bands]
            if missing:
                raise ImageryError(
                    f"{f.path.name} lacks the band(s) {', '.join(missing)} that the model needs "
                    f"(it needs {', '.join(bands)}; the file has {', '.join(f.bands) or 'no named bands'}). "
                    "Export the missing bands too, or choose a model that uses the bands you have."
                )
        if not any(f.footprint.intersects(region) for f in self.files):
            w, s, e, n = self.files[0].footprint.bounds
            raise ImageryError(
                f"The GeoTIFF covers lon {w:.3f}…{e:.3f}, lat {s:.3f}…{n:.3f}, which does not overlap the region. "
                "Choose a region inside the image, or an image of the region."
            )

    def footprint(self) -> BaseGeometry:
        """Lon/lat outline of all files (their bounding boxes)."""
        from shapely import union_all

        return union_all([f.footprint for f in self.files])

    def read(self, tile: Tile, bands: Sequence[str], year: int) -> TilePixels:
        """The tile's pixels; files later in the folder fill what earlier ones left empty."""
        out = np.zeros((TILE_PX, TILE_PX, len(bands)), dtype=np.float32)
        valid = np.zeros((TILE_PX, TILE_PX), dtype=bool)
        tile_ll = box(*transform_bounds(tile.crs, "EPSG:4326", *tile.bounds, densify_pts=21))
        for f in self.files:
            if not f.footprint.intersects(tile_ll) or valid.all():
                continue
            data, ok = self._read_file(f, tile, bands)
            fill = ok & ~valid
            out[fill] = data[fill]
            valid |= fill
        return TilePixels(out, valid, tuple(bands))

    def _read_file(self, f: _File, tile: Tile, bands: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        idx = [f.bands[b] for b in bands]
        try:
            with _env(), _open(f.path) as src:
                offset = self._lattice_offset(src, tile)
                if offset is not None:
                    data = self._read_aligned(src, idx, offset)
                else:
                    with WarpedVRT(
                        src, crs=tile.crs, transform=tile.transform, width=TILE_PX, height=TILE_PX,
                        resampling=Resampling.bilinear, src_nodata=f.nodata, nodata=f.nodata,
                    ) as vrt:
                        data = vrt.read(idx).astype(np.float32)
        except rasterio.errors.RasterioError as exc:
            raise ImageryError(
                f"{f.path.name} could not be read for tile {tile.key} ({_short(exc)}): the file is damaged or cut "
                "short (an interrupted download or copy?). Download or export it again."
            ) from None
        data = np.moveaxis(data, 0, -1)
        ok = np.all((data != f.nodata) & np.isfinite(data), axis=-1)
        if f.scale != 1.0:
            data = data * np.float32(f.scale)
        return data, ok

    @staticmethod
    def _lattice_offset(src, tile: Tile) -> tuple[int, int] | None:
        """(row, col) of the tile's top-left pixel in the file, when the file is on the grid's lattice."""
        t = src.transform
        if (t.a, t.b, t.d, t.e) != (PIXEL_M, 0, 0, -PIXEL_M):
            return None
        src_zone, dst_zone = _utm_zone_of(src.crs), _utm_zone_of(tile.crs)
        if src_zone is None or dst_zone is None or src_zone[0] != dst_zone[0]:
            return None
        dy = SOUTH_FALSE_NORTHING if src_zone[1] and not dst_zone[1] else 0.0
        col = (tile.transform.c - t.c) / PIXEL_M
        row = (t.f - dy - tile.transform.f) / PIXEL_M
        if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
            return None
        return int(round(row)), int(round(col))

    @staticmethod
    def _read_aligned(src, idx: list[int], offset: tuple[int, int]) -> np.ndarray:
        """Exact copy of the overlapping window; the rest stays nodata (filled with src nodata)."""
        row, col = offset
        fill = src.nodata if src.nodata is not None else 0
        out = np.full((len(idx), TILE_PX, TILE_PX), fill, dtype=np.float32)
        r0, c0 = max(row, 0), max(col, 0)
        r1, c1 = min(row + TILE_PX, src.height), min(col + TILE_PX, src.width)
        if r1 > r0 and c1 > c0:
            win = Window(c0, r0, c1 - c0, r1 - r0)
            out[:, r0 - row : r1 - row, c0 - col : c1 - col] = src.read(idx, window=win)
        return out


#: Metadata keys that carry the acquisition date (Sentinel-2 products, GDAL's SENTINEL2 driver,
#: common exports). TIFFTAG_DATETIME is left out on purpose: it is when the file was written.
_DATE_KEYS = ("ACQUISITION_DATE", "SENSING_TIME", "SENSING_DATE", "DATATAKE_1_DATATAKE_SENSING_START",
              "DATATAKE_SENSING_START", "PRODUCT_START_TIME", "PRODUCT_STOP_TIME", "DATE_ACQUIRED",
              "START_DATE", "END_DATE", "ACQUISITIONDATE")
_DATE_RE = re.compile(r"((?:19|20)\d\d)[-:/]?(\d\d)[-:/]?(\d\d)")


def _acquisition_dates(src) -> tuple[str, ...]:
    """Dates (YYYY-MM-DD) the file's own metadata gives for its imagery, from the dataset's and bands' tags."""
    found = set()
    for tags in (src.tags(), *(src.tags(i) for i in range(1, src.count + 1))):
        for key, value in tags.items():
            if key.upper() in _DATE_KEYS:
                m = _DATE_RE.search(str(value))
                if m:
                    found.add(f"{m.group(1)}-{m.group(2)}-{m.group(3)}")
    return tuple(sorted(found))


#: Largest 99th percentile of float values read as reflectance (0–1, bright clouds and sand reach ~1.5).
REFLECTANCE_MAX = 1.5
#: Smallest 99th percentile of values that can be L1C digital numbers (reflectance × 10,000).
DN_MIN = 100.0


def _value_scale(src, path: Path, idx: list[int], nodata: float) -> float:
    """How the file's values map to L1C digital numbers, from its data type and a sample of pixels.

    Integer files hold digital numbers (scale 1), except 8-bit ones (a rendered picture). Float
    files hold either digital numbers or reflectance 0–1 (Sentinel Hub, eo-learn, some exports),
    which is multiplied by 10,000 exactly. Anything in between is refused: scoring it would give
    scores near zero everywhere, a silent wrong answer.
    """
    dtype = np.dtype(src.dtypes[idx[0] - 1])
    if dtype == np.uint8:
        raise ImageryError(
            f"{path.name} is an 8-bit image: a rendered picture, not Sentinel-2 reflectance. Export the bands as "
            "digital numbers (UInt16, as Earth Engine's COPERNICUS/S2_HARMONIZED gives them) or as float reflectance."
        )
    if dtype.kind != "f":
        return 1.0
    h, w = min(src.height, 512), min(src.width, 512)
    win = Window((src.width - w) // 2, (src.height - h) // 2, w, h)
    sample = src.read(idx[: min(len(idx), 4)], window=win).astype(np.float64)
    values = sample[np.isfinite(sample) & (sample != nodata) & (sample > 0)]
    if values.size == 0:
        return 1.0  # nothing to judge by in the middle of the file: an empty scene scores nothing anyway
    p99 = float(np.percentile(values, 99))
    if p99 <= REFLECTANCE_MAX:
        return 10_000.0
    if p99 >= DN_MIN:
        return 1.0
    raise ImageryError(
        f"{path.name} holds floating-point values whose 99th percentile is {p99:.3g}: neither reflectance (0–1) "
        "nor Sentinel-2 digital numbers (reflectance × 10,000, typically 100–10,000). Export the bands as L1C "
        "digital numbers or as reflectance 0–1."
    )


def _short(exc: Exception) -> str:
    """GDAL's message without the server's file paths."""
    return re.sub(r"(/[^\s:'\"]+)+", "…", str(exc))[:200]
