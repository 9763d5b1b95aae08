"""The Explore page in a real browser: every page opens cleanly, a drawn rectangle gets its figures.

The map's scripts come from the vendored copies (see conftest); map tiles cannot load offline, so
the polygons draw on a grey background, which is expected in the screenshots.
"""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Error as PlaywrightError
from streamlit_page import wait_settled

MAP_DIV = ".amw-map"  #: the Explore map, drawn in the page itself (ui.map.live)


def _map_ready(page) -> bool:
    el = page.query_selector(MAP_DIV)
    box = el.bounding_box() if el else None
    if not box or box["height"] <= 0:
        return False
    try:
        return page.evaluate("() => !!(window.amw && window.amw.shown !== undefined && window.amw.map && window.amw.tiles)")
    except PlaywrightError:  # the page is navigating
        return False


def _page_idle(page) -> bool:
    app = page.query_selector("[data-testid=stApp]")
    return (
        app is not None
        and app.get_attribute("data-test-script-state") == "notRunning"
        and app.get_attribute("data-test-connection-state") == "CONNECTED"
        and page.query_selector("[data-testid=stStatusWidget] [data-testid=stStatusWidgetRunningIcon]") is None
        and page.query_selector("[data-testid=stSkeleton], [data-testid=stSkeletonElement]") is None
        and all(c.query_selector(".main-svg") for c in page.query_selector_all("[data-testid=stPlotlyChart]"))
    )


def wait_explore(page, timeout_s: float = 60.0, quiet_s: float = 0.75, need_map: bool = True) -> float:
    """Wait until the page is idle with its map drawn, for ``quiet_s``; return when that calm began
    (``time.perf_counter()``), which is the moment the page settled."""
    deadline = time.perf_counter() + timeout_s
    calm_since = None
    while time.perf_counter() < deadline:
        ok = _page_idle(page) and (not need_map or _map_ready(page))
        now = time.perf_counter()
        if ok:
            calm_since = calm_since or now
            if now - calm_since >= quiet_s:
                return calm_since
        else:
            calm_since = None
        page.wait_for_timeout(50)  # (Playwright delivers its events while it waits, not in time.sleep)
    raise AssertionError("the Explore page did not settle in time")


#: A point (container pixels) well inside a mine polygon of the newest period shown, away from the controls.
FIND_MINE_JS = """() => {
  var map = amw.map, size = amw.map.getSize();
  for (var k = amw.shown; k >= 0; k--) {
    var layer = amw.mines[k];
    if (!layer || !layer._map) { continue; }
    for (var i = 0; i < layer._parts.length; i++) {
      var part = layer._parts[i];
      if (part.length < 4) { continue; }
      var b = L.bounds(part), c = b.getCenter(), s = b.getSize();
      if (s.x < 8 || s.y < 8 || !layer._containsPoint(c)) { continue; }
      var p = amw.map.layerPointToContainerPoint(c);
      if (p.x > 70 && p.x < size.x - 320 && p.y > 200 && p.y < size.y - 80) { return [p.x, p.y]; }
    }
  }
  return null;
}"""


def _metric_values(page) -> dict[str, str]:
    out = {}
    for m in page.query_selector_all("[data-testid=stMetric]"):
        label = m.query_selector("[data-testid=stMetricLabel]")
        value = m.query_selector("[data-testid=stMetricValue]")
        if label and value:
            out[label.inner_text().strip()] = value.inner_text().strip()
    return out


def _number(text: str) -> float:
    m = re.search(r"[\d,]+(?:\.\d+)?", text)
    return float(m.group(0).replace(",", "")) if m else float("nan")


@pytest.mark.parametrize("path", ["/", "/trends", "/about"])
def test_every_page_opens_without_exception(page, app_url, screenshot_dir, path):
    page.goto(app_url + path)
    if path == "/":
        wait_explore(page)
    else:
        wait_settled(page)
    assert page.query_selector("[data-testid=stException]") is None, page.inner_text("[data-testid=stException]")
    # the navigation's icons are Material Symbols (Streamlit's own font), not emoji that render as boxes
    assert len(page.query_selector_all("[data-testid=stSidebarNav] [data-testid=stIconMaterial]")) >= 7
    name = path.strip("/") or "explore"
    page.screenshot(path=str(screenshot_dir / f"page_{name}.png"), full_page=True)


