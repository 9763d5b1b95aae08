"""The Change page headless (AppTest): a folder of dated GeoTIFFs over three years, one run for all of them."""
from __future__ import annotations

from pathlib import Path

import pytest
from change_helpers import scar_model, write_three_years
from streamlit.testing.v1 import AppTest

from ui.detect import inputs as detect_inputs

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def page(mirror, monkeypatch, data_dir, tmp_path):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    monkeypatch.delenv("MAPBOX_TOKEN", raising=False)
    folder, _, _ = write_three_years(tmp_path / "imagery")
    model = scar_model(tmp_path / "scar.h5")
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("app_pages/change.py")
    at.run()
    at.radio(key="detect_imagery").set_value("path").run()
    at.text_input(key="detect_tif_path").set_value(str(folder)).run()
    at.selectbox(key="detect_model").set_value(detect_inputs.LOCAL_MODEL).run()
    at.text_input(key="detect_model_path").set_value(str(model)).run()
    return at


def test_one_run_gives_every_period_with_new_and_cumulative_layers(page):
    at = page.text_input(key="change_periods").set_value("2022-2024").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "3 periods: 2022, 2023, 2024" in " ".join(c.value for c in at.caption)
    assert at.selectbox(key="change_preset").value == "AMW relaxed"
    at = at.button(key="change_run_button").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.select_slider(key="change_period").value == "2024"
    table = at.dataframe[-1].value
    assert table["period"].tolist() == ["2022", "2023", "2024"]
    assert table["new patches"].iloc[0] == 0 and table["new patches"].iloc[1] > 0 and table["new patches"].iloc[2] > 0
    assert table["cumulative patches"].tolist() == table["new patches"].cumsum().tolist()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Cumulative"].endswith("ha")
    # Another period and layer: no model work (every period is in the store), the figures follow.
    at = at.select_slider(key="change_period").set_value("2023").run()
    at = at.radio(key="change_layer").set_value("new").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["New"] != "0 ha"
    # The stringent rule keeps no more than the relaxed one.
    at = at.selectbox(key="change_preset").set_value("AMW stringent").run()
    stringent = at.dataframe[-1].value
    assert (stringent["detected patches"] <= table["detected patches"]).all()
    # A date range the published data does not have: said so rather than compared.
    at = at.radio(key="change_layer").set_value("agreement").run()
    assert not at.exception


def test_a_bad_period_list_is_refused_before_running(page):
    at = page.text_input(key="change_periods").set_value("2024,2024Q2").run()
    assert any("overlap" in e.value for e in at.error)
    assert at.button(key="change_run_button").disabled


def test_a_watch_saved_on_the_page_is_listed_with_its_latest_report(page):
    from detector.config import Settings
    from detector.workspace import Workspace

    at = page
    at.text_input(key="change_periods").set_value("2023-2024").run()
    form_name = [t for t in at.text_input if t.label == "Name"][0]
    form_name.set_value("Scar valley")
    at.radio(key="change_watch_cadence").set_value("year")
    at = [b for b in at.button if b.label == "Save watch"][0].click().run()
    assert not at.exception and any("Saved the watch" in s.value for s in at.success), [e.value for e in at.error]
    ws = Workspace(Settings.from_env())
    w = ws.watches.get("Scar valley")
    assert w.preset == "AMW relaxed" and w.cadence == "year"
    ws.run_watch("Scar valley", "2024")
    at = at.run()
    table = at.dataframe[-1].value
    assert table["watch"].tolist() == ["Scar valley"] and table["latest period"].tolist() == ["2024"]
    assert table["new detections"].iloc[0] > 0


def test_trends_shows_the_sessions_run_and_names_its_measure(page):
    at = page.text_input(key="change_periods").set_value("2022-2024").run()
    at = at.button(key="change_run_button").click().run()
    assert not at.exception
    at.switch_page("app_pages/trends.py")
    at = at.run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert "patch footprint" in text and "Only the published layers give mined area" in text
    shown = [d.value for d in at.dataframe if "new_footprint_ha" in d.value.columns]
    assert shown and shown[-1]["label"].tolist() == ["2022", "2023", "2024"]


def test_detect_scores_a_quarter_and_names_it(mirror, monkeypatch, data_dir, tmp_path):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    folder, _, _ = write_three_years(tmp_path / "imagery")
    model = scar_model(tmp_path / "scar.h5")
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("app_pages/detect.py").run()
    at.radio(key="detect_imagery").set_value("path").run()
    at.text_input(key="detect_tif_path").set_value(str(folder)).run()
    at.selectbox(key="detect_model").set_value(detect_inputs.LOCAL_MODEL).run()
    at.text_input(key="detect_model_path").set_value(str(model)).run()
    at.session_state["detect_period_kind"] = "quarter"
    at = at.run()
    at.number_input(key="detect_year").set_value(2023).run()
    at = at.selectbox(key="detect_quarter").set_value(3).run()
    assert not at.error, [e.value for e in at.error]
    at = at.button(key="detect_run_button").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("2023 Q3" in m.value for m in at.markdown), "the result names its quarter"
    at = at.selectbox(key="detect_quarter").set_value(1).run()
    assert any("set the **Period**" in w.value for w in at.warning), "no scene of 2023 Q1 in the folder"
