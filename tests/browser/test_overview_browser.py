"""The landing page in a real browser: it renders, lists the models, raises nothing."""
from streamlit_page import wait_settled


def test_overview_page_renders(page, app_url, screenshot_dir):
    page.goto(app_url + "/about")
    wait_settled(page)
    assert page.query_selector("[data-testid=stException]") is None
    assert page.get_by_text("Gold-mine detector").first.is_visible()
    assert page.get_by_text("Registered models").first.is_visible()
    page.screenshot(path=str(screenshot_dir / "overview.png"), full_page=True)
