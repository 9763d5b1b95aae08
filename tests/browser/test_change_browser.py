"""The Change page in a real browser: three dated GeoTIFFs, one run over 2022–2024, periods switched and played.

Timings (first run, re-run, period switch) are printed for BENCHMARKS.md, never asserted.
"""
from __future__ import annotations

import time

from change_helpers import scar_model, write_three_years
from streamlit_page import change_periods, local_imagery_and_model, wait_settled

MAP_DIV = ".amw-map"  #: the Change map, drawn in the page itself (ui.map.live)


def _map_paths(page) -> int:
    """Vector shapes drawn in the map's Leaflet pane: the region outline and the layer's polygons."""
    return page.evaluate(f"() => document.querySelectorAll('{MAP_DIV} path.leaflet-interactive').length")


def _slider_value(page) -> str:
    return page.locator("[data-testid=stMain] [data-testid=stSlider]").filter(has_text="Period").first.locator(
        "[data-testid=stSliderThumbValue]").inner_text().strip()


def test_one_run_over_three_years_then_switch_and_play(page, app_url, screenshot_dir, tmp_path):
    folder, _, _ = write_three_years(tmp_path / "imagery")
    model = scar_model(tmp_path / "scar.h5")
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.goto(app_url + "/change")
    wait_settled(page)
    local_imagery_and_model(page, folder, model)
    change_periods(page, "2022-2024", "3 periods: 2022, 2023, 2024")

    t0 = time.perf_counter()
    page.get_by_role("button", name="Run all periods").click()
    page.get_by_text("Patch footprint per period").first.wait_for(timeout=180_000)
    wait_settled(page)
    first_run = time.perf_counter() - t0
    assert page.query_selector("[data-testid=stException]") is None
    assert _slider_value(page) == "2024"
    assert _map_paths(page) >= 2, "the region outline and the 2024 detections"
    page.screenshot(path=str(screenshot_dir / "change_2024.png"), full_page=True)

    t0 = time.perf_counter()
    page.get_by_role("button", name="Run all periods").click()
    page.get_by_text("Patch footprint per period").first.wait_for(timeout=60_000)
    wait_settled(page)
    rerun = time.perf_counter() - t0

    page.get_by_text("New since the earlier periods", exact=True).click()
    wait_settled(page)
    thumb = page.locator("[data-testid=stMain] [data-testid=stSlider]").filter(has_text="Period").first.get_by_role("slider")
    page.evaluate("() => { chg.map.__probe = 'same map'; }")
    t0 = time.perf_counter()
    thumb.focus()
    thumb.press("ArrowLeft")
    wait_settled(page)
    switch = time.perf_counter() - t0
    assert _slider_value(page) == "2023"
    assert _map_paths(page) >= 2, "2023's new patches: scar A"
    probe = page.evaluate("() => chg.map.__probe || null")
    assert probe == "same map", "a period switch swaps the layer in place: the map is not rebuilt"
    page.screenshot(path=str(screenshot_dir / "change_2023_new.png"), full_page=True)
    # The period's layer as a file, made when the button is pressed: region and period in every feature.
    with page.expect_download() as got:
        page.get_by_role("button", name="New 2023").click()
    import json

    new_2023 = json.loads(open(got.value.path(), encoding="utf-8").read())
    assert new_2023["features"] and {f["properties"]["period"] for f in new_2023["features"]} == {"2023"}
    assert got.value.suggested_filename.startswith("new_") and got.value.suggested_filename.endswith("_2023.geojson")
    wait_settled(page)

    page.get_by_text("Play the periods").click()
    seen = []
    for _ in range(10):
        page.wait_for_timeout(400)
        seen.append(_slider_value(page))
    page.get_by_text("Play the periods").click()
    wait_settled(page)
    assert len(set(seen)) >= 2 and set(seen) <= {"2022", "2023", "2024"}, f"play steps through the periods: {seen}"
    assert page.query_selector("[data-testid=stException]") is None
    print(f"\nChange page timings: first run {first_run:.1f} s, re-run {rerun:.1f} s, period switch {switch:.2f} s")


def test_a_watch_report_opens_and_its_map_image_is_not_blank(page, screenshot_dir, tmp_path, monkeypatch):
    from shapely.geometry import shape
    from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, lonlat_box

    from detector import watches
    from detector.config import Settings
    from detector.workspace import Workspace

    monkeypatch.setenv("DETECTOR_DATA_DIR", str(tmp_path / "data"))
    folder, _, _ = write_three_years(tmp_path / "imagery")
    model = scar_model(tmp_path / "scar.h5")
    ws = Workspace(Settings(data_dir=tmp_path / "data"))
    region = lonlat_box(SCENE_CRS, SCENE_X0 + 300, SCENE_YTOP - 2700, SCENE_X0 + 2700, SCENE_YTOP - 300)
    ws.watches.save(watches.watch_of("Scar valley", shape(region), str(folder), str(model), "AMW relaxed", "year"))
    rep = ws.run_watch("Scar valley", "2024")
    page.set_content((rep.folder / "report.html").read_text(encoding="utf-8"))
    colours = page.evaluate("""() => {
        const img = document.querySelector("img[alt='map of new detections']");
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, c.width, c.height).data; const seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 37) seen.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2]);
        return {w: img.naturalWidth, colours: seen.size,
                red: [...seen].some(s => { const [r, g2, b] = s.split(',').map(Number); return r > 180 && g2 < 90 && b < 90; })};
    }""")
    assert colours["w"] > 300 and colours["colours"] > 5 and colours["red"], colours
    assert "new detections" in page.inner_text("body")
    page.screenshot(path=str(screenshot_dir / "watch_report.png"), full_page=True)
