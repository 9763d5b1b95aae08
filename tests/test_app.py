"""The app's pages run headless (Streamlit AppTest) without exceptions."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_overview_lists_models_and_mirror(mirror, monkeypatch):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/overview.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert "48px_v3.2-3.7ensemble (default)" in set(table["model"])
    assert (table["file here"] == "yes").all()
    assert any("mirror" in s.value for s in at.success)
    shown = " ".join(e.value for e in [*at.success, *at.caption, *at.markdown, *at.info, *at.error])
    assert str(mirror) not in shown, "no server path is shown to visitors"


def test_offline_without_mirror_every_page_explains_and_keeps_working(monkeypatch):
    """No mirror and no network: each page says how to get the data, none raises."""
    import pooch

    def offline(*args, **kwargs):
        raise ConnectionError("no network in tests")

    import streamlit as st

    st.cache_resource.clear()  # earlier tests in this process loaded the data into the caches
    st.cache_data.clear()
    monkeypatch.delenv("DETECTOR_MIRROR", raising=False)
    monkeypatch.setattr(pooch, "retrieve", offline)
    at = AppTest.from_file(APP, default_timeout=60).run()  # Explore, the default page
    assert not at.exception
    assert any("data fetch" in e.value for e in at.error)
    at.switch_page("app_pages/trends.py").run()
    assert not at.exception
    assert any("data fetch" in e.value for e in at.error)
    at.switch_page("app_pages/overview.py").run()
    assert not at.exception
    assert any("downloaded from their public address" in i.value for i in at.info)


def test_navigation_icons_are_material_symbols_not_emoji():
    """Emoji render as empty boxes where no emoji font is installed; Streamlit ships the Material font."""
    import re

    source = (Path(__file__).resolve().parent.parent / "app.py").read_text()
    icons = re.findall(r'icon="([^"]+)"', source)
    assert len(icons) >= 8 and all(re.fullmatch(r":material/[a-z_]+:", i) for i in icons), icons
