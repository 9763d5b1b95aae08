"""Imagery on this machine: GeoTIFFs (a file, a folder, one file per band) and Sentinel-2 products.

GeoTIFFs are usually composites already: several files are a mosaic, earlier files (by name) win
where they overlap. Products are single acquisitions: the products of a period become a per-pixel
median of their cloud-masked scenes, the recipe of the Earth Engine composite, read tile by tile on
the patch grid (decoded JPEG 2000 is kept in the pixel cache). Scenes dated outside the year asked
for are left out of it; a year no scene has is refused with the dates found.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rasterio.warp import transform_bounds
from shapely import union_all
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from .. import periods
from ..errors import ImageryError
from ..grid import TILE_PX, Tile
from . import geotiff, safe
from .base import TilePixels
from .raster import Scene, read_scene


def _discover(root: Path) -> tuple[list[Path], list[Path]]:
    """(GeoTIFF files, products) at a path; a folder is searched, products' own files are not GeoTIFFs."""
    if root.is_file():
        suffix = root.suffix.lower()
        if suffix in geotiff.GEOTIFF_SUFFIXES:
            return [root], []
        if suffix == ".zip":
            return [], [root]
        if suffix == ".jp2":
            raise ImageryError(
                "{root_name} is one band of a Sentinel-2 product. Give the whole product (its .SAFE folder "
                "or .zip), or a folder of one GeoTIFF per band.",
                root_name=root.name
            )
        raise ImageryError("{root_name} is neither a GeoTIFF nor a Sentinel-2 product (.SAFE folder or .zip).", root_name=root.name)
    if not root.is_dir():
        raise ImageryError("No imagery at {root}. Give a Sentinel-2 GeoTIFF, a .SAFE folder or .zip, or a folder of "
                           "them.",
                           root=root)
    if safe.is_product(root):
        return [], [root]
    products = sorted(p for p in root.rglob("*") if safe.is_product(p) and not _inside_product(p, root))
    tifs = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in geotiff.GEOTIFF_SUFFIXES
                  and not _inside_product(p, root))
    if products and tifs:
        raise ImageryError(
            "The folder {root_name} holds both Sentinel-2 products ({n_products}) and GeoTIFFs "
            "({n_tifs}). Give a folder of one kind: products are combined as a median of their scenes, "
            "GeoTIFFs as a mosaic.",
            root_name=root.name, n_products=len(products), n_tifs=len(tifs)
        )
    if not products and not tifs:
        raise ImageryError(
            "The folder {root_name} has no .tif/.tiff files and no Sentinel-2 products (.SAFE or .zip). "
            "Give a Sentinel-2 GeoTIFF, a product, or a folder of them.",
            root_name=root.name
        )
    return tifs, products


def _inside_product(path: Path, root: Path) -> bool:
    return any(parent.suffix.upper() == ".SAFE" for parent in path.relative_to(root).parents if parent != Path("."))


