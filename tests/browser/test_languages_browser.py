"""Every main page at 1,400 px and 390 px in English, Portuguese and Spanish: it opens without an error,
in its language, and a screenshot is kept to look at (tests/browser/screenshots/lang/)."""
from __future__ import annotations

import pytest
from streamlit_page import wait_settled

TITLES = {"en": {"": "Explore", "detect": "Detect", "change": "Change", "trends": "Trends", "review": "Review"},
          "pt": {"": "Explorar", "detect": "Detectar", "change": "Mudança", "trends": "Tendências", "review": "Revisar"},
          "es": {"": "Explorar", "detect": "Detectar", "change": "Cambio", "trends": "Tendencias", "review": "Revisar"}}


@pytest.mark.parametrize("lang", ["en", "pt", "es"])
def test_main_pages_in_each_language_and_width(page, app_url, screenshot_dir, lang):
    folder = screenshot_dir / "lang"
    folder.mkdir(exist_ok=True)
    for width, height in ((1400, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for path, title in TITLES[lang].items():
            page.goto(f"{app_url}/{path}?lang={lang}")
            wait_settled(page, timeout_s=60)
            page.wait_for_timeout(300)
            assert page.query_selector("[data-testid=stException]") is None, (lang, path)
            assert page.locator("h1").first.inner_text().strip() == title, (lang, path)
            page.screenshot(path=str(folder / f"{path or 'explore'}_{lang}_{width}.png"))