def test_draw_a_rectangle_and_see_its_figures(page, app_url, screenshot_dir):
    # Madre de Dios, Peru: the densest mining of all the layers (La Pampa, Huepetuhe)
    page.goto(app_url + "/?lat=-12.9&lon=-70.5&zoom=11")
    wait_explore(page)
    assert page.query_selector("[data-testid=stException]") is None
    assert not any("mined" in k.lower() for k in _metric_values(page)), "no region yet: no figures"
    page.screenshot(path=str(screenshot_dir / "explore_map.png"), full_page=True)

    frame = page.main_frame
    frame.click("a.leaflet-draw-draw-rectangle")
    box = page.query_selector(MAP_DIV).bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 150, cy - 110)
    page.mouse.down()
    page.mouse.move(cx, cy, steps=5)
    page.mouse.move(cx + 150, cy + 110, steps=5)
    page.mouse.up()

    deadline = time.time() + 30
    values = {}
    while time.time() < deadline:
        values = _metric_values(page)
        if any("mined" in k.lower() for k in values):
            break
        time.sleep(0.2)
    wait_explore(page)
    values = _metric_values(page)
    mined = {k: v for k, v in values.items() if "mined" in k.lower()}
    assert mined, f"no mined-area figure appeared after drawing; metrics: {values}"
    assert max(_number(v) for v in mined.values()) > 0, mined
    assert page.query_selector("[data-testid=stException]") is None
    assert "region=bbox" in page.url, "a drawn rectangle goes into the link"
    # click a mine polygon (inside the drawn rectangle: drawings let clicks through) and get its facts
    frame = page.main_frame
    pt = frame.evaluate(FIND_MINE_JS)
    assert pt, "no mine polygon in view to click"
    box = frame.query_selector(MAP_DIV).bounding_box()
    page.mouse.click(box["x"] + pt[0], box["y"] + pt[1])
    page.get_by_text("Mine polygon").first.wait_for(timeout=20_000)
    wait_explore(page)
    facts = page.get_by_text("Mine polygon").first.locator("xpath=ancestor::*[@data-testid='stVerticalBlock'][1]").inner_text()
    assert "Mined area:" in facts and "Country: Peru" in facts, facts
    frame = page.main_frame
    assert frame.evaluate("() => amw.selected.getLayers().length") == 1, "the clicked polygon is outlined"

    page.set_viewport_size({"width": 1400, "height": 1500})  # Streamlit scrolls inside: show it all
    wait_explore(page)
    page.screenshot(path=str(screenshot_dir / "explore_drawn_region.png"), full_page=True)


def test_changing_the_period_restyles_the_map_without_rebuilding_it(page, app_url):
    page.goto(app_url + "/?lat=-6.0&lon=-56.0&zoom=7")  # the Tapajós
    wait_explore(page)
    frame = page.main_frame
    frame.evaluate("() => { amw.map.__probe = 'same map'; amw.map.setView([-5.5, -56.5], 8, {animate: false}); }")
    wait_explore(page)  # the pan goes into the link
    assert "lat=-5.5" in page.url and "zoom=8" in page.url
    thumb = page.query_selector("[data-testid=stSidebar] [data-testid=stSlider] input[type=range]")
    thumb.focus()
    page.keyboard.press("ArrowLeft")
    wait_explore(page)
    assert "period=2025Q2" in page.url
    frame = page.main_frame
    state = frame.evaluate("() => [amw.map.__probe, amw.shown, amw.map.getZoom(), "
                           "document.getElementById('amw-new-label').textContent]")
    assert state == ["same map", 7, 8, "new in 2025 Q2"], state


def test_choosing_mapbox_without_a_token_keeps_the_map_where_it_was(page, app_url):
    """The notice that Mapbox needs a token used to appear above the map and reload it at the start view."""
    page.goto(app_url + "/?lat=-6.0&lon=-56.0&zoom=7")
    wait_explore(page)
    frame = page.main_frame
    frame.evaluate("() => { amw.map.__probe = 'same map'; amw.map.setView([-5.5, -56.5], 9, {animate: false}); }")
    wait_explore(page)
    for label in ("Mapbox", "Esri"):  # to Mapbox (no token: the notice shows), then back
        page.locator("[data-testid=stSidebar] label").filter(has_text=re.compile(label)).first.click()
        wait_explore(page)
        frame = page.main_frame
        state = frame.evaluate("() => [amw.map.__probe, amw.map.getZoom(), Math.round(amw.map.getCenter().lat * 10) / 10]")
        assert state == ["same map", 9, -5.5], (label, state)
    assert "zoom=9" in page.url


