"""Public mode: visitors name no server path and see no server detail."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from detector.config import Settings
from detector.errors import DetectorError
from detector.server_paths import allowed_path, paths_offered

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_public_mode_without_folders_takes_uploads_only(tmp_path):
    s = Settings(data_dir=tmp_path, public=True)
    assert not paths_offered(s)
    for text in ("/", "/etc/passwd", "../../", str(tmp_path)):
        with pytest.raises(DetectorError, match="uploads only"):
            allowed_path(text, s)
    assert paths_offered(Settings(data_dir=tmp_path))


def test_paths_stay_inside_the_listed_folders_whatever_dots_or_links_say(tmp_path):
    offered, secret = tmp_path / "imagery", tmp_path / "secret"
    offered.mkdir()
    secret.mkdir()
    (secret / "key.json").write_text("{}")
    (offered / "scene.tif").write_bytes(b"x")
    (offered / "escape").symlink_to(secret)
    s = Settings(data_dir=tmp_path, public=True, allowed_dirs=(str(offered),))
    assert allowed_path(str(offered / "scene.tif"), s) == (offered / "scene.tif").resolve()
    messages = set()
    for text in (str(offered / ".." / "secret" / "key.json"), str(offered / "escape" / "key.json"),
                 "/proc/self/environ", str(secret / "nothing-here"), str(secret / "key.json"), "scene.tif",
                 "~/.config"):
        with pytest.raises(DetectorError) as err:
            allowed_path(text, s)
        messages.add(str(err.value))
        assert str(tmp_path) not in str(err.value) and "/proc" not in str(err.value)
    # The same answer whether the file exists or not (no way to probe the server's files), bar the relative path.
    assert len(messages) == 2


def test_settings_read_public_mode_and_folders_from_the_environment(tmp_path):
    s = Settings.from_env({"DETECTOR_DATA_DIR": str(tmp_path), "DETECTOR_PUBLIC": "1",
                           "DETECTOR_ALLOWED_DIRS": os.pathsep.join(["/srv/a", "/srv/b"])})
    assert s.public and s.allowed_dirs == ("/srv/a", "/srv/b")


@pytest.fixture
def public_app(mirror, monkeypatch, data_dir):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    monkeypatch.setenv("DETECTOR_PUBLIC", "1")
    monkeypatch.delenv("DETECTOR_ALLOWED_DIRS", raising=False)
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("app_pages/detect.py")
    return at.run()


def test_a_public_detect_page_offers_no_server_path_box(public_app):
    at = public_app
    assert not at.exception
    assert "path" not in at.radio(key="detect_imagery").options and "Imagery on this machine" not in str(
        at.radio(key="detect_imagery").options)
    assert "Local model file…" not in at.selectbox(key="detect_model").options


def test_an_unexpected_error_shows_a_reference_not_the_traceback(mirror, monkeypatch, data_dir, caplog):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    import ui.detect.inputs as inputs

    def broken(*a, **k):
        raise RuntimeError("secret detail /root/.config/earthengine/credentials")

    monkeypatch.setattr(inputs, "controls", broken)
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("app_pages/detect.py")
    at.run()
    assert not at.exception, "no traceback element reaches the visitor"
    shown = " ".join(e.value for e in at.error)
    assert "reference" in shown and "secret" not in shown and "/root" not in shown
    assert any("secret detail" in r.getMessage() or (r.exc_info and "secret detail" in str(r.exc_info[1]))
               for r in caplog.records), "the server's log has the full error"


def test_two_visitors_identical_runs_compute_each_tile_once(tmp_path, scene, tiny_model):
    """Single flight per tile: the second run waits on the tile's lock, then finds it stored whole."""
    import threading

    from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, lonlat_box

    from detector.workspace import DetectRequest, Workspace

    ws = Workspace(Settings(data_dir=tmp_path / "ws"))
    region = lonlat_box(SCENE_CRS, SCENE_X0 + 200, SCENE_YTOP - 2800, SCENE_X0 + 2800, SCENE_YTOP - 200)
    got, errors = [], []
    start = threading.Barrier(2)

    def visit():
        try:
            start.wait()
            got.append(ws.detect(DetectRequest(region, 2023, str(scene), str(tiny_model))).summary)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=visit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(got) == 2
    assert got[0].patches == got[1].patches > 0
    assert got[0].scored_now + got[1].scored_now == got[0].patches, "every patch computed once, by one of the two"
    assert ws.detector(str(tiny_model)).patches_scored == got[0].patches


def test_a_public_server_without_sign_in_starts_no_earth_engine_run(public_app):
    at = public_app
    assert at.radio(key="detect_imagery").value == "upload", "what a visitor can use comes first"
    at = at.radio(key="detect_imagery").set_value("earthengine").run()
    assert any("starts no Earth Engine run under its own account" in w.value for w in at.warning)
    assert at.button(key="detect_run_button").disabled


def test_with_sign_in_only_an_admin_starts_earth_engine_runs(mirror, monkeypatch, data_dir):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    from test_review import AUTH

    def page(email):
        at = AppTest.from_file(APP, default_timeout=120)
        at.secrets["auth"] = AUTH
        at.secrets["roles"] = {"reviewers": ["ana@example.org"], "admins": ["boss@example.org"]}
        at.user = {"is_logged_in": True, "email": email}
        at.switch_page("app_pages/detect.py").run()
        return at.radio(key="detect_imagery").set_value("earthengine").run()

    assert any("may not start Earth Engine runs" in w.value for w in page("ana@example.org").warning)
    assert not any("Earth Engine" in w.value for w in page("boss@example.org").warning)


def test_a_run_over_the_daily_quota_is_refused_with_what_is_left(mirror, monkeypatch, data_dir, scene, tiny_model):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    monkeypatch.setenv("DETECTOR_KM2_PER_DAY", "1")
    from ui.detect import inputs as detect_inputs

    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("app_pages/detect.py").run()
    at.radio(key="detect_imagery").set_value("path").run()
    at.text_input(key="detect_tif_path").set_value(str(scene)).run()
    at.selectbox(key="detect_model").set_value(detect_inputs.LOCAL_MODEL).run()
    at.text_input(key="detect_model_path").set_value(str(tiny_model)).run()
    at = at.button(key="detect_run_button").click().run()
    assert not at.exception
    assert any("km² left of your 1 km² a day" in e.value for e in at.error), [e.value for e in at.error]
