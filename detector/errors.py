"""Errors a user can act on.

Every failure that comes from the user's input or environment (a bad region, a missing band,
no credentials) is a `DetectorError` whose message says what went wrong *and what to do
next*. The CLI prints the message without a traceback; the pages show it in an error box.
"""
from __future__ import annotations


class DetectorError(Exception):
    """A problem the user can fix; the message says how."""


class RegionError(DetectorError):
    """The region is invalid, empty, too large or cannot be gridded."""


class ImageryError(DetectorError):
    """The imagery source cannot provide what the model needs."""


class ModelError(DetectorError):
    """A model cannot be found, verified, loaded safely, or does not fit its metadata."""


class CredentialsError(DetectorError):
    """Earth Engine credentials or project are missing or rejected."""
