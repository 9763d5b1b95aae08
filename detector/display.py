"""What the map draws, and what it says about a clicked polygon: pure functions, no Streamlit.

All the yearly layers together are about 45,000 polygons and 370,000 vertices. As GeoJSON that is
some 8 MB, too much to send to a browser on every visit. The published polygons are already
simplified (merged 480 m detection squares, eight vertices each on average: simplifying them in a
metric CRS at 10 m removes almost nothing), so the saving has to come from the encoding:

- coordinates are quantised to 1e-5° (about 1 m) and written as zigzag deltas from the previous
  vertex in a 6-bit variable-length code (:data:`ALPHABET`), two characters per coordinate for a
  typical 240 m step: about 1.3 MB for every layer, and rings are ordered along a Hilbert curve so
  the jump to the next ring is short too;
- the closing vertex of each ring is dropped (Leaflet closes polygons itself);
- no properties are sent: a clicked point is looked up here, against the full-resolution layers
  (:class:`FactsIndex`), so nothing a popup would need travels to the browser.

The browser decodes one string per period into one Leaflet polygon layer on a canvas; Leaflet then
clips to the view and simplifies for the zoom on every redraw. Boundaries, which are only context,
are simplified here for a zoom level first (:func:`simplify_for_zoom`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point

#: Coordinate units per degree: 1e-5° is about 1.1 m, finer than any basemap pixel up to zoom 17.
PRECISION = 100_000
#: 64 symbols, each 5 bits of a value plus a "more follows" bit. No quote, backslash, '<', '&' or
#: '_': safe inside JavaScript strings and HTML, and invisible to the variable-renaming regular
#: expressions streamlit-folium runs over the map's script.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-."
_CODES = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
_LOOKUP = np.full(256, 255, dtype=np.uint8)
_LOOKUP[_CODES] = np.arange(64, dtype=np.uint8)
WEB_MERCATOR = "EPSG:3857"
#: Web-Mercator metres per 256 px tile pixel at zoom 0.
_M_PER_PX_Z0 = 2 * math.pi * 6378137 / 256


# ---------------------------------------------------------------- the compact encoding

def encode_varints(values: np.ndarray) -> str:
    """Non-negative integers as a string over :data:`ALPHABET`, low 5-bit groups first."""
    v = np.asarray(values, dtype=np.uint64).ravel()
    if not len(v):
        return ""
    n = np.ones(len(v), dtype=np.int64)
    rest = v >> np.uint64(5)
    while rest.any():
        n += rest > 0
        rest >>= np.uint64(5)
    which = np.repeat(np.arange(len(v)), n)
    k = np.arange(len(which)) - np.repeat(np.cumsum(n) - n, n)
    chunk = (v[which] >> (np.uint64(5) * k.astype(np.uint64))) & np.uint64(31)
    more = (k < n[which] - 1).astype(np.uint64) << np.uint64(5)
    return _CODES[(chunk | more).astype(np.intp)].tobytes().decode("ascii")


def decode_varints(text: str) -> np.ndarray:
    """The inverse of :func:`encode_varints` (tests and tools; the browser has its own decoder)."""
    if not text:
        return np.empty(0, dtype=np.int64)
    codes = _LOOKUP[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    if (codes == 255).any():
        raise ValueError("not an encoded layer: unknown symbol")
    last = (codes & 32) == 0
    if not last[-1]:
        raise ValueError("not an encoded layer: cut short")
    group = np.concatenate([[0], np.cumsum(last)[:-1]])
    start = np.concatenate([[0], np.flatnonzero(last)[:-1] + 1])
    k = np.arange(len(codes)) - start[group]
    return np.bincount(group, weights=(codes & 31).astype(np.float64) * (32.0 ** k)).astype(np.int64)


def _zigzag(d: np.ndarray) -> np.ndarray:
    d = d.astype(np.int64)
    return (d << 1) ^ (d >> 63)


def _unzigzag(z: np.ndarray) -> np.ndarray:
    return (z >> 1) ^ -(z & 1)


def _quantise(coords: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(coords, dtype=np.float64) * PRECISION).astype(np.int64)


def encode_rings(geoms: Any) -> str:
    """Every ring of every (multi)polygon, in order, as one string.

    The stream is, per ring: its vertex count, then (dx, dy) zigzag deltas in 1e-5° units from the
    previous vertex (of any ring: the first vertex of the string is relative to 0, 0). Closing
    vertices, repeated vertices and rings left with fewer than three vertices are dropped. Exterior
    and interior rings are not told apart: drawn with the even-odd rule they come out the same.
    """
    arr = np.asarray(geoms, dtype=object).ravel()
    if not len(arr):
        return ""
    rings = shapely.get_rings(shapely.get_parts(arr[~shapely.is_empty(arr)]))
    if not len(rings):
        return ""
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    q = _quantise(xy)
    # keep a vertex when it is not the ring's closing one and differs from the one before it
    last_of_ring = np.r_[ring[1:] != ring[:-1], True]
    same_as_prev = np.r_[False, (q[1:] == q[:-1]).all(axis=1) & (ring[1:] == ring[:-1])]
    keep = ~last_of_ring & ~same_as_prev
    q, ring = q[keep], ring[keep]
    counts = np.bincount(ring, minlength=len(rings))
    ok = counts >= 3
    q, ring = q[ok[ring]], ring[ok[ring]]
    counts = counts[ok]
    deltas = _zigzag(np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)))
    starts = np.cumsum(counts) - counts  # first vertex of each ring
    values = np.empty(len(counts) + 2 * len(q), dtype=np.int64)
    header = np.arange(len(counts)) + 2 * starts
    is_header = np.zeros(len(values), dtype=bool)
    is_header[header] = True
    values[header] = counts
    values[~is_header] = deltas.ravel()
    return encode_varints(values)


def decode_rings(text: str) -> list[np.ndarray]:
    """The inverse of :func:`encode_rings`: one (n, 2) lon/lat array per ring (not closed)."""
    values = decode_varints(text)
    out, i, x, y = [], 0, 0, 0
    while i < len(values):
        n = int(values[i])
        d = _unzigzag(values[i + 1:i + 1 + 2 * n].reshape(n, 2))
        xy = np.cumsum(d, axis=0) + (x, y)
        x, y = int(xy[-1, 0]), int(xy[-1, 1])
        out.append(xy / PRECISION)
        i += 1 + 2 * n
    return out


def encode_points(geoms: Any) -> str:
    """Points as (dx, dy) zigzag deltas in 1e-5° units, the first from 0, 0."""
    arr = np.asarray(geoms, dtype=object).ravel()
    if not len(arr):
        return ""
    q = _quantise(shapely.get_coordinates(arr))
    return encode_varints(_zigzag(np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))).ravel())


def decode_points(text: str) -> np.ndarray:
    """The inverse of :func:`encode_points`: an (n, 2) lon/lat array."""
    d = _unzigzag(decode_varints(text)).reshape(-1, 2)
    return np.cumsum(d, axis=0) / PRECISION


# ---------------------------------------------------------------- simplification for a zoom level

def tolerance_m(zoom: float, pixels: float = 1.0) -> float:
    """Web-Mercator metres that ``pixels`` screen pixels cover at a zoom level."""
    return pixels * _M_PER_PX_Z0 / 2.0 ** zoom


def simplify_for_zoom(geoms: gpd.GeoSeries, zoom: float, pixels: float = 1.0) -> gpd.GeoSeries:
    """Geometries simplified so that, drawn at ``zoom`` or below, no vertex moves more than ``pixels``.

    Simplified in Web Mercator, the CRS the map draws in, so the tolerance is the same number of
    pixels at every latitude. Topology is preserved: no polygon becomes invalid or vanishes.
    """
    if geoms.crs is None:
        raise ValueError("geometries without a CRS cannot be simplified for a zoom level; set one (EPSG:4326).")
    merc = geoms.to_crs(WEB_MERCATOR)
    simple = shapely.simplify(np.asarray(merc.values, dtype=object), tolerance_m(zoom, pixels), preserve_topology=True)
    return gpd.GeoSeries(simple, index=geoms.index, crs=WEB_MERCATOR).to_crs(geoms.crs)


def _hilbert_order(geoms: gpd.GeoSeries) -> np.ndarray:
    if len(geoms) < 2:
        return np.arange(len(geoms))
    return np.argsort(geoms.hilbert_distance(), kind="stable")


# ---------------------------------------------------------------- the display layers

@dataclass(frozen=True)
class DisplayLayers:
    """Everything the Explore map draws, encoded (see :func:`encode_rings` and :func:`encode_points`).

    ``mines`` has one string per period, in period order; ``digest`` changes with the content, so a
    map built from new data is a new map in the browser.
    """

    periods: tuple[str, ...]
    mines: tuple[str, ...]
    polygon_counts: tuple[int, ...]
    countries: str
    territories: str
    airstrips_mining: str  # airstrips with mining seen within 20 km
    airstrips_other: str
    digest: str
    airstrip_labels_mining: tuple[str, ...] = ()  # what a click on each airstrip says, in the points' order
    airstrip_labels_other: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Characters (= bytes) of all the encoded strings together."""
        return sum(map(len, (*self.mines, self.countries, self.territories, self.airstrips_mining, self.airstrips_other)))


