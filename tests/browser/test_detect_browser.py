"""The Detect page in a real browser: upload a GeoTIFF, run the published ensemble, move the threshold.

The proof that a threshold change runs no model is the page's own counter of patches the model
has scored in the server process: it must not move while the detections count does. The map
must not be rebuilt either (a marker set in its window survives), only re-filtered.
"""
from __future__ import annotations

import re
import time

from playwright.sync_api import Error as PlaywrightError
from streamlit_page import local_imagery, wait_settled
from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, SHUFFLED, write_geotiff

MAP_IFRAME = "iframe[data-testid=stCustomComponentV1]"
MODEL_WORK = re.compile(r"Model work in this server process:\s*([\d,]+)\s*patches scored")


def map_state(page) -> dict | None:
    """The Detect map's state (patches held, detections shown), or None while it is not drawn."""
    el = page.query_selector(MAP_IFRAME)
    box = el.bounding_box() if el else None
    if not box or box["height"] <= 0:
        return None
    try:
        frame = el.content_frame()
        return frame.evaluate("() => window.det ? {n: det.n, shown: det.shown, digest: det.digest, "
                              "probe: window.__probe || null, threshold: det.threshold, apply_ms: det.applyMs} : null") if frame else None
    except PlaywrightError:  # the frame is being replaced
        return None


def wait_detect(page, timeout_s: float = 60.0, quiet_s: float = 0.75, want=lambda s: True) -> tuple[float, dict]:
    """Wait until the page is settled and its map's state satisfies ``want`` for ``quiet_s``; return
    (``time.perf_counter()`` when that calm began, the map's state)."""
    deadline = time.perf_counter() + timeout_s
    calm_since, state = None, None
    while time.perf_counter() < deadline:
        wait_settled(page, timeout_s=max(deadline - time.perf_counter(), 1), quiet_s=0.0)
        state = map_state(page)
        now = time.perf_counter()
        if state is not None and want(state) and page.query_selector("[data-testid=stApp]").get_attribute(
                "data-test-script-state") == "notRunning":
            calm_since = calm_since or now
            if now - calm_since >= quiet_s:
                return calm_since, state
        else:
            calm_since = None
        page.wait_for_timeout(50)
    raise AssertionError(f"the Detect page did not settle in time (map: {state})")


def metric(page, label: str) -> str:
    for m in page.query_selector_all("[data-testid=stMetric]"):
        lab = m.query_selector("[data-testid=stMetricLabel]")
        if lab and lab.inner_text().strip() == label:
            return m.query_selector("[data-testid=stMetricValue]").inner_text().strip()
    raise AssertionError(f"no metric {label!r}")


def model_work(page) -> int:
    m = MODEL_WORK.search(page.inner_text("[data-testid=stMain]"))
    assert m, "the page shows the model's work"
    return int(m.group(1).replace(",", ""))


def upload_geotiff(page, path) -> None:
    page.get_by_text("Upload a GeoTIFF or product").click()
    wait_settled(page)
    uploader = page.locator("[data-testid=stFileUploader]").filter(has_text="Sentinel-2 GeoTIFF")
    uploader.locator("input[type=file]").set_input_files(str(path))
    page.get_by_text("Whole image:").first.wait_for(timeout=30_000)


