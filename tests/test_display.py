"""Display layers: the compact encoding, simplification for a zoom, the facts of a clicked point."""
from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box

from detector import display
from ui.map import drawing


def _frame(geoms, periods, mined, crs="EPSG:4326"):
    return gpd.GeoDataFrame(
        {"period": pd.Categorical(periods, categories=["2018", "2019", "2020"], ordered=True),
         "mined_area_ha": mined, "footprint_ha": [10.0 * (i + 1) for i in range(len(geoms))]},
        geometry=list(geoms), crs=crs,
    )


def test_varints_round_trip_and_use_a_safe_alphabet():
    values = np.array([0, 1, 31, 32, 1023, 1024, 36_000_000, 2**31 - 1])
    text = display.encode_varints(values)
    assert np.array_equal(display.decode_varints(text), values)
    assert set(text) <= set(display.ALPHABET)
    assert not set(text) & set("_\\\"'<>&{}")
    assert display.encode_varints(np.array([5, 17])) == display.ALPHABET[5] + display.ALPHABET[17]  # one char under 32


def test_decoding_rejects_garbage():
    with pytest.raises(ValueError):
        display.decode_varints("ab_c")
    with pytest.raises(ValueError):
        display.decode_varints(display.ALPHABET[40])  # a "more follows" symbol at the end


def test_rings_round_trip_to_a_metre_without_closing_vertices():
    square = box(-70.123456, -12.654321, -70.1, -12.6)
    holed = Polygon([(-56, -6), (-55.9, -6), (-55.9, -5.9), (-56, -5.9)], [[(-55.97, -5.97), (-55.93, -5.97), (-55.93, -5.93)]])
    multi = MultiPolygon([box(-60, -3, -59.99, -2.99), box(-59.98, -3, -59.97, -2.99)])
    rings = display.decode_rings(display.encode_rings([square, holed, multi]))
    assert [len(r) for r in rings] == [4, 4, 3, 4, 4]  # exterior, exterior + hole, two parts; none closed
    expected = np.asarray(square.exterior.coords)[:-1]
    assert np.abs(rings[0] - expected).max() <= 0.5 / display.PRECISION + 1e-12


def test_degenerate_and_empty_input():
    assert display.encode_rings([]) == ""
    assert display.decode_rings("") == []
    sliver = Polygon([(0, 0), (1e-7, 0), (1e-7, 1e-7), (0, 1e-7)])  # collapses to one vertex at 1e-5°
    assert display.decode_rings(display.encode_rings([sliver, box(0, 0, 1, 1)]))[0].shape == (4, 2)
    assert display.encode_rings([Polygon()]) == ""


def test_points_round_trip():
    pts = [Point(-63.70780353, 3.11671623), Point(-62.90830532, 2.75932812), Point(10, -80)]
    back = display.decode_points(display.encode_points(pts))
    assert np.allclose(back, [[p.x, p.y] for p in pts], atol=1e-5)


def test_tolerance_and_simplification_follow_the_zoom():
    assert display.tolerance_m(0) == pytest.approx(156543.03, rel=1e-6)
    assert display.tolerance_m(10, pixels=2) == pytest.approx(2 * 156543.03 / 1024, rel=1e-6)
    wiggly = Polygon([(x / 1000, 0.001 * math.sin(x)) for x in range(1000)] + [(1, 1), (0, 1)])
    g = gpd.GeoSeries([wiggly], crs="EPSG:4326")
    coarse = display.simplify_for_zoom(g, 6).iloc[0]
    fine = display.simplify_for_zoom(g, 16).iloc[0]
    assert len(coarse.exterior.coords) < len(fine.exterior.coords) <= len(wiggly.exterior.coords)
    assert coarse.is_valid and not coarse.is_empty
    with pytest.raises(ValueError):
        display.simplify_for_zoom(gpd.GeoSeries([wiggly]), 6)


