"""Sampling-location files: the point GeoJSON the published models were trained from, read and written.

Files named ``*positives*`` hold mines and ``*negatives*`` look-alikes (the name says which kind);
``labels export`` writes the reviewers' labels in the same layout, so training reads both alike.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd

from .errors import DetectorError


def sampling_answer(filename: str) -> tuple[str, str | None]:
    """A sampling file's answer from its name: ``*positives*`` mines, ``*negatives*`` look-alikes of the named kind."""
    name = filename.lower()
    if re.search(r"positive|pos(?![a-z])", name):  # also "MinesPos2018-2020…"
        return "yes", None
    if re.search(r"negative|neg(?![a-z])", name):
        for key in ("aquaculture", "riverbank", "landslide", "industrial", "farm_pond", "cloud", "other"):
            if key in name or key.replace("_", "-") in name:
                return "no", key
        return "no", None
    raise DetectorError(
        f"{filename}: cannot tell mines from look-alikes. Sampling-location files must have 'positives' "
        "(mines) or 'negatives' (not mines) in their name."
    )


def sampling_path(arg: str, purpose: str = "this command") -> Path:
    """A sampling-location file by path, or a published sampling dataset by name (`python -m detector data list`)."""
    from . import catalog

    path = Path(arg).expanduser()
    if path.exists() or arg.lower().endswith((".geojson", ".json")):
        return path
    ds = catalog.get(arg)
    if ds.kind != "sampling":
        raise DetectorError(f"{arg} is a {ds.kind} dataset; {purpose} takes sampling-location point files.")
    return ds.path(progress=False)


def read_points(path: Path) -> gpd.GeoDataFrame:
    if not path.is_file():
        raise DetectorError(f"{path}: no such file.")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 — any reader failure means the same to the user
        raise DetectorError(f"{path} is not a readable GeoJSON file ({exc}).") from None
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    gdf = gdf.set_crs("EPSG:4326") if gdf.crs is None else gdf.to_crs("EPSG:4326")
    pts = gdf.geometry.where(gdf.geom_type == "Point", gdf.geometry.representative_point())
    return gpd.GeoDataFrame(geometry=pts.to_numpy(), crs="EPSG:4326").reset_index(drop=True)


def sampling_geojson(name: str, rows: pd.DataFrame) -> str:
    """The published sampling-location layout: CRS84 points, one feature per labelled point."""
    feats = []
    for r in rows.itertuples():
        props = {"id": None, "category": r.category if isinstance(r.category, str) else None,
                 "source": r.source if isinstance(r.source, str) else None,
                 "patch_id": r.patch_id if isinstance(r.patch_id, str) else None, "reviewers": int(r.reviewers)}
        feats.append({"type": "Feature", "properties": props,
                      "geometry": {"type": "Point", "coordinates": [round(float(r.lon), 7), round(float(r.lat), 7)]}})
    doc = {"type": "FeatureCollection", "name": name,
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, "features": feats}
    return json.dumps(doc, ensure_ascii=False, indent=0) + "\n"
