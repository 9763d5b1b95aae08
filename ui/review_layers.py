"""What Review and Tune share: the scored layers to choose from, loaded once, and the label store.

A scored layer is a set of patches with a ``score``: the published patch detections of the data
catalog, or a run made on the Detect page (read back from the score store, never re-run). Every
layer comes back with a ``patch_id`` (labels join on it) and its ``year``.
"""
from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import streamlit as st

from detector import catalog, labels, published
from detector.errors import DetectorError

RUN_PREFIX = "run:"


@dataclass(frozen=True)
class LayerInfo:
    name: str  # the labels' source: a catalog name, or "run:<id>"
    title: str
    year: int


@st.cache_resource(show_spinner=False)
def _store(url: str) -> labels.LabelStore:
    return labels.LabelStore(url)


def label_store() -> labels.LabelStore:
    """The label store of this server (DATABASE_URL, else data/labels.sqlite)."""
    return _store(labels.default_url())


def _runs() -> list:
    """Detect runs, newest first; none when the Detect page's index is not there."""
    try:
        from detector import runs
    except ImportError:
        return []
    try:
        return list(runs.RunIndex().list())
    except Exception:  # noqa: BLE001 — a run index this page cannot read is no reason to fail
        return []


def available() -> dict[str, LayerInfo]:
    """The layers a reviewer or analyst can pick, by name (published patch layers first)."""
    out = {}
    for ds in catalog.by_kind("patches"):
        if ds.available():
            out[ds.name] = LayerInfo(ds.name, f"{ds.model}, {ds.region.replace('amazon_basin_part', 'Amazon section ')}, "
                                     f"{ds.period} (published patches)", int(str(ds.period)[:4]))
    for r in _runs():
        out[RUN_PREFIX + r.run_id] = LayerInfo(RUN_PREFIX + r.run_id,
                                               f"Detect run: {r.region_label}, {r.year}, {r.model}", int(r.year))
    return out


@st.cache_resource(show_spinner="Loading the scored layer…", max_entries=8)
def load(name: str) -> gpd.GeoDataFrame:
    """A scored layer with ``patch_id``, ``score``, ``footprint_ha`` and ``year`` (read-only: shared)."""
    if name.startswith(RUN_PREFIX):
        gdf = _load_run(name[len(RUN_PREFIX):])
    else:
        gdf = published.load_layer(name)
    gdf = gdf.reset_index(drop=True)
    gdf["patch_id"] = labels.layer_patch_ids(gdf, name).to_numpy()
    if "footprint_ha" not in gdf.columns:
        from detector.postprocess import area_ha

        gdf["footprint_ha"] = area_ha(gdf.geometry)
    return gdf


def _load_run(rid: str) -> gpd.GeoDataFrame:
    from detector import runs
    from detector.pipeline import Detector

    record = runs.RunIndex().get(rid)
    if record is None:
        raise DetectorError(f"The Detect run {rid} is no longer in the run index; run it again on the Detect page.")
    return runs.reopen(record, Detector(record.model_ref)).patches


def picker(key: str, label: str = "Scored layer") -> LayerInfo | None:
    """A select box of the layers; None (with a message saying why) when there is none."""
    layers = available()
    if not layers:
        st.error("No scored layer is available: the published patch layers are missing. "
                 "`python -m detector data fetch patches_amazon1_v3.7_2023` downloads one (or set DETECTOR_MIRROR), "
                 "or make a run on the Detect page.")
        return None
    names = list(layers)
    if st.session_state.get(key) not in names:
        st.session_state[key] = names[0]
    name = st.selectbox(label, names, key=key, format_func=lambda n: layers[n].title)
    return layers[name]


def load_or_explain(info: LayerInfo) -> gpd.GeoDataFrame | None:
    try:
        return load(info.name)
    except DetectorError as exc:
        st.error(f"{info.title} cannot be loaded. {exc}")
        return None


def credit(info: LayerInfo) -> str:
    """The credit line of a layer's patches."""
    if info.name.startswith(RUN_PREFIX):
        return "your Detect run (contains modified Copernicus Sentinel-2 data)"
    return catalog.attribution(info.name)
