"""Exit 0 when the dashboard answers its health check (Streamlit's /_stcore/health), else 1.

    python3 deploy/healthcheck.py [http://127.0.0.1:8501]
    python3 deploy/healthcheck.py --warm [http://127.0.0.1:8501]   # wait for the server, then warm it up

``--warm`` (what deploy/serve.sh runs once the server is up) asks Streamlit's script health check
(``/_stcore/script-health-check``, on when the server runs with ``server.scriptHealthCheckEnabled``)
to run the app once: the imports, the published layers and their map encoding are then in the
server's caches before the first visitor comes, who would otherwise wait for them.
"""
from __future__ import annotations

import sys
import time
import urllib.request


def healthy(base: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/_stcore/health", timeout=timeout) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return False


def warm(base: str, wait_s: float = 120.0) -> float | None:
    """Wait for the server, run the app once through the script health check; seconds it took, or None."""
    deadline = time.time() + wait_s
    while not healthy(base, timeout=2):
        if time.time() > deadline:
            return None
        time.sleep(0.5)
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/_stcore/script-health-check", timeout=wait_s) as r:
            ok = r.status == 200
    except OSError:
        ok = False
    return time.perf_counter() - t0 if ok else None


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--warm"]
    url = args[0] if args else "http://127.0.0.1:8501"
    if "--warm" in sys.argv[1:]:
        took = warm(url)
        print(f"warm-up: the app ran once in {took:.1f} s; its caches are ready" if took is not None else
              "warm-up: the app did not run (is server.scriptHealthCheckEnabled on?); the first visit will warm it",
              flush=True)
        sys.exit(0 if took is not None else 1)
    sys.exit(0 if healthy(url) else 1)
