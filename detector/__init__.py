"""Find artisanal gold mines in Sentinel-2 imagery with the published Amazon Mining Watch models.

The short public API: ``Workspace`` (the application layer the CLI and the dashboard call:
settings, stores, runs, labels, presets, models) with ``DetectRequest``; ``Detector`` (a loaded
model plus the score store), ``detect`` for one run, ``open_source`` for imagery, ``load_region``
for a checked region, ``Rule`` for thresholds and the isolation rule. This package never imports
streamlit.
"""
from .errors import DetectorError
from .pipeline import Detector, DetectResult, RunSummary, detect
from .region import load_region
from .rule import Rule
from .sources import open_source
from .workspace import DetectRequest, Workspace

__all__ = ["DetectRequest", "DetectResult", "Detector", "DetectorError", "Rule", "RunSummary", "Workspace", "detect",
           "load_region", "open_source"]
