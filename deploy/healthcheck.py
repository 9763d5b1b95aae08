"""Exit 0 when the dashboard answers its health check (Streamlit's /_stcore/health), else 1.

    python3 deploy/healthcheck.py [http://127.0.0.1:8501]
"""
from __future__ import annotations

import sys
import urllib.request


def healthy(base: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/_stcore/health", timeout=timeout) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(0 if healthy(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8501") else 1)
