"""Cached access to the published data for the pages.

Loads go through ``st.cache_data`` / ``st.cache_resource`` so a rerun (a click, a slider) never
repeats them. When the data cannot be had (offline, no mirror) the pages get a DetectorError
with the steps to fix it and show it, and the rest of the app keeps working.
"""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
import streamlit as st

from detector import published, stats
from detector.errors import DetectorError

from .i18n import N_, _, cached, text_of


@cached(st.cache_resource, N_("Loading the published mining layers…"))
def layers() -> gpd.GeoDataFrame:
    """All yearly layers in the common schema (shared, never copied: treat as read-only)."""
    return published.load_yearly_layers()


@st.cache_resource(show_spinner=False)
def countries() -> gpd.GeoDataFrame:
    return published.countries()


@st.cache_resource(show_spinner=False)
def territories() -> gpd.GeoDataFrame:
    return published.territories()


@st.cache_resource(show_spinner=False)
def airstrips() -> gpd.GeoDataFrame:
    return published.load_dataset("airstrips")


@st.cache_data(show_spinner=False, max_entries=64)
def region_stats(wkb: bytes, region_id: str, region_name: str) -> pd.DataFrame:
    """Per-period figures of one region (keyed by its WKB, so the same shape is computed once)."""
    return stats.by_region(layers(), stats.region_frame(shapely.from_wkb(wkb), region_id, region_name))


@cached(st.cache_data, N_("Summing mined area by country…"))
def stats_by_countries() -> pd.DataFrame:
    """stats.by_region over every country (the Trends page's basin charts)."""
    return stats.by_region(layers(), countries())


@cached(st.cache_data, N_("Summing mined area by indigenous territory…"))
def stats_by_territories() -> pd.DataFrame:
    """stats.by_region over every indigenous territory (the Trends page's ranking)."""
    return stats.by_region(layers(), territories())


def try_load(fn, what: str):
    """Run a loader (``what`` marked with ``N_``); on a DetectorError show what to do and return None (the page goes on)."""
    try:
        return fn()
    except DetectorError as exc:
        st.error(_("{what} is not available.").format(what=_(what)) + " " + text_of(exc))
        return None
