"""Deleting runs (Detect) and importing labels (Review), who may do them, and what a visitor sees instead."""
from __future__ import annotations

from pathlib import Path

import pytest
from shapely.geometry import shape
from streamlit.testing.v1 import AppTest

from detector import runs

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def a_run(mirror, monkeypatch, data_dir, scene, scene_region, tiny_model) -> runs.RunRecord:
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    from detector.pipeline import Detector
    from detector.sources.local import LocalSource

    region = shape(scene_region)
    res = Detector(tiny_model).run(region, 2023, LocalSource(scene))
    record = runs.RunRecord.of(res, region, "test box", str(tiny_model), "scene.tif")
    runs.RunIndex().add(record)
    return record


def _detect(secrets: dict | None = None, email: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in (secrets or {}).items():
        at.secrets[k] = v
    if email:
        at.user = {"is_logged_in": True, "email": email}
    at.switch_page("app_pages/detect.py").run()
    assert not at.exception
    return at


def test_a_run_is_deleted_from_the_list_and_its_scores_stay(a_run):
    at = _detect()
    assert at.selectbox(key="detect_reopen_pick").value == a_run.run_id
    at = at.button(key="detect_delete").click().run()
    assert not at.exception
    assert any("Deleted the run" in c.value for c in at.caption)
    assert runs.RunIndex().list() == [] and runs.RunIndex().get(a_run.run_id) is None
    assert any(e.label.startswith("Earlier runs (0)") for e in at.expander)
    from detector.readback import read_region
    from detector.store import ScoreStore

    back = read_region(ScoreStore(), a_run.source_key, a_run.model, a_run.the_period, a_run.geometry, geometry=False)
    assert not back.missing and len(back.patches) == a_run.patches, "the scores stay in the store"


def test_an_anonymous_visitor_of_a_public_server_may_not_delete_runs_or_import_labels(a_run, monkeypatch):
    monkeypatch.setenv("DETECTOR_PUBLIC", "1")
    at = _detect()
    assert not [b for b in at.button if b.key == "detect_delete"]
    assert any("runs are deleted by signed-in admins only" in c.value for c in at.caption)
    assert runs.RunIndex().get(a_run.run_id) is not None
    review = AppTest.from_file(APP, default_timeout=120)
    review.switch_page("app_pages/review.py").run()
    review.text_input(key="review_name").set_value("ana").run()
    assert not review.exception
    assert any("labels are imported by signed-in admins only" in c.value for c in review.caption)
    assert not [b for b in review.button if b.key == "review_import"]


def test_with_sign_in_only_an_admin_deletes_runs(a_run):
    from test_review import AUTH

    secrets = {"auth": AUTH, "roles": {"reviewers": ["ana@example.org"], "admins": ["boss@example.org"]}}
    reviewer = _detect(secrets, "ana@example.org")
    assert not [b for b in reviewer.button if b.key == "detect_delete"]
    assert any("who may not delete runs" in c.value for c in reviewer.caption)
    admin = _detect(secrets, "boss@example.org").button(key="detect_delete").click().run()
    assert not admin.exception and runs.RunIndex().get(a_run.run_id) is None
