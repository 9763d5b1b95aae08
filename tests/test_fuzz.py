"""Hostile and careless input, family by family: each is refused with a clear message, runs no code,
reads no server file, fetches no URL, and stores or changes nothing (issue 12's cases)."""
from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import h5py
import pytest

from detector import cli, models
from detector.errors import DetectorError, ModelError

# ---------------------------------------------------------------- a loopback listener

class Listener:
    """A local HTTP server that records every request it gets (nothing should reach it)."""

    def __init__(self):
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                outer.hits.append(f"{self.command} {self.path}")
                self.send_response(404)
                self.end_headers()

            do_GET = do_HEAD = do_POST = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


# ---------------------------------------------------------------- model files that would run code

def _with_layer(src: Path, dst: Path, layer: dict, inbound=None) -> Path:
    """A copy of a Sequential .h5 with one more layer dict in its architecture (weights untouched)."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as h5:
        cfg = json.loads(h5.attrs["model_config"])
        if inbound is not None:
            layer = {**layer, "inbound_nodes": inbound}
        cfg["config"]["layers"].append(layer)
        h5.attrs["model_config"] = json.dumps(cfg)
    return dst


HOSTILE_LAYERS = {
    "tfoplambda_write_file": ({"class_name": "TFOpLambda", "config": {"name": "tf.io.write_file", "function": "io.write_file",
                                                                      "trainable": True, "dtype": "float32"}},
                              [["_CONSTANT_VALUE", -1, "TARGET", {"contents": "pwned"}]]),
    "slicing_op_lambda": ({"class_name": "SlicingOpLambda", "config": {"name": "s", "function": "__operators__.getitem"}}, None),
    "lambda": ({"class_name": "Lambda", "config": {"name": "l", "function": ["4wEAAAA=", None, None]}}, None),
    "custom_module": ({"class_name": "Doubler", "module": "evil.layers", "config": {"name": "d"}}, None),
    "registered": ({"class_name": "Dense", "registered_name": "evil>Dense", "config": {"name": "x", "units": 1}}, None),
    "custom_activation": ({"class_name": "Dense", "config": {"name": "x", "units": 1, "activation": "evil_fn"}}, None),
    "activation_from_module": ({"class_name": "Activation", "config": {"name": "a", "activation": {
        "module": "os", "class_name": "function", "config": "system", "registered_name": "function"}}}, None),
}


@pytest.mark.parametrize("kind", list(HOSTILE_LAYERS))
def test_a_model_file_that_would_run_code_is_refused_before_loading(kind, tiny_model, tmp_path, monkeypatch):
    target = tmp_path / "written-by-the-model"
    layer, inbound = HOSTILE_LAYERS[kind]
    if inbound is not None:
        inbound = json.loads(json.dumps(inbound).replace("TARGET", str(target)))
    bad = _with_layer(tiny_model, tmp_path / f"{kind}.h5", layer, inbound)
    import tf_keras

    loaded = []
    monkeypatch.setattr(tf_keras.models, "load_model", lambda *a, **k: loaded.append(a))
    with pytest.raises(ModelError, match="refused"):
        models.load(models.local_spec(bad))
    assert not target.exists() and not loaded, "refused before Keras saw the file"


def test_the_cli_refuses_the_tfoplambda_file_and_nothing_is_written(tiny_model, tmp_path, scene, scene_region, capsys):
    target = tmp_path / "TARGET"
    layer, inbound = HOSTILE_LAYERS["tfoplambda_write_file"]
    bad = _with_layer(tiny_model, tmp_path / "bad.h5", layer, json.loads(json.dumps(inbound).replace("TARGET", str(target))))
    region = tmp_path / "r.geojson"
    region.write_text(json.dumps(scene_region))
    out = tmp_path / "out.geojson"
    code = cli.main(["detect", "--region", str(region), "--year", "2023", "--source", str(scene), "--model", str(bad),
                     "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "refused" in err and "Traceback" not in err
    assert not target.exists() and not out.exists()


@pytest.mark.parametrize("content", [b"this is not a model", b"\x89HDF\r\n\x1a\n" + b"\0" * 64, b""])
def test_a_model_file_that_is_not_a_model_is_a_clear_error(content, tmp_path):
    p = tmp_path / "m.h5"
    p.write_bytes(content)
    with pytest.raises(ModelError, match="not a readable HDF5"):
        models.resolve(str(p))


def test_the_published_and_trained_architectures_pass_the_allow_list(mirror):
    for spec in models.registry().values():
        if spec.available():
            models.check_safe(spec.path())


def test_a_local_model_cannot_take_a_published_name(tiny_model, tmp_path):
    fake = tmp_path / "fake.h5"
    shutil.copy(tiny_model, fake)
    (tmp_path / "fake.toml").write_text('name = "48px_v3.7"\n')
    with pytest.raises(ModelError, match="reserved"):
        models.resolve(str(fake))
    (tmp_path / "fake.toml").write_text('name = "mine"\n')
    a = models.resolve(str(fake))
    with h5py.File(fake, "r+") as h5:  # the same name, other content: another store key
        h5.attrs["note"] = "changed"
    b = models.resolve(str(fake))
    assert a.name.startswith("mine-") and b.name.startswith("mine-") and a.name != b.name


# ---------------------------------------------------------------- rasters that point elsewhere or are cut short

def _vrt_pointing_at(url: str, path: Path) -> Path:
    path.write_text(f"""<VRTDataset rasterXSize="100" rasterYSize="100">
  <SRS>EPSG:32718</SRS><GeoTransform>600000, 10, 0, 8900000, 0, -10</GeoTransform>
  <VRTRasterBand dataType="UInt16" band="1"><Description>B1</Description>
    <SimpleSource><SourceFilename relativeToVRT="0">{url}</SourceFilename><SourceBand>1</SourceBand></SimpleSource>
  </VRTRasterBand>
