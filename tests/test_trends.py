"""The Trends page: its tables against the statistics computed directly, its labels, its region paths.

The page runs under Streamlit's AppTest through app.py (navigation and the shared view), on
the real published layers of the mirror. Plotly charts are not widgets AppTest knows, so their
figure JSON is read from the element's protobuf.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box, mapping
from streamlit.testing.v1 import AppTest

from detector import published, stats, trends
from detector.errors import DetectorError
from ui import regions
from ui.charts import trends as charts

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "app_pages/trends.py"  # relative to app.py
PERIODS = ["2018", "2019", "2020", "2021", "2022", "2023", "2024", "2025Q2", "2025Q3"]
LABELS = ["≤2018 (baseline)", "2019", "2020", "2021", "2022", "2023", "2024", "2025 Q2", "2025 Q3"]
MINED, FOOTPRINT = trends.MEASURES["mined"], trends.MEASURES["footprint"]
# Madre de Dios, Peru: the La Pampa / Huepetuhe mining belt.
HOTSPOT = (-70.75, -13.25, -69.75, -12.75)
# Open ocean off Brazil's coast: no mining can be there.
OCEAN = (-30.0, -20.0, -29.0, -19.0)


# ---------------------------------------------------------------- reference numbers, straight from detector

@pytest.fixture(scope="module")
def ref(tmp_path_factory, mirror):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DETECTOR_MIRROR", str(mirror))
        mp.setenv("DETECTOR_DATA_DIR", str(tmp_path_factory.mktemp("trends-ref")))
        layers = published.load_yearly_layers()
        countries, territories = published.countries(), published.territories()
    return {
        "layers": layers, "countries": countries, "territories": territories,
        "by_country": stats.by_region(layers, countries), "by_territory": stats.by_region(layers, territories),
    }


def _per_period(table: pd.DataFrame, column: str) -> np.ndarray:
    return table.groupby("period", observed=True)[column].sum().reindex(PERIODS).to_numpy()


# ---------------------------------------------------------------- pure functions

def test_period_labels_name_the_baseline_and_the_quarters():
    assert [trends.period_label(p) for p in PERIODS] == LABELS


def test_basin_tables_add_up_to_the_country_statistics(ref):
    by_country = ref["by_country"]
    for m in (MINED, FOOTPRINT):
        new = trends.by_period(by_country, m.new_col)
        cum = trends.by_period(by_country, m.cumulative_col)
        assert list(new["period"]) == LABELS
        np.testing.assert_allclose(new["Total"], _per_period(by_country, m.new_col), rtol=1e-12)
        np.testing.assert_allclose(cum["Total"], np.cumsum(new["Total"]), rtol=1e-9)
        countries = [c for c in new.columns if c not in ("period", "Total")]
        np.testing.assert_allclose(new[countries].sum(axis=1), new["Total"], rtol=1e-12)
        # largest country first; every country with mining is there
        assert countries[0] == "Brazil" and len(countries) == 9
    # the countries hold all but a sliver of the published mined area (a few polygons lie outside their outlines)
    published_total = stats.totals(ref["layers"])
    gap = _per_period(published_total, "new_mined_ha") - _per_period(by_country, "new_mined_ha")
    assert (gap >= -1e-6).all() and gap.sum() < 100


def test_top_territories_are_ranked_up_to_the_period(ref):
    by_t = ref["by_territory"]
    top = trends.top_regions(by_t, ref["territories"], "2021", MINED, n=15)
    assert len(top) == 15 and top["region"].is_unique
    assert top["cumulative_mined_ha"].is_monotonic_decreasing
    at_2021 = by_t[by_t["period"] == "2021"].set_index("region_id")
    np.testing.assert_allclose(top["cumulative_mined_ha"], at_2021.loc[top["region_id"], "cumulative_mined_ha"])
    np.testing.assert_allclose(top["new_mined_ha"], at_2021.loc[top["region_id"], "new_mined_ha"])
    assert top["cumulative_mined_ha"].iloc[0] == at_2021["cumulative_mined_ha"].max()
    assert set(top["country"]) <= set(ref["territories"]["country"]) and (top["country"] != "").all()
    # names shared by two territories get their id, so no two bars merge
    shared = trends.top_regions(by_t, ref["territories"], "2025Q3", MINED, n=500)
    assert shared["region"].is_unique
    assert any("(BO60012_0)" in r for r in shared["region"])
    later = trends.top_regions(by_t, ref["territories"], "2025Q3", FOOTPRINT, n=5)
    assert list(later.columns) == ["region", "country", "status", "region_id", "cumulative_footprint_ha",
                                   "new_footprint_ha"]


def test_region_table_of_an_empty_region_is_zeros(ref):
    table = stats.by_region(ref["layers"], stats.region_frame(box(*OCEAN), "ocean", "Atlantic"))
    assert trends.found_nothing(table)
    tbl = trends.region_table(table, MINED)
    assert list(tbl["period"]) == LABELS
    assert (tbl[["new_mined_ha", "cumulative_mined_ha"]].to_numpy() == 0).all()
    hot = stats.by_region(ref["layers"], stats.region_frame(box(*HOTSPOT), "hot", "Madre de Dios"))
    assert not trends.found_nothing(hot)
    tbl = trends.region_table(hot, FOOTPRINT)
    np.testing.assert_allclose(tbl["cumulative_footprint_ha"], hot["cumulative_footprint_ha"])


def test_csv_holds_the_table(ref):
    table = trends.by_period(ref["by_country"], MINED.new_col)
    back = pd.read_csv(io.BytesIO(trends.to_csv(table)))
    assert list(back.columns) == list(table.columns)
    assert list(back["period"]) == LABELS
    np.testing.assert_allclose(back["Total"], table["Total"], atol=0.006)


def test_figures_name_their_measure_and_mark_the_baseline(ref):
    by_country = ref["by_country"]
    for m in (MINED, FOOTPRINT):
        new = charts.new_by_region(trends.by_period(by_country, m.new_col), m)
        assert new.layout.yaxis.title.text == m.new_title and new.layout.barmode == "stack"
        assert len(new.data) == 9  # one trace per country, no Total
        assert new.data[0].marker.pattern.shape[0] == "/" and new.data[0].marker.pattern.shape[1] == ""
        cum = charts.cumulative_by_region(trends.by_period(by_country, m.cumulative_col), m)
        assert cum.layout.yaxis.title.text == m.cumulative_title
        top = charts.top_regions(trends.top_regions(ref["by_territory"], ref["territories"], "2024", m, 10), m, "2024")
        assert m.name in top.layout.xaxis.title.text and "2024" in top.layout.xaxis.title.text
        assert all("customdata[0]" in t.hovertemplate for t in top.data)  # the hover names the country
    assert "mined area" in MINED.new_title and "footprint" in FOOTPRINT.new_title


def test_bad_upload_raises_a_message_saying_what_to_do():
    with pytest.raises(DetectorError, match="not valid GeoJSON"):
        regions.from_upload(b"{not json", "bad.geojson")
    with pytest.raises(DetectorError, match="no polygon"):
        point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-60, -3]}, "properties": {}}
        regions.from_upload(json.dumps(point).encode(), "point.geojson")


# ---------------------------------------------------------------- the page under AppTest

def _open(mirror, monkeypatch, **params) -> AppTest:
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def test_page_tables_equal_the_statistics(mirror, monkeypatch, ref):
    at = _open(mirror, monkeypatch, period="2021")
    assert at.title[0].value == "Trends"
    new, cum, top = (d.value for d in at.dataframe[:3])
    assert list(new["period"]) == LABELS
    np.testing.assert_allclose(new["Total"], _per_period(ref["by_country"], "new_mined_ha"), atol=0.06)
    np.testing.assert_allclose(cum["Total"], np.cumsum(_per_period(ref["by_country"], "new_mined_ha")), atol=0.1)
    np.testing.assert_allclose(new["Brazil"], _per_period(ref["by_country"][ref["by_country"]["region_id"] == "BRA"],
                                                          "new_mined_ha"), atol=0.06)
    # the ranking follows the sidebar's period (from the link here)
    expect = trends.top_regions(ref["by_territory"], ref["territories"], "2021", MINED, 15)
    assert list(top["region_id"]) == list(expect["region_id"])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Mined area up to 2021"] == f"{cum['Total'].iloc[3]:,.0f} ha"
    # every chart has its table and its CSV, each with its own key
    assert len(_figures(at)) == 3 and len(at.dataframe) == 3
    keys = [b.key for b in at.download_button]
    assert len(keys) == 3 and len(set(keys)) == 3
    assert any("Earth Genome" in c.value and "CC BY 4.0" in c.value for c in at.caption)
    assert any("baseline" in m.value and "quarters" in m.value for m in at.markdown)


def test_measure_toggle_relabels_everything(mirror, monkeypatch, ref):
    at = _open(mirror, monkeypatch)
    titles = [f["layout"]["yaxis"]["title"]["text"] for f in _figures(at)[:2]]
    assert titles == [MINED.new_title, MINED.cumulative_title]
    at.segmented_control(key="trends_measure").set_value("footprint").run()
    assert not at.exception
    figs = _figures(at)
    assert [f["layout"]["yaxis"]["title"]["text"] for f in figs[:2]] == [FOOTPRINT.new_title, FOOTPRINT.cumulative_title]
    assert "footprint" in figs[2]["layout"]["xaxis"]["title"]["text"]
    assert all(m.label.startswith(("Footprint", "New footprint")) for m in at.metric)
    np.testing.assert_allclose(at.dataframe[0].value["Total"], _per_period(ref["by_country"], "new_footprint_ha"),
                               atol=0.06)
    assert "cumulative_footprint_ha" in at.dataframe[2].value.columns


def test_region_from_the_link(mirror, monkeypatch, ref):
    at = _open(mirror, monkeypatch, region="country:PER", period="2024")
    assert at.selectbox[0].value == "country:PER"
    region = at.dataframe[3].value
    peru = ref["by_country"][ref["by_country"]["region_id"] == "PER"]
    np.testing.assert_allclose(region["cumulative_mined_ha"], peru["cumulative_mined_ha"], atol=0.1)
    assert len(_figures(at)) == 4 and len({b.key for b in at.download_button}) == 4
    metrics = {m.label: m.value for m in at.metric}
    peru_2024 = peru[peru["period"] == "2024"].iloc[0]
    assert metrics["Mined area in Peru, up to 2024"] == f"{peru_2024['cumulative_mined_ha']:,.0f} ha"
    assert metrics["New mined area in Peru, 2024"] == f"{peru_2024['new_mined_ha']:,.0f} ha"


def test_period_change_reranks_the_territories(mirror, monkeypatch, ref):
    at = _open(mirror, monkeypatch, period="2024")
    at.select_slider(key="sidebar_period").set_value("2018").run()  # the shared sidebar's period
    assert not at.exception
    assert any(m.label == "Mined area up to 2018" for m in at.metric)  # the baseline is everything up to 2018
    expect = trends.top_regions(ref["by_territory"], ref["territories"], "2018", MINED, 15)
    assert list(at.dataframe[2].value["region_id"]) == list(expect["region_id"])


def test_a_region_that_no_longer_exists(mirror, monkeypatch):
    at = _open(mirror, monkeypatch, region="territory:NO_SUCH_ID")
    assert not at.error and "no longer exists" in at.warning[0].value
    assert len(at.dataframe) == 3  # no region table, everything else as usual


def test_picking_a_region_puts_it_in_the_link(mirror, monkeypatch, ref):
    at = _open(mirror, monkeypatch)
    tid = ref["by_territory"].sort_values("cumulative_mined_ha").iloc[-1]["region_id"]
    at.selectbox[0].set_value(f"territory:{tid}").run()
    assert not at.exception
    assert at.query_params["region"] == f"territory:{tid}"
    assert at.session_state["view"].region == f"territory:{tid}"
    region = at.dataframe[3].value
    expect = ref["by_territory"][ref["by_territory"]["region_id"] == tid]
    np.testing.assert_allclose(region["new_mined_ha"], expect["new_mined_ha"], atol=0.06)


def test_rectangle_drawn_on_explore(mirror, monkeypatch, ref):
    at = _open(mirror, monkeypatch, region="bbox:{},{},{},{}".format(*HOTSPOT))
    assert "Rectangle drawn on the map" in at.selectbox[0].format_func(at.selectbox[0].value)
    expect = stats.by_region(ref["layers"], stats.region_frame(box(*HOTSPOT)))
    np.testing.assert_allclose(at.dataframe[3].value["new_mined_ha"], expect["new_mined_ha"], atol=0.06)


def test_uploads_good_empty_and_bad(mirror, monkeypatch):
    at = _open(mirror, monkeypatch)
    up = at.file_uploader(key="trends_upload")
    up.set_value(("bad.geojson", b"{not json", "application/geo+json")).run()
    assert not at.exception
    assert len(at.error) == 1 and "bad.geojson cannot be used" in at.error[0].value
    assert "not valid GeoJSON" in at.error[0].value
    ocean = json.dumps(mapping(box(*OCEAN))).encode()
    at.file_uploader(key="trends_upload").set_value(("ocean.geojson", ocean, "application/geo+json")).run()
    assert not at.exception and not at.error
    assert any("No mining was found in ocean.geojson" in i.value for i in at.info)
    assert (at.dataframe[3].value[["new_mined_ha", "cumulative_mined_ha"]].to_numpy() == 0).all()
    projected = json.dumps(mapping(box(500000, 8500000, 510000, 8510000))).encode()  # UTM metres, not lon/lat
    at.file_uploader(key="trends_upload").set_value(("utm.geojson", projected, "application/geo+json")).run()
    assert not at.exception and "EPSG:4326" in at.error[0].value


def test_without_data_the_page_says_so(tmp_path, monkeypatch):
    from ui import data

    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    for fn in (data.layers, data.countries, data.territories, data.stats_by_countries, data.stats_by_territories):
        fn.clear()
    try:
        monkeypatch.setenv("DETECTOR_MIRROR", str(empty))
        at = AppTest.from_file(APP, default_timeout=60).switch_page(PAGE).run()
        assert not at.exception
        assert any("not available" in e.value for e in at.error)
        assert not at.dataframe
        assert any("Earth Genome" in c.value for c in at.caption)
    finally:
        for fn in (data.layers, data.countries, data.territories, data.stats_by_countries, data.stats_by_territories):
            fn.clear()


def test_growth_figures_equal_a_hand_computation():
    import pandas as pd

    from detector import trends

    m = trends.MEASURES["mined"]
    t = pd.DataFrame({"period": ["2018", "2019", "2020", "2024", "2025Q2", "2025Q3"], "region_name": "r",
                      m.new_col: [100.0, 20.0, 30.0, 50.0, 10.0, 15.0]})
    t[m.cumulative_col] = t[m.new_col].cumsum()
    g = trends.growth(t, "2020", m, area_ha=10_000)
    assert g["times_baseline"] == pytest.approx(150 / 100) and g["change_pct"] == pytest.approx(50.0)
    assert g["previous"] == "2019" and g["share_of_area"] == pytest.approx(0.015)
    q = trends.growth(t, "2025Q3", m)
    assert q["change_pct"] == pytest.approx(50.0) and q["previous"] == "2025Q2" and q["share_of_area"] is None
    assert trends.growth(t, "2025Q2", m)["change_pct"] is None, "a quarter is not compared with a year"
    assert trends.growth(t, "2019", m)["change_pct"] is None, "nor a year with the baseline"
    assert trends.growth(t, "2018", m)["times_baseline"] is None


def test_the_measure_is_in_the_link(mirror, monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    at.switch_page("app_pages/trends.py")
    at.query_params["measure"] = "footprint"
    at = at.run()
    assert not at.exception and at.session_state["trends_measure"] == "footprint"
    assert at.query_params["measure"] == "footprint"
    assert any("footprint" in str(m.label).lower() for m in at.metric), "the figures follow the linked measure"
