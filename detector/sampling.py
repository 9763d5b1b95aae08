"""Sampling-location files: the point GeoJSON the published models were trained from, read and written.

Files named ``*positives*`` hold mines and ``*negatives*`` look-alikes (the name says which kind);
``labels export`` writes the reviewers' labels in the same layout, so training reads both alike.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
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
        "{filename}: cannot tell mines from look-alikes. Sampling-location files must have "
        "'positives' (mines) or 'negatives' (not mines) in their name.",
        filename=filename
    )


def sampling_path(arg: str, purpose: str = "this command") -> Path:
    """A sampling-location file by path, or a published sampling dataset by name (`python -m detector data list`)."""
    from . import catalog

    path = Path(arg).expanduser()
    if path.exists() or arg.lower().endswith((".geojson", ".json")):
        return path
    ds = catalog.get(arg)
    if ds.kind != "sampling":
        raise DetectorError("{arg} is a {ds_kind} dataset; {purpose} takes sampling-location point files.", arg=arg, ds_kind=ds.kind, purpose=purpose)
    return ds.path(progress=False)


def read_points(path: Path) -> gpd.GeoDataFrame:
    """A file's points in EPSG:4326; ``attrs["skipped"]`` counts features without a usable geometry.

    A point outside longitude −180…180 / latitude −90…90 refuses the whole file: such a file is in
    another CRS or has its axes swapped, and its labels would land anywhere.
    """
    if not path.is_file():
        raise DetectorError("{path}: no such file.", path=path)
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 — any reader failure means the same to the user
        raise DetectorError("{path} is not a readable GeoJSON file ({exc}).", path=path, exc=exc) from None
    usable = gdf.geometry.notna() & ~gdf.geometry.is_empty
    skipped = int((~usable).sum()) + _features_without_geometry(path, len(gdf))
    gdf = gdf[usable]
    gdf = gdf.set_crs("EPSG:4326") if gdf.crs is None else gdf.to_crs("EPSG:4326")
    pts = gdf.geometry.where(gdf.geom_type == "Point", gdf.geometry.representative_point())
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    bad = ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DetectorError(
            "{path_name}: {sum:,} points lie outside longitude −180…180 / latitude −90…90 (e.g. {x:g}, "
            "{y:g}). Is the file in EPSG:4326, longitude first? Nothing was imported from it.",
            path_name=path.name, sum=int(bad.sum()), x=x[i], y=y[i]
        )
    out = gpd.GeoDataFrame(geometry=pts.to_numpy(), crs="EPSG:4326").reset_index(drop=True)
    out.attrs["skipped"] = skipped
    return out


def _features_without_geometry(path: Path, read: int) -> int:
    """Features GDAL dropped (string or null coordinates), counted from the raw GeoJSON when it parses."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    feats = doc.get("features") if isinstance(doc, dict) else None
    return max(len(feats) - read, 0) if isinstance(feats, list) else 0


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