</VRTDataset>""")
    return path


def test_an_uploaded_vrt_named_tif_fetches_no_url_and_reads_no_other_raster(listener, scene, tmp_path):
    from detector.errors import ImageryError
    from detector.sources.local import LocalSource

    for target in (f"/vsicurl/http://127.0.0.1:{listener.port}/probe.tif", str(scene)):
        vrt = _vrt_pointing_at(target, tmp_path / "x.tif")
        with pytest.raises(ImageryError, match="only GeoTIFF files are read") as err:
            LocalSource(vrt)
        assert str(scene.parent) not in str(err.value)
    assert listener.hits == [], "the server made requests for an uploaded file"


def test_a_gdal_virtual_path_is_refused(listener):
    from detector.errors import ImageryError
    from detector.sources.local import LocalSource

    with pytest.raises(ImageryError):
        LocalSource(f"/vsicurl/http://127.0.0.1:{listener.port}/probe.tif")
    assert listener.hits == []


def _truncated_tiled_geotiff(tmp_path: Path) -> Path:
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    path = tmp_path / "cut.tif"
    bands = list(models.BANDS_12)
    with rasterio.open(path, "w", driver="COG", width=512, height=512, count=12, dtype="uint16", crs="EPSG:32718",
                       transform=from_origin(600_000, 8_900_000, 10, 10), blocksize=256) as dst:
        dst.write(np.random.default_rng(0).integers(0, 4000, (12, 512, 512), dtype=np.uint16))
        for i, b in enumerate(bands, start=1):
            dst.set_band_description(i, b)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])  # a COG's header comes first: it survives, most tile data is gone
    return path


def test_a_truncated_geotiff_is_a_clear_error_in_the_cli(tmp_path, tiny_model, capsys):
    from synthetic import lonlat_box

    tif = _truncated_tiled_geotiff(tmp_path)
    region = tmp_path / "r.geojson"
    region.write_text(json.dumps(lonlat_box("EPSG:32718", 600_500, 8_895_500, 604_500, 8_899_500)))
    out = tmp_path / "o.geojson"
    code = cli.main(["detect", "--region", str(region), "--year", "2023", "--source", str(tif), "--model",
                     str(tiny_model), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "damaged or cut short" in err and "Traceback" not in err and str(tmp_path) not in err
    assert not out.exists()


# ---------------------------------------------------------------- command-line options and settings

@pytest.mark.parametrize("extra, match", [
    (["--dual", "--k", "0"], "k .* must be a whole number"),
    (["--dual", "--k", "-1"], "k .* must be a whole number"),
    (["--dual", "--d-km", "-3"], "D .* must be a positive"),
    (["--threshold", "2"], "threshold must be"),
    (["--threshold", "nan"], "threshold must be"),
    (["--threshold", "-1"], "threshold must be"),
    (["--workers", "-2"], "workers must be at least 1"),
    (["--max-area", "-1"], "area limit must be a positive"),
    (["--out", "/proc/x.geojson"], "cannot be written"),
])
def test_impossible_cli_options_are_refused_before_any_work(extra, match, tmp_path, scene, scene_region, tiny_model,
                                                           capsys, monkeypatch):
    from detector import pipeline

    monkeypatch.setattr(pipeline.Detector, "run", lambda *a, **k: pytest.fail("the run started"))
    region = tmp_path / "r.geojson"
    region.write_text(json.dumps(scene_region))
    args = ["detect", "--region", str(region), "--year", "2023", "--source", str(scene), "--model", str(tiny_model),
            "--out", str(tmp_path / "o.geojson"), "--quiet"]
    if "--out" in extra:
        args = args[:-3] + ["--quiet"]
    code = cli.main(args + extra)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    import re
    assert re.search(match, err), err


def test_a_bad_area_limit_setting_is_a_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DETECTOR_MAX_AREA_KM2", "abc")
    region = tmp_path / "r.geojson"
    region.write_text("{}")
    assert cli.main(["detect", "--region", str(region), "--year", "2023", "--out", str(tmp_path / "o.geojson")]) == 2
    assert "DETECTOR_MAX_AREA_KM2='abc' is not a positive number" in capsys.readouterr().err


# ---------------------------------------------------------------- regions: malformed, huge, out of range

def _square(lon, lat, d=0.01):
    return [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]


def _jittered_bowtie(n: int) -> dict:
    import numpy as np

    t = np.linspace(0, 2 * np.pi, n)
    rng = np.random.default_rng(0)
    lon = -70 + 0.1 * np.sin(2 * t) + rng.normal(0, 0.002, n)  # a figure of eight: crosses itself
    lat = -12 + 0.1 * np.sin(t) + rng.normal(0, 0.002, n)
    ring = [[float(a), float(b)] for a, b in zip(lon, lat)]
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


BAD_REGIONS = {
    "latitude 200": ({"type": "Polygon", "coordinates": [_square(-70, 200)]}, "outside longitude"),
    "NaN coordinates": ('{"type": "Polygon", "coordinates": [[[0, 0], [NaN, 0], [1, 1], [0, 1], [0, 0]]]}', "not numbers"),
    "antimeridian box": ({"type": "Polygon", "coordinates": [[[179.5, 0], [-179.5, 0], [-179.5, 1], [179.5, 1],
                                                               [179.5, 0]]]}, "antimeridian"),
    "self-intersecting, 20k vertices": (_jittered_bowtie(20_000), "crosses itself"),
    "70,000 tiny squares": ({"type": "MultiPolygon", "coordinates": [[_square(-70 + (i % 300) * 0.002,
                                                                            -12 + (i // 300) * 0.002, 0.001)]
                                                                      for i in range(70_000)]}, "separate parts"),
    "not GeoJSON": (b"\xff\xfe garbage", "not valid GeoJSON"),
    "a list": (b"[1, 2, 3]", "not a GeoJSON object"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "GeoJSON"),
    "a point": ({"type": "Point", "coordinates": [0, 0]}, "cannot be a region"),
}


@pytest.mark.parametrize("name", list(BAD_REGIONS))
def test_a_bad_region_upload_is_refused_quickly_with_a_message(name):
    import time

    from detector.errors import RegionError
    from ui import regions

    content, match = BAD_REGIONS[name]
    raw = content if isinstance(content, (bytes, str)) else json.dumps(content)
    raw = raw.encode() if isinstance(raw, str) else raw
    t0 = time.perf_counter()
    with pytest.raises(RegionError, match=match):
        regions.from_upload(raw, "up.geojson")
    assert time.perf_counter() - t0 < 30, "a region must not cost minutes to refuse"


@pytest.mark.parametrize("query", [
    {"region": "bbox:1e308,1,1e309,2"}, {"region": "bbox:-1e309,-1,1,1"}, {"region": "bbox:nan,0,1,1"},
    {"region": "bbox:1,2"}, {"region": "country:../../etc/passwd"}, {"period": "1850"}, {"zoom": "1e309"},
    {"lat": "nan", "lon": "inf"}, {"basemap": "<script>"}, {"threshold": "-5"}, {"run": "../../etc/passwd"},
])
@pytest.mark.parametrize("page", ["explore", "detect", "trends"])
def test_odd_query_parameters_never_raise(mirror, monkeypatch, query, page):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    if page != "explore":
        at.switch_page(f"app_pages/{page}.py")
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]


# ---------------------------------------------------------------- the label store and written files

def test_a_database_password_with_at_signs_is_never_shown(tmp_path):
    from detector.labels import LabelStore

    with pytest.raises(DetectorError) as err:
        LabelStore("postgresql+psycopg://user:p@ss:w0rd@127.0.0.1:1/db")
    assert "p@ss" not in str(err.value) and "w0rd" not in str(err.value) and "***" in str(err.value)


def test_a_sqlite_store_in_a_missing_folder_is_refused_not_created(tmp_path):
    from detector.labels import LabelStore

    with pytest.raises(DetectorError, match="does not exist"):
        LabelStore(f"sqlite:///{tmp_path}/nonexistent/dir/x.sqlite")
    assert not (tmp_path / "nonexistent").exists()


def test_written_files_follow_the_umask_not_0600(tmp_path):
    import os
    import stat

    from detector.atomic import _UMASK, atomic_path

    out = tmp_path / "out.geojson"
    with atomic_path(out) as tmp:
        tmp.write_text("{}")
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o666 & ~_UMASK


# ---------------------------------------------------------------- the score store: torn, foreign, concurrent

def _run_cli(region_geojson: dict, tmp_path: Path, scene: Path, model: Path, name: str = "o") -> tuple[int, str, Path]:
    region = tmp_path / f"{name}.region.geojson"
    region.write_text(json.dumps(region_geojson))
    out = tmp_path / f"{name}.geojson"
    code = cli.main(["detect", "--region", str(region), "--year", "2023", "--source", str(scene), "--model", str(model),
                     "--out", str(out), "--all", "--quiet"])
    return code, out.read_text() if out.exists() else "", out


def test_a_torn_or_foreign_tile_is_recomputed_never_fatal_never_merged(tmp_path, scene, tiny_model, data_dir, capsys):
    from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, lonlat_box

    wide = lonlat_box(SCENE_CRS, SCENE_X0 + 100, SCENE_YTOP - 2900, SCENE_X0 + 2900, SCENE_YTOP - 100)
    code, first, _ = _run_cli(wide, tmp_path, scene, tiny_model, "first")
    assert code == 0
    (tile_file,) = sorted((data_dir / "scores").rglob("*.parquet"))
    ids_before = {f["properties"]["patch_id"] for f in json.loads(first)["features"]}

    import numpy as np

    from detector import grid
    from detector.pipeline import _tile_frame

    epsg, trow, tcol = (int(x) for x in tile_file.stem.split("_"))
    other = grid.Tile(epsg, trow + 1, tcol)
    rows, cols = other.all_patches()
    foreign = _tile_frame(1, other, rows, cols, np.ones(len(rows), bool), np.ones((len(rows), 1), np.float32))
    raw = tile_file.read_bytes()
    for damage in ("torn", "foreign"):
        if damage == "torn":
            tile_file.write_bytes(raw[: len(raw) // 2])  # cut in half
        else:
            foreign.to_parquet(tile_file)  # another tile's valid file in its place
        capsys.readouterr()
        code, again, _ = _run_cli(wide, tmp_path, scene, tiny_model, f"again-{damage}")
        out = capsys.readouterr().out
        assert code == 0 and "damaged" in out, damage
        ids = [f["properties"]["patch_id"] for f in json.loads(again)["features"]]
        assert len(ids) == len(set(ids)) and set(ids) == ids_before, "no duplicated and no missing patch"


def test_two_overlapping_runs_at_once_keep_both_regions(tmp_path, scene, tiny_model):
    from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, lonlat_box

    from detector.config import Settings
    from detector.readback import read_region
    from detector.workspace import DetectRequest, Workspace

    ws = Workspace(Settings(data_dir=tmp_path / "ws"))
    west = lonlat_box(SCENE_CRS, SCENE_X0 + 200, SCENE_YTOP - 2800, SCENE_X0 + 1500, SCENE_YTOP - 200)
    east = lonlat_box(SCENE_CRS, SCENE_X0 + 1300, SCENE_YTOP - 2800, SCENE_X0 + 2800, SCENE_YTOP - 200)
    results, errors = {}, []

    def run(name, region):
        try:
            results[name] = ws.detect(DetectRequest(region, 2023, str(scene), str(tiny_model))).patches
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=a) for a in (("west", west), ("east", east))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    from shapely.geometry import shape

    key = results["west"]  # both regions' patches are in the store afterwards, neither dropped
    src = ws.open_source(str(scene)).key
    for name, region in (("west", west), ("east", east)):
        back = read_region(ws.store, src, ws.model(str(tiny_model)).name, 2023, shape(region))
        assert not back.missing and set(back.patches["patch_id"]) == set(results[name]["patch_id"])
    assert len(key)


# ---------------------------------------------------------------- label files

def _points_file(path: Path, coords: list) -> Path:
    feats = [{"type": "Feature", "properties": {}, "geometry": None if c is None else {"type": "Point", "coordinates": c}}
             for c in coords]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def test_a_label_file_with_points_off_the_earth_imports_nothing(tmp_path, capsys):
    from detector.labels import LabelStore

    good = _points_file(tmp_path / "mines_positives.geojson", [[-70.5, -12.9]])
    bad = _points_file(tmp_path / "more_positives.geojson", [[-70.5, -12.9], [1000, 1000]])
    db = f"sqlite:///{tmp_path / 'l.sqlite'}"
    assert cli.main(["labels", "--database", db, "import", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "outside longitude" in err and "Traceback" not in err
    assert LabelStore(db).count() == 0, "nothing imported, not even the good file"


def test_points_without_usable_coordinates_are_counted(tmp_path, capsys):
    f = tmp_path / "odd_negatives_aquaculture.geojson"
    f.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [-70.5, -12.9]}},
        {"type": "Feature", "properties": {}, "geometry": None},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": ["a", "b"]}},
    ]}))
    db = f"sqlite:///{tmp_path / 'l.sqlite'}"
    code = cli.main(["labels", "--database", db, "import", str(f)])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(f.name))
    assert code == 0 and row.split()[-6:-4] == ["1", "2"], row  # 1 point, 2 skipped


def test_two_imports_of_the_same_file_at_once_write_it_once(tmp_path):
    from detector.labels import LabelStore

    f = _points_file(tmp_path / "many_positives.geojson", [[-70 + i * 0.001, -12.0] for i in range(200)])
    db = f"sqlite:///{tmp_path / 'l.sqlite'}"
    LabelStore(db)  # create the table first
    errors = []

    def go():
        try:
            LabelStore(db).import_sampling([f])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and LabelStore(db).count() == 200
