"""The detector from region to scores, on synthetic GeoTIFFs with a tiny model."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, lonlat_box, write_geotiff

from detector import grid
from detector.errors import ImageryError, RegionError
from detector.pipeline import Detector
from detector.sources import open_source


def test_scores_every_patch_of_the_region_once(scene, scene_region, tiny_model):
    res = Detector(tiny_model).run(scene_region, 2023, open_source(str(scene)))
    p = res.patches
    assert p["patch_id"].is_unique
    # 1.5 km square, patches of 480 m at 240 m stride: 8 or 9 positions a side depending on alignment
    assert 64 <= len(p) <= 81
    assert p["score"].between(0, 1).all()
    assert res.member_columns == ["member_0", "member_1", "member_2"]
    np.testing.assert_allclose(p[res.member_columns].mean(axis=1), p["score"], atol=1e-6)
    assert res.summary.scored_now == len(p) and res.summary.from_store == 0


def test_second_run_is_served_from_the_store_without_loading_the_model(scene, scene_region, tiny_model):
    first = Detector(tiny_model).run(scene_region, 2023, open_source(str(scene)))
    again = Detector(tiny_model)
    second = again.run(scene_region, 2023, open_source(str(scene)))
    assert second.summary.scored_now == 0
    assert second.summary.from_store == len(first.patches)
    assert again._scorer is None  # never loaded
    a = first.patches.set_index("patch_id")["score"]
    b = second.patches.set_index("patch_id")["score"]
    np.testing.assert_array_equal(a.sort_index(), b.sort_index())


def test_overlapping_region_computes_only_new_patches(scene, scene_region, tiny_model):
    det = Detector(tiny_model)
    first = det.run(scene_region, 2023, open_source(str(scene)))
    x0, y1 = SCENE_X0 + 700 + 720, SCENE_YTOP - 700
    shifted = lonlat_box(SCENE_CRS, x0, y1 - 1500, x0 + 1500, y1)
    second = det.run(shifted, 2023, open_source(str(scene)))
    overlap = set(first.patches.patch_id) & set(second.patches.patch_id)
    assert overlap and second.summary.from_store == len(overlap)
    assert second.summary.scored_now == len(second.patches) - len(overlap)
    assert det.scorer.patches_scored == len(set(first.patches.patch_id) | set(second.patches.patch_id))


def test_patch_polygons_line_up_with_raster_pixels(scene, scene_region, tiny_model):
    p = Detector(tiny_model).run(scene_region, 2023, open_source(str(scene))).patches
    to_utm = Transformer.from_crs("EPSG:4326", SCENE_CRS, always_xy=True)
    for geom in p.geometry:
        x, y = to_utm.transform(*np.array(geom.exterior.coords).T)
        # every corner lies on the 10 m pixel lattice of the GeoTIFF, within 1 m
        assert np.abs((x - SCENE_X0) / 10 - np.round((x - SCENE_X0) / 10)).max() * 10 < 1
        assert np.abs((SCENE_YTOP - y) / 10 - np.round((SCENE_YTOP - y) / 10)).max() * 10 < 1
        assert abs((x.max() - x.min()) - 480) < 1 and abs((y.max() - y.min()) - 480) < 1


def test_region_across_two_utm_zones(tmp_path, tiny_model):
    # lon −72° is the border of zones 18 and 19; the scene is in zone 18's CRS and spans it.
    xb, yb = Transformer.from_crs("EPSG:4326", SCENE_CRS, always_xy=True).transform(-72.0, -10.0)
    x0, ytop = round(xb / 10) * 10 - 3000, round(yb / 10) * 10 + 1500
    tif = write_geotiff(tmp_path / "border.tif", SCENE_CRS, x0, ytop, 600, 300)
    region = lonlat_box(SCENE_CRS, x0 + 1000, ytop - 2500, x0 + 5000, ytop - 500)
    res = Detector(tiny_model).run(region, 2023, open_source(str(tif)))
    epsgs = set(res.patches["epsg"])
    assert epsgs == {32618, 32619}
    assert res.patches["patch_id"].is_unique
    assert res.patches["score"].notna().all()
    # each zone's patches lie on their own side of the border (centres within one patch of it)
    lon, _ = grid.patch_centers_lonlat(32619, res.patches.query("epsg == 32619")["row"], res.patches.query("epsg == 32619")["col"])
    assert (np.asarray(lon) > -72.0 - 0.005).all()


def test_partial_coverage_scores_what_is_covered_and_reports_the_rest(scene, tiny_model):
    # half the region lies east of the scene
    region = lonlat_box(SCENE_CRS, SCENE_X0 + 2000, SCENE_YTOP - 2000, SCENE_X0 + 4000, SCENE_YTOP - 1000)
    res = Detector(tiny_model).run(region, 2023, open_source(str(scene)))
    assert res.summary.patches > 0 and res.summary.not_covered > 0
    assert res.patches["score"].notna().all()


def test_geotiff_outside_the_region_is_refused_before_any_work(scene, tiny_model, data_dir):
    far = lonlat_box(SCENE_CRS, SCENE_X0 + 50_000, SCENE_YTOP - 3000, SCENE_X0 + 52_000, SCENE_YTOP - 1000)
    with pytest.raises(ImageryError, match="does not overlap the region"):
        Detector(tiny_model).run(far, 2023, open_source(str(scene)))
    assert not (data_dir / "scores").exists()


def test_geotiff_missing_bands_is_named(tmp_path, scene_region, tiny_model):
    bands = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B12"]  # no B8A, no B11
    tif = write_geotiff(tmp_path / "few.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, 300, 300, bands=bands)
    with pytest.raises(ImageryError, match=r"lacks the band\(s\) B8A, B11"):
        Detector(tiny_model).run(scene_region, 2023, open_source(str(tif)))


def test_geotiff_without_band_names_needs_an_order(tmp_path, scene_region, tiny_model):
    tif = write_geotiff(tmp_path / "anon.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, 300, 300, descriptions=False)
    with pytest.raises(ImageryError, match="does not name its bands"):
        open_source(str(tif))
    res = Detector(tiny_model).run(scene_region, 2023, open_source(str(tif), bands=[
        "B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8A", "B8", "B9", "B10", "B11", "B12"]))
    assert len(res.patches) > 0


def test_reprojected_geotiff_gives_close_scores(tmp_path, scene, scene_region, tiny_model):
    """The same pixels in another CRS (southern EPSG of the zone) are read exactly."""
    with rasterio.open(scene) as src:
        prof, data, desc = src.profile, src.read(), src.descriptions
    prof.update(crs="EPSG:32618", transform=rasterio.transform.from_origin(SCENE_X0, SCENE_YTOP - 10_000_000, 10, 10))
    north = tmp_path / "north.tif"
    with rasterio.open(north, "w", **prof) as dst:
        dst.write(data)
        dst.descriptions = desc
    a = Detector(tiny_model).run(scene_region, 2023, open_source(str(scene))).patches
    b = Detector(tiny_model).run(scene_region, 2023, open_source(str(north))).patches
    np.testing.assert_allclose(a.sort_values("patch_id").score, b.sort_values("patch_id").score, atol=1e-6)


def test_region_errors():
    det_region = {"type": "Polygon", "coordinates": [[[179.5, 0], [-179.5, 0], [-179.5, 1], [179.5, 1], [179.5, 0]]]}
    from detector.region import load_region

    with pytest.raises(RegionError, match="antimeridian"):
        load_region(det_region)
    with pytest.raises(RegionError, match="no polygon"):
        load_region({"type": "FeatureCollection", "features": []})
    with pytest.raises(RegionError, match="no polygon|zero area"):
        load_region({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]})
    with pytest.raises(RegionError, match="not valid GeoJSON"):
        load_region('{"type": "Polygon", "coordinates": [[[0, 0], [1, 1]')
    with pytest.raises(RegionError, match=r"on-demand limit.*--max-area"):
        load_region({"type": "Polygon", "coordinates": [[[-70, -10], [-69, -10], [-69, -9], [-70, -9], [-70, -10]]]})


def test_earth_engine_tiles_are_fetched_once_for_every_model(tmp_path, scene_region, tiny_model, data_dir, monkeypatch):
    """The pipeline over a fake Earth Engine: pixels are cached, a second model fetches nothing."""
    import fake_ee
    import tf_keras as K

    from detector.sources.earthengine import S2_BANDS, EarthEngineSource

    # No clear look in the tile raster's top 400 rows: those patches must be reported, not scored.
    monkeypatch.setattr(fake_ee, "is_masked", lambda rows, cols: rows < 400)
    fake = fake_ee.FakeEE()
    first = Detector(tiny_model).run(scene_region, 2022, EarthEngineSource(ee_module=fake, project="p"))
    tiles = first.summary.tiles
    assert len(fake.requests) == tiles
    assert fake.requests[0]["bandIds"] == list(S2_BANDS)  # the cache keeps all 13 bands
    assert len(list((data_dir / "pixels").rglob("*.npz"))) == tiles
    assert first.summary.patches > 0 and first.summary.not_covered > 0
    assert first.patches["score"].between(0, 1).all()

    other = tmp_path / "other.h5"
    K.Sequential([K.layers.Input((48, 48, 12)), K.layers.Flatten(), K.layers.Dense(1, activation="sigmoid")]).save(other)
    second = Detector(other).run(scene_region, 2022, EarthEngineSource(ee_module=fake, project="p"))
    assert len(fake.requests) == tiles  # served from the pixel cache
    assert set(second.patches.patch_id) == set(first.patches.patch_id)


def test_tile_borders_lose_and_duplicate_nothing(tmp_path, tiny_model):
    """A region across a tile border: every grid patch once, each scored from its own window."""
    import tf_keras
    from rasterio.windows import Window

    from detector.region import geometry_from_geojson

    border_x = 79 * grid.TILE * grid.STRIDE_M  # 606,720 m: a tile column border in zone 18
    x0 = border_x - 1720
    tif = write_geotiff(tmp_path / "edge.tif", SCENE_CRS, x0, SCENE_YTOP, 300, 200, seed=3)
    region = lonlat_box(SCENE_CRS, x0 + 500, SCENE_YTOP - 1500, x0 + 2500, SCENE_YTOP - 300)
    res = Detector(tiny_model).run(region, 2023, open_source(str(tif)))
    assert res.summary.tiles == 2
    expected = {grid.patch_id(zp.epsg, r, c) for zp in grid.patches_for_region(geometry_from_geojson(region))
                for r, c in zip(zp.rows, zp.cols)}
    assert set(res.patches.patch_id) <= expected and res.patches.patch_id.is_unique
    assert len(expected) - len(res.patches) == res.summary.not_covered  # patches past the image's top edge
    assert res.patches.col.min() < border_x / grid.STRIDE_M - 1 < res.patches.col.max()
    partial = res.patches[res.patches.valid_fraction < 1]
    assert len(partial) == res.summary.partly_covered > 0, "patches on the image's edge are scored, counted"
    whole = res.patches[res.patches.valid_fraction == 1]
    net = tf_keras.models.load_model(tiny_model, compile=False)
    with rasterio.open(tif) as src:
        order = [list(src.descriptions).index(b) + 1 for b in
                 ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8A", "B8", "B9", "B11", "B12"]]
        wins = []
        for row, col in zip(whole.row, whole.col):
            ytop = row * grid.STRIDE_M + grid.PATCH_M + 10_000_000
            wins.append(src.read(order, window=Window((col * grid.STRIDE_M - x0) / 10, (SCENE_YTOP - ytop) / 10, 48, 48)))
    x = np.clip(np.moveaxis(np.stack(wins), 1, -1) / 10000.0, 0, 1).astype(np.float32)
    np.testing.assert_allclose(whole.score, net(x).numpy().mean(axis=1), atol=1e-6)


def test_scoring_from_the_tile_raster_is_bit_identical_to_scoring_windows(scene, scene_region, mirror):
    """The model input is made once per tile (scaling and indices are per pixel), windows cut from it a
    batch at a time: the very same numbers as the windows made input one by one."""
    from shapely.geometry import shape

    from detector import grid, indices
    from detector.pipeline import filled, patch_windows
    from detector.sources.local import LocalSource

    det = Detector("48px_v3.2-3.7ensemble")
    tile, (rows, cols) = next(iter(grid.tiles_for_region(shape(scene_region)).items()))
    tp = LocalSource(scene).read(tile, det.spec.bands, 2023)
    dn = filled(tp, det.spec.bands)
    raster = indices.model_input(dn, det.spec.bands)
    cut = det.scorer.score_cut(lambda i, j: patch_windows(raster, tile, rows[i:j], cols[i:j]), len(rows))
    whole = det.scorer.score(patch_windows(dn, tile, rows, cols))
    assert cut.std() > 0.05 and np.array_equal(cut, whole)
    names = ["ndvi", "mndwi", "bsi"]
    a = patch_windows(indices.model_input(dn, det.spec.bands, names), tile, rows, cols)
    b = indices.model_input(patch_windows(dn, tile, rows, cols), det.spec.bands, names)
    assert a.flags["C_CONTIGUOUS"] and np.array_equal(a, b), "index channels too are per pixel"
