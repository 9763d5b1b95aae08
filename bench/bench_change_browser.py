"""The Change page in Chromium over 2019–2024 and 2025 Q2–Q3: first run, re-run, period switch, play.

Run from the repository root (Debian's chromium and Playwright installed, as the test command does):

    DETECTOR_MIRROR=../shared/amw python3 bench/bench_change_browser.py

Writes eight dated synthetic GeoTIFFs (one a period, scars appearing over time), a stand-in model
that scores bare soil, starts the app on loopback and drives the page as a user would; prints the
seconds from each click until the page settles.
"""
from __future__ import annotations

import importlib.util
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "browser")]

from change_helpers import dated_scene, scar_model
from streamlit_page import change_periods, local_imagery_and_model, start_app, wait_settled

PERIODS = [("2019", "2019-08-01"), ("2020", "2020-08-01"), ("2021", "2021-08-01"), ("2022", "2022-08-01"),
           ("2023", "2023-08-01"), ("2024", "2024-08-01"), ("2025Q2", "2025-05-15"), ("2025Q3", "2025-08-15")]


def main() -> None:
    spec = importlib.util.spec_from_file_location("bconf", ROOT / "tests" / "browser" / "conftest.py")
    bconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bconf)
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp())
    folder = tmp / "imagery"
    folder.mkdir()
    scars = []
    for i, (_, day) in enumerate(PERIODS):
        if i % 2 == 1:
            scars.append((20 + 30 * (i // 2), 30 + 50 * (i // 2), 32 + 30 * (i // 2), 45 + 50 * (i // 2)))
        dated_scene(folder / f"s{day}.tif", day, list(scars))
    model = scar_model(tmp / "scar.h5")
    proc, url = start_app({"DETECTOR_MIRROR": os.environ["DETECTOR_MIRROR"], "DETECTOR_DATA_DIR": str(tmp / "data")},
                          tmp / "streamlit.log")
    rows = []
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=bconf.CHROMIUM, headless=True, args=bconf.CHROMIUM_ARGS)
            ctx = b.new_context(viewport={"width": 1400, "height": 1800})
            ctx.route(bconf.external, bconf._route)
            page = ctx.new_page()
            page.goto(url + "/change")
            wait_settled(page)
            local_imagery_and_model(page, folder, model)
            change_periods(page, "2019-2024,2025Q2-2025Q3", "8 periods:")
            # Each figure runs from the action to the moment the page became calm (wait_settled's return;
            # its 0.75 s quiet window, which makes sure the page stays calm, is not counted).
            for what in ("first run of the 8 periods (model load included)", "the 8 periods again (all from the store)"):
                t0 = time.time()
                page.get_by_role("button", name="Run all periods").click()
                page.get_by_text("Patch footprint per period").first.wait_for(timeout=300_000)
                rows.append((what, wait_settled(page) - t0))
            thumb = page.locator("[data-testid=stMain] [data-testid=stSlider]").filter(has_text="Period").first.get_by_role("slider")
            for what in ("period switch (slider one step)", "period switch, second"):
                t0 = time.time()
                thumb.focus()
                thumb.press("ArrowLeft")
                rows.append((what, wait_settled(page) - t0))
            t0 = time.time()
            page.get_by_text("New since the earlier periods", exact=True).click()
            rows.append(("layer switch to new since", wait_settled(page) - t0))
            t0 = time.time()
            page.get_by_text("Against the published layer", exact=True).click()
            rows.append(("layer switch to agreement (first time: published layer loaded)", wait_settled(page) - t0))
            page.screenshot(path=str(tmp / "change_8_periods.png"), full_page=True)
            b.close()
    finally:
        proc.terminate()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"8 dated 300 × 300 px GeoTIFFs (9.1 km², 576 patches a period), stand-in model; screenshot {tmp}\n")
    print("| interaction | seconds |\n|---|---:|")
    for what, sec in rows:
        print(f"| {what} | {sec:.2f} |")


if __name__ == "__main__":
    main()
