"""Run a benchmark against an empty data folder and the shared mirror, set up before `detector` is imported."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def isolate(prefix: str) -> Path:
    """A fresh temporary folder holding the run's DETECTOR_DATA_DIR; quiet TensorFlow; ../shared/amw by default."""
    sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["DETECTOR_DATA_DIR"] = str(tmp / "data")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    mirror = ROOT.parent / "shared" / "amw"
    if not os.environ.get("DETECTOR_MIRROR") and (mirror / "models").is_dir():
        os.environ["DETECTOR_MIRROR"] = str(mirror)
    return tmp
