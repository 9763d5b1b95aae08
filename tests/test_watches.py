"""Watches: saved regions whose newest complete period is scored and reported (GeoJSON, CSV, HTML)."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from change_helpers import scar_model, write_three_years
from shapely.geometry import shape
from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, lonlat_box

from detector import periods, watch_report, watches
from detector.config import Settings
from detector.errors import DetectorError
from detector.workspace import Workspace

REGION = lonlat_box(SCENE_CRS, SCENE_X0 + 300, SCENE_YTOP - 2700, SCENE_X0 + 2700, SCENE_YTOP - 300)


def test_the_newest_complete_period_is_the_last_one_that_ended():
    assert watches.newest_complete("quarter", dt.date(2026, 12, 1)).key == "2026Q3"
    assert watches.newest_complete("quarter", dt.date(2026, 2, 10)).key == "2025Q4"
    assert watches.newest_complete("year", dt.date(2026, 12, 1)).key == "2025"
    assert watches.previous(periods.parse("2025Q1")).key == "2024Q4"
    with pytest.raises(DetectorError):
        watches.previous(periods.parse("2024-01-05..2024-02-01"))


@pytest.fixture
def watched(tmp_path, data_dir):
    folder, _, _ = write_three_years(tmp_path / "imagery")
    model = scar_model(tmp_path / "scar.h5")
    ws = Workspace(Settings(data_dir=data_dir))
    ws.watches.save(watches.watch_of("Scar valley", shape(REGION), str(folder), str(model), "AMW relaxed", "year"))
    return ws


def test_a_watch_reports_what_is_new_and_a_second_run_writes_the_same_and_computes_nothing(watched):
    first = watched.run_watch("Scar valley", "2024")
    files = {p.name: p.read_bytes() for p in first.folder.iterdir()}
    assert set(files) == {"new.geojson", "new.csv", "summary.json", "report.html"}
    assert first.computed > 0 and first.figures["previous"] == "2023"
    new = pd.read_csv(first.folder / "new.csv")
    assert len(new) == first.figures["new_patches"] > 0 and (new["period"] == 2024).all()
    html = files["report.html"].decode()
    assert "new detections" in html and "data:image/png;base64," in html and "/tmp" not in html
    again = watched.run_watch("Scar valley", "2024")
    assert again.computed == 0, "the second run reads every score from the store"
    assert {p.name: p.read_bytes() for p in again.folder.iterdir()} == files, "the same report, byte for byte"
    latest = watched.watches.latest_report(watched.watches.get("Scar valley"))
    assert latest["period"] == "2024" and latest["new_patches"] == first.figures["new_patches"]


def test_a_period_with_little_clear_imagery_says_so_instead_of_no_new_mining():
    figures = {"watch": "w", "region": "r", "label": "2025 Q2", "previous": "2025Q1", "rule": "score ≥ 0.43",
               "model": "m", "new_patches": 0, "new_footprint_ha": 0.0, "imagery_share": 0.2, "low_imagery": True}
    text = watch_report._html(figures, b"x", b"y", pd.DataFrame(columns=["patch_id", "score", "lat", "lon"]))
    assert "Too little clear imagery" in text and "No new detections" not in text


def test_watch_commands(tmp_path, data_dir, capsys):
    from detector.cli import main

    folder, _, _ = write_three_years(tmp_path / "imagery")
    model = scar_model(tmp_path / "scar.h5")
    region = tmp_path / "valley.geojson"
    region.write_text(json.dumps(REGION))
    assert main(["watch", "add", "--name", "valley", "--region", str(region), "--source", str(folder),
                 "--model", str(model), "--cadence", "year"]) == 0
    assert main(["watch", "run", "--period", "2024"]) == 0
    out = capsys.readouterr().out
    assert "valley: 2024:" in out and "new detections" in out
    assert main(["watch", "list"]) == 0 and "2024:" in capsys.readouterr().out
    assert main(["watch", "add", "--name", "x", "--region", str(region), "--preset", "nope"]) == 2
