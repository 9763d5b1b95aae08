"""The shared view and its URL form."""
from ui import state
from ui.map import basemaps


def test_round_trip_through_query_params():
    v = state.View(period="2021", basemap="esri", region="country:BRA", lat=-3.1234, lon=-60.5, zoom=9)
    assert state.from_query(state.to_query(v)) == v


def test_defaults_are_left_out_of_links_and_bad_values_ignored():
    assert state.to_query(state.default_view()) == {}
    v = state.from_query({"period": "1999", "basemap": "nope", "zoom": "99", "lat": "abc", "region": "evil:1"})
    assert v == state.default_view()


def test_bbox_region():
    key = state.bbox_region(-61.5, -4.25, -61.0, -4.0)
    assert state.parse_bbox(key) == (-61.5, -4.25, -61.0, -4.0)
    assert state.parse_bbox("bbox:1,1,0,0") is None


def test_basemaps_carry_attribution_and_mapbox_falls_back(monkeypatch):
    monkeypatch.delenv("MAPBOX_TOKEN", raising=False)
    assert basemaps.basemap("mapbox", "2023").name == "Esri World Imagery"
    monkeypatch.setenv("MAPBOX_TOKEN", "pk.test")
    assert "access_token=pk.test" in basemaps.basemap("mapbox", "2023").url
    s2 = basemaps.basemap("s2cloudless", "2025Q3")
    assert "s2cloudless-2024" in s2.url and "EOX" in s2.attribution and "CC BY-NC-SA" in s2.attribution
    assert basemaps.s2cloudless_year("2017") == 2016


def test_the_share_button_holds_the_pages_own_link(mirror, monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    at.context = {"url": "https://mines.example.org/trends"}
    at.switch_page("app_pages/trends.py")
    at.query_params["region"] = "country:PER"
    at.query_params["period"] = "2023"
    at = at.run()
    assert not at.exception
    link = at.sidebar.code[0].value
    assert link.startswith("https://mines.example.org/trends?") and "region=country%3APER" in link and "period=2023" in link
