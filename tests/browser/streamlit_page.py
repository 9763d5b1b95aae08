"""Helpers for driving a Streamlit page in Playwright."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env: dict[str, str], log_path: Path, secrets: str | None = None,
              port: int | None = None, warm: bool = False) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` on a free loopback port (with ``secrets``, a secrets.toml text, if given);
    returns once /_stcore/health says ok (with ``warm``, once the app has also run once, as
    deploy/serve.sh has it do before the first visitor)."""
    port = port or free_port()
    extra = ["--server.scriptHealthCheckEnabled", "true"] if warm else []
    if secrets is not None:
        path = log_path.with_name("secrets.toml")
        path.write_text(secrets)
        extra += ["--secrets.files", str(path)]
    log = open(log_path, "w")  # noqa: SIM115 — the server writes to it for its whole life
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.address",
         "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false", *extra],
        cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                if warm:
                    sys.path.insert(0, str(ROOT / "deploy"))
                    from healthcheck import warm as warm_up

                    if warm_up(url) is None:
                        raise RuntimeError(f"the warm-up run failed; see {log_path}")
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"streamlit did not start; see {log_path}")


def wait_settled(page, timeout_s: float = 30.0, quiet_s: float = 0.75) -> float:
    """Wait until Streamlit has finished running the script and stayed idle for quiet_s; returns when
    (``time.time()``) that calm began, which is when the page settled (timings use it, not the return)."""
    deadline = time.time() + timeout_s
    calm_since = None
    while time.time() < deadline:
        app = page.query_selector("[data-testid=stApp]")
        idle = (
            app is not None
            and app.get_attribute("data-test-script-state") == "notRunning"
            and app.get_attribute("data-test-connection-state") == "CONNECTED"
            and page.query_selector("[data-testid=stStatusWidget] [data-testid=stStatusWidgetRunningIcon]") is None
            # an element still loading its script shows a skeleton in its place: not settled yet
            and page.query_selector("[data-testid=stSkeleton], [data-testid=stSkeletonElement]") is None
        )
        if idle:
            calm_since = calm_since or time.time()
            if time.time() - calm_since >= quiet_s:
                return calm_since
        else:
            calm_since = None
        page.wait_for_timeout(100)  # (Playwright delivers its events while it waits, not in time.sleep)
    raise AssertionError("the page did not settle in time")


def local_imagery(page, imagery) -> None:
    """On Detect or Change: imagery on this machine (a file, product or folder), named by path, as a user does."""
    page.get_by_text("Imagery on this machine").click()
    wait_settled(page)
    box = page.get_by_label("Path of a GeoTIFF, a Sentinel-2 product (.SAFE or .zip), or a folder of them")
    box.fill(str(imagery))
    box.press("Enter")
    page.get_by_text("Whole image:").first.wait_for(timeout=30_000)


def local_imagery_and_model(page, imagery, model) -> None:
    """On Detect or Change: imagery on this machine and a local model file."""
    local_imagery(page, imagery)
    page.get_by_test_id("stSelectbox").filter(has_text="Model").first.click()
    page.get_by_role("option", name="Local model file…").click()
    wait_settled(page)
    mbox = page.get_by_label("Model file (.h5 or .keras)")
    mbox.fill(str(model))
    mbox.press("Enter")
    wait_settled(page)


def change_periods(page, text: str, expect: str) -> None:
    """Type the Change page's periods and wait for its reading of them (e.g. "8 periods:")."""
    box = page.get_by_role("textbox", name="Periods")
    box.fill(text)
    box.press("Enter")
    page.get_by_text(expect).wait_for(timeout=30_000)
