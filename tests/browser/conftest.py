"""Real-browser fixtures: the app served on loopback, Debian's Chromium driven by Playwright.

Nothing leaves the machine: every request to a host other than 127.0.0.1 is aborted (pages
that need CDN scripts serve them locally; see ../shared/BROWSER-TESTING.md). Screenshots go
to tests/browser/screenshots/ (or $SCREENSHOT_DIR) so a person can look at them.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from streamlit_page import start_app

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VENDOR = Path(__file__).resolve().parent / ".vendor"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    d = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "tests" / "browser" / "screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, mirror) -> str:
    """`streamlit run app.py` on a free loopback port, with its own data folder."""
    env = {"DETECTOR_MIRROR": str(mirror), "DETECTOR_DATA_DIR": str(tmp_path_factory.mktemp("appdata"))}
    try:
        proc, url = start_app(env, tmp_path_factory.mktemp("applog") / "streamlit.log")
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"No Chromium at {CHROMIUM}: run the README's test command (it installs Debian's chromium).")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def cdn_file(url: str) -> Path | str | None:
    """The local copy of a CDN script or stylesheet folium asks for ("" for an empty one)."""
    m = re.match(r"https://cdn\.jsdelivr\.net/npm/((?:@[^/]+/)?[^@/]+)@[^/]+/(.+)$", url)
    if m:
        return VENDOR / m.group(1) / m.group(2)
    m = re.match(r"https://cdnjs\.cloudflare\.com/ajax/libs/leaflet\.draw/[^/]+/(.+)$", url)
    if m:
        return VENDOR / "leaflet-draw" / "dist" / m.group(1)
    m = re.match(r"https://cdnjs\.cloudflare\.com/ajax/libs/Leaflet\.awesome-markers/[^/]+/(.+)\.(js|css)$", url)
    if m:
        return VENDOR / "drmonty-leaflet-awesome-markers" / m.group(2) / f"{m.group(1)}.{m.group(2)}"
    m = re.match(r"https://unpkg\.com/(leaflet-control-geocoder)(?:@[^/]+)?/(.+)$", url)
    if m:
        return VENDOR / m.group(1) / m.group(2)
    if re.match(r"https://code\.jquery\.com/jquery-[\d.]+\.min\.js$", url):
        return VENDOR / "jquery" / "dist" / "jquery.min.js"
    if url.endswith((".css",)) and ("glyphicons" in url or "awesome.rotate" in url):
        return ""  # cosmetic stylesheets with no npm package: an empty one will do
    return None


LOOPBACK = ("http://127.0.0.1", "http://localhost", "data:", "blob:")


#: What :func:`_route` handles: everything but the app's own server. A pattern, not a Python function:
#: Playwright matches a pattern in its driver, while a function makes it stop *every* request (the
#: app's forty-odd script chunks included) until this process, often asleep in a wait loop, says
#: whether to route it; that held each chunk up by tenths of a second, which no visitor meets.
external = re.compile(r"^(?!(?:http://127\.0\.0\.1|http://localhost|data:|blob:))")


def _route(route) -> None:
    """Loopback passes; CDN files come from the vendored copies; every other host is cut off."""
    url = route.request.url
    if url.startswith(LOOPBACK):
        route.continue_()
        return
    local = cdn_file(url)
    if local == "":
        route.fulfill(status=200, body="", content_type="text/css")
    elif local is not None and Path(local).is_file():
        ctype = "application/javascript" if str(local).endswith(".js") else "text/css" if str(local).endswith(".css") else None
        route.fulfill(status=200, path=str(local), content_type=ctype)
    else:
        route.abort()  # map tiles and anything else outside: the machines are offline


@pytest.fixture
def page(browser):
    if not (VENDOR / "leaflet" / "package.json").is_file():
        pytest.fail("Leaflet's scripts are not vendored: run tests/browser/vendor.sh (the README's test command does).")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.route(external, _route)
    pg = context.new_page()
    yield pg
    context.close()