def test_region_join_and_facts_at_a_click():
    layers = _frame([box(0, 0, 1, 1), box(0.2, 0.2, 0.4, 0.4), box(5, 5, 6, 6), box(3.05, 0, 3.06, 0.01)],
                    ["2018", "2020", "2019", "2019"], [1.5, 2.5, 3.5, 0.1])
    countries = gpd.GeoDataFrame({"region_name": ["Aland", "Beland"]}, geometry=[box(-1, -1, 3, 3), box(4, 4, 7, 7)],
                                 crs="EPSG:4326")
    territories = gpd.GeoDataFrame({"region_name": ["T1", "T2"]}, geometry=[box(0.1, 0.1, 0.5, 0.5), box(0.1, 0.1, 0.6, 0.6)],
                                   crs="EPSG:4326")
    places = display.region_join(layers, countries, territories)
    assert list(places["country"]) == ["Aland", "Aland", "Beland", "Aland"]  # the last: nearest within 0.1°
    assert places["territory"].iloc[1] == "T1; T2" and places["territory"].iloc[2] == ""

    idx = display.FactsIndex(layers, places, ("2018", "2019", "2020"))
    top = idx.at(0.3, 0.3, "2020")  # both the 2018 and the 2020 polygon: the newer one is on top
    assert (top.period, top.is_new, top.mined_area_ha, top.territory) == ("2020", True, 2.5, "T1; T2")
    older = idx.at(0.3, 0.3, "2019")  # the 2020 polygon is not shown in 2019
    assert (older.period, older.is_new, older.mined_area_ha) == ("2018", False, 1.5)
    assert idx.at(5.5, 5.5, "2018") is None  # 2019 mining is not shown in 2018
    assert idx.at(2.0, 2.0, "2020") is None
    assert idx.at(1.001, 0.5, "2020", tolerance_deg=0.01).mined_area_ha == 1.5  # a click on the outline
    assert idx.at(0.3, 0.3, "1999") is None


def test_click_tolerance_shrinks_with_zoom_and_latitude():
    assert drawing.click_tolerance_deg(0, 10) == pytest.approx(4 * 360 / 256 / 1024)
    assert drawing.click_tolerance_deg(0, 12) < drawing.click_tolerance_deg(0, 10)
    assert drawing.click_tolerance_deg(60, 10) == pytest.approx(drawing.click_tolerance_deg(0, 10) / 2)


def test_drawn_shapes():
    rect = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
        [[-70.342712, -13.034662], [-70.342712, -12.990508], [-70.280914, -12.990508], [-70.280914, -13.034662],
         [-70.342712, -13.034662]]]}}
    g = drawing.drawn_geometry(rect)
    assert drawing.as_rectangle(g) == pytest.approx((-70.342712, -13.034662, -70.280914, -12.990508))
    tri = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 1], [0, 0]]]}
    assert drawing.as_rectangle(drawing.drawn_geometry(tri)) is None
    assert drawing.drawn_geometry(None) is None
    assert drawing.drawn_geometry({"type": "Point", "coordinates": [0, 0]}) is None
    assert drawing.drawn_geometry({"type": "Polygon", "coordinates": "nonsense"}) is None
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    assert drawing.drawn_geometry(bowtie).is_valid


def test_view_for_bounds():
    lat, lon, zoom = drawing.view_for_bounds((-73.0, -14.0, -68.0, -9.0), 900, 600)
    assert lon == pytest.approx(-70.5) and -12.0 < lat < -11.0
    assert zoom == 7  # 5° is 455 px wide at zoom 7, 910 px at 8
    assert drawing.view_for_bounds((0, 0, 1e-9, 1e-9))[2] == 14  # a point: the closest zoom allowed


def test_display_layers_of_the_published_data(mirror, monkeypatch):
    """All the real yearly layers fit in well under 2 MB, and decode to every polygon's rings."""
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    from detector import catalog, published

    layers = published.load_yearly_layers()
    shown = display.display_layers(layers, published.countries(), published.territories(),
                                   published.load_dataset("airstrips"), catalog.periods())
    assert shown.periods == catalog.periods() and sum(shown.polygon_counts) == len(layers)
    assert shown.size < 2_000_000
    n_rings = int(shapely.get_num_interior_rings(shapely.get_parts(layers.geometry.values)).sum()
                  + len(shapely.get_parts(layers.geometry.values)))
    decoded = sum(len(display.decode_rings(s)) for s in shown.mines)
    assert decoded >= 0.99 * n_rings  # only rings narrower than 1 m are dropped
    assert len(display.decode_points(shown.airstrips_mining)) + len(display.decode_points(shown.airstrips_other)) == 1269
