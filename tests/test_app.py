"""The app's pages run headless (Streamlit AppTest) without exceptions."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_overview_lists_models_and_mirror(mirror, monkeypatch):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert "48px_v3.2-3.7ensemble (default)" in set(table["model"])
    assert (table["file here"] == "yes").all()
    assert any("mirror" in s.value for s in at.success)


def test_overview_without_mirror_says_what_happens(monkeypatch):
    monkeypatch.delenv("DETECTOR_MIRROR", raising=False)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert any("downloaded from their public address" in i.value for i in at.info)
