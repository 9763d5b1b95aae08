"""Settings read from the environment, in one place.

`DETECTOR_DATA_DIR` moves every cache, download and store (tests point it at a temporary
folder); `DETECTOR_MIRROR` names a local copy of the published files so nothing is
downloaded (tests and CI always set it); `DETECTOR_MAX_AREA_KM2` is the on-demand limit.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Largest region (km²) scored on demand unless the caller raises the limit.
DEFAULT_MAX_AREA_KM2 = 2500.0


def data_dir() -> Path:
    """Folder for downloads, pixel caches and score stores (created on first use)."""
    path = Path(os.environ.get("DETECTOR_DATA_DIR") or PROJECT_ROOT / "data").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def mirror_dir() -> Path | None:
    """The local mirror of published files, when one is configured."""
    value = os.environ.get("DETECTOR_MIRROR")
    return Path(value).expanduser().resolve() if value else None


def max_area_km2() -> float:
    """The on-demand region size limit in km²."""
    value = os.environ.get("DETECTOR_MAX_AREA_KM2")
    return float(value) if value else DEFAULT_MAX_AREA_KM2
