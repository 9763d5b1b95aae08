"""What Review and Tune share, Streamlit side: the picker of scored layers, the cached layer, the label store.

The scored layers themselves (published patch layers and Detect runs) are the workspace's
(:mod:`detector.layers`); this module only caches and shows them.
"""
from __future__ import annotations

import geopandas as gpd
import streamlit as st

from detector.errors import DetectorError
from detector.labels import LabelStore
from detector.layers import RUN_PREFIX, LayerInfo

from .. import workspace
from ..i18n import N_, _, cached, text_of

__all__ = ["RUN_PREFIX", "LayerInfo", "available", "credit", "label_store", "load", "load_or_explain", "picker"]


def label_store() -> LabelStore:
    """The label store of this server (DATABASE_URL, else data/labels.sqlite)."""
    return workspace.current().label_store()


def available() -> dict[str, LayerInfo]:
    """The layers a reviewer or analyst can pick, by name (published patch layers first)."""
    return workspace.current().scored_layers()


@cached(st.cache_resource, N_("Loading the scored layer…"), max_entries=8)
def _load(root: str, name: str) -> gpd.GeoDataFrame:
    return workspace.current().load_layer(name)


def load(name: str) -> gpd.GeoDataFrame:
    """A scored layer with ``patch_id``, ``score``, ``footprint_ha`` and ``year`` (read-only: shared)."""
    return _load(str(workspace.current().layout.root), name)


def picker(key: str, label: str = N_("Scored layer")) -> LayerInfo | None:
    """A select box of the layers; None (with a message saying why) when there is none."""
    layers = available()
    if not layers:
        st.error(_("No scored layer is available: the published patch layers are missing. "
                   "`python -m detector data fetch patches_amazon1_v3.7_2023` downloads one (or set DETECTOR_MIRROR), "
                   "or make a run on the Detect page."))
        return None
    names = list(layers)
    if st.session_state.get(key) not in names:
        st.session_state[key] = names[0]
    name = st.selectbox(_(label), names, key=key, format_func=lambda n: text_of(layers[n].title))
    return layers[name]


def load_or_explain(info: LayerInfo) -> gpd.GeoDataFrame | None:
    try:
        return load(info.name)
    except DetectorError as exc:
        st.error(_("{layer} cannot be loaded.").format(layer=text_of(info.title)) + " " + text_of(exc))
        return None


def credit(info: LayerInfo) -> str:
    """The credit line of a layer's patches."""
    return text_of(info.credit())