def test_a_place_search_takes_the_map_there(page, app_url, screenshot_dir):
    """The browser asks the geocoder (Nominatim; stubbed here with its answer's shape) and the map goes there."""
    import json

    asked = []

    def nominatim(route):
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="application/json", headers={"Access-Control-Allow-Origin": "*"},
                      body=json.dumps([{"place_id": 1, "lat": "-4.2761", "lon": "-55.9836",
                                        "display_name": "Itaituba, Pará, Brasil", "class": "place", "type": "city",
                                        "address": {"city": "Itaituba", "state": "Pará", "country": "Brasil"},
                                        "boundingbox": ["-4.3", "-4.25", "-56.02", "-55.95"]}]))

    page.route("https://nominatim.openstreetmap.org/**", nominatim)
    page.goto(app_url + "/?lat=-10.0&lon=-60.0&zoom=6")
    wait_explore(page)
    frame = page.main_frame
    frame.click(".leaflet-control-geocoder-icon")
    box = frame.locator(".leaflet-control-geocoder-form input")
    box.fill("Itaituba")
    box.press("Enter")  # one answer: the control takes it at once
    frame.wait_for_function("() => Math.abs(amw.map.getCenter().lat + 4.2761) < 0.01", timeout=10_000)
    lat, lon, zoom = frame.evaluate("() => [amw.map.getCenter().lat, amw.map.getCenter().lng, amw.map.getZoom()]")
    assert asked and "Itaituba" in asked[0]
    assert abs(lat + 4.2761) < 0.01 and abs(lon + 55.9836) < 0.01 and zoom == 11
    page.screenshot(path=str(screenshot_dir / "explore_place_search.png"))


def test_on_a_phone_period_and_basemap_sit_above_the_map(page, app_url, screenshot_dir):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(app_url + "/?period=2023")
    wait_explore(page)
    button = page.locator(".st-key-phone_controls button").first
    assert button.is_visible() and "2023" in button.inner_text()
    map_top = page.query_selector(MAP_DIV).bounding_box()["y"]
    assert button.bounding_box()["y"] < map_top, "above the map"
    page.screenshot(path=str(screenshot_dir / "explore_phone.png"), full_page=False)
    button.click()
    slider = page.locator("[data-testid=stPopoverBody] [data-testid=stSlider]").get_by_role("slider")
    slider.focus()
    slider.press("ArrowLeft")
    wait_explore(page)
    assert "period=2022" in page.url, "the phone's control is the sidebar's setting"
    page.set_viewport_size({"width": 1400, "height": 900})
    page.wait_for_timeout(300)
    assert not page.locator(".st-key-phone_controls").first.is_visible(), "hidden on a wide screen"


