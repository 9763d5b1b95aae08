"""Curated sampling-location files imported as labels, onto a scored layer's patches where they fall."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .errors import DetectorError
from .labels import Label, LabelStore, layer_patch_ids, point_item
from .sampling import read_points, sampling_answer


@dataclass
class FileImport:
    """What one sampling-location file gave: points, how many fell inside the layer's patches, labels written."""

    file: str
    is_mine: str
    category: str | None
    points: int = 0
    inside: int = 0  # points inside at least one patch of the layer
    patches: int = 0  # distinct patches those points fall in
    skipped: int = 0  # features without a usable point (null or non-numeric coordinates)
    added: int = 0  # new label records
    unchanged: int = 0  # already labelled the same way by the same reviewer



def import_sampling(store: LabelStore, files: Sequence[str | Path], layer: gpd.GeoDataFrame | None = None,
                    layer_name: str | None = None, reviewer: str | None = None) -> list[FileImport]:
    """Sampling-location files (``*positives*`` mines, ``*negatives*`` look-alikes) as labels.

    With a scored ``layer``, a point inside one of its patches labels that patch (every patch it falls
    in: patches overlap by half); other points are labelled as points. The reviewer is ``reviewer``
    or ``import:<file name>``, so curated sets never supersede each other. Importing a file again
    adds nothing.
    """
    index = None
    if layer is not None:
        if not layer_name:
            raise DetectorError("Importing into a layer needs the layer's name (it becomes the labels' source).")
        index = gpd.GeoDataFrame(
            {"patch_id": layer_patch_ids(layer, layer_name).to_numpy(),
             "score": layer["score"].to_numpy() if "score" in layer.columns else np.nan},
            geometry=layer.geometry.to_numpy(), crs=layer.crs or "EPSG:4326")
    # Every file is read and checked before anything is written: a bad file imports nothing at all.
    loaded = [(Path(f), read_points(Path(f)), sampling_answer(Path(f).name)) for f in files]
    reports = []
    for path, points, (is_mine, category) in loaded:
        who = reviewer or f"import:{path.stem}"
        rep = FileImport(path.name, is_mine, category, points=len(points), skipped=points.attrs.get("skipped", 0))
        labels = []
        hits = gpd.GeoDataFrame(columns=["patch_id", "score", "index_right"])
        if index is not None and len(points):
            hits = gpd.sjoin(points, index, predicate="within", how="inner")
            rep.inside = int(hits.index.nunique())
            rep.patches = int(hits["patch_id"].nunique())
        inside = set(hits.index)
        for i, pt in zip(points.index, points.geometry):
            common = {"is_mine": is_mine, "category": category, "reviewer": who, "lon": pt.x, "lat": pt.y,
                          "geometry": pt.wkt, "queue": "import"}
            if i in inside:
                for pid, score in hits.loc[[i], ["patch_id", "score"]].itertuples(index=False):
                    labels.append(Label(item=pid, patch_id=pid, source=layer_name,
                                        score=None if pd.isna(score) else float(score), **common))
            else:
                labels.append(Label(item=point_item(pt.x, pt.y), source=path.name, **common))
        rep.added, rep.unchanged = store.add_new(labels)
        reports.append(rep)
    return reports
