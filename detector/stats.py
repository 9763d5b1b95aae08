"""How much land was mined, where and when: area statistics over the published layers.

Pure functions over GeoDataFrames in the common layer schema (see :mod:`detector.published`).
Two areas are reported side by side and must not be confused:

- **mined area** (``*_mined_ha``): the source's ``Mined area (ha)``, the mined land inside each
  polygon measured on a segmentation mask. This is the figure to quote.
- **footprint** (``*_footprint_ha``): the polygons' own area in the equal-area EPSG:6933. The
  polygons are merged 480 m detection patches, so the footprint overstates the mined land about
  fivefold on the published layers.

A polygon that straddles a region's edge is shared by area: the region gets the fraction of the
polygon's footprint that lies inside it, and the same fraction of its mined area (the mask is not
published, so mined land is taken as spread evenly over its polygon). Periods are "new in that
period" ("2018" is everything up to 2018); cumulative figures are running sums in period order.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from .postprocess import EQUAL_AREA

#: The output of :func:`by_region`, one row per region and period.
COLUMNS = [
    "period", "region_id", "region_name",
    "new_mined_ha", "cumulative_mined_ha", "new_footprint_ha", "cumulative_footprint_ha",
]


def region_frame(geometry: BaseGeometry, region_id: str = "region", region_name: str = "region") -> gpd.GeoDataFrame:
    """A single drawn or uploaded region (EPSG:4326) in the shape :func:`by_region` takes."""
    return gpd.GeoDataFrame({"region_id": [region_id], "region_name": [region_name]}, geometry=[geometry], crs="EPSG:4326")


def _periods(layers: gpd.GeoDataFrame) -> list:
    """The periods present in the layers, in time order."""
    col = layers["period"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.dropna().unique())
        return [p for p in col.cat.categories if p in present]
    return sorted(col.dropna().unique())


def _equal_area(geoms: gpd.GeoSeries) -> np.ndarray:
    if geoms.crs is None:
        raise ValueError("Geometries without a CRS cannot be measured; set one (EPSG:4326 for lon/lat).")
    arr = np.asarray(geoms.to_crs(EQUAL_AREA).values, dtype=object)
    bad = ~shapely.is_valid(arr)
    if bad.any():
        arr[bad] = shapely.make_valid(arr[bad])
    return arr


def overlaps(layers: gpd.GeoDataFrame, regions: gpd.GeoDataFrame) -> pd.DataFrame:
    """Every (region, polygon) pair that overlaps, with the shared footprint and mined area.

    Columns: ``region`` and ``feature`` (positions in ``regions`` and ``layers``), ``fraction``
    (of the polygon's footprint inside the region), ``footprint_ha``, ``mined_ha``. Polygons wholly
    inside a region (nearly all of them) are found with a prepared-geometry test and never
    intersected; only those across an edge are cut.
    """
    mines = _equal_area(layers.geometry)
    regs = _equal_area(regions.geometry)
    area = shapely.area(mines)
    ri, mi = shapely.STRtree(mines).query(regs, predicate="intersects")
    shapely.prepare(regs)
    inside = shapely.contains_properly(regs[ri], mines[mi])
    shared = area[mi].copy()
    cut = np.flatnonzero(~inside)
    if len(cut):
        shared[cut] = shapely.area(shapely.intersection(regs[ri[cut]], mines[mi[cut]]))
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(area[mi] > 0, shared / area[mi], 0.0)
    fraction = np.clip(fraction, 0.0, 1.0)
    mined = layers["mined_area_ha"].to_numpy(dtype="float64")[mi] * fraction
    return pd.DataFrame({"region": ri, "feature": mi, "fraction": fraction, "footprint_ha": shared / 1e4, "mined_ha": mined})


def _table(new: pd.DataFrame, regions: pd.DataFrame, periods: list, has_mined: pd.Series) -> pd.DataFrame:
    """Fill every region × period (zeros where nothing was found), then add running totals."""
    n_reg, n_per = len(regions), len(periods)
    out = pd.DataFrame({
        "period": pd.Categorical(np.tile(periods, n_reg), categories=periods, ordered=True),
        "region_id": np.repeat(regions["region_id"].astype(str).to_numpy(), n_per),
        "region_name": np.repeat(regions["region_name"].astype(str).to_numpy(), n_per),
    })
    grid = np.zeros((2, n_reg, n_per))
    if len(new):
        grid[0][new["region"].to_numpy(), new["p"].to_numpy()] = new["mined_ha"].to_numpy()
        grid[1][new["region"].to_numpy(), new["p"].to_numpy()] = new["footprint_ha"].to_numpy()
    no_mined = ~has_mined.reindex(periods).fillna(False).to_numpy(dtype=bool)
    mined = grid[0]
    mined[:, no_mined] = np.nan  # a layer without a mined-area figure (patches) has none to give
    out["new_mined_ha"] = mined.ravel()
    out["cumulative_mined_ha"] = np.cumsum(mined, axis=1).ravel()
    out["new_footprint_ha"] = grid[1].ravel()
    out["cumulative_footprint_ha"] = np.cumsum(grid[1], axis=1).ravel()
    return out[COLUMNS]


def by_region(layers: gpd.GeoDataFrame, regions: gpd.GeoDataFrame) -> pd.DataFrame:
    """New and cumulative mined area and footprint per region and period (see :data:`COLUMNS`).

    ``regions`` needs ``region_id`` and ``region_name`` columns and a CRS; regions may overlap
    (each gets its own share). A region without mining gets zeros for every period.
    """
    for col in ("region_id", "region_name"):
        if col not in regions.columns:
            raise ValueError(f"regions needs a {col!r} column (see stats.region_frame).")
    periods = _periods(layers)
    regions = regions.reset_index(drop=True)
    layers = layers.reset_index(drop=True)
    has_mined = layers["mined_area_ha"].notna().groupby(layers["period"], observed=True).any()
    if not len(layers) or not len(regions):
        return _table(pd.DataFrame(), regions, periods, has_mined)
    pairs = overlaps(layers, regions)
    p_index = {p: i for i, p in enumerate(periods)}
    pairs["p"] = np.array([p_index[p] for p in layers["period"].to_numpy()[pairs["feature"].to_numpy()]], dtype=int)
    new = pairs.groupby(["region", "p"], as_index=False)[["mined_ha", "footprint_ha"]].sum()
    return _table(new, regions, periods, has_mined)


def totals(layers: gpd.GeoDataFrame, region_id: str = "all", region_name: str = "all published polygons") -> pd.DataFrame:
    """Per-period totals of the whole layer, nothing clipped: the published figures themselves."""
    periods = _periods(layers)
    p_index = {p: i for i, p in enumerate(periods)}
    p = np.array([p_index[v] for v in layers["period"].to_numpy()], dtype=int)
    new = pd.DataFrame({
        "region": np.zeros(len(layers), dtype=int), "p": p,
        "mined_ha": layers["mined_area_ha"].to_numpy(dtype="float64"),
        "footprint_ha": layers["footprint_ha"].to_numpy(dtype="float64"),
    }).groupby(["region", "p"], as_index=False)[["mined_ha", "footprint_ha"]].sum()
    has_mined = layers["mined_area_ha"].notna().groupby(layers["period"], observed=True).any()
    return _table(new, pd.DataFrame({"region_id": [region_id], "region_name": [region_name]}), periods, has_mined)


def footprint_ratio(layers: gpd.GeoDataFrame) -> float:
    """Footprint over mined area for the whole layer: how much the polygon area overstates mined land."""
    mined = float(np.nansum(layers["mined_area_ha"].to_numpy(dtype="float64")))
    return float(layers["footprint_ha"].sum()) / mined if mined > 0 else float("nan")


def region_polygons(layers: gpd.GeoDataFrame, region: BaseGeometry, up_to: str) -> gpd.GeoDataFrame:
    """The published polygons that reach into a region, of every period up to ``up_to``, whole, each with
    the share of its footprint inside the region (what the region's figures count of it)."""
    order = [str(p) for p in _periods(layers)]
    if str(up_to) not in order:
        raise ValueError(f"unknown period {up_to!r}")
    allowed = set(order[: order.index(str(up_to)) + 1])
    keep = layers[layers["period"].astype(str).isin(allowed)]
    hit = keep[keep.intersects(region)].copy()
    whole = shapely.area(_equal_area(hit.geometry)) if len(hit) else np.empty(0)
    inside = shapely.area(_equal_area(hit.geometry.intersection(region))) if len(hit) else np.empty(0)
    hit["share_inside"] = np.round(inside / np.maximum(whole, 1e-9), 4)
    hit["period"] = hit["period"].astype(str)
    return hit.reset_index(drop=True)
