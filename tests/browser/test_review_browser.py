"""Review in a real browser, keyboard only: each key labels the patch on screen and the counts follow."""
import re
import time

from streamlit_page import wait_settled

MAPS = "iframe[data-testid=stCustomComponentV1]"


def _metric(page, label: str) -> str:
    return page.evaluate(
        """label => { for (const m of document.querySelectorAll('[data-testid=stMetric]')) {
             if (m.querySelector('[data-testid=stMetricLabel]').innerText.trim() === label)
               return m.querySelector('[data-testid=stMetricValue]').innerText.trim(); }
           return null; }""", label)


def _patch(page) -> str:
    """The id of the patch on screen (from the header above its maps)."""
    return page.locator("[data-testid=stMarkdown]", has_text=re.compile(r"^Patch ")).first.locator("code").inner_text()


def _maps_drawn(page, n: int) -> None:
    page.wait_for_function(
        """n => { const f = document.querySelectorAll('iframe[data-testid=stCustomComponentV1]');
                  return f.length >= n && [...f].every(e => e.getBoundingClientRect().height > 0); }""",
        arg=n, timeout=30_000)


def _press(page, key: str, label: str, value: str) -> float:
    """Press a key; wait until the metric shows the new value. Returns the seconds it took."""
    t0 = time.time()
    page.keyboard.press(key)
    page.wait_for_function(
        """([label, value]) => [...document.querySelectorAll('[data-testid=stMetric]')].some(m =>
             m.querySelector('[data-testid=stMetricLabel]').innerText.trim() === label &&
             m.querySelector('[data-testid=stMetricValue]').innerText.trim() === value)""",
        arg=[label, value], timeout=30_000)
    wait_settled(page)
    return time.time() - t0


def test_label_several_patches_with_the_keyboard_only(page, app_url, screenshot_dir):
    page.goto(f"{app_url}/review")
    wait_settled(page, timeout_s=60)
    name = page.get_by_role("textbox", name="Your name")
    name.fill("keyboard-tester")
    name.press("Enter")
    name.evaluate("e => e.blur()")  # keys typed in a text box are text, not decisions
    wait_settled(page, timeout_s=60)
    _maps_drawn(page, 3)
    wait_settled(page)
    assert page.query_selector("[data-testid=stException]") is None
    assert _metric(page, "Labelled by you") == "0"
    first = _patch(page)
    page.screenshot(path=str(screenshot_dir / "review.png"))

    took = [_press(page, "m", "Labelled by you", "1")]
    assert _metric(page, "Mines") == "1"
    assert page.get_by_text("Saved: mine for patch").first.is_visible()
    assert _patch(page) != first, "the next patch is shown after a decision"

    took.append(_press(page, "n", "Labelled by you", "2"))
    took.append(_press(page, "1", "Labelled by you", "3"))  # not a mine: aquaculture pond
    assert page.get_by_text("Saved: not a mine (aquaculture pond)").first.is_visible()
    took.append(_press(page, "u", "Labelled by you", "4"))
    assert (_metric(page, "Mines"), _metric(page, "Not mines"), _metric(page, "Unsure")) == ("1", "2", "1")

    before_undo = _patch(page)
    took.append(_press(page, "z", "Labelled by you", "3"))  # undo: the unsure patch comes back
    assert _metric(page, "Unsure") == "0"
    assert _patch(page) != before_undo

    # keys typed into the note field are text, not decisions; Esc leaves the field and the keys work again
    page.get_by_placeholder("e.g. pond edges too straight").click()
    page.keyboard.type("mnu dark water")
    assert _metric(page, "Labelled by you") == "3"
    page.keyboard.press("Escape")
    wait_settled(page)
    took.append(_press(page, "4", "Labelled by you", "4"))  # not a mine: landslide, with the note
    assert page.get_by_text("Saved: not a mine (landslide)").first.is_visible()
    assert page.get_by_placeholder("e.g. pond edges too straight").input_value() == ""
    _maps_drawn(page, 3)
    wait_settled(page)
    assert page.query_selector("[data-testid=stException]") is None
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": int(height) + 40})
    wait_settled(page)
    page.screenshot(path=str(screenshot_dir / "review_after_keys.png"), full_page=True)
    print(f"seconds from key press to the updated page: {', '.join(f'{t:.2f}' for t in took)}")


def test_tune_page_draws(page, app_url, screenshot_dir):
    page.goto(f"{app_url}/tune")
    wait_settled(page, timeout_s=60)
    page.wait_for_function(
        """() => { const c = document.querySelectorAll('[data-testid=stPlotlyChart]');
                   return c.length === 2 && [...c].every(e => e.querySelector('.main-svg')); }""", timeout=30_000)
    _maps_drawn(page, 1)
    wait_settled(page)
    assert page.query_selector("[data-testid=stException]") is None
    assert page.get_by_text("Detection threshold").first.is_visible()  # the shared sidebar's threshold
    assert _metric(page, "Patches kept") == "1,809"
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": int(height) + 40})
    wait_settled(page)
    page.screenshot(path=str(screenshot_dir / "tune.png"), full_page=True)
