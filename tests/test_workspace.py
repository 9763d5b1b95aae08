"""The application layer: one object on a folder, the same call in-process and on a cluster."""
from __future__ import annotations

import math

import pytest
from shapely.geometry import shape

from detector import config
from detector.config import Settings
from detector.errors import DetectorError
from detector.workspace import DetectRequest, Workspace


def test_settings_are_read_once_from_the_environment(tmp_path):
    s = Settings.from_env({"DETECTOR_DATA_DIR": str(tmp_path), "DETECTOR_MAX_AREA_KM2": "10", "EE_HIGH_VOLUME": "yes",
                           "DATABASE_URL": "sqlite:///x.db", "MAPBOX_TOKEN": "pk.x", "GOOGLE_CLOUD_PROJECT": "p"})
    assert (s.data_dir, s.max_area_km2, s.ee_high_volume, s.database_url, s.mapbox_token, s.ee_project) == (
        tmp_path, 10.0, True, "sqlite:///x.db", "pk.x", "p")
    assert s.layout.scores == tmp_path / "scores" and s.layout.labels_url() == f"sqlite:///{tmp_path / 'labels.sqlite'}"


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "0"])
def test_a_bad_area_limit_is_a_clear_error(value):
    with pytest.raises(DetectorError, match="DETECTOR_MAX_AREA_KM2"):
        Settings.from_env({"DETECTOR_MAX_AREA_KM2": value})


def test_a_workspace_owns_its_folder(tmp_path, scene, scene_region, tiny_model):
    ws = Workspace(Settings(data_dir=tmp_path / "ws"))
    out = ws.detect(DetectRequest(scene_region, 2023, str(scene), str(tiny_model)))
    assert out.patches is not None and len(out.patches) > 0 and not out.on_cluster
    assert ws.store.root == tmp_path / "ws" / "scores" and any((tmp_path / "ws" / "scores").rglob("*.parquet"))
    assert not config.layout().scores.exists() or not any(config.layout().scores.rglob("*.parquet")), \
        "nothing went to the environment's data folder"
    det = ws.detector(str(tiny_model))
    assert det is ws.detector(str(tiny_model)), "one detector per model"
    scored = ws.model_work()
    record = ws.remember(out.result, shape(scene_region), "box", str(tiny_model), "scene.tif")
    again_record, again = ws.reopen(record.run_id)
    assert again_record.run_id == record.run_id and len(again.patches) == len(out.patches)
    assert ws.model_work() == scored, "reopening never runs the model"
    second = ws.detect(DetectRequest(scene_region, 2023, str(scene), str(tiny_model)))
    assert second.summary.scored_now == 0 and ws.model_work() == scored


@pytest.mark.parametrize("req, match", [
    (dict(workers=2, scheduler="tcp://x:1"), "not both"),
    (dict(workers=-2), "at least 1"),
    (dict(retries=-1), "retries"),
    (dict(max_area_km2=-1), "positive"),
    (dict(max_area_km2=math.nan), "positive"),
])
def test_impossible_requests_are_refused_before_any_work(tmp_path, req, match):
    with pytest.raises(DetectorError, match=match):
        DetectRequest({"type": "Polygon"}, 2023, **req).check()


def test_the_size_limit_depends_on_where_it_runs(tmp_path):
    ws = Workspace(Settings(data_dir=tmp_path, max_area_km2=5.0))
    assert ws.limit_km2() == 5.0 and ws.limit_km2(on_cluster=True) == math.inf and ws.limit_km2(7.0, True) == 7.0
    assert ws.rule(None, "48px_v3.7").threshold == ws.model("48px_v3.7").threshold
    with pytest.raises(DetectorError):
        ws.rule(2.0)


def test_the_size_limit_applies_to_the_region_clipped_to_the_image(tmp_path, scene, tiny_model):
    """A country with a 9 km² image is the image's part of it, not a refusal for the country's size."""
    from shapely.geometry import box

    from detector.sources.local import LocalSource

    foot = LocalSource(scene).footprint()
    w, s, e, n = foot.bounds
    big = box(w - 1.0, s - 1.0, e + 1.0, n + 1.0)  # some 50,000 km²
    ws = Workspace(Settings(data_dir=tmp_path / "ws", max_area_km2=50.0))
    out = ws.detect(DetectRequest(big, 2023, str(scene), str(tiny_model)))
    assert out.region.equals(big.intersection(foot)) and len(out.patches) > 0
    with pytest.raises(DetectorError, match="too large|larger|exceeds|more than"):
        ws.detect(DetectRequest(big, 2023, "earthengine", str(tiny_model)))  # no footprint: the whole region counts