def test_a_click_on_an_airstrip_says_what_it_is_without_a_rerun(page, app_url, screenshot_dir):
    page.set_viewport_size({"width": 1400, "height": 1100})  # the whole map in view: a click scrolls nothing
    page.goto(f"{app_url}/")
    wait_explore(page)
    frame = page.main_frame
    # the first airstrip with mining nearby, in the middle of the map at zoom 11
    frame.evaluate("""() => { var ll = amw.map._layers;
        for (var k in ll) { if (ll[k]._pts && ll[k]._latlngs && ll[k].options.fillColor === '#00e5ff') { window.__strip = ll[k]._latlngs[0]; } }
        amw.map.setView(window.__strip, 11, {animate: false}); }""")
    wait_explore(page)  # the move reports centre and zoom: the page reruns once
    frame = page.main_frame
    pt = frame.evaluate("() => { var p = amw.map.latLngToContainerPoint(window.__strip); return [p.x, p.y]; }")
    runs_before = page.evaluate("() => document.querySelector('[data-testid=stApp]').getAttribute('data-test-script-state')")
    frame.locator(MAP_DIV).click(position={"x": pt[0] + 2, "y": pt[1] + 1})
    popup = frame.locator(".amw-airstrip .leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    text = popup.inner_text()
    assert text.startswith("Airstrip ") and "Mining seen within 20 km" in text, text
    page.screenshot(path=str(screenshot_dir / "explore_airstrip_popup.png"))
    assert runs_before == "notRunning"
    wait_explore(page)
    assert page.query_selector("[data-testid=stException]") is None


def test_a_hidden_layer_stays_hidden_after_visiting_another_page(page, app_url):
    page.goto(f"{app_url}/")
    wait_explore(page)
    frame = page.main_frame
    frame.evaluate("() => window.localStorage.removeItem('amw-explore-hidden')")
    frame.hover(".leaflet-control-layers")  # folded on a map this narrow: it opens under the pointer
    frame.locator(".leaflet-control-layers label", has_text="Indigenous territories").locator("input").click()
    assert frame.evaluate("() => !amw.map.hasLayer(amw.overlays.territories)")
    page.locator("[data-testid=stSidebarNav] a", has_text="Trends").click()
    wait_settled(page, timeout_s=60)
    page.locator("[data-testid=stSidebarNav] a", has_text="Explore").click()
    wait_explore(page)
    frame = page.main_frame
    frame.wait_for_function("() => amw.restored === true", timeout=10_000)
    time.sleep(0.3)
    state = frame.evaluate("""() => [amw.map.hasLayer(amw.overlays.territories), amw.map.hasLayer(amw.overlays.countries),
        [...document.querySelectorAll('.leaflet-control-layers label')].filter(l => l.innerText.includes('Indigenous'))
          .map(l => l.querySelector('input').checked)[0]]""")
    assert state == [False, True, False], state
    frame.hover(".leaflet-control-layers")
    frame.locator(".leaflet-control-layers label", has_text="Indigenous territories").locator("input").click()
    assert frame.evaluate("() => window.localStorage.getItem('amw-explore-hidden')") == "[]"


def test_two_years_side_by_side_with_a_divider_the_user_drags(page, app_url, screenshot_dir):
    page.set_viewport_size({"width": 1400, "height": 1100})
    page.goto(f"{app_url}/")
    wait_explore(page)
    frame = page.main_frame
    frame.evaluate("() => { amw.map.__probe = 'same map'; amw.map.setView([-12.9, -70.3], 11, {animate: false}); }")
    wait_explore(page)
    page.locator("[data-testid=stMain]").get_by_text("Compare imagery of two years (swipe)").click()
    wait_explore(page)
    frame = page.main_frame
    frame.wait_for_function("() => !!amw.swipeLayer", timeout=10_000)
    state = frame.evaluate("""() => [amw.map.__probe, amw.swipeLayer._url, document.querySelector('.amw-swipe-left').textContent,
        document.querySelector('.amw-swipe-right').textContent, amw.map.getPane('amwSwipe').style.clip]""")
    assert state[0] == "same map", "turning the comparison on does not rebuild the map"
    assert "s2cloudless-2018_3857" in state[1] and state[2] == "Sentinel-2 cloudless 2018", state
    assert state[3] == "Sentinel-2 cloudless 2024" and state[4].startswith("rect("), state
    bar = frame.locator(".amw-swipe-range").bounding_box()
    page.mouse.move(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
    page.mouse.down()
    page.mouse.move(bar["x"] + bar["width"] * 0.25, bar["y"] + bar["height"] / 2, steps=5)
    page.mouse.up()
    left = frame.evaluate("() => parseFloat(document.querySelector('.amw-swipe-divider').style.left)")
    width = frame.evaluate("() => amw.map.getSize().x")
    assert abs(left - width * 0.25) < 25, (left, width)
    page.screenshot(path=str(screenshot_dir / "explore_swipe.png"))
    page.locator("[data-testid=stMain]").get_by_text("Compare imagery of two years (swipe)").click()
    wait_explore(page)
    frame = page.main_frame
    assert frame.evaluate("() => [!!amw.swipeLayer, !!document.querySelector('.amw-swipe'), amw.map.__probe]") == [
        False, False, "same map"]


def test_switching_the_language_relabels_the_map_where_it_stands(page, app_url):
    """The map's own words (layer switcher) follow the language; the map is remade where it stood, and the
    sidebar keeps its period and basemap (every label changes, which made each a new widget that started
    again from its default: the period back to 2018, no basemap chosen)."""
    page.goto(app_url + "/?lat=-6.0&lon=-56.0&zoom=7&period=2024&basemap=esri")
    wait_explore(page)
    page.evaluate("() => { amw.map.setView([-5.5, -56.5], 8, {animate: false}); }")
    wait_explore(page)
    page.locator("[data-testid=stSidebar] [data-testid=stSelectbox]").first.click()
    page.get_by_role("option", name="Português").click()
    page.wait_for_function("() => !!(window.amw && document.querySelector('.leaflet-control-layers') && "
                           "document.querySelector('.leaflet-control-layers').textContent.includes('Territórios indígenas'))",
                           timeout=20_000)
    wait_explore(page)
    state = page.evaluate("() => [amw.map.getZoom(), Math.round(amw.map.getCenter().lat * 10) / 10, "
                          "document.getElementById('amw-new-label').textContent, amw.tilesUrl.includes('arcgisonline')]")
    assert state == [8, -5.5, "nova em 2024", True], state
    assert "lang=pt" in page.url and "period=2024" in page.url and "basemap=esri" in page.url, page.url
    sidebar = page.locator("[data-testid=stSidebar]")
    assert "2024" in sidebar.locator("[data-testid=stSlider]").first.inner_text()
    assert sidebar.get_by_role("radio", name=re.compile("Esri")).is_checked()


def test_a_map_whose_scripts_cannot_load_says_so(page, app_url):
    """Leaflet comes from a CDN; where the visitor's network blocks it, the map's place says what happened."""
    page.route(re.compile(r".*/leaflet(@[^/]*)?/dist/leaflet\.js$"), lambda route: route.abort())
    page.goto(f"{app_url}/")
    box = page.locator(MAP_DIV)
    box.filter(has_text="The map could not load").wait_for(timeout=30_000)
    assert "reload the page" in box.inner_text()
    assert page.query_selector("[data-testid=stException]") is None
    wait_settled(page)
    assert page.locator("[data-testid=stSidebar]").get_by_text("Period").first.is_visible(), "the rest of the page works"