class LocalSource:
    """Pixels from local files; see the module docstring."""

    max_concurrency = 2

    def __init__(self, path: str | Path, bands: Sequence[str] | None = None, dn_offset: float | None = None, **_):
        root = Path(path).expanduser()
        if str(path).startswith("/vsi"):
            raise ImageryError("{path} is a GDAL virtual path; give a file or folder on this machine.", path=path)
        tifs, products = _discover(root)
        if products:
            self.scenes = [s for p in products for s in safe.read_product(p)]
            self.composite = "median"
        else:
            self.scenes = geotiff.inspect(tifs, bands, dn_offset)
            self.composite = "mosaic"
        files = tifs + products
        #: Decoding JPEG 2000 is slow, so product tiles are kept in the pixel cache; GeoTIFFs read as fast.
        self.cacheable = bool(products)
        common = set.intersection(*(set(s.bands) for s in self.scenes))
        self.cache_bands = tuple(sorted(common, key=_band_order)) if products else None
        digest = hashlib.sha1(f"{self.composite}|{dn_offset}|{','.join(bands or ())}".encode())
        for f in files:
            for part in ([f] if f.is_file() else sorted(q for q in f.rglob("*") if q.is_file())):
                st = part.stat()
                digest.update(f"{part.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
        self.key = f"{'s2safe' if products else 'tif'}-{digest.hexdigest()[:12]}"

    # -- what the imagery says about itself ---------------------------------------------------

    @property
    def dates(self) -> tuple[str, ...]:
        """The acquisition dates the files' metadata gives (empty when none does)."""
        return tuple(sorted({d for s in self.scenes for d in s.dates}))

    @property
    def years(self) -> tuple[int, ...]:
        """The years the files' metadata says the imagery was taken in (empty when none says)."""
        return tuple(sorted({int(d[:4]) for d in self.dates}))

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(sorted({s.level for s in self.scenes if s.level}))

    @property
    def notes(self) -> list[str]:
        """What was done to the values or should be known about them (L2A, reflectance scaled, offset removed)."""
        seen: list[str] = []
        for s in self.scenes:
            for n in s.notes:
                if n not in seen:
                    seen.append(n)
        return seen

    def footprint(self) -> BaseGeometry:
        """Lon/lat outline of all scenes (their bounding boxes)."""
        return union_all([s.footprint for s in self.scenes])

    def _of_year(self, year) -> list[Scene]:
        """The scenes of the period (undated scenes belong to any period asked for)."""
        p = periods.of(year)
        return [s for s in self.scenes if not s.dates or any(periods.contains(p, d) for d in s.dates)]

    def check(self, region: BaseGeometry, bands: Sequence[str], year) -> None:
        """Refuse before any work when bands are missing, no scene touches the region, or the scenes'
        acquisition dates contradict the period asked for."""
        p = periods.of(year)
        if self.dates and not any(periods.contains(p, d) for d in self.dates):
            dates = self.dates
            raise ImageryError(
                "The imagery's metadata dates it {names}{value} (year {names2}), not {p_label}. Give --year "
                "{years} (or leave --year out: it is read from the files), or a period that holds those "
                "dates, or choose imagery of {p_label}.",
                names=', '.join(dates[:4]), value=' …' if len(dates) > 4 else '', names2=', '.join(map(str, self.years)), p_label=p.label, years=self.years[-1]
            )
        for s in self._of_year(year):
            missing = [b for b in bands if b not in s.bands]
            if missing:
                raise ImageryError(
                    "{s_name} lacks the band(s) {missing} that the model needs (it needs {bands}; the imagery "
                    "has {value}). Export the missing bands too, or choose a model that uses the bands you have.",
                    s_name=s.name, missing=', '.join(missing), bands=', '.join(bands), value=', '.join(sorted(s.bands, key=_band_order)) or 'no named bands'
                )
        if region is not None and not any(s.footprint.intersects(region) for s in self._of_year(year)):
            w, s_, e, n = self.footprint().bounds
            raise ImageryError(
                "The imagery covers lon {w:.3f}…{e:.3f}, lat {s:.3f}…{n:.3f}, which does not overlap the "
                "region. Choose a region inside the image, or an image of the region.",
                w=w, e=e, s=s_, n=n
            )

    # -- pixels -------------------------------------------------------------------------------

    def read(self, tile: Tile, bands: Sequence[str], year: int) -> TilePixels:
        tile_ll = box(*transform_bounds(tile.crs, "EPSG:4326", *tile.bounds, densify_pts=21))
        scenes = [s for s in self._of_year(year) if s.footprint.intersects(tile_ll)]
        if self.composite == "median":
            return _median(scenes, tile, bands)
        return _mosaic(scenes, tile, bands)


def _mosaic(scenes: list[Scene], tile: Tile, bands: Sequence[str]) -> TilePixels:
    """Scenes later in the list fill what earlier ones left empty."""
    if len(scenes) == 1:  # the usual case: the scene's own arrays, no copy through a mask
        data, ok = read_scene(scenes[0], tile, bands)
        data[~ok] = 0
        return TilePixels(data, ok, tuple(bands))
    out = np.zeros((TILE_PX, TILE_PX, len(bands)), dtype=np.float32)
    valid = np.zeros((TILE_PX, TILE_PX), dtype=bool)
    for s in scenes:
        if valid.all():
            break
        data, ok = read_scene(s, tile, bands)
        fill = ok & ~valid
        out[fill] = data[fill]
        valid |= fill
    return TilePixels(out, valid, tuple(bands))


def _median(scenes: list[Scene], tile: Tile, bands: Sequence[str]) -> TilePixels:
    """Per pixel and band, the median of the scenes that see it clear (the mean of the middle two for an
    even count, as numpy's median has it); 0 and invalid where none does."""
    if not scenes:
        return TilePixels(np.zeros((TILE_PX, TILE_PX, len(bands)), np.float32), np.zeros((TILE_PX, TILE_PX), bool),
                          tuple(bands))
    stack = np.empty((len(scenes), TILE_PX, TILE_PX, len(bands)), dtype=np.float32)
    for i, s in enumerate(scenes):
        data, ok = read_scene(s, tile, bands)
        data[~ok] = np.nan
        stack[i] = data
    looks = np.isfinite(stack[..., :1]).sum(axis=0)  # (H, W, 1): clear looks per pixel (the same in every band)
    valid = looks[..., 0] > 0
    if len(scenes) == 1:
        out = np.where(valid[..., None], stack[0], 0)
    else:
        out = _median_of_finite(stack, looks)
        out[~valid] = 0
    return TilePixels(out.astype(np.float32, copy=False), valid, tuple(bands))


def _median_of_finite(stack: np.ndarray, looks: np.ndarray) -> np.ndarray:
    """np.nanmedian over axis 0, several times faster: a sort puts NaN last, then the middle of the n finite."""
    stack.sort(axis=0)
    lo = np.maximum((looks - 1) // 2, 0)[None]
    hi = np.maximum(looks // 2, 0)[None]
    a = np.take_along_axis(stack, np.broadcast_to(lo, (1, *stack.shape[1:])), 0)[0]
    b = np.take_along_axis(stack, np.broadcast_to(hi, (1, *stack.shape[1:])), 0)[0]
    return (a + b) * np.float32(0.5)


_ORDER = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")


def _band_order(b: str) -> int:
    return _ORDER.index(b) if b in _ORDER else len(_ORDER)