#: Zoom levels the boundaries are simplified for (one pixel of error there, less when zoomed out).
COUNTRY_ZOOM = 8
TERRITORY_ZOOM = 10
_AIRSTRIP_MINING = "Mining activity seen up to 20km of airstrip location"


def mining_rings(layers: gpd.GeoDataFrame, periods: tuple[str, ...]) -> tuple[str, ...]:
    """One encoded string per period: that period's polygons, Hilbert-ordered, at full resolution."""
    out = []
    for p in periods:
        part = layers.geometry[(layers["period"] == p).to_numpy()]
        out.append(encode_rings(part.values[_hilbert_order(part)]))
    return tuple(out)


def airstrips_with_mining(airstrips: gpd.GeoDataFrame) -> np.ndarray:
    """Whether the reporting saw mining within 20 km of each airstrip (False where it does not say)."""
    if _AIRSTRIP_MINING not in airstrips.columns:
        return np.zeros(len(airstrips), dtype=bool)
    return airstrips[_AIRSTRIP_MINING].astype(str).str.strip().str.upper().isin({"TRUE", "YES", "1"}).to_numpy()


_AIRSTRIP_ID = "Airstrip ID"
_AIRSTRIP_SOURCE = "Original source of the airstrip’s location"


def airstrip_labels(airstrips: gpd.GeoDataFrame) -> np.ndarray:
    """What a click on each airstrip says: its id and where its location comes from (plain text)."""
    n = len(airstrips)
    ids = airstrips[_AIRSTRIP_ID].astype(str).to_numpy() if _AIRSTRIP_ID in airstrips.columns else np.full(n, "")
    src = airstrips[_AIRSTRIP_SOURCE].fillna("").astype(str).to_numpy() if _AIRSTRIP_SOURCE in airstrips.columns \
        else np.full(n, "")
    return np.array([f"Airstrip {i}" + (f" · location from {s}" if s.strip() else "") for i, s in zip(ids, src)],
                    dtype=object)


