"""Thresholds, the isolation rule, dissolve and areas, checked against hand computations."""
import geopandas as gpd
import numpy as np
import pytest

from detector import grid, postprocess


def _patches(epsg, rows, cols, scores):
    rows, cols = np.asarray(rows), np.asarray(cols)
    return gpd.GeoDataFrame({"score": scores}, geometry=grid.patch_polygons(epsg, rows, cols), crs="EPSG:4326")


def test_dissolve_merges_overlapping_patches_and_measures_area():
    # a 3×3 block of patch positions (stride 240 m, patch 480 m): one 960 m square
    r, c = np.meshgrid(np.arange(-4000, -3997), np.arange(2500, 2503), indexing="ij")
    p = _patches(32718 - 100, r.ravel(), c.ravel(), np.linspace(0.5, 0.9, 9))
    poly = postprocess.dissolve(p)
    assert len(poly) == 1 and poly.patches.iloc[0] == 9
    # 960 m × 960 m = 92.16 ha; UTM scale distortion near the central meridian is < 0.1 %
    assert poly.footprint_ha.iloc[0] == pytest.approx(92.16, rel=2e-3)
    assert poly.max_score.iloc[0] == pytest.approx(0.9)


def test_dissolve_keeps_separate_clusters_apart():
    p = _patches(32618, [0, 0, 50], [0, 1, 50], [0.6, 0.7, 0.8])
    poly = postprocess.dissolve(p).sort_values("patches")
    assert list(poly.patches) == [1, 2]


def test_dual_threshold_needs_t_iso_for_isolated_patches():
    # a cluster of 6 patches and one lone patch 20 km away
    rows = [0, 0, 0, 1, 1, 1, 100]
    cols = [0, 1, 2, 0, 1, 2, 0]
    scores = [0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.7]
    p = _patches(32618, rows, cols, scores)
    kept = postprocess.dual_threshold(p, t_main=0.5, t_iso=0.75, k=5, d_km=3.0)
    assert len(kept) == 6  # the lone 0.7 is dropped
    p.loc[6, "score"] = 0.8
    assert len(postprocess.dual_threshold(p, 0.5, 0.75, 5, 3.0)) == 7  # reaches t_iso
    # with k larger than the cluster, every patch is isolated and only those ≥ t_iso stay
    assert len(postprocess.dual_threshold(p, 0.5, 0.75, 10, 3.0)) == 1


def test_kth_neighbour_distance_is_great_circle():
    lon = np.array([0.0, 0.0, 0.0])
    lat = np.array([0.0, 1.0, 2.0])
    d = postprocess.kth_neighbour_km(lon, lat, 1)
    assert d == pytest.approx([111.195, 111.195, 111.195], rel=1e-3)
    assert np.isinf(postprocess.kth_neighbour_km(lon, lat, 3)).all()


def test_grid_is_fixed_in_space():
    # the same point gives the same patch ids whatever region contains it
    small = {"type": "Polygon", "coordinates": [[[-75.01, -9.01], [-75.0, -9.01], [-75.0, -9.0], [-75.01, -9.0], [-75.01, -9.01]]]}
    from detector.region import geometry_from_geojson

    a = grid.tiles_for_region(geometry_from_geojson(small))
    big = geometry_from_geojson(small).buffer(0.02)
    b = grid.tiles_for_region(big)
    ids = lambda t: {grid.patch_id(k.epsg, r, c) for k, (rr, cc) in t.items() for r, c in zip(rr, cc)}
    assert ids(a) < ids(b)
    for tile, (rows, cols) in b.items():
        assert ((rows // grid.TILE) == tile.trow).all() and ((cols // grid.TILE) == tile.tcol).all()
