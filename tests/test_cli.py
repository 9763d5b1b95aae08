"""The command line with the real published models from the mirror."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window
from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, lonlat_box, write_geotiff

from detector import grid
from detector.cli import main

ROOT = Path(__file__).resolve().parent.parent
BANDS_12 = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8A", "B8", "B9", "B11", "B12"]


def _region_file(tmp_path, geom) -> str:
    path = tmp_path / "region.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": geom}]}))
    return str(path)


def _window(tif: Path, pid: str, bands: list[str], shift: int = 0) -> np.ndarray:
    """The 48×48 window of a patch, read straight from the GeoTIFF (southern UTM CRS)."""
    epsg, row, col = grid.parse_patch_id(pid)
    assert epsg == 32618
    x0 = col * grid.STRIDE_M
    ytop = row * grid.STRIDE_M + grid.PATCH_M + 10_000_000  # the file is in EPSG:32718
    with rasterio.open(tif) as src:
        order = [list(src.descriptions).index(b) + 1 for b in bands]
        win = Window((x0 - SCENE_X0) / 10 + shift, (SCENE_YTOP - ytop) / 10, 48, 48)
        return np.moveaxis(src.read(order, window=win), 0, -1)


@pytest.mark.parametrize("model", ["48px_v3.2-3.7ensemble", "48px_v4.21"])
def test_cli_score_equals_direct_model_call(tmp_path, mirror, scene, model, capsys):
    import tf_keras

    from detector.models import registry

    region = lonlat_box(SCENE_CRS, SCENE_X0 + 600, SCENE_YTOP - 1800, SCENE_X0 + 1800, SCENE_YTOP - 600)
    out = tmp_path / "out.geojson"
    rc = main(["detect", "--region", _region_file(tmp_path, region), "--year", "2023", "--source", str(scene),
               "--model", model, "--out", str(out), "--all", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    feats = json.loads(out.read_text())["features"]
    assert len(feats) >= 16
    spec = registry()[model]
    net = tf_keras.models.load_model(mirror / spec.file, compile=False)
    ids = [f["properties"]["patch_id"] for f in feats]
    x = np.stack([_window(scene, pid, list(spec.bands)) for pid in ids]).astype(np.float32)
    direct = net(np.clip(x / 10000.0, 0, 1), training=False).numpy()
    got = np.array([f["properties"]["score"] for f in feats])
    # The check can fail: windows read one pixel off give clearly different scores on this scene.
    off = np.stack([_window(scene, pid, list(spec.bands), shift=1) for pid in ids]).astype(np.float32)
    shifted = net(np.clip(off / 10000.0, 0, 1), training=False).numpy().mean(axis=1)
    if spec.ensemble > 1:  # the 13-band v4.21 scores these synthetic scars ~0 whatever the window
        assert (np.abs(shifted - direct.mean(axis=1)) > 1e-3).mean() > 0.5
        assert got.max() > 0.5 > got.min()
    np.testing.assert_allclose(got, direct.mean(axis=1), atol=1e-5)
    if spec.ensemble > 1:
        members = np.array([[f["properties"][f"member_{m}"] for m in range(6)] for f in feats])
        np.testing.assert_allclose(members, direct, atol=1e-5)
    props = feats[0]["properties"]
    assert props["year"] == 2023 and props["model"] == model
    text = capsys.readouterr().out
    assert "computed now" in text and "device: CPU" in text


def test_cli_second_run_comes_from_the_store_and_threshold_filters(tmp_path, mirror, scene, scene_region, capsys):
    args = ["detect", "--region", _region_file(tmp_path, scene_region), "--year", "2023", "--source", str(scene),
            "--model", "48px_v3.7", "--quiet"]
    assert main(args + ["--out", str(tmp_path / "a.parquet"), "--all"]) == 0
    capsys.readouterr()
    assert main(args + ["--out", str(tmp_path / "b.geojson"), "--threshold", "0.0"]) == 0
    text = capsys.readouterr().out
    assert "(0 computed now" in text and "device: not used" in text
    import geopandas as gpd

    a = gpd.read_parquet(tmp_path / "a.parquet")
    b = gpd.read_file(tmp_path / "b.geojson")
    assert len(a) == len(b) > 0
    t = float(np.median(a["score"]))
    assert main(args + ["--out", str(tmp_path / "c.geojson"), "--threshold", str(t)]) == 0
    c = gpd.read_file(tmp_path / "c.geojson")
    assert len(c) == int((a["score"] >= t).sum())


def test_models_list(capsys, mirror):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name in ["48px_v3.2-3.7ensemble", "48px_v3.7", "48px_v3.5", "48px_v3.3", "48px_v4.21"]:
        assert name in out
    assert "(default)" in out.splitlines()[1]


def _run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "detector", *args], cwd=ROOT, capture_output=True, text=True)


def test_invalid_geojson_gives_a_clear_error_and_writes_nothing(tmp_path, scene):
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [')
    out = tmp_path / "out.geojson"
    r = _run_cli("detect", "--region", str(bad), "--year", "2023", "--source", str(scene), "--out", str(out))
    assert r.returncode == 2
    assert "not valid GeoJSON" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_region_over_the_limit_says_how_to_run_it(tmp_path, scene, capsys):
    big = {"type": "Polygon", "coordinates": [[[-74, -10], [-73, -10], [-73, -9.5], [-74, -9.5], [-74, -10]]]}
    out = tmp_path / "out.geojson"
    rc = main(["detect", "--region", _region_file(tmp_path, big), "--year", "2023", "--source", str(scene),
               "--out", str(out), "--max-area", "100"])
    err = capsys.readouterr().err
    assert rc == 2 and "on-demand limit of 100 km²" in err and "--max-area" in err
    assert not out.exists()


def test_empty_region_is_refused(tmp_path, scene, capsys):
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    rc = main(["detect", "--region", str(path), "--year", "2023", "--source", str(scene), "--out", str(tmp_path / "o.geojson")])
    assert rc == 2 and "no polygon" in capsys.readouterr().err


def test_model_with_wrong_input_shape_is_refused(tmp_path, scene, scene_region, capsys):
    import tf_keras as K

    path = tmp_path / "small.h5"
    K.Sequential([K.layers.Input((32, 32, 12)), K.layers.Flatten(), K.layers.Dense(1, activation="sigmoid")]).save(path)
    out = tmp_path / "o.geojson"
    rc = main(["detect", "--region", _region_file(tmp_path, scene_region), "--year", "2023", "--source", str(scene),
               "--model", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "takes input (32, 32, 12)" in err and "(48, 48, 12)" in err
    assert not out.exists()


def test_model_with_code_is_refused(tmp_path, capsys):
    import tf_keras as K

    path = tmp_path / "lambda.h5"
    K.Sequential([K.layers.Input((48, 48, 12)), K.layers.Lambda(lambda x: x * 2), K.layers.Flatten(),
                  K.layers.Dense(1)]).save(path)
    from detector.errors import ModelError
    from detector.models import resolve

    with pytest.raises(ModelError, match="Lambda layer"):
        resolve(str(path))


def test_13_band_model_needs_b10(tmp_path, mirror, scene_region, capsys):
    tif = write_geotiff(tmp_path / "12.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, 300, 300, bands=BANDS_12)
    rc = main(["detect", "--region", _region_file(tmp_path, scene_region), "--year", "2023", "--source", str(tif),
               "--model", "48px_v4.21", "--out", str(tmp_path / "o.geojson")])
    assert rc == 2 and "B10" in capsys.readouterr().err
