"""Errors a user can act on.

Every failure that comes from the user's input or environment (a bad region, a missing band,
no credentials) is a `DetectorError` whose message says what went wrong *and what to do
next*. The CLI prints the message without a traceback; the pages show it in an error box.

A message is written as a template with named fields (``RegionError("{name} is empty.", name=n)``):
``str(exc)`` is the English text, and the dashboard looks the template up in its translation
catalogue and fills in the same fields (:func:`ui.i18n.text_of`), so the detector itself never
needs to know the visitor's language.
"""
from __future__ import annotations

from typing import Any


def N_(text: str) -> str:
    """Marks a message template for the dashboard's catalogue (extracted by pybabel); returns it as it is."""
    return text


class Message(str):
    """A note for the user: the English text as a ``str``, with its template and fields kept for translation."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, /, **params: Any) -> Message:
        self = super().__new__(cls, template.format(**params) if params else template)
        self.template, self.params = template, params
        return self

    @classmethod
    def joined(cls, sep: str, parts: list[Message]) -> Message:
        """Messages joined by ``sep``, each still translatable."""
        fields = {f"part{i}": p for i, p in enumerate(parts)}
        return cls(sep.join("{" + k + "}" for k in fields), **fields)


class DetectorError(Exception):
    """A problem the user can fix; the message says how."""

    def __init__(self, message: str = "", /, **params: Any):
        text = Message(message, **params)  # the one place a template is filled
        self.template, self.params = text.template, text.params
        super().__init__(str(text))

    def __reduce__(self):
        # pickled as its English text (Dask workers send errors back): the fields may not pickle
        return type(self), (str(self),)


class RegionError(DetectorError):
    """The region is invalid, empty, too large or cannot be gridded."""


class ImageryError(DetectorError):
    """The imagery source cannot provide what the model needs."""


class ModelError(DetectorError):
    """A model cannot be found, verified, loaded safely, or does not fit its metadata."""


class CredentialsError(DetectorError):
    """Earth Engine credentials or project are missing or rejected."""