def display_layers(
    layers: gpd.GeoDataFrame,
    countries: gpd.GeoDataFrame,
    territories: gpd.GeoDataFrame,
    airstrips: gpd.GeoDataFrame,
    periods: tuple[str, ...],
) -> DisplayLayers:
    """All the Explore map's layers, encoded once (the pages cache the result)."""
    import hashlib

    mines = mining_rings(layers, periods)
    c = encode_rings(simplify_for_zoom(countries.geometry, COUNTRY_ZOOM).values)
    t = encode_rings(simplify_for_zoom(territories.geometry, TERRITORY_ZOOM).values)
    near = airstrips_with_mining(airstrips)
    a_yes = encode_points(airstrips.geometry.values[near])
    a_no = encode_points(airstrips.geometry.values[~near])
    counts = tuple(int((layers["period"] == p).sum()) for p in periods)
    h = hashlib.sha256()
    for s in (*periods, *mines, c, t, a_yes, a_no):
        h.update(s.encode("ascii", errors="replace"))
        h.update(b"\0")
    labels = airstrip_labels(airstrips)
    return DisplayLayers(tuple(periods), mines, counts, c, t, a_yes, a_no, h.hexdigest()[:16],
                         tuple(labels[near]), tuple(labels[~near]))


# ---------------------------------------------------------------- a clicked polygon's facts

