"""The Change page's map: one layer of one period (detections, new since, cumulative, or the agreement
with the published layer), over the session's basemap, framed on the run's region.

A live map (:mod:`ui.map.live`): made once for the run (its region outlined and framed), then the
period's layer is swapped in place in the browser (``ui/map/js/change.js``) when the period or the
layer changes, so the map stays where the user panned it; a pan or zoom never reruns the page.
"""
from __future__ import annotations

from ..i18n import N_, _
from ..map import drawing, live
from ..map.basemaps import Basemap
from ..map.kernel import OUTLINE_STYLE, Home

MAP_KEY = "change_map"
STYLES = {
    "kept": {"color": "#f0f921", "weight": 1.2, "fillColor": "#fca636", "fillOpacity": 0.45},
    "new": {"color": "#ff3b30", "weight": 1.6, "fillColor": "#ff3b30", "fillOpacity": 0.55},
    "cumulative": {"color": "#fca636", "weight": 1.0, "fillColor": "#b12a90", "fillOpacity": 0.4},
}
#: The agreement classes (the values of the layer's ``agreement`` property) and their colours.
AGREEMENT_COLOURS = {"agree": "#2ecc71", "ours only": "#ff9f1a", "published only": "#3b82f6"}
AGREEMENT_NAMES = {"agree": N_("agree"), "ours only": N_("ours only"), "published only": N_("published only")}


def map_config(region) -> dict:
    """What the map is made from: the run's region, outlined and framed."""
    w, s, e, n = region.bounds
    return {"region": region.__geo_interface__, "bounds": [[s, w], [n, e]], "outline_style": OUTLINE_STYLE}


def view_settings(geojson: str, which: str, nonce: str) -> dict:
    """The period's layer: its GeoJSON, how it is drawn and what its tooltip says (in the visitor's language)."""
    if which == "agreement":
        return {"geojson": geojson, "nonce": nonce, "colours": AGREEMENT_COLOURS, "colour_by": "agreement",
                "values": {k: _(v) for k, v in AGREEMENT_NAMES.items()},
                "tooltip": [["agreement", ""], ["area_ha", "ha"]]}
    return {"geojson": geojson, "nonce": nonce, "style": STYLES[which],
            "tooltip": [["footprint_ha", _("footprint (ha)")], ["max_score", _("highest score")]]}


def show(geojson: str, which: str, region, basemap: Basemap, nonce: str) -> None:
    """Draw the map for the run's region (once), then show the period's layer ``geojson`` on it."""
    lat, lon, zoom = drawing.view_for_bounds(tuple(region.bounds))
    live.show(MAP_KEY, "change.js", "amwChange", map_config(region), home=Home(lat, lon, zoom), basemap=basemap,
              view=view_settings(geojson, which, nonce), canvas=False, scale=True, handle="chg")


def legend(which: str) -> str:
    if which == "agreement":
        return " · ".join(f"<span style='color:{c}'>■</span> {_(AGREEMENT_NAMES[n])}" for n, c in AGREEMENT_COLOURS.items())
    return f"<span style='color:{STYLES[which]['fillColor']}'>■</span> " + _(
        "patches dissolved into polygons; dashed: the region")