def test_upload_run_the_ensemble_and_refilter_without_the_model(page, app_url, screenshot_dir, tmp_path):
    tif = write_geotiff(tmp_path / "scene.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, 240, 240, bands=SHUFFLED)
    page.set_viewport_size({"width": 1400, "height": 1900})  # Streamlit scrolls inside: show it all
    page.goto(app_url + "/detect")
    wait_detect(page)
    assert page.query_selector("[data-testid=stException]") is None
    upload_geotiff(page, tif)
    wait_detect(page)
    work0 = model_work(page)

    page.get_by_role("button", name="Run detector").click()
    page.get_by_text("Highest patch score").first.wait_for(timeout=120_000)
    _, state = wait_detect(page, want=lambda s: s["n"] > 0)
    assert page.query_selector("[data-testid=stException]") is None
    scored = model_work(page) - work0
    assert 50 <= scored <= 160 and state["n"] == scored, (scored, state)  # edge patches are scored too (partly covered)
    detections = int(metric(page, "Detections").replace(",", ""))
    assert detections > 0 and state["shown"] == detections, "the map shows the detections the figures count"
    assert "48px_v3.2-3.7ensemble" in page.inner_text("[data-testid=stMain]")
    page.screenshot(path=str(screenshot_dir / "detect_result.png"), full_page=True)

    # move the threshold in the sidebar until the count changes; the map is re-filtered, not rebuilt
    frame = page.query_selector(MAP_IFRAME).content_frame()
    frame.evaluate("() => { window.__probe = 'same map'; }")
    work1 = model_work(page)
    thumb = page.locator("[data-testid=stSidebar] [data-testid=stSlider]").filter(
        has_text="Detection threshold").locator("input[type=range]")
    after = detections
    for _ in range(40):
        thumb.focus()
        page.keyboard.press("ArrowLeft")
        wait_detect(page)
        after = int(metric(page, "Detections").replace(",", ""))
        if after != detections:
            break
    assert after > detections, "a lower threshold keeps more patches"
    _, state = wait_detect(page, want=lambda s: s["shown"] == after)
    assert state["probe"] == "same map" and state["n"] == scored
    assert model_work(page) == work1, "re-filtering ran no model"
    assert "threshold=0." in page.url, "the threshold goes into the link"
    page.screenshot(path=str(screenshot_dir / "detect_threshold_lowered.png"), full_page=True)

    # the same image again: from the store, nothing computed
    page.get_by_role("button", name="Run detector").click()
    page.get_by_text("came from the score store").first.wait_for(timeout=60_000)
    wait_detect(page)
    assert model_work(page) == work1


def test_a_rectangle_drawn_on_the_detect_map_becomes_the_region(page, app_url):
    page.goto(app_url + "/detect?lat=-12.9&lon=-70.5&zoom=12")
    wait_detect(page)
    frame = page.query_selector(MAP_IFRAME).content_frame()
    frame.click("a.leaflet-draw-draw-rectangle")
    box = frame.query_selector("#map_div").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 100, cy - 80)
    page.mouse.down()
    page.mouse.move(cx + 100, cy + 80, steps=5)
    page.mouse.up()
    page.get_by_text("Region: Drawn rectangle").first.wait_for(timeout=30_000)
    wait_detect(page)
    assert "region=bbox" in page.url, "the drawn region goes into the link, as on Explore"
    assert page.query_selector("[data-testid=stException]") is None


def test_a_sentinel2_product_on_this_machine_runs_and_says_what_was_done(page, app_url, screenshot_dir, tmp_path):
    """No Earth Engine account: an L1C .SAFE folder given by path, scored with the published ensemble."""
    from s2_products import truth, write_product

    tif = write_geotiff(tmp_path / "src.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, 240, 240, bands=SHUFFLED)
    data, profile = truth(tif)
    product = write_product(tmp_path, data, profile, date="2025-07-15")  # the page's default year
    page.set_viewport_size({"width": 1400, "height": 1900})
    page.goto(app_url + "/detect")
    wait_detect(page)
    local_imagery(page, product)
    assert "offset (-1000) removed" in page.inner_text("[data-testid=stMain]")
    page.get_by_role("button", name="Run detector").click()
    page.get_by_text("Highest patch score").first.wait_for(timeout=120_000)
    _, state = wait_detect(page, want=lambda s: s["n"] > 0)
    assert page.query_selector("[data-testid=stException]") is None and state["n"] > 20
    frame = page.query_selector(MAP_IFRAME).content_frame()
    assert frame.evaluate("() => det.image.getLayers().length") == 1, "the imagery's outline, for orientation"
    assert frame.evaluate("() => !!det.published"), "the published polygons' layer (empty where there are none)"
    page.screenshot(path=str(screenshot_dir / "detect_product.png"), full_page=True)
