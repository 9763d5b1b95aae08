"""The review queue: which patch a reviewer sees next, in the order they chose.

Pure functions over a scored layer (tested without Streamlit). The random order is a fixed shuffle
of the layer, the same for every reviewer: its labels are a uniform sample (Tune's unbiased
precision), and two reviewers working through it overlap, which is what agreement needs.
"""
from __future__ import annotations

import zlib
from collections.abc import Collection

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

ORDERS = {
    "uncertain": "Most uncertain first (score nearest the threshold)",
    "score": "Highest score first",
    "random": "Random sample (for an unbiased precision estimate)",
    "region": "Within a region (highest score first)",
}


def order(layer: gpd.GeoDataFrame, how: str, name: str, threshold: float = 0.5,
          region: BaseGeometry | None = None) -> np.ndarray:
    """Positions of the layer's patches in review order (a region keeps only the patches centred in it)."""
    score = layer["score"].to_numpy(float)
    n = len(layer)
    if how == "uncertain":
        return np.lexsort((np.arange(n), np.abs(score - threshold)))
    if how == "random":
        return np.random.default_rng(zlib.crc32(name.encode())).permutation(n)
    if how == "region":
        if region is None:
            return np.empty(0, dtype=int)
        centres = shapely.centroid(layer.geometry.to_numpy())
        shapely.prepare(region)
        inside = np.flatnonzero(shapely.contains(region, centres))
        return inside[np.argsort(-score[inside], kind="stable")]
    if how == "score":
        return np.argsort(-score, kind="stable")
    raise ValueError(f"unknown review order {how!r}; one of {', '.join(ORDERS)}")


def pending(positions: np.ndarray, ids: np.ndarray, done: Collection[str], skipped: Collection[str] = ()) -> np.ndarray:
    """The queue without the patches this reviewer has labelled; skipped ones go to the end."""
    ids_in_order = ids[positions]
    todo = ~np.isin(ids_in_order, list(done)) if done else np.ones(len(positions), bool)
    if not skipped:
        return positions[todo]
    later = np.isin(ids_in_order, list(skipped))
    return np.concatenate([positions[todo & ~later], positions[todo & later]])
