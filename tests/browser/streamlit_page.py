"""Helpers for driving a Streamlit page in Playwright."""
from __future__ import annotations

import time


def wait_settled(page, timeout_s: float = 30.0, quiet_s: float = 0.75) -> None:
    """Wait until Streamlit has finished running the script and stayed idle for quiet_s."""
    deadline = time.time() + timeout_s
    calm_since = None
    while time.time() < deadline:
        app = page.query_selector("[data-testid=stApp]")
        idle = (
            app is not None
            and app.get_attribute("data-test-script-state") == "notRunning"
            and app.get_attribute("data-test-connection-state") == "CONNECTED"
            and page.query_selector("[data-testid=stStatusWidget] [data-testid=stStatusWidgetRunningIcon]") is None
        )
        if idle:
            calm_since = calm_since or time.time()
            if time.time() - calm_since >= quiet_s:
                return
        else:
            calm_since = None
        time.sleep(0.1)
    raise AssertionError("the page did not settle in time")
