"""The Explore page headless (Streamlit AppTest), and the map's pieces that need no browser.

AppTest cannot draw on the map or click it (the live map's script runs only in a browser), so the page is
driven through what those gestures leave behind: the URL, the select boxes, the session state the
map's on_change callback writes; and :func:`ui.map.drawing.interpret`, which turns a map return into
those changes, is tested on its own. The draw → figures path in a real browser is in
tests/browser/test_explore_browser.py.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui import format as fmt
from ui.map import basemaps, drawing

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 60


@pytest.fixture
def app(mirror, monkeypatch):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    monkeypatch.delenv("MAPBOX_TOKEN", raising=False)

    def make(**query) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        for k, v in query.items():
            at.query_params[k] = v
        return at

    return make


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _ha(text: str) -> float:
    number = text.replace(" ha", "").replace(",", "")
    return float(number[:-1]) * 1000 if number.endswith("k") else float(number)


def test_explore_opens_with_the_map_and_credits(app):
    at = app().run()
    assert not at.exception
    assert at.title[0].value == "Explore"
    assert [e.proto.component_name for e in at.get("bidi_component")] == ["amw.map_explore", "amw.map_layers"], \
        "the live map (ui.map.live) and its layers are on the page"
    assert not any("Mined" in k for k in _metrics(at)), "no region, no figures"
    assert any("No region yet" in i.value for i in at.info)
    credits = " ".join(c.value for c in at.caption)
    assert "Earth Genome" in credits and "Intercept" in credits and "EOX" in credits and "CC BY-NC-SA" in credits


def test_a_country_in_the_link_shows_its_figures_and_opens_the_map_on_it(app):
    at = app(region="country:PER", period="2023").run()
    assert not at.exception
    m = _metrics(at)
    assert _ha(m["Mined, new in 2023"]) > 0
    assert _ha(m["Mined, total to 2023"]) > _ha(m["Mined, new in 2023"])
    assert _ha(m["Footprint, total"]) > _ha(m["Mined, total to 2023"])  # the footprint overstates mined land
    # by the region's own ratio, not a fixed "about 5×" (Peru's is near 3×, Yanomami's near 9×)
    import shapely

    from ui import data as ui_data
    from ui import regions

    peru = regions.resolve("country:PER")
    table = ui_data.region_stats(shapely.to_wkb(peru.geometry), peru.key, peru.name)
    row = table[table["period"] == "2023"].iloc[0]
    ratio = row["cumulative_footprint_ha"] / row["cumulative_mined_ha"]
    assert f"here it is {ratio:.1f}× the mined area" in " ".join(c.value for c in at.caption)
    # growth: × the baseline, % change against 2022, share of Peru's area — as a hand computation gives them
    from detector.region import area_km2

    cum = table.set_index(table["period"].astype(str))
    times = cum.loc["2023", "cumulative_mined_ha"] / cum.loc["2018", "cumulative_mined_ha"]
    change = (cum.loc["2023", "new_mined_ha"] / cum.loc["2022", "new_mined_ha"] - 1) * 100
    share = cum.loc["2023", "cumulative_mined_ha"] / (area_km2(peru.geometry) * 100)
    said = " ".join(md.value for md in at.markdown)
    assert f"**{times:.2f}×** the 2018 baseline" in said and f"**{change:+.0f}%** against 2022" in said
    assert f"**{share:.2%}** of the region" in said
    import json

    from ui.explore.panels import polygons_geojson

    got = json.loads(polygons_geojson(peru, "2023"))["features"]
    assert got and {f["properties"]["region"] for f in got} == {peru.name}
    assert {f["properties"]["period"] for f in got} <= {"2018", "2019", "2020", "2021", "2022", "2023"}
    inside = sum(f["properties"]["mined_area_ha"] * f["properties"]["share_inside"] for f in got)
    assert inside == pytest.approx(row["cumulative_mined_ha"], rel=0.01), "the figures count each polygon's share inside"
    assert [b for b in at.get("download_button") if "Mining polygons up to 2023" in b.proto.label]
    assert any("Peru" in md.value for md in at.markdown)
    assert at.get("plotly_chart"), "the trend chart"
    home = at.session_state["explore_home"]
    assert home.bounds is not None and home.bounds[0] < -70 < home.bounds[2]  # opens on Peru
    assert at.session_state["explore_fly"].outline  # and outlines it
    assert at.selectbox(key="explore_country|country:PER").value == "PER"


def test_the_baseline_period_says_up_to(app):
    at = app(region="country:PER", period="2018").run()
    assert not at.exception
    assert "Mined, up to 2018" in _metrics(at)
    # the period reads as on Trends: the baseline says it is one, quarters are spaced
    period = at.select_slider(key="sidebar_period")
    assert period.format_func("2018") == "≤2018 (baseline)" and period.format_func("2025Q2") == "2025 Q2"


def test_a_link_with_centre_and_zoom_opens_there(app):
    at = app(region="country:PER", lat="-12.9", lon="-70.5", zoom="11").run()
    assert not at.exception
    home = at.session_state["explore_home"]
    assert (home.lat, home.lon, home.zoom, home.bounds) == (-12.9, -70.5, 11, None)


def test_picking_a_territory_sets_the_region_and_the_link(app):
    from detector import published

    t = published.territories()
    tid = t[t["region_name"].str.startswith("Yanomami")]["region_id"].iloc[0]
    at = app().run()
    at.selectbox(key="explore_territory|").set_value(tid).run()
    assert not at.exception
    assert at.query_params["region"] == [f"territory:{tid}"] or at.query_params["region"] == f"territory:{tid}"
    assert any(md.value.startswith("**Yanomami") for md in at.markdown)
    assert _ha(_metrics(at)["Mined, total to 2025Q3"]) > 0
    assert at.session_state["explore_fly"].bounds is not None  # the map goes there
    assert at.selectbox(key=f"explore_territory|territory:{tid}").value == tid
    at.button[0].click().run()  # "Clear region"
    assert not at.exception and not any("Mined" in k for k in _metrics(at))


def test_empty_region_gives_zeros_not_an_error(app):
    at = app(region="bbox:-30.0,-10.0,-29.0,-9.0").run()  # the Atlantic
    assert not at.exception
    m = _metrics(at)
    assert m["Mined, new in 2025Q3"] == "0 ha" and m["Footprint, total"] == "0 ha"


def test_mapbox_without_a_token_says_how_to_add_one(app):
    at = app(basemap="mapbox").run()
    assert not at.exception
    assert any(i.value == basemaps.MAPBOX_HELP for i in at.info)
    assert any("Esri" in c.value for c in at.caption)


def test_a_clicked_polygon_shows_its_facts(app, mirror):
    from detector import published

    layers = published.load_yearly_layers()
    poly = layers[layers["period"] == "2024"].iloc[0]
    pt = poly.geometry.representative_point()
    at = app(period="2024", zoom="12")
    at.session_state["explore_click"] = (pt.y, pt.x)
    at.run()
    assert not at.exception
    text = "\n".join(md.value for md in at.markdown)
    assert "**Mine polygon**, new in 2024" in text
    assert fmt.hectares(poly["mined_area_ha"]) in text
    assert "Country: " in text and "Indigenous territory: " in text


def test_a_drawn_polygon_kept_in_the_session_gets_figures(app):
    from shapely.geometry import Polygon

    from ui.regions import Region

    at = app()
    at.session_state["explore_shape"] = Region("drawn", "Drawn polygon", Polygon([(-70.6, -13.0), (-70.4, -13.0), (-70.5, -12.8)]))
    at.run()
    assert not at.exception
    assert any(md.value == "**Drawn polygon**" for md in at.markdown)
    assert _ha(_metrics(at)["Mined, total to 2025Q3"]) > 0


def test_without_data_the_page_says_so_and_stops(monkeypatch, tmp_path):
    import streamlit as st

    monkeypatch.setenv("DETECTOR_MIRROR", str(tmp_path))  # an empty mirror: nothing to read, nothing downloaded
    st.cache_resource.clear()  # the loaders' caches are per process: forget what earlier tests loaded
    st.cache_data.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
    assert not at.exception
    assert any("not available" in e.value for e in at.error)
    assert not at.get("bidi_component")


# ---------------------------------------------------------------- no Streamlit run needed

RECT = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
    [[-70.6, -13.0], [-70.6, -12.8], [-70.4, -12.8], [-70.4, -13.0], [-70.6, -13.0]]]}}
TRIANGLE = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
    [[-70.6, -13.0], [-70.4, -13.0], [-70.5, -12.8], [-70.6, -13.0]]]}}


def test_interpret_a_drawn_rectangle_polygon_click_and_pan():
    got = drawing.interpret({"last_active_drawing": RECT, "last_object_clicked": None,
                                 "center": {"lat": -12.91234567, "lng": -70.5}, "zoom": 11}, seen="")
    assert got["drew"] and got["view"] == {"region": "bbox:-70.60000,-13.00000,-70.40000,-12.80000",
                                           "lat": -12.9123, "lon": -70.5, "zoom": 11}
    again = drawing.interpret({"last_active_drawing": RECT, "last_object_clicked": {"lat": -12.9, "lng": -70.5},
                                   "center": {"lat": -12.9, "lng": 289.5}, "zoom": 11}, seen=got["seen"])
    assert not again["drew"] and "region" not in again["view"]  # the same drawing is not applied twice
    assert again["click"] == (-12.9, -70.5) and again["view"]["lon"] == -70.5  # longitudes wrapped
    tri = drawing.interpret({"last_active_drawing": TRIANGLE}, seen=got["seen"])
    assert tri["drew"] and tri["view"]["region"] == "" and tri["shape"].geom_type == "Polygon"
    assert drawing.interpret(None, seen="x") == {"view": {}, "seen": "x", "click": None, "drew": False, "shape": None}
    point = drawing.interpret({"last_active_drawing": {"type": "Feature", "geometry": {"type": "Point",
                                                                                          "coordinates": [0, 0]}}}, "")
    assert not point["drew"] and point["seen"]  # not a region, but not looked at again either


def test_the_layers_element_stays_the_same_while_the_view_changes(app):
    """The megabytes of layers travel in their own element, the same on every rerun (Streamlit then sends a
    reference to the copy the browser holds); period, basemap and a region to fly to go in the small map
    element, which keeps its key, so the browser steers the map it has instead of making a new one."""
    import json

    at = app(lat="-6.0", lon="-56.0", zoom="7").run()
    assert not at.exception

    def elements():
        got = {e.proto.component_name: e.proto for e in at.get("bidi_component")}
        return got["amw.map_explore"], got["amw.map_layers"]

    first_map, first_layers = elements()
    assert len(first_layers.json) > 1_000_000 and len(first_map.json) < 20_000
    views = []
    for step in ("period", "basemap", "region"):
        if step == "period":
            at.sidebar.select_slider[0].set_value("2023").run()
        elif step == "basemap":
            at.sidebar.radio[0].set_value("esri").run()
        else:
            at.selectbox(key="explore_country|").set_value("PER").run()
        assert not at.exception, step
        m, layers = elements()
        assert layers.json == first_layers.json and layers.id == first_layers.id, step
        assert m.id == first_map.id, step
        views.append(json.loads(m.json))
    assert views[0]["view"]["period_index"] != json.loads(first_map.json)["view"]["period_index"]
    assert "s2cloudless" not in views[1]["basemap"]["url"] and "s2cloudless" in json.loads(first_map.json)["basemap"]["url"]
    assert views[2]["view"]["nonce"] and views[2]["view"]["bounds"] and views[2]["view"]["outline"]


def test_hectares():
    assert fmt.hectares(0) == "0 ha"
    assert fmt.hectares(12.34) == "12.3 ha"
    assert fmt.hectares(1234.5) == "1,234 ha" or fmt.hectares(1234.5) == "1,235 ha"
    assert fmt.hectares(13614.0, compact=True) == "13.6k ha"
    assert fmt.hectares(float("nan")) == "n/a"


def _upload_script():
    import streamlit as st

    from ui import region_state, state

    class Upload:  # what st.file_uploader leaves in the session state
        name = "region.geojson"

        def getvalue(self):
            return st.session_state["raw"]

    st.session_state["up"] = Upload()
    region_state.on_upload("up")
    st.write(region_state.upload_error() or "no error")
    region = region_state.active_region(state.current())
    st.write(region.name if region else "no region")


@pytest.mark.parametrize("raw, error, name", [
    (b'{"type": "Polygon", "coordinates": [[[-70.6, -13.0], [-70.4, -13.0], [-70.5, -12.8], [-70.6, -13.0]]]}',
     "no error", "region.geojson"),
    (b"{not json", "not valid GeoJSON", "no region"),
    (b'{"type": "Point", "coordinates": [0, 0]}', "cannot be a region", "no region"),
])
def test_an_uploaded_region_or_what_is_wrong_with_it(mirror, monkeypatch, raw, error, name):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    at = AppTest.from_function(_upload_script, default_timeout=TIMEOUT)
    at.session_state["raw"] = raw
    at.run()
    assert not at.exception
    said = [md.value for md in at.markdown]
    assert error in said[0] and said[1] == name


def test_a_region_picked_on_trends_is_framed_on_explore(app):
    at = app().run()  # Explore first: its map's home is decided (the basin)
    at.switch_page("app_pages/trends.py").run()
    region_box = next(s for s in at.selectbox if s.label == "Region")
    at = region_box.set_value("country:PER").run()
    at.switch_page("app_pages/explore.py").run()
    assert not at.exception
    fly = at.session_state["explore_fly"]
    assert fly.bounds is not None and fly.bounds[0] < -70 < fly.bounds[2] and fly.outline, "Peru is framed and outlined"
    n = at.session_state["explore_n"]
    at.run()
    assert at.session_state["explore_n"] == n, "once: a rerun does not fly again"
