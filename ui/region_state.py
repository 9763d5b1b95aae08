"""The region a session has chosen, shared by Explore and Detect, and where their maps should look.

A region drawn on either page's map, a country or territory picked, or a GeoJSON uploaded becomes
the session's region on both pages. Each map has its own key; both report through
:func:`on_map_change`, which reads that map's return and updates this state before the page runs.
"""
from __future__ import annotations

import streamlit as st
from shapely.geometry.base import BaseGeometry

from . import regions, state
from .i18n import _, text_of
from .map import drawing
from .map.kernel import Fly, Home, outline_of

_HOME, _FLY, _SHAPE, _SEEN, _CLICK, _N, _UPLOAD_ERROR, _FOLLOWED = (
    "explore_home", "explore_fly", "explore_shape", "explore_seen_drawing", "explore_click", "explore_n",
    "explore_upload_error", "explore_followed",
)


def _nonce() -> str:
    st.session_state[_N] = st.session_state.get(_N, 0) + 1
    return f"fly{st.session_state[_N]}"


def _fly_to(geometry: BaseGeometry) -> Fly:
    return Fly(_nonce(), tuple(geometry.bounds), outline_of(geometry), clear_drawn=True)


def home(view) -> Home:
    """Where the maps open in this session, decided on the first run from the URL and kept.

    A link with a centre and zoom opens there; a link naming only a region opens on that region.
    The region of the link is outlined either way.
    """
    if _HOME not in st.session_state:
        st.session_state[_FOLLOWED] = view.region
        region = regions.resolve(view.region)
        explicit = any(k in st.query_params for k in ("lat", "lon", "zoom"))
        h = Home(view.lat, view.lon, view.zoom)
        if region is not None:
            if not explicit:
                lat, lon, zoom = drawing.view_for_bounds(region.geometry.bounds)
                h = Home(lat, lon, zoom, tuple(region.geometry.bounds))
            st.session_state[_FLY] = Fly("home", None, outline_of(region.geometry), clear_drawn=False)
        st.session_state[_HOME] = h
    _follow(view)
    return st.session_state[_HOME]


def _follow(view) -> None:
    """A region chosen on another page (Trends' picker) is framed and outlined when a map opens again."""
    if st.session_state.get(_FOLLOWED) == view.region:
        return
    st.session_state[_FOLLOWED] = view.region
    region = regions.resolve(view.region)
    if region is not None:
        st.session_state[_SHAPE] = None
        st.session_state[_FLY] = _fly_to(region.geometry)


def fly() -> Fly | None:
    return st.session_state.get(_FLY)


def active_region(view) -> regions.Region | None:
    """The region whose figures the page shows: a drawn polygon or upload, else the view's region."""
    shape = st.session_state.get(_SHAPE)
    if shape is not None and not view.region:
        return shape
    return regions.resolve(view.region)


def clicked() -> tuple[float, float] | None:
    return st.session_state.get(_CLICK)


def upload_error() -> str | None:
    return st.session_state.get(_UPLOAD_ERROR)


def on_map_change(map_key: str, live: bool = False) -> None:
    """A map's on_change: apply a drawing, a click or a pan before the page reruns (``live``: a
    :mod:`ui.map.live` map, whose report sits under its state's name)."""
    from .map import live as live_map

    value = live_map.reported(map_key) if live else st.session_state.get(map_key)
    got = drawing.interpret(value, st.session_state.get(_SEEN, ""))
    st.session_state[_SEEN] = got["seen"]
    st.session_state[_CLICK] = got["click"]
    if got["drew"]:
        st.session_state[_SHAPE] = regions.Region("drawn", _("Drawn polygon"), got["shape"]) if got["shape"] else None
        if fly() is not None and fly().outline:
            st.session_state[_FLY] = None  # the old region's outline goes; the drawing stays where it is
    if got["view"]:
        state.update(**got["view"])


def pick(kind: str, widget_key: str) -> None:
    """A country or territory chosen in a select box: it becomes the region and the map goes there."""
    ident = st.session_state.get(widget_key)
    key = f"{kind}:{ident}" if ident else ""
    region = regions.resolve(key)
    st.session_state[_SHAPE] = None
    st.session_state[_CLICK] = None
    st.session_state[_FLY] = _fly_to(region.geometry) if region is not None else None
    st.session_state[_FOLLOWED] = key if region is not None else ""
    state.update(region=key if region is not None else "")


def on_upload(widget_key: str) -> None:
    """A GeoJSON file uploaded: it becomes the region (a DetectorError's message is kept to show)."""
    from detector.errors import DetectorError

    st.session_state[_UPLOAD_ERROR] = None
    f = st.session_state.get(widget_key)
    if f is None:
        return
    try:
        region = regions.from_upload(f.getvalue(), f.name)
    except DetectorError as exc:
        st.session_state[_UPLOAD_ERROR] = text_of(exc)
        return
    st.session_state[_SHAPE] = region
    st.session_state[_CLICK] = None
    st.session_state[_FLY] = _fly_to(region.geometry)
    st.session_state[_FOLLOWED] = ""
    state.update(region="")


def clear_region() -> None:
    st.session_state[_SHAPE] = None
    st.session_state[_FLY] = Fly(_nonce(), None, "", clear_drawn=True)
    state.update(region="")
