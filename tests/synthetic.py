"""Synthetic Sentinel-2 scenes and regions for tests and benchmarks (no real imagery is needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

BANDS_12 = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8A", "B8", "B9", "B11", "B12"]
BANDS_13 = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8A", "B8", "B9", "B10", "B11", "B12"]


# Typical top-of-atmosphere (L1C) reflectance DN of rain forest, bare mined soil and sediment pools.
_SPECTRA = {
    "forest": dict(B1=1300, B2=1000, B3=900, B4=600, B5=1000, B6=2200, B7=2600, B8A=2900, B8=2700, B9=900, B10=15, B11=1500, B12=700),
    "soil": dict(B1=1500, B2=1400, B3=1500, B4=1700, B5=1900, B6=2100, B7=2200, B8A=2400, B8=2300, B9=900, B10=20, B11=3000, B12=2500),
    "pool": dict(B1=1400, B2=1300, B3=1400, B4=1300, B5=1200, B6=1000, B7=950, B8A=900, B8=900, B9=400, B10=12, B11=600, B12=400),
}


def write_geotiff(path: Path, crs: str, x0: float, ytop: float, width: int, height: int,
                  bands=BANDS_13, seed: int = 0, res: float = 10.0, nodata=None, descriptions=True) -> Path:
    """A synthetic Sentinel-2-like GeoTIFF: forest with scattered bare-soil scars and pools.

    The scars make the published models' scores vary from patch to patch, so a window read
    one pixel off gives a different score.
    """
    rng = np.random.default_rng(seed)
    spec = {k: np.array([v[b] for b in bands], float)[:, None] for k, v in _SPECTRA.items()}
    data = np.repeat(spec["forest"], height * width, axis=1).reshape(len(bands), height, width)
    data = data + rng.normal(0, 80, size=data.shape)
    yy, xx = np.mgrid[0:height, 0:width]
    # Clusters of small scars and pools (what the published models score high) amid plain forest.
    for _ in range(max(2, width * height // 4000)):
        ccy, ccx = rng.integers(0, height), rng.integers(0, width)
        for _ in range(rng.integers(5, 20)):
            kind = "soil" if rng.random() < 0.5 else "pool"
            cy, cx, r = ccy + rng.integers(-30, 30), ccx + rng.integers(-30, 30), rng.integers(2, 6)
            blob = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
            data[:, blob] = spec[kind] + rng.normal(0, 150, size=(len(bands), int(blob.sum())))
    data = np.clip(data, 1, 10000).astype(np.uint16)
    profile = dict(driver="GTiff", width=width, height=height, count=len(bands), dtype="uint16", crs=crs,
                   transform=from_origin(x0, ytop, res, res), nodata=nodata)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if descriptions:
            for i, b in enumerate(bands, start=1):
                dst.set_band_description(i, b)
    return path


def lonlat_box(crs: str, x0: float, y0: float, x1: float, y1: float) -> dict:
    """A GeoJSON polygon of a projected rectangle, in lon/lat."""
    t = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    xs = np.array([x0, x1, x1, x0, x0])
    ys = np.array([y0, y0, y1, y1, y0])
    lon, lat = t.transform(xs, ys)
    return {"type": "Polygon", "coordinates": [list(map(list, zip(lon, lat)))]}


# A 3 × 3 km scene in UTM 18S (Peruvian Amazon), bands stored in a shuffled order.
SCENE_CRS = "EPSG:32718"
SCENE_X0, SCENE_YTOP, SCENE_PX = 600_000.0, 8_900_000.0, 300
SHUFFLED = ["B12", "B3", "B1", "B8", "B10", "B2", "B11", "B5", "B8A", "B4", "B9", "B6", "B7"]
