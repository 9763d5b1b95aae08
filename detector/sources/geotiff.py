"""A user's own Sentinel-2 GeoTIFFs, as scenes: multi-band files, and folders of one file per band.

Bands are matched by their descriptions (B1 … B12 in every common spelling), so a file in any
band order works; a one-band file without a description is named by its file name
('…_B8A.tif', 'B02_10m.tif'), and one-band files whose names differ only in the band make one
scene (a product's IMG_DATA folder, a BigEarthNet patch). Values are brought to harmonized L1C
digital numbers (see :mod:`.bands`) or the file is refused with what was found.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from shapely.geometry import box

from ..errors import ImageryError, Message
from . import bands as B
from .raster import BandRef, Scene, gdal_env, open_raster

GEOTIFF_SUFFIXES = frozenset({".tif", ".tiff"})
band_name = B.band_name  # re-exported: what callers have always imported from here


def _open_checked(path: Path):
    if str(path).startswith("/vsi"):
        raise ImageryError("{path} is a GDAL virtual path; give a GeoTIFF file on this machine.", path=path)
    try:
        with gdal_env():
            return open_raster(str(path), "GTiff")
    except rasterio.errors.RasterioIOError:
        raise ImageryError(
            "{path_name} is not a readable GeoTIFF: it is damaged or cut short, or in another format "
            "(only GeoTIFF files are read; a VRT or another format is not). Export or download the scene "
            "again as a GeoTIFF.",
            path_name=path.name
        ) from None


def _sample(src, idx: list[int], nodata: float) -> np.ndarray:
    """Valid positive values from the middle of the file (up to 512 × 512 px of up to 4 bands)."""
    h, w = min(src.height, 512), min(src.width, 512)
    win = Window((src.width - w) // 2, (src.height - h) // 2, w, h)
    sample = src.read(idx[: min(len(idx), 4)], window=win).astype(np.float64)
    return sample[np.isfinite(sample) & (sample != nodata) & (sample > 0)]


class _Inspected:
    """What one file holds, before files are grouped into scenes."""

    def __init__(self, path: Path, override: Sequence[str] | None, dn_offset: float | None):
        self.path = path
        with _open_checked(path) as src:
            if src.crs is None:
                raise ImageryError("{path_name} has no coordinate reference system. Save it with its CRS (georeferenced).", path_name=path.name)
            self.count = src.count
            if override and src.count > 1:
                if len(override) != src.count:
                    raise ImageryError("--bands lists {n_override} bands but {path_name} has {src_count}.", n_override=len(override), path_name=path.name, src_count=src.count)
                names = [B.band_name(b) for b in override]
            else:
                names = [B.band_name(d) for d in src.descriptions]
            self.stem_band = B.band_in_file_name(path.stem) if src.count == 1 and not any(names) else None
            if self.stem_band:
                names = [self.stem_band[0]]
            if not any(names):
                raise ImageryError(
                    "{path_name} does not name its bands. Set band descriptions to B1 … B12 (e.g. with "
                    "rasterio's `set_band_description`), pass the order with --bands B1,B2,…, or, for one file "
                    "per band, name each file after its band (…_B02.tif, …_B8A.tif).",
                    path_name=path.name
                )
            self.bands = {n: i + 1 for i, n in enumerate(names) if n}
            west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
            self.footprint = box(west, south, east, north)
            self.nodata = float(src.nodata) if src.nodata is not None else 0.0
            tags = [src.tags(), *(src.tags(i) for i in range(1, src.count + 1))]
            dates = B.dates_in_tags(tags)
            named = B.date_in_name(path.stem)
            self.dates = tuple(sorted(dates | ({named} if named and not dates else set())))
            self.level = B.level_of(tags, path.stem)
            baseline = B.baseline_of(tags, path.stem)
            offset = B.offset_in_tags(tags) if dn_offset is None else dn_offset
            idx = list(self.bands.values())
            dtype = np.dtype(src.dtypes[idx[0] - 1])
            sample = _sample(src, idx, self.nodata) if dtype.kind == "f" else None
            self.scale = B.value_scale(path.name, dtype, sample, offset, None if dn_offset is not None else baseline)
            self.res = abs(src.transform.a)


def inspect(paths: Sequence[Path], override: Sequence[str] | None = None,
            dn_offset: float | None = None) -> list[Scene]:
    """The scenes the files make: each multi-band file one, and each set of one-band files named alike one."""
    scenes: list[Scene] = []
    groups: dict[tuple[Path, str], list[_Inspected]] = {}
    for path in paths:
        f = _Inspected(path, override, dn_offset)
        if f.stem_band:
            groups.setdefault((path.parent, f.stem_band[1].upper()), []).append(f)
        else:
            scenes.append(_scene(f.path.name, {b: (f, i) for b, i in f.bands.items()}, [f]))
    for files in groups.values():
        bands: dict[str, tuple[_Inspected, int]] = {}
        for f in files:
            band = f.stem_band[0]
            if band in bands:
                raise ImageryError(
                    "{path_name} and {path_name2} are both band {band} of the same scene. Keep one of them (or "
                    "put each scene's band files in a folder of its own).",
                    path_name=bands[band][0].path.name, path_name2=f.path.name, band=band
                )
            bands[band] = (f, 1)
        name = files[0].stem_band[1] or files[0].path.parent.name
        scenes.append(_scene(f"{name} ({len(files)} band files)", bands, files))
    return scenes


def _scene(name: str, bands: dict[str, tuple[_Inspected, int]], files: list[_Inspected]) -> Scene:
    scales = {f.scale for f in files}
    if len(scales) > 1:
        raise ImageryError(
            "The band files of {name} hold values on different scales ({names}). Export every band the "
            "same way.",
            name=name, names='; '.join(sorted(s.note or 'digital numbers' for s in scales))
        )
    scale = scales.pop()
    finest = min(files, key=lambda f: f.res)
    dates = tuple(sorted({d for f in files for d in f.dates}))
    level = next((f.level for f in files if f.level), None)
    notes = [Message("{name}: {note}.", name=name, note=scale.note)] if scale.note else []
    if level == "L2A":
        notes.append(B.l2a_note(name))
    nodatas = {f.nodata for f in files}
    return Scene(
        name=name, bands={b: BandRef(str(f.path), i, "GTiff") for b, (f, i) in bands.items()},
        footprint=finest.footprint, nodata=nodatas.pop() if len(nodatas) == 1 else 0.0,
        factor=scale.factor, offset=scale.offset, dates=dates, level=level, notes=notes,
    )
