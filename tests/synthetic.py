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


# ---------------------------------------------------------------- a scene with known mines, for training

GRID_STRIDE_M, GRID_PATCH_PX = 240, 48
SOUTH_FALSE_NORTHING = 10_000_000.0


class MiningScene:
    """A synthetic scene whose mines are known pixel by pixel, with the grid patches that show them.

    ``mine`` is the (H, W) mask of mine pixels (bare soil and sediment pools in clusters of about
    300 m), everything else is forest. Patch (row, col) of the grid (EPSG:326zz, the scene's zone)
    maps to the scene's pixels exactly, as the GeoTIFF source reads them.
    """

    def __init__(self, path: Path, mine: np.ndarray, centres: list[tuple[int, int]], crs: str, x0: float, ytop: float):
        self.path, self.mine, self.centres, self.crs, self.x0, self.ytop = path, mine, centres, crs, x0, ytop
        self.epsg = 32600 + int(crs.split(":")[1]) % 100
        self.ytop_north = ytop - SOUTH_FALSE_NORTHING if int(crs.split(":")[1]) > 32700 else ytop
        self.height, self.width = mine.shape

    def patch_offset(self, row: int, col: int) -> tuple[int, int]:
        """Top-left scene pixel (i, j) of a grid patch."""
        j = (col * GRID_STRIDE_M - self.x0) / 10
        i = (self.ytop_north - (row * GRID_STRIDE_M + GRID_PATCH_PX * 10)) / 10
        return round(i), round(j)

    def inside_patches(self) -> tuple[np.ndarray, np.ndarray]:
        """Every grid patch wholly inside the scene: (rows, cols)."""
        c0 = int(np.ceil(self.x0 / GRID_STRIDE_M))
        c1 = int(np.floor((self.x0 + self.width * 10 - GRID_PATCH_PX * 10) / GRID_STRIDE_M))
        ybot = self.ytop_north - self.height * 10
        r0 = int(np.ceil(ybot / GRID_STRIDE_M))
        r1 = int(np.floor((self.ytop_north - GRID_PATCH_PX * 10) / GRID_STRIDE_M))
        rr, cc = np.meshgrid(np.arange(r0, r1 + 1), np.arange(c0, c1 + 1), indexing="ij")
        return rr.ravel(), cc.ravel()

    def mine_pixels(self, row: int, col: int, margin: int = 0) -> int:
        i, j = self.patch_offset(row, col)
        return int(self.mine[max(i - margin, 0):i + GRID_PATCH_PX + margin,
                             max(j - margin, 0):j + GRID_PATCH_PX + margin].sum())

    def labelled_patches(self, min_mine_px: int = 250, clear_margin: int = 24) -> tuple[list, list]:
        """(mine patches, forest patches): windows holding at least ``min_mine_px`` mine pixels, and windows
        with no mine pixel even ``clear_margin`` px around them. Patches in between are left unlabelled."""
        rows, cols = self.inside_patches()
        pos, neg = [], []
        for r, c in zip(rows, cols):
            if self.mine_pixels(r, c) >= min_mine_px:
                pos.append((int(r), int(c)))
            elif self.mine_pixels(r, c, clear_margin) == 0:
                neg.append((int(r), int(c)))
        return pos, neg

    def lonlat(self, row: int, col: int) -> tuple[float, float]:
        """The centre of a grid patch in lon/lat."""
        t = Transformer.from_crs(f"EPSG:{self.epsg}", "EPSG:4326", always_xy=True)
        lon, lat = t.transform(col * GRID_STRIDE_M + 240.0, row * GRID_STRIDE_M + 240.0)
        return float(lon), float(lat)

    def region(self, inset_m: float = 300.0) -> dict:
        """The scene (less an inset) as a lon/lat polygon."""
        return lonlat_box(self.crs, self.x0 + inset_m, self.ytop - self.height * 10 + inset_m,
                          self.x0 + self.width * 10 - inset_m, self.ytop - inset_m)


def write_mining_scene(path: Path, size_px: int = 640, cells: int = 4, mines: int = 12, seed: int = 3,
                       crs: str = SCENE_CRS, x0: float = SCENE_X0, ytop: float = SCENE_YTOP,
                       bands=SHUFFLED) -> MiningScene:
    """Forest with ``mines`` mine clusters, one per cell of a ``cells`` × ``cells`` layout (so they are spread
    over the scene and a split by blocks finds mines on both sides); the other cells are plain forest."""
    rng = np.random.default_rng(seed)
    spec = {k: np.array([v[b] for b in bands], float)[:, None] for k, v in _SPECTRA.items()}
    h = w = size_px
    yy, xx = np.mgrid[0:h, 0:w]
    shade = 1 + 0.08 * np.sin(xx / 37.0) * np.cos(yy / 53.0)  # forest is not flat: canopy texture
    data = spec["forest"][:, :, None] * shade[None] + rng.normal(0, 80, size=(len(bands), h, w))
    data = data.reshape(len(bands), h, w)
    mine = np.zeros((h, w), bool)
    cell = size_px // cells
    order = rng.permutation(cells * cells)[:mines]
    centres = []
    for k in sorted(order):
        ci, cj = divmod(int(k), cells)
        cy = ci * cell + cell // 2 + int(rng.integers(-cell // 6, cell // 6 + 1))
        cx = cj * cell + cell // 2 + int(rng.integers(-cell // 6, cell // 6 + 1))
        centres.append((cy, cx))
        for _ in range(int(rng.integers(6, 10))):  # a cluster of pits and pools about 300 m across
            kind = "soil" if rng.random() < 0.55 else "pool"
            by, bx, r = cy + rng.integers(-10, 11), cx + rng.integers(-10, 11), rng.integers(4, 8)
            blob = (yy - by) ** 2 + (xx - bx) ** 2 < r * r
            data[:, blob] = spec[kind] + rng.normal(0, 150, size=(len(bands), int(blob.sum())))
            mine |= blob
    data = np.clip(data, 1, 10000).astype(np.uint16)
    profile = {"driver": "GTiff", "width": w, "height": h, "count": len(bands), "dtype": "uint16", "crs": crs,
               "transform": from_origin(x0, ytop, 10.0, 10.0)}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for i, b in enumerate(bands, start=1):
            dst.set_band_description(i, b)
    return MiningScene(path, mine, centres, crs, x0, ytop)
