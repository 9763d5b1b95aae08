"""The Trends page in a real browser: every chart draws, the measure toggle relabels, nothing raises.

Opened by a deep link carrying a region and a period, as a shared link (or a rectangle drawn on
Explore) would bring. The screenshot is taken with the window as tall as the page, because
Streamlit scrolls inside its own container and a "full page" screenshot would stop at the fold.
"""
from streamlit_page import wait_settled

CHARTS = "[data-testid=stPlotlyChart]"


def _charts_drawn(page, n: int, timeout_ms: int = 30_000) -> None:
    """Wait until n plotly charts are on the page, each with its SVG."""
    page.wait_for_function(
        """n => { const c = document.querySelectorAll('[data-testid=stPlotlyChart]');
                  return c.length === n && [...c].every(e => e.querySelector('.main-svg')); }""",
        arg=n, timeout=timeout_ms,
    )


def _chart_text(page) -> str:
    return " ".join(s.text_content() for s in page.query_selector_all(f"{CHARTS} .main-svg"))


def _screenshot_whole_page(page, path) -> None:
    height = page.evaluate(
        """() => Math.max(...['[data-testid=stMain]', '[data-testid=stAppViewContainer]', '[data-testid=stMainBlockContainer]']
                 .map(s => document.querySelector(s)).filter(Boolean).map(e => e.scrollHeight))"""
    )
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": int(height) + 40})
    wait_settled(page)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


def test_trends_page_draws_every_chart(page, app_url, screenshot_dir):
    page.goto(f"{app_url}/trends?region=country:PER&period=2024")
    wait_settled(page)
    _charts_drawn(page, 4)
    wait_settled(page)
    assert page.query_selector("[data-testid=stException]") is None
    # the deep link got the whole app: its navigation and the shared sidebar, not the page alone
    sidebar = page.locator("[data-testid=stSidebar]")
    assert sidebar.get_by_text("Basemap", exact=True).first.is_visible(), "the shared sidebar is missing"
    assert sidebar.get_by_text("About", exact=True).first.is_visible(), "app.py's navigation is missing"
    text = _chart_text(page)
    assert "≤2018" in text and "New mined area per period (ha)" in text
    assert "Cumulative mined area (ha)" in text and "Peru: new and cumulative mined area" in text
    assert page.get_by_text("Earth Genome", exact=False).first.is_visible()
    assert page.get_by_text("Indigenous territories with the most mining").first.is_visible()
    _screenshot_whole_page(page, screenshot_dir / "trends.png")

    page.get_by_text("Footprint (polygon area, several times larger)").first.click()
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid=stPlotlyChart] .main-svg')]
                 .some(s => s.textContent.includes('New footprint per period (ha)'))""",
        timeout=30_000,
    )
    wait_settled(page)
    _charts_drawn(page, 4)
    assert page.query_selector("[data-testid=stException]") is None
    assert "mined area" not in _chart_text(page).lower()
