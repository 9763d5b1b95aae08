"""Real Sentinel-2 files: BigEarthNet's example patches, one GeoTIFF per band (L2A, 120 × 120 px at 10 m).

They come from the ``bigearthnet-common`` wheel on PyPI, which the test command downloads into
tests/.data (never committed). Each patch folder is a scene; its name gives the date and the level.
"""
from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from shapely.geometry import box

from detector import grid
from detector.pipeline import Detector
from detector.sources.local import LocalSource

WHEEL = Path(__file__).parent / ".data" / "bigearthnet_common-2.8.0-py3-none-any.whl"
BANDS_12 = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8A", "B8", "B9", "B11", "B12"]
PATCH = "S2A_MSIL2A_20171221T112501_56_35"


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> Path:
    if not WHEEL.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{WHEEL.name} is missing: tests/run.sh downloads it from PyPI.")
        pytest.skip("the BigEarthNet wheel is not downloaded (bash tests/run.sh fetches it)")
    out = tmp_path_factory.mktemp("ben")
    with zipfile.ZipFile(WHEEL) as wheel:
        data = wheel.read("bigearthnet_common/BigEarthNet-S2-Example.tar.bz2")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:bz2") as tar:
        tar.extractall(out, filter="data")
    return out / "BigEarthNet-S2-Example"


def test_a_patch_folder_is_one_dated_l2a_scene_with_every_band(examples):
    src = LocalSource(examples / PATCH)
    (scene,) = src.scenes
    assert set(scene.bands) == set(BANDS_12)  # L2A has no B10
    assert src.years == (2017,) and src.dates == ("2017-12-21",) and src.levels == ("L2A",)
    assert any("surface reflectance (Sentinel-2 L2A)" in n for n in src.notes)


def test_bands_at_20_and_60_m_land_on_the_10_m_grid_exactly(examples):
    folder = examples / PATCH
    src = LocalSource(folder)
    with rasterio.open(next(folder.glob("*_B02.tif"))) as b02:
        west, south, east, north = rasterio.warp.transform_bounds(b02.crs, "EPSG:4326", *b02.bounds)
        origin = b02.transform
    cover = grid.region_covers(box(west, south, east, north))[0]
    tile = cover.tile
    tp = src.read(tile, BANDS_12, 2017)
    row = int(round((tile.transform.f - origin.f) / 10))
    col = int(round((origin.c - tile.transform.c) / 10))
    assert row >= 0 and col >= 0, "the patch lies inside the tile that holds its corner"
    window = tp.pixels[row : row + 120, col : col + 120]
    assert tp.valid[row : row + 120, col : col + 120].all()
    for b in ("B2", "B5", "B9"):
        with rasterio.open(next(folder.glob(f"*_{b[0]}{b[1:].zfill(2)}.tif"))) as f:
            native = f.read(1).astype(np.float32)
        k = 120 // native.shape[0]
        assert np.array_equal(window[..., BANDS_12.index(b)], np.repeat(np.repeat(native, k, 0), k, 1)), b


def test_the_example_patches_score_with_a_published_model(examples, mirror):
    src = LocalSource(examples)  # six patches in three UTM zones: a mosaic of scenes
    assert len(src.scenes) == 6 and src.years == (2017, 2018)
    folder = examples / PATCH
    with rasterio.open(next(folder.glob("*_B02.tif"))) as b02:
        region = box(*rasterio.warp.transform_bounds(b02.crs, "EPSG:4326", *b02.bounds))
    res = Detector("48px_v3.7").run(region, 2017, src)
    scores, frac = res.patches["score"], res.patches["valid_fraction"]
    # A 1.2 km patch: a few patches lie wholly on it, the rest partly (scored on the imagery they have).
    assert len(scores) >= 9 and scores.between(0, 1).all() and (frac == 1).sum() >= 1 and (frac < 1).any()
    assert res.summary.partly_covered == int((frac < 1).sum())
