"""Sentinel-2 products (.SAFE folders and zips) and one-file-per-band folders, read without Earth Engine.

Products are synthetic but laid out exactly as the Data Space delivers them (tests/s2_products.py);
every reader must give the same harmonized digital numbers, and the same scores, as the stacked
GeoTIFF and the Earth Engine path on the same pixels.
"""
from __future__ import annotations

import zipfile

import numpy as np
import pytest
import rasterio
from s2_products import BANDS_13, NATIVE_M, cloud_mask_10m, truth, write_product
from synthetic import SCENE_CRS, SCENE_PX, SCENE_X0, SCENE_YTOP, SHUFFLED, write_geotiff

from detector import grid
from detector.errors import ImageryError
from detector.pipeline import Detector
from detector.sources import open_source
from detector.sources.local import LocalSource

BANDS_12 = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8A", "B8", "B9", "B11", "B12"]


@pytest.fixture
def scene_truth(tmp_path):
    tif = write_geotiff(tmp_path / "src.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, SCENE_PX, SCENE_PX, bands=SHUFFLED)
    return truth(tif)


@pytest.fixture
def clouds():
    c = np.zeros((SCENE_PX // 6, SCENE_PX // 6), bool)
    c[10:14, 20:26] = True
    c[40, 5] = True
    return c


def _tile_and_offset():
    """The grid tile holding the scene's middle, and the scene's (row, col) offset in it."""
    region = grid.region_covers(_region_geom())
    tile = region[0].tile
    x_tile0, y_tile0 = tile.transform.c, tile.transform.f
    col = int(round((SCENE_X0 - x_tile0) / 10))
    row = int(round((y_tile0 - (SCENE_YTOP - 10_000_000.0)) / 10))
    return tile, row, col


def _region_geom():
    from shapely.geometry import shape
    from synthetic import lonlat_box

    x0, y1 = SCENE_X0 + 700, SCENE_YTOP - 700
    return shape(lonlat_box(SCENE_CRS, x0, y1 - 1500, x0 + 1500, y1))


def _in_tile(source, bands):
    tile, row, col = _tile_and_offset()
    tp = source.read(tile, bands, 2023)
    assert 0 <= row and 0 <= col and row + SCENE_PX <= grid.TILE_PX and col + SCENE_PX <= grid.TILE_PX
    return tp.pixels[row : row + SCENE_PX, col : col + SCENE_PX], tp.valid[row : row + SCENE_PX, col : col + SCENE_PX]


# -- one product --------------------------------------------------------------------------------


@pytest.mark.parametrize("as_zip", [False, True], ids=["SAFE folder", "zip"])
def test_an_l1c_product_reads_as_the_harmonized_numbers_with_its_cloud_mask(scene_truth, clouds, tmp_path, as_zip):
    data, profile = scene_truth
    product = write_product(tmp_path, data, profile, clouds60=clouds, as_zip=as_zip)
    src = open_source(str(product))
    assert isinstance(src, LocalSource) and src.composite == "median" and src.cacheable
    assert src.years == (2023,) and src.levels == ("L1C",)
    assert any("offset (-1000) removed" in n for n in src.notes)
    assert set(src.cache_bands) == set(BANDS_13)
    pixels, valid = _in_tile(src, list(BANDS_13))
    hidden = cloud_mask_10m(clouds)
    assert (valid == ~hidden).all(), "the product's opaque-cloud mask hides exactly its 60 m cells"
    expect = np.moveaxis(data, 0, -1).astype(np.float32)
    assert np.array_equal(pixels[valid], expect[valid]), "20 m and 60 m bands repeated onto the 10 m grid, offset removed"


def test_a_pre_2022_product_uses_its_gml_cloud_mask_and_no_offset(scene_truth, clouds, tmp_path):
    data, profile = scene_truth
    product = write_product(tmp_path, data, profile, date="2021-08-02", baseline="03.01", clouds60=clouds)
    src = LocalSource(product)
    assert src.years == (2021,) and not any("offset" in n for n in src.notes)
    tile, row, col = _tile_and_offset()
    tp = src.read(tile, BANDS_12, 2021)
    valid = tp.valid[row : row + SCENE_PX, col : col + SCENE_PX]
    assert (valid == ~cloud_mask_10m(clouds)).all()
    expect = np.moveaxis(data, 0, -1)[..., [BANDS_13.index(b) for b in BANDS_12]]
    assert np.array_equal(tp.pixels[row : row + SCENE_PX, col : col + SCENE_PX][valid], expect[valid])


def test_an_l2a_product_is_read_and_flagged(scene_truth, tmp_path):
    data, profile = scene_truth
    product = write_product(tmp_path, data, profile, level="2A")
    src = LocalSource(product)
    assert src.levels == ("L2A",)
    assert any("surface reflectance (Sentinel-2 L2A)" in n for n in src.notes)
    pixels, valid = _in_tile(src, BANDS_12)
    assert valid.all()
    assert np.array_equal(pixels, np.moveaxis(data, 0, -1)[..., [BANDS_13.index(b) for b in BANDS_12]])
    with pytest.raises(ImageryError, match="lacks the band.*B10"):
        src.check(_region_geom(), list(BANDS_13), 2023)


# -- several products: the period's median --------------------------------------------------------


def test_products_of_a_period_become_the_median_of_their_clear_looks(scene_truth, tmp_path):
    data, profile = scene_truth
    rng = np.random.default_rng(5)
    looks, masks = [], []
    for i, date in enumerate(["2023-03-02", "2023-07-15", "2023-09-30", "2023-11-04"]):
        shift = rng.integers(-300, 300, size=data.shape[0])[:, None, None]
        look = np.clip(data.astype(int) + shift, 1, 12000).astype(np.uint16)
        look = _coarse_consistent(look)
        c = rng.random((SCENE_PX // 6, SCENE_PX // 6)) < 0.3
        write_product(tmp_path / "period", look, profile, date=date, clouds60=c, tile_id=f"T18LX{i}")
        looks.append(look)
        masks.append(cloud_mask_10m(c))
    write_product(tmp_path / "period", data, profile, date="2022-12-30", tile_id="T18LXZ")  # another year: left out
    src = LocalSource(tmp_path / "period")
    assert src.years == (2022, 2023)
    pixels, valid = _in_tile(src, list(BANDS_13))
    stack = np.stack([np.where(m[None], np.nan, lk.astype(float)) for lk, m in zip(looks, masks)])
    expect = np.nanmedian(stack, axis=0)
    seen = ~np.all(np.stack(masks), axis=0)
    assert (valid == seen).all()
    assert np.allclose(pixels[valid], np.moveaxis(expect, 0, -1)[valid], atol=1e-3)
    with pytest.raises(ImageryError, match=r"dates it 2022-12-30, 2023-03-02.*not 2024"):
        src.check(_region_geom(), BANDS_12, 2024)


def _coarse_consistent(look):
    out = look.copy()
    for i, b in enumerate(BANDS_13):
        k = NATIVE_M[b] // 10
        out[i] = np.repeat(np.repeat(look[i][::k, ::k], k, 0), k, 1)
    return out


# -- the same pixels, three ways: scores agree -------------------------------------------------------


def test_product_stacked_geotiff_and_earth_engine_give_the_same_scores(scene_truth, clouds, mirror, tmp_path):
    from fake_ee import FakeEE

    from detector.sources.earthengine import EarthEngineSource

    data, profile = scene_truth
    hidden = cloud_mask_10m(clouds)
    product = write_product(tmp_path, data, profile, clouds60=clouds)
    stacked = tmp_path / "stacked.tif"
    with rasterio.open(stacked, "w", **{**profile, "count": 13, "nodata": 0}) as dst:
        dst.write(np.where(hidden[None], 0, data))
        for i, b in enumerate(BANDS_13, start=1):
            dst.set_band_description(i, b)

    def serve(request):  # Earth Engine's answer on the request's own grid, from the same pixels
        g = request["grid"]
        t, h, w = g["affineTransform"], g["dimensions"]["height"], g["dimensions"]["width"]
        col0 = int(round((SCENE_X0 - t["translateX"]) / 10))
        row0 = int(round((t["translateY"] - (SCENE_YTOP - 10_000_000.0)) / 10))
        out = np.zeros((h, w), dtype=[(b, "<f4") for b in request["bandIds"]])
        for b in request["bandIds"]:
            full = np.zeros((h, w), np.float32)
            full[row0 : row0 + SCENE_PX, col0 : col0 + SCENE_PX] = np.where(hidden, 0, data[BANDS_13.index(b)])
            out[b] = full
        return out

    ee = EarthEngineSource(ee_module=FakeEE(serve=serve), project="p")
    region = _region_geom()
    det = Detector("48px_v3.7")
    runs = [det.run(region, 2023, s).patches.set_index("patch_id").sort_index()
            for s in (LocalSource(product), LocalSource(stacked), ee)]
    scored = runs  # the covered patches; partly clouded ones among them, scored the same way
    assert len(scored[0]) > 10 and all(s.index.equals(scored[0].index) for s in scored)
    assert scored[0]["score"].std() > 1e-3, "scores must vary, or agreement proves nothing"
    for name, other in zip(("stacked GeoTIFF", "Earth Engine"), scored[1:]):
        diff = np.abs(other["score"].to_numpy() - scored[0]["score"].to_numpy()).max()
        print(f"product vs {name}: {len(other)} patches, max score difference {diff:.2e}")
        assert diff <= 1e-5


# -- one file per band -------------------------------------------------------------------------------


def test_a_folder_of_one_file_per_band_scores_as_the_stacked_file(scene_truth, tiny_model, tmp_path):
    data, profile = scene_truth
    folder = tmp_path / "IMG_DATA"
    folder.mkdir()
    t = profile["transform"]
    for i, b in enumerate(BANDS_13):
        k = NATIVE_M[b] // 10
        name = f"S2B_MSIL1C_20230715T140711_{b[0]}{b[1:].zfill(2) if b[1:].isdigit() else b[1:]}_{NATIVE_M[b]}m.tif"
        with rasterio.open(folder / name, "w", driver="GTiff", width=SCENE_PX // k, height=SCENE_PX // k, count=1,
                           dtype="uint16", crs=profile["crs"],
                           transform=rasterio.transform.from_origin(t.c, t.f, 10 * k, 10 * k)) as dst:
            dst.write(data[i][::k, ::k][None])
    src = LocalSource(folder)
    assert len(src.scenes) == 1 and set(src.scenes[0].bands) == set(BANDS_13) and src.years == (2023,)
    pixels, valid = _in_tile(src, list(BANDS_13))
    assert valid.all() and np.array_equal(pixels, np.moveaxis(data, 0, -1).astype(np.float32))
    stacked = tmp_path / "stacked.tif"
    with rasterio.open(stacked, "w", **{**profile, "count": 13}) as dst:
        dst.write(data)
        for i, b in enumerate(BANDS_13, start=1):
            dst.set_band_description(i, b)
    a = Detector(tiny_model).run(_region_geom(), 2023, src).patches.sort_values("patch_id")
    b = Detector(tiny_model).run(_region_geom(), 2023, LocalSource(stacked)).patches.sort_values("patch_id")
    assert np.array_equal(a["score"].to_numpy(), b["score"].to_numpy())


def test_two_files_for_one_band_are_refused(scene_truth, tmp_path):
    data, profile = scene_truth
    for name in ("x_B02.tif", "x_B02_10m.tif"):
        with rasterio.open(tmp_path / name, "w", **{**profile, "count": 1}) as dst:
            dst.write(data[1][None])
    with pytest.raises(ImageryError, match="are both band B2 of the same scene"):
        LocalSource(tmp_path)


# -- every unreadable form says what to do -------------------------------------------------------------


def test_unreadable_products_say_what_is_wrong(scene_truth, tmp_path):
    data, profile = scene_truth
    empty = tmp_path / "holiday.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("photo.txt", "not imagery")
    with pytest.raises(ImageryError, match="not a Sentinel-2 product: it has no MTD_MSIL1C.xml"):
        LocalSource(empty)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(ImageryError, match="not a readable zip"):
        LocalSource(cut)
    product = write_product(tmp_path / "p", data, profile)
    band = next(product.rglob("*_B02.jp2"))
    with pytest.raises(ImageryError, match="one band of a Sentinel-2 product"):
        LocalSource(band)
    mtd = product / "MTD_MSIL1C.xml"
    text = mtd.read_text()
    mtd.write_text(text.split("<Radiometric_Offset_List>")[0] + text.split("</Radiometric_Offset_List>")[1])
    with pytest.raises(ImageryError, match="baseline 05.09 but its metadata lists no radiometric offset"):
        LocalSource(product)
    mtd.write_text("<broken")
    with pytest.raises(ImageryError, match="is not valid XML"):
        LocalSource(product)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_product(mixed, data, profile)
    write_geotiff(mixed / "a.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, 60, 60)
    with pytest.raises(ImageryError, match="holds both Sentinel-2 products"):
        LocalSource(mixed)


def test_a_damaged_band_file_is_reported_when_read(scene_truth, tmp_path):
    data, profile = scene_truth
    product = write_product(tmp_path, data, profile)
    band = next(product.rglob("*_B04.jp2"))
    band.write_bytes(band.read_bytes()[: band.stat().st_size // 3])
    src = LocalSource(product)
    tile, _, _ = _tile_and_offset()
    with pytest.raises(ImageryError, match="could not be read for tile .*damaged or cut short"):
        src.read(tile, BANDS_12, 2023)


# -- from the command line and the Detect page ------------------------------------------------------


def test_cli_scores_a_product_zip_without_a_year_and_says_what_it_did(scene_truth, tiny_model, tmp_path, capsys):
    import json

    from shapely.geometry import mapping

    from detector.cli import main

    data, profile = scene_truth
    product = write_product(tmp_path, data, profile, as_zip=True)
    region = tmp_path / "region.geojson"
    region.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": mapping(_region_geom())}))
    out = tmp_path / "out.geojson"
    rc = main(["detect", "--region", str(region), "--source", str(product), "--model", str(tiny_model),
               "--out", str(out), "--all", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "note: S2B_MSIL1C_20230715T140711" in err and "offset (-1000) removed" in err
    feats = json.loads(out.read_text())["features"]
    assert len(feats) > 10 and {f["properties"]["year"] for f in feats} == {2023}
    rc = main(["detect", "--region", str(region), "--source", str(product), "--year", "2021", "--model",
               str(tiny_model), "--out", str(out), "--quiet"])
    assert rc != 0 and "dates it 2023-07-15 (year 2023), not 2021" in capsys.readouterr().err


@pytest.mark.app
def test_detect_page_takes_a_product_folder_and_flags_l2a(scene_truth, tmp_path, mirror, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    monkeypatch.setenv("DETECTOR_DATA_DIR", str(tmp_path / "data"))
    data, profile = scene_truth
    l1c = write_product(tmp_path / "l1c", data, profile)
    l2a = write_product(tmp_path / "l2a", data, profile, level="2A")
    from pathlib import Path

    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60)
    at.switch_page("app_pages/detect.py")
    at.run()
    at.radio(key="detect_imagery").set_value("path").run()
    at.number_input(key="detect_year").set_value(2023).run()
    at = at.text_input(key="detect_tif_path").set_value(str(l1c)).run()
    assert not at.exception and not at.error
    assert any("offset (-1000) removed" in c.value for c in at.caption)
    at = at.text_input(key="detect_tif_path").set_value(str(l2a)).run()
    assert any("surface reflectance (Sentinel-2 L2A)" in w.value for w in at.warning)
