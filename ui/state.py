"""The view every page shares (period, basemap, region, map centre and zoom, threshold).

The state lives in ``st.session_state`` and is mirrored in the URL's query parameters, so a
copied link reopens the same view. Conversion to and from query parameters is pure and tested
on its own; :func:`sidebar` is the thin Streamlit part.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import streamlit as st

from detector import catalog

from .format import period_label
from .i18n import N_, _

#: Basemap keys, in the order the sidebar offers them.
BASEMAPS = {
    "s2cloudless": N_("Sentinel-2 cloudless of the year (EOX)"),
    "esri": N_("High-resolution imagery (Esri World Imagery)"),
    "mapbox": N_("Mapbox Satellite"),
}
DEFAULT_CENTER = (-6.0, -62.0)  # the Amazon basin
DEFAULT_ZOOM = 5


@dataclass(frozen=True)
class View:
    """What a link must carry to reopen a view."""

    period: str
    basemap: str = "s2cloudless"
    region: str = ""  # "country:BR", "territory:<id>", "bbox:w,s,e,n" or "" for none
    lat: float = DEFAULT_CENTER[0]
    lon: float = DEFAULT_CENTER[1]
    zoom: int = DEFAULT_ZOOM
    threshold: float = 0.5


def periods() -> tuple[str, ...]:
    return catalog.periods()


def default_view() -> View:
    return View(period=periods()[-1])


def from_query(params: Mapping[str, str]) -> View:
    """A view from query parameters; anything missing or malformed falls back to the default."""
    v = default_view()
    out = {}
    if params.get("period") in periods():
        out["period"] = params["period"]
    if params.get("basemap") in BASEMAPS:
        out["basemap"] = params["basemap"]
    region = params.get("region", "")
    if region.split(":", 1)[0] in {"country", "territory", "bbox"}:
        out["region"] = region
    for key, cast, lo, hi in (("lat", float, -90, 90), ("lon", float, -180, 180), ("zoom", int, 1, 20),
                              ("threshold", float, 0, 1)):
        try:
            value = cast(params[key])
        except (KeyError, ValueError, TypeError):
            continue
        if lo <= value <= hi:
            out[key] = value
    return replace(v, **out)


def to_query(view: View) -> dict[str, str]:
    """Query parameters for a view, leaving out what equals the default (short links)."""
    d, default = asdict(view), asdict(default_view())
    fmt = {"lat": "{:.4f}", "lon": "{:.4f}", "threshold": "{:g}"}
    return {k: fmt.get(k, "{}").format(v) for k, v in d.items() if v != default[k]}


def bbox_region(west: float, south: float, east: float, north: float) -> str:
    return f"bbox:{west:.5f},{south:.5f},{east:.5f},{north:.5f}"


def parse_bbox(region: str) -> tuple[float, float, float, float] | None:
    if not region.startswith("bbox:"):
        return None
    try:
        w, s, e, n = (float(x) for x in region[5:].split(","))
    except ValueError:
        return None
    inside = -180 <= w < e <= 180 and -90 <= s < n <= 90 and e - w <= 180  # also refuses NaN and inf
    return (w, s, e, n) if inside else None


_KEY = "view"


def current() -> View:
    """The view of this session, first taken from the URL."""
    if _KEY not in st.session_state:
        st.session_state[_KEY] = from_query(st.query_params.to_dict())
    return st.session_state[_KEY]


#: The sidebar's widgets, keyed so each keeps its identity when its default follows the view (unkeyed,
#: the default is part of the identity, and every second change would land on a new widget and be lost).
_WIDGETS = {"period": "sidebar_period", "basemap": "sidebar_basemap", "threshold": "sidebar_threshold"}


def update(**changes) -> View:
    """Change the view and mirror it in the URL (and in a sidebar widget, when changed elsewhere: a preset)."""
    view = replace(current(), **changes)
    for name, key in _WIDGETS.items():
        if key in st.session_state and st.session_state[key] != getattr(view, name):
            st.session_state[key] = getattr(view, name)  # only in callbacks: the widget is not drawn yet
    st.session_state[_KEY] = view
    sync_url(view)
    return view


def sync_url(view: View) -> None:
    wanted = to_query(view)
    for k in [k for k in st.query_params.keys() if k in asdict(view) and k not in wanted]:
        del st.query_params[k]
    for k, v in wanted.items():
        if st.query_params.get(k) != v:
            st.query_params[k] = v


def sidebar(show_threshold: bool = False) -> View:
    """The shared sidebar: period, basemap and (where it applies) threshold."""
    view = current()
    # Each widget's value lives in Session State only (seeded from the view), never also as a default:
    # a preset that sets the threshold would otherwise make Streamlit warn that both were given.
    for name, key in _WIDGETS.items():
        if key not in st.session_state:
            st.session_state[key] = float(view.threshold) if name == "threshold" else getattr(view, name)
    with st.sidebar:
        ps = periods()
        period = st.select_slider(_("Period"), options=ps, key=_WIDGETS["period"], format_func=period_label,
                                  help=_("Mining new in this period; the ≤2018 baseline is everything up to 2018."))
        names = {k: _(v) for k, v in BASEMAPS.items()}  # translated now: format_func may be called later
        basemap = st.radio(_("Basemap"), list(BASEMAPS), format_func=names.get, key=_WIDGETS["basemap"])
        threshold = view.threshold
        if show_threshold:
            threshold = st.slider(_("Detection threshold"), 0.0, 1.0, step=0.01, key=_WIDGETS["threshold"])
    view = update(period=period, basemap=basemap, threshold=threshold)
    return view


def share_link() -> None:
    """A "Share this view" popover in the sidebar with the page's link (period, basemap, region, run, layers):
    drawn after the page, so the link holds what the page put in the URL."""
    from urllib.parse import urlencode

    base = str(st.context.url or "").split("?")[0]
    query = urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
    link = base + ("?" + query if query else "")
    with st.sidebar.popover(_("Share this view"), icon=":material/share:", width="stretch"):
        st.caption(_("This link opens the same page, period, basemap, region and run for anyone who has it "
                     "(a reviewer's name is never in it). Copy it with the button at its right."))
        st.code(link, language=None, wrap_lines=True)


_PHONE = {"period": "phone_period", "basemap": "phone_basemap"}


def _from_phone(name: str) -> None:
    update(**{name: st.session_state[_PHONE[name]]})


def phone_controls() -> None:
    """Period and basemap above the map on a phone, where the sidebar is folded away (hidden on wider screens
    by CSS); they are the sidebar's own settings, so either place changes both."""
    view = current()
    for name, key in _PHONE.items():
        st.session_state[key] = getattr(view, name)
    st.markdown("<style>@media (min-width: 768px) { .st-key-phone_controls { display: none; } }</style>",
                unsafe_allow_html=True)
    with st.container(key="phone_controls"):
        with st.popover(f"{period_label(view.period)} · {_(BASEMAPS[view.basemap])}", icon=":material/tune:",
                        width="stretch"):
            st.select_slider(_("Period"), options=periods(), key=_PHONE["period"], format_func=period_label,
                             on_change=_from_phone, args=("period",))
            names = {k: _(v) for k, v in BASEMAPS.items()}
            st.radio(_("Basemap"), list(BASEMAPS), format_func=names.get, key=_PHONE["basemap"],
                     on_change=_from_phone, args=("basemap",))
