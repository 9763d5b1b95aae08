"""Periods (years, quarters, date ranges), change over periods, and agreement with published polygons."""
from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from change_helpers import scar_model, write_three_years
from shapely.geometry import box

from detector import change, periods
from detector.errors import DetectorError

D = dt.date


def test_periods_are_written_and_read_as_trends_names_them():
    y, q, r = periods.parse("2023"), periods.parse("2025Q2"), periods.parse("2024-03-01..2024-06-30")
    assert (y.start, y.end, y.key, y.label, y.kind) == (D(2023, 1, 1), D(2024, 1, 1), "2023", "2023", "year")
    assert (q.start, q.end, q.key, q.label) == (D(2025, 4, 1), D(2025, 7, 1), "2025Q2", "2025 Q2")
    assert periods.parse("2025Q4").end == D(2026, 1, 1) and periods.parse("2025-q1") == periods.quarter(2025, 1)
    assert (r.start, r.end, r.key, r.kind) == (D(2024, 3, 1), D(2024, 7, 1), "2024-03-01_2024-06-30", "range")
    assert periods.parse(r.key) == r, "a key reads back as its period"
    assert periods.between("2024-01-01", "2024-03-31").kind == "quarter"  # a range that is a quarter is one
    assert y == 2023 and hash(y) == hash(2023) and int(y) == 2023 and {y: 1}[2023] == 1, "a year is its number"
    assert q != 2025 and str(q) == "2025Q2"
    with pytest.raises(TypeError):
        int(q)
    for bad in ("2025Q5", "23", "2024-02-30..2024-03-01", "spring"):
        with pytest.raises(DetectorError):
            periods.parse(bad)
    with pytest.raises(DetectorError, match="before the start"):
        periods.between("2024-05-01", "2024-04-01")


def test_period_lists_expand_in_order_and_refuse_overlaps():
    ps = periods.parse_many("2025Q2-2025Q3, 2019-2021,2024")
    assert [p.key for p in ps] == ["2019", "2020", "2021", "2024", "2025Q2", "2025Q3"]
    assert [p.key for p in periods.parse_many("2024Q3-2025Q1")] == ["2024Q3", "2024Q4", "2025Q1"]
    with pytest.raises(DetectorError, match="overlap"):
        periods.parse_many("2025,2025Q2")
    with pytest.raises(DetectorError, match="last year"):
        periods.parse_many("2024-2019")


def _frame(cells, score=0.9):
    rows, cols = zip(*cells) if cells else ((), ())
    return pd.DataFrame({"epsg": np.full(len(cells), 32719, np.int32), "row": np.array(rows, np.int64),
                         "col": np.array(cols, np.int64), "score": np.full(len(cells), score, np.float32)})


def test_new_since_is_what_no_earlier_period_kept_and_cumulative_is_the_union():
    p1, p2, p3 = periods.parse_many("2023-2025")
    a, b, c = [(-100, 10), (-100, 11)], [(-90, 40)], [(-80, 5), (-80, 6)]
    runs = change.layers([(p1, _frame(a)), (p2, _frame(a + b, 0.95)), (p3, _frame(b + c))])
    key = lambda f: sorted(zip(f["row"], f["col"]))
    assert [key(r.new) for r in runs] == [sorted(a), sorted(b), sorted(c)]
    assert [key(r.cumulative) for r in runs] == [sorted(a), sorted(a + b), sorted(a + b + c)]
    last = runs[-1].cumulative.set_index(["row", "col"])
    assert last.loc[(-100, 10), "first_period"] == "2023" and last.loc[(-90, 40), "first_period"] == "2024"
    assert last.loc[(-100, 10), "score"] == pytest.approx(0.95), "the highest score so far"
    t = change.table(runs, [1.0, 0.9, 0.2])
    assert t["new_patches"].tolist() == [2, 1, 2] and t["cumulative_patches"].tolist() == [2, 3, 5]
    assert t["low_imagery"].tolist() == [False, False, True]
    # Two side-by-side 480 m patches at 240 m stride: 720 × 480 m, measured in the equal-area projection.
    assert t.loc[0, "detected_footprint_ha"] == pytest.approx(34.56, rel=0.01)


def test_agreement_figures_equal_a_hand_computation():
    """Ours: a 2 × 1 block; published: a 1 × 2 block sharing one unit square (areas in EPSG:6933)."""
    to_ll = lambda g: gpd.GeoSeries([g], crs="EPSG:6933").to_crs("EPSG:4326")
    ours = to_ll(box(0, 0, 2000, 1000))
    published = to_ll(box(1000, 0, 2000, 2000))
    agree, shown = change.agreement(ours, published)
    assert agree.ours_ha == pytest.approx(200, rel=1e-6) and agree.published_ha == pytest.approx(200, rel=1e-6)
    assert agree.both_ha == pytest.approx(100, rel=1e-6)
    assert agree.published_covered == pytest.approx(0.5, rel=1e-6) and agree.ours_outside == pytest.approx(0.5, rel=1e-6)
    assert dict(zip(shown["agreement"], shown["area_ha"].round(3))) == {"agree": 100.0, "ours only": 100.0,
                                                                         "published only": 100.0}
    clipped, _ = change.agreement(ours, published, region=to_ll(box(0, 0, 1500, 1000)).iloc[0])
    assert clipped.ours_ha == pytest.approx(150, rel=1e-4) and clipped.both_ha == pytest.approx(50, rel=1e-4)
    none, shown = change.agreement(ours.iloc[:0], published)
    assert none.ours_ha == 0 and np.isnan(none.ours_outside) and none.published_covered == 0
    assert shown["agreement"].tolist() == ["published only"]