def _names_at(points: np.ndarray, regions: gpd.GeoDataFrame, nearest_deg: float | None) -> np.ndarray:
    """For each point, the region names it lies in ("; "-joined), "" where none."""
    names = regions["region_name"].astype(str).to_numpy()
    out = np.full(len(points), "", dtype=object)
    if not len(points) or not len(regions):
        return out
    geoms = np.asarray(regions.geometry.values, dtype=object)
    # the points in a tree, queried with each region: far faster than each point against the regions
    ri, pi = shapely.STRtree(points).query(geoms, predicate="contains")
    order = np.lexsort((ri, pi))
    pi, ri = pi[order], ri[order]
    if len(pi):
        out[pi] = names[ri]  # one region for nearly every point; the few in several get all names
        multi = pd.Series(pi).duplicated(keep=False).to_numpy()
        if multi.any():
            joined = pd.Series(names[ri[multi]]).groupby(pi[multi]).agg(lambda s: "; ".join(dict.fromkeys(s)))
            out[joined.index.to_numpy()] = joined.to_numpy()
    if nearest_deg:
        missing = np.flatnonzero(out == "")
        if len(missing):
            mi, ri = shapely.STRtree(geoms).query_nearest(points[missing], max_distance=nearest_deg, return_distance=False)
            first = ~pd.Series(mi).duplicated().to_numpy()
            out[missing[mi[first]]] = names[ri[first]]
    return out


def region_join(layers: gpd.GeoDataFrame, countries: gpd.GeoDataFrame, territories: gpd.GeoDataFrame) -> pd.DataFrame:
    """The country and indigenous territory of every polygon, by a point inside it ("" for none).

    The countries layer is only the Amazon part of each country, so a polygon just outside it takes
    the nearest country within about 10 km. Territories are taken as they are: outside one is outside.
    """
    pts = shapely.point_on_surface(np.asarray(layers.geometry.values, dtype=object))
    return pd.DataFrame(
        {"country": _names_at(pts, countries, 0.1), "territory": _names_at(pts, territories, None)},
        index=layers.index,
    )


@dataclass(frozen=True)
class Facts:
    """What the page says about one mine polygon."""

    period: str
    is_new: bool  # new in the selected period (else earlier: part of the cumulative layer)
    mined_area_ha: float
    footprint_ha: float
    country: str
    territory: str


class FactsIndex:
    """Finds the published polygon under a clicked point, at full resolution."""

    def __init__(self, layers: gpd.GeoDataFrame, places: pd.DataFrame, periods: tuple[str, ...]):
        self._geoms = np.asarray(layers.geometry.values, dtype=object)
        self._tree = shapely.STRtree(self._geoms)
        order = {p: i for i, p in enumerate(periods)}
        self._periods = tuple(periods)
        self._p = np.array([order.get(str(p), -1) for p in layers["period"].astype(str)], dtype=int)
        self._mined = layers["mined_area_ha"].to_numpy(dtype="float64")
        self._footprint = layers["footprint_ha"].to_numpy(dtype="float64")
        self._country = places["country"].to_numpy()
        self._territory = places["territory"].to_numpy()

    def at(self, lon: float, lat: float, period: str, tolerance_deg: float = 0.0) -> Facts | None:
        """The polygon at a point among those shown for ``period`` (that period and the earlier ones).

        The newest wins where polygons overlap, as on the map, where it is drawn on top. Without a
        polygon under the point, the nearest within ``tolerance_deg`` (a click on an outline).
        """
        if period not in self._periods:
            return None
        sel = self._periods.index(period)
        pt = Point(lon, lat)
        hits = self._tree.query(pt, predicate="intersects")
        hits = hits[self._p[hits] <= sel]
        if not len(hits) and tolerance_deg > 0:
            hits = self._tree.query(pt, predicate="dwithin", distance=tolerance_deg)
            hits = hits[self._p[hits] <= sel]
            if len(hits):
                dist = shapely.distance(self._geoms[hits], pt)
                hits = hits[dist <= dist.min() + 1e-12]
        if not len(hits):
            return None
        i = int(hits[np.argmax(self._p[hits])])
        return Facts(
            period=self._periods[self._p[i]],
            is_new=bool(self._p[i] == sel),
            mined_area_ha=float(self._mined[i]),
            footprint_ha=float(self._footprint[i]),
            country=str(self._country[i]),
            territory=str(self._territory[i]),
        )
