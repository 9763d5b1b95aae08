"""Every page at 1,400 px and 390 px in English, Portuguese and Spanish: it opens without an error,
in its language, and a screenshot is kept to look at (tests/browser/screenshots/lang/)."""
from __future__ import annotations

import pytest
from streamlit_page import wait_settled

TITLES = {"en": {"": "Explore", "detect": "Detect", "change": "Change", "trends": "Trends", "review": "Review",
                 "tune": "Tune", "models": "Models", "about": "Gold-mine detector"},
          "pt": {"": "Explorar", "detect": "Detectar", "change": "Mudança", "trends": "Tendências", "review": "Revisar",
                 "tune": "Ajustar", "models": "Modelos", "about": "Detector de garimpo"},
          "es": {"": "Explorar", "detect": "Detectar", "change": "Cambio", "trends": "Tendencias", "review": "Revisar",
                 "tune": "Ajustar", "models": "Modelos", "about": "Detector de minería de oro"}}


@pytest.mark.parametrize("lang", ["en", "pt", "es"])
def test_main_pages_in_each_language_and_width(page, app_url, screenshot_dir, lang):
    """Each page is opened once at 1,400 px, then narrowed to 390 px (a phone): the same layout as
    opening it at 390 px (compared pixel for pixel when this was written), for half the page loads."""
    folder = screenshot_dir / "lang"
    folder.mkdir(exist_ok=True)
    for path, title in TITLES[lang].items():
        page.set_viewport_size({"width": 1400, "height": 900})
        page.goto(f"{app_url}/{path}?lang={lang}")
        for width, height in ((1400, 900), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            wait_settled(page, timeout_s=60, quiet_s=0.5)
            page.wait_for_timeout(150 if path else 300)  # the map's canvas a moment to paint
            assert page.query_selector("[data-testid=stException]") is None, (lang, path)
            assert page.locator("h1").first.inner_text().strip() == title, (lang, path)
            page.screenshot(path=str(folder / f"{path or 'explore'}_{lang}_{width}.png"))


def test_a_refusal_from_the_detector_reads_in_the_pages_language(page, app_url, screenshot_dir):
    """The detector's own message (a period list written backwards) on the Change page, in Spanish."""
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{app_url}/change?lang=es")
    wait_settled(page, timeout_s=60)
    box = page.get_by_role("textbox", name="Períodos", exact=True)
    box.fill("2024-2022")
    box.press("Enter")
    wait_settled(page, timeout_s=60)
    alerts = " ".join(page.locator("[data-testid=stAlert]").all_inner_texts())
    assert "el último año va antes del primero; escriba 2022-2024" in alerts, alerts
    page.screenshot(path=str(screenshot_dir / "lang" / "change_refusal_es_1400.png"))