# ---------------------------------------------------------------- a run over several periods, end to end

def _touching(region, scars) -> set[tuple[int, int]]:
    """Grid patches of the region whose square shares area with any scar (by geometry, not by the model)."""
    import shapely
    from pyproj import Transformer
    from shapely.geometry import shape
    from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP

    from detector import grid

    t = Transformer.from_crs(SCENE_CRS, "EPSG:4326", always_xy=True)
    polys = [shapely.ops.transform(t.transform, box(SCENE_X0 + c0 * 10, SCENE_YTOP - r1 * 10, SCENE_X0 + c1 * 10,
                                                    SCENE_YTOP - r0 * 10)) for r0, c0, r1, c1 in scars]
    out = set()
    for zp in grid.patches_for_region(shape(region)):
        sq = grid.patch_polygons(zp.epsg, zp.rows, zp.cols)
        for r, c, g in zip(zp.rows, zp.cols, sq):
            if any(g.intersection(p).area > 1e-12 for p in polys):
                out.add((int(r), int(c)))
    return out


@pytest.fixture
def three_years(tmp_path):
    return write_three_years(tmp_path / "imagery")


def test_scars_appearing_later_are_exactly_the_new_patches_and_cumulative_is_their_union(
        tmp_path, data_dir, three_years):
    from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, lonlat_box

    from detector.config import Settings
    from detector.rule import Rule
    from detector.workspace import DetectRequest, Workspace

    folder, a, b = three_years
    model = scar_model(tmp_path / "scar.h5")
    region = lonlat_box(SCENE_CRS, SCENE_X0 + 300, SCENE_YTOP - 2700, SCENE_X0 + 2700, SCENE_YTOP - 300)
    ws = Workspace(Settings(data_dir=data_dir))
    req = DetectRequest(region, None, str(folder), str(model))
    seen = []
    outs = ws.change(req, periods.parse_many("2022-2024"), on_period=lambda i, n, p: seen.append((i, n, p.key)))
    assert seen == [(0, 3, "2022"), (1, 3, "2023"), (2, 3, "2024")]
    runs = change.layers(change.kept_by(outs, Rule(0.5)))
    cells = lambda f: {(int(r), int(c)) for r, c in zip(f["row"], f["col"])}
    want_a, want_b = _touching(region, [a]), _touching(region, [b])
    assert want_a and want_b and not (want_a & want_b)
    assert [cells(r.new) for r in runs] == [set(), want_a, want_b - want_a]
    assert [cells(r.cumulative) for r in runs] == [set(), want_a, want_a | want_b]
    assert all(o.summary.scored_now > 0 for o in outs)
    again = ws.change(req, periods.parse_many("2022-2024"))
    assert [o.summary.scored_now for o in again] == [0, 0, 0], "a re-run reads every period from the store"
    rec = ws.remember(outs[1].summary and ws.detect(DetectRequest(region, "2023", str(folder), str(model))).result,
                      outs[1].region, "test region", str(model), "files")
    assert rec.period == "2023" and rec.the_period == periods.year(2023)


def test_the_change_command_writes_every_period_new_and_cumulative(tmp_path, data_dir, three_years, capsys):
    import json

    from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, lonlat_box

    from detector.cli import main

    folder, _, _ = three_years
    model = scar_model(tmp_path / "scar.h5")
    region = tmp_path / "region.geojson"
    region.write_text(json.dumps(lonlat_box(SCENE_CRS, SCENE_X0 + 300, SCENE_YTOP - 2700, SCENE_X0 + 2700, SCENE_YTOP - 300)))
    out = tmp_path / "out"
    assert main(["change", "--region", str(region), "--periods", "2022-2024", "--source", str(folder),
                 "--model", str(model), "--threshold", "0.5", "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out / "periods.csv", dtype={"period": str})
    assert table["period"].tolist() == ["2022", "2023", "2024"]
    assert table["new_patches"].iloc[0] == 0 and table["new_patches"].iloc[1] > 0
    assert table["cumulative_patches"].iloc[2] == table["new_patches"].sum()
    new24 = gpd.read_file(out / "new_2024.geojson")
    assert len(new24) == table["new_patches"].iloc[2] and set(new24["period"]) == {"2024"}
    assert {"patch_id", "score"} <= set(new24.columns)
    assert main(["change", "--region", str(region), "--periods", "2022,2022Q3", "--source", str(folder),
                 "--model", str(model), "--out", str(out)]) == 2
    assert "overlap" in capsys.readouterr().err


def test_a_quarter_of_a_dated_image_is_scored_and_a_quarter_without_one_is_refused(tmp_path, data_dir, three_years):
    from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, lonlat_box

    from detector.config import Settings
    from detector.errors import ImageryError
    from detector.workspace import DetectRequest, Workspace

    folder, _, _ = three_years
    model = scar_model(tmp_path / "scar.h5")
    region = lonlat_box(SCENE_CRS, SCENE_X0 + 300, SCENE_YTOP - 2700, SCENE_X0 + 2700, SCENE_YTOP - 300)
    ws = Workspace(Settings(data_dir=data_dir))
    q3 = ws.detect(DetectRequest(region, "2023Q3", str(folder), str(model)))
    assert q3.summary.scored_now > 0 and str(q3.summary.year) == "2023Q3"
    assert set(q3.patches["period"]) == {"2023Q3"}
    with pytest.raises(ImageryError, match="2023 Q1"):
        ws.detect(DetectRequest(region, "2023Q1", str(folder), str(model)))
