"""Scored layers: sets of patches with a score that Review and Tune work on.

A scored layer is either a published patch-detection layer of the data catalog or a run made on
the Detect page (read back from the score store, never re-run). Every layer comes back with a
``patch_id`` (labels join on it), a ``score``, a ``footprint_ha`` and its ``year``.
"""
from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd

from . import catalog, labels, published, runs
from .errors import DetectorError, Message
from .postprocess import area_ha
from .store import ScoreStore

RUN_PREFIX = "run:"


@dataclass(frozen=True)
class LayerInfo:
    name: str  # the labels' source: a catalog name, or "run:<id>"
    title: str
    year: int

    @property
    def is_run(self) -> bool:
        return self.name.startswith(RUN_PREFIX)

    def credit(self) -> str:
        """The credit line of the layer's patches."""
        if self.is_run:
            return Message("your Detect run (contains modified Copernicus Sentinel-2 data)")
        return catalog.attribution(self.name)


def _runs(index: runs.RunIndex) -> list[runs.RunRecord]:
    try:
        return list(index.list())
    except OSError:  # a run index this machine cannot read is no reason to fail
        return []


def available(index: runs.RunIndex) -> dict[str, LayerInfo]:
    """The layers a reviewer or analyst can pick, by name (published patch layers first)."""
    out = {}
    for ds in catalog.by_kind("patches"):
        if ds.available():
            title = Message("{model}, Amazon section {section}, {period} (published patches)", model=ds.model,
                            section=ds.region.replace("amazon_basin_part", ""), period=ds.period)
            out[ds.name] = LayerInfo(ds.name, title, int(str(ds.period)[:4]))
    for r in _runs(index):
        title = Message("Detect run: {region}, {period}, {model}", region=r.region_label, period=r.year, model=r.model)
        out[RUN_PREFIX + r.run_id] = LayerInfo(RUN_PREFIX + r.run_id, title, int(r.year))
    return out


def load(name: str, index: runs.RunIndex, store: ScoreStore) -> gpd.GeoDataFrame:
    """A scored layer with ``patch_id``, ``score``, ``footprint_ha`` and ``year``."""
    if name.startswith(RUN_PREFIX):
        rid = name[len(RUN_PREFIX):]
        record = index.get(rid)
        if record is None:
            raise DetectorError("The Detect run {rid} is no longer in the run index; run it again on the Detect page.", rid=rid)
        gdf = runs.reopen(record, store).patches
    else:
        gdf = published.load_layer(name)
    gdf = gdf.reset_index(drop=True)
    gdf["patch_id"] = labels.layer_patch_ids(gdf, name).to_numpy()
    if "footprint_ha" not in gdf.columns:
        gdf["footprint_ha"] = area_ha(gdf.geometry)
    return gdf
