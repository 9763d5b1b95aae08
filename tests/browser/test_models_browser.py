"""The Models page in a real browser: a model trained from labels, its report drawn, nothing raises.

The app runs with a data folder of its own holding one freshly trained model (a few epochs on the
synthetic mining scene), opened by a deep link to its report, as a shared link would.
"""
from __future__ import annotations

import pytest
from streamlit_page import start_app, wait_settled
from training_helpers import make_mining, train_on

NAME = "browser-trained"


@pytest.fixture(scope="module")
def models_app(tmp_path_factory, mirror):
    data = tmp_path_factory.mktemp("models_appdata")
    train_on(make_mining(tmp_path_factory.mktemp("models_mining")), NAME, data, epochs=4)
    try:
        proc, url = start_app({"DETECTOR_MIRROR": str(mirror), "DETECTOR_DATA_DIR": str(data)},
                              tmp_path_factory.mktemp("models_applog") / "streamlit.log")
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_models_page_draws_a_trained_models_report(page, models_app, screenshot_dir):
    page.goto(f"{models_app}/models?model={NAME}")
    wait_settled(page)
    page.wait_for_function(
        """() => { const c = document.querySelectorAll('[data-testid=stPlotlyChart]');
                   return c.length === 3 && [...c].every(e => e.querySelector('.main-svg')); }""",
        timeout=30_000,
    )
    wait_settled(page)
    assert page.query_selector("[data-testid=stException]") is None
    assert page.get_by_text("Training report").first.is_visible()
    text = " ".join(s.text_content() for s in page.query_selector_all("[data-testid=stPlotlyChart] .main-svg"))
    assert "Learning curves" in text and "Validation confusion matrix" in text and "precision–recall" in text
    assert "true positive" in text and "validation" in text
    assert page.get_by_text(f"--model {NAME}").first.is_visible()
    sidebar = page.locator("[data-testid=stSidebar]")
    assert sidebar.get_by_text("Models", exact=True).first.is_visible(), "the page is in app.py's navigation"
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": int(height) + 40})
    wait_settled(page)
    page.screenshot(path=str(screenshot_dir / "models.png"), full_page=True)
