"""GeoTIFFs in the forms people have them: band names as exports write them, float reflectance.

A float-reflectance file used to be divided by 10,000 a second time and score ~0 everywhere (a
silent wrong answer); now it is converted exactly, and values that can be neither are refused.
"""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from synthetic import SCENE_CRS, SCENE_PX, SCENE_X0, SCENE_YTOP, SHUFFLED, write_geotiff

from detector.errors import ImageryError
from detector.pipeline import Detector
from detector.sources.geotiff import band_name
from detector.sources.local import LocalSource


@pytest.mark.parametrize("text, name", [
    ("B2", "B2"), ("B02", "B2"), ("b02", "B2"), ("B02_10m", "B2"), ("B8A_20m", "B8A"), ("B8A", "B8A"),
    ("B2 (490 nm)", "B2"), ("B12", "B12"), ("B01_60m", "B1"), ("B13", None), ("BAND2", None), ("", None),
    ("B8", "B8"), ("B80", None),
])
def test_band_names_in_every_common_form(text, name):
    assert band_name(text) == name


def _rewrite(src_path, dst_path, fn, dtype, descriptions=None):
    with rasterio.open(src_path) as src:
        profile = {**src.profile, "dtype": dtype}
        data = fn(src.read().astype(np.float64))
        names = descriptions or src.descriptions
    with rasterio.open(dst_path, "w", **profile) as dst:
        dst.write(data.astype(dtype))
        for i, d in enumerate(names, start=1):
            dst.set_band_description(i, d)
    return dst_path


def test_float_reflectance_scores_as_the_digital_numbers_do(scene, scene_region, tiny_model, tmp_path):
    refl = _rewrite(scene, tmp_path / "refl.tif", lambda a: a / 10_000, "float32",
                    [f"{b[0]}{b[1:].zfill(2) if b[1:].isdigit() else b[1:]}_10m" for b in SHUFFLED])
    src = LocalSource(refl)
    assert src.scenes[0].factor == 10_000
    a = Detector(tiny_model).run(scene_region, 2023, LocalSource(scene)).patches.sort_values("patch_id")
    b = Detector(tiny_model).run(scene_region, 2023, src).patches.sort_values("patch_id")
    assert len(a) == len(b) > 0
    assert np.allclose(a["score"], b["score"], atol=1e-4), "a reflectance export must score as the DN file"


def test_values_that_cannot_be_digital_numbers_are_refused(scene, tmp_path):
    odd = _rewrite(scene, tmp_path / "odd.tif", lambda a: a / 100, "float32")
    with pytest.raises(ImageryError, match="neither reflectance"):
        LocalSource(odd)
    rgb = write_geotiff(tmp_path / "rgb.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, SCENE_PX, SCENE_PX, bands=SHUFFLED)
    byte = _rewrite(rgb, tmp_path / "byte.tif", lambda a: np.clip(a / 40, 0, 255), "uint8")
    with pytest.raises(ImageryError, match="8-bit image"):
        LocalSource(byte)


def _dated(src_path, dst_path, date: str):
    import shutil

    shutil.copy(src_path, dst_path)
    with rasterio.open(dst_path, "r+") as dst:
        dst.update_tags(ACQUISITION_DATE=date, TIFFTAG_DATETIME="2025:11:01 10:00:00")
    return dst_path


def test_a_dated_geotiff_gives_its_year_and_refuses_another(scene, scene_region, tiny_model, tmp_path, capsys):
    import json

    from detector import cli

    tif = _dated(scene, tmp_path / "dated.tif", "2017-07-14")
    assert LocalSource(tif).years == (2017,), "the acquisition date, not the file's write time"
    region = tmp_path / "r.geojson"
    region.write_text(json.dumps(scene_region))
    out = tmp_path / "o.geojson"
    base = ["detect", "--region", str(region), "--source", str(tif), "--model", str(tiny_model), "--all", "--quiet"]
    assert cli.main([*base, "--out", str(out)]) == 0
    years = {f["properties"]["year"] for f in json.loads(out.read_text())["features"]}
    assert years == {2017}, "2017 imagery is written out as 2017"
    assert cli.main([*base, "--year", "2023", "--out", str(tmp_path / "x.geojson")]) == 2
    err = capsys.readouterr().err
    assert "2017-07-14" in err and "not 2023" in err and not (tmp_path / "x.geojson").exists()


def test_a_geotiff_without_dates_or_earth_engine_needs_a_year(scene, scene_region, tmp_path, capsys):
    import json

    from detector import cli

    region = tmp_path / "r.geojson"
    region.write_text(json.dumps(scene_region))
    for source in (str(scene), "earthengine"):
        assert cli.main(["detect", "--region", str(region), "--source", source, "--out",
                         str(tmp_path / "o.geojson"), "--quiet"]) == 2
        assert "Give --year" in capsys.readouterr().err


def _retagged(src_path, dst_path, add: int, **tags):
    with rasterio.open(src_path) as src:
        profile, data, names = src.profile, src.read().astype(np.int64), src.descriptions
    with rasterio.open(dst_path, "w", **profile) as dst:
        dst.write(np.clip(data + add, 0, 65535).astype(profile["dtype"]))
        for i, d in enumerate(names, start=1):
            dst.set_band_description(i, d)
        dst.update_tags(**tags)
    return dst_path


def test_the_baseline_offset_is_removed_where_the_metadata_states_it(scene, scene_region, mirror, tmp_path):
    """Digital numbers of baseline 04.00+ carry +1000; scored as they are, every patch would be off."""
    model = "48px_v3.7"  # a trained model: its scores move with the values
    want = Detector(model).run(scene_region, 2023, LocalSource(scene)).patches.sort_values("patch_id")
    stated = _retagged(scene, tmp_path / "offset.tif", 1000, RADIO_ADD_OFFSET="-1000", PROCESSING_BASELINE="05.09")
    by_baseline = _retagged(scene, tmp_path / "baseline.tif", 1000, PROCESSING_BASELINE="04.00")
    silent = _retagged(scene, tmp_path / "silent.tif", 1000)
    for path in (stated, by_baseline):
        src = LocalSource(path)
        assert src.scenes[0].offset == -1000 and any("-1000 added" in n for n in src.notes)
        got = Detector(model).run(scene_region, 2023, src).patches.sort_values("patch_id")
        np.testing.assert_allclose(got["score"], want["score"], atol=1e-6)
    plain = Detector(model).run(scene_region, 2023, LocalSource(silent)).patches.sort_values("patch_id")
    assert np.abs(plain["score"].to_numpy() - want["score"].to_numpy()).max() > 1e-3, "the offset matters"
    told = LocalSource(silent, dn_offset=-1000)  # --dn-offset -1000 for a file whose metadata does not say
    got = Detector(model).run(scene_region, 2023, told).patches.sort_values("patch_id")
    np.testing.assert_allclose(got["score"], want["score"], atol=1e-6)
    assert LocalSource(stated, dn_offset=0).scenes[0].offset == 0, "--dn-offset 0 overrides the metadata"
    assert LocalSource(stated).key != LocalSource(stated, dn_offset=0).key, "different values, different store keys"


def test_surface_reflectance_is_flagged_from_metadata(scene, tmp_path):
    l2a = _retagged(scene, tmp_path / "sr.tif", 0, PRODUCT_TYPE="S2MSI2A")
    src = LocalSource(l2a)
    assert src.levels == ("L2A",) and any("Sentinel-2 L2A" in n for n in src.notes)
    assert LocalSource(scene).levels == () and LocalSource(scene).notes == []
