"""From scored patches to detections: thresholds, the isolation rule, dissolved polygons, areas.

Pure functions over GeoDataFrames in EPSG:4326 with a ``score`` column, so the pages can
re-filter instantly without touching the model.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

EARTH_RADIUS_KM = 6371.0088
EQUAL_AREA = "EPSG:6933"


def above(patches: gpd.GeoDataFrame, threshold: float) -> gpd.GeoDataFrame:
    """Patches with score ≥ threshold."""
    return patches[patches["score"] >= threshold]


def unit_xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Points on the unit sphere: chord distances there are a monotone stand-in for great-circle ones."""
    lon, lat = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def kth_neighbour_km(lon: np.ndarray, lat: np.ndarray, k: int) -> np.ndarray:
    """Great-circle distance (km) from each point to its k-th nearest other point (inf if none)."""
    n = len(lon)
    if n == 0:
        return np.empty(0)
    if n <= k:
        return np.full(n, np.inf)
    xyz = unit_xyz(np.asarray(lon, float), np.asarray(lat, float))
    chord, _ = cKDTree(xyz).query(xyz, k=k + 1)  # the first neighbour is the point itself
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord[:, k] / 2, 0, 1))


def dual_threshold(patches: gpd.GeoDataFrame, t_main: float, t_iso: float, k: int, d_km: float) -> gpd.GeoDataFrame:
    """The published isolation rule: keep score ≥ t_main, but an isolated patch needs t_iso.

    A surviving patch is isolated when its k-th nearest surviving neighbour is farther than
    d_km; mining comes in clusters, so a lone patch is more likely a look-alike. The defaults are
    :class:`detector.rule.Rule`'s.
    """
    kept = above(patches, t_main)
    if kept.empty:
        return kept
    c = _centres(kept)
    isolated = kth_neighbour_km(c[:, 0], c[:, 1], k) > d_km
    return kept[~isolated | (kept["score"].to_numpy() >= t_iso)]


def _centres(gdf: gpd.GeoDataFrame) -> np.ndarray:
    b = gdf.geometry.bounds.to_numpy()  # patch squares: the bbox centre is the centre
    return np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2])


def area_ha(geoms: gpd.GeoSeries) -> np.ndarray:
    """Areas in hectares, measured in the equal-area EPSG:6933."""
    return geoms.to_crs(EQUAL_AREA).area.to_numpy() / 1e4


def dissolve(patches: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Merge overlapping or adjacent patches into polygons with their footprint and scores."""
    cols = ["patches", "max_score", "mean_score", "footprint_ha", "geometry"]
    if patches.empty:
        return gpd.GeoDataFrame({c: [] for c in cols[:-1]}, geometry=[], crs="EPSG:4326")
    merged = gpd.GeoDataFrame(geometry=[patches.geometry.union_all()], crs=patches.crs).explode(index_parts=False)
    merged = merged.reset_index(drop=True)
    pts = gpd.GeoDataFrame({"score": patches["score"].to_numpy()}, geometry=patches.geometry.representative_point().values, crs=patches.crs)
    joined = gpd.sjoin(pts, merged, how="left", predicate="within")
    agg = joined.groupby("index_right")["score"].agg(["size", "max", "mean"])
    out = merged.join(agg).rename(columns={"size": "patches", "max": "max_score", "mean": "mean_score"})
    out["patches"] = out["patches"].fillna(0).astype(int)
    out["footprint_ha"] = area_ha(out.geometry)
    return gpd.GeoDataFrame(out[cols], geometry="geometry", crs=patches.crs)


def figures(patches: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame) -> pd.DataFrame:
    """Headline numbers of a detection, for display and CSV download."""
    return pd.DataFrame([{
        "patches": len(patches),
        "polygons": len(polygons),
        "footprint_ha": float(polygons["footprint_ha"].sum()) if len(polygons) else 0.0,
        "max_score": float(patches["score"].max()) if len(patches) else float("nan"),
    }])
