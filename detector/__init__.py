"""Find artisanal gold mines in Sentinel-2 imagery with the published Amazon Mining Watch models.

The short public API: ``Detector`` (a loaded model plus the score store), ``detect`` for one
run, ``open_source`` for imagery, ``load_region`` for a checked region, and the post-processing
functions in :mod:`detector.postprocess`. This package never imports streamlit.
"""
from .errors import DetectorError
from .pipeline import Detector, DetectResult, RunSummary, detect
from .region import load_region
from .sources import open_source

__all__ = ["DetectResult", "Detector", "DetectorError", "RunSummary", "detect", "load_region", "open_source"]
