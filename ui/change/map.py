"""The Change page's map: one layer of one period (detections, new since, cumulative, or the agreement
with the published layer), over the session's basemap, framed on the run's region."""
from __future__ import annotations

import folium

from ..map import drawing
from ..map.basemaps import Basemap
from ..map.kernel import MAP_HEIGHT, OUTLINE_STYLE, only_leaflet, view_group

MAP_KEY = "change_map"
STYLES = {
    "kept": {"color": "#f0f921", "weight": 1.2, "fillColor": "#fca636", "fillOpacity": 0.45},
    "new": {"color": "#ff3b30", "weight": 1.6, "fillColor": "#ff3b30", "fillOpacity": 0.55},
    "cumulative": {"color": "#fca636", "weight": 1.0, "fillColor": "#b12a90", "fillOpacity": 0.4},
}
AGREEMENT_COLOURS = {"agree": "#2ecc71", "ours only": "#ff9f1a", "published only": "#3b82f6"}


def show(geojson: str, which: str, region, basemap: Basemap, nonce: str) -> None:
    """Draw the map. The map itself (the region's outline, framed on it) is the same for the whole run, so
    the browser keeps it; the period's layer and the basemap travel in streamlit-folium's
    ``feature_group_to_add`` and are swapped in place when the period or the layer changes (no rebuild,
    and the map stays where the user panned it). A pan or zoom never reruns the page."""
    from streamlit_folium import st_folium

    b = region.bounds
    lat, lon, zoom = drawing.view_for_bounds(tuple(b))
    m = only_leaflet(folium.Map(location=[lat, lon], zoom_start=zoom, tiles=None, max_zoom=19, min_zoom=3,
                                control_scale=True))
    folium.GeoJson(region.__geo_interface__, style_function=lambda _: OUTLINE_STYLE, name="region").add_to(m)
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    if which == "agreement":
        style = lambda f: {"color": AGREEMENT_COLOURS[f["properties"]["agreement"]], "weight": 1,
                           "fillColor": AGREEMENT_COLOURS[f["properties"]["agreement"]], "fillOpacity": 0.5}
        tip = folium.GeoJsonTooltip(["agreement", "area_ha"], aliases=["", "ha"])
    else:
        style = lambda _f, s=STYLES[which]: s
        tip = folium.GeoJsonTooltip(["footprint_ha", "max_score"], aliases=["footprint (ha)", "highest score"])
    group = view_group(basemap)
    layer = folium.GeoJson(geojson, style_function=style, name=f"{which} {nonce}")
    if '"features": []' not in geojson[:60]:
        tip.add_to(layer)
    layer.add_to(group)
    st_folium(m, key=MAP_KEY, height=MAP_HEIGHT, use_container_width=True, returned_objects=[],
              feature_group_to_add=group)


def legend(which: str) -> str:
    if which == "agreement":
        return " · ".join(f"<span style='color:{c}'>■</span> {n}" for n, c in AGREEMENT_COLOURS.items())
    return f"<span style='color:{STYLES[which]['fillColor']}'>■</span> patches dissolved into polygons; dashed: the region"
