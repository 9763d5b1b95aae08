"""A stand-in for the ``ee`` package: records what the code asks Earth Engine, never networks.

Every ee object is a chain of recorded calls (``ops``), so a test can read the recipe back:
``request["expression"].ops`` for the image a ``computePixels`` call asked for.
``data.computePixels`` answers with a deterministic structured array built from the
request's grid: band ``b`` at (row, col) is :func:`pixel_value`, and pixels where
:func:`is_masked` holds are 0 in every band, as Earth Engine returns pixels with no clear look.

Usage::

    fake = FakeEE()
    source = EarthEngineSource(ee_module=fake, project="p")
    fake.fail_next(fake.ee_exception.EEException("Too Many Requests (429)"))
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")


class EEException(Exception):
    """Same name and role as ``ee.ee_exception.EEException``."""


def pixel_value(band: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The fake's DN for a band at tile-raster (row, col): distinct per band, never 0."""
    return (1000 * (BANDS.index(band) + 1) + (rows * 7 + cols * 3) % 997 + 1).astype(np.float32)


def is_masked(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Pixels the fake reports as having no clear observation (about 1 in 17)."""
    return (rows + cols) % 17 == 0


class _Node:
    """An ee object: the chain of calls that made it."""

    def __init__(self, ops: tuple):
        self.ops = ops

    def _then(self, cls: type, *op: Any) -> Any:
        return cls(self.ops + (op,))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.ops!r})"


class FakeImage(_Node):
    def select(self, *bands: Any) -> FakeImage:
        return self._then(FakeImage, "select", *bands)

    def gte(self, value: Any) -> FakeImage:
        return self._then(FakeImage, "gte", value)

    def updateMask(self, mask: FakeImage) -> FakeImage:
        return self._then(FakeImage, "updateMask", mask.ops)

    def unmask(self, *args: Any) -> FakeImage:
        return self._then(FakeImage, "unmask", *args)

    def toFloat(self) -> FakeImage:
        return self._then(FakeImage, "toFloat")


class FakeImageCollection(_Node):
    def __init__(self, name_or_ops: str | tuple):
        super().__init__((("ImageCollection", name_or_ops),) if isinstance(name_or_ops, str) else name_or_ops)

    def filterDate(self, start: str, end: str) -> FakeImageCollection:
        return self._then(FakeImageCollection, "filterDate", start, end)

    def filterBounds(self, geometry: Any) -> FakeImageCollection:
        return self._then(FakeImageCollection, "filterBounds", geometry)

    def linkCollection(self, other: FakeImageCollection, bands: Any = None, *rest: Any) -> FakeImageCollection:
        return self._then(FakeImageCollection, "linkCollection", other.ops, bands, *rest)

    def map(self, fn: Callable[[Any], Any]) -> FakeImageCollection:
        body = fn(FakeImage((("element",),)))
        return self._then(FakeImageCollection, "map", body.ops)

    def median(self) -> FakeImage:
        return self._then(FakeImage, "median")

    def select(self, *bands: Any) -> FakeImageCollection:
        return self._then(FakeImageCollection, "select", *bands)

    def toFloat(self) -> FakeImageCollection:
        return self._then(FakeImageCollection, "toFloat")


class _Geometry:
    @staticmethod
    def Rectangle(coords: Any, proj: Any = None, geodesic: Any = None, *rest: Any) -> tuple:
        return ("Rectangle", tuple(coords), proj, geodesic)


class HttpError(Exception):
    """Shaped like googleapiclient.errors.HttpError: the status on ``resp.status``."""

    def __init__(self, status: int, content: bytes = b""):
        super().__init__(f"<HttpError {status}>")
        self.resp = SimpleNamespace(status=status, reason="Ok")
        self.content = content


def http_failure(status: int, message: str) -> EEException:
    """What the real client raises for an HTTP error: ``EEException(reason)`` raised *inside* its
    handler of the HttpError, so the status is only on ``__context__`` (ee.data._execute_cloud_call)."""
    try:
        raise HttpError(status)
    except HttpError:
        try:
            raise EEException(message)  # noqa: B904 - the client raises it this way, without "from"
        except EEException as exc:
            return exc


class _Data:
    def __init__(self, owner: FakeEE):
        self._owner = owner
        self.deadline_ms: float | None = None
        self.max_retries: int | None = None

    def setDeadline(self, milliseconds: float) -> None:
        self.deadline_ms = milliseconds

    def setMaxRetries(self, n: int) -> None:
        self.max_retries = n

    def computePixels(self, request: dict[str, Any]) -> np.ndarray:
        return self._owner._compute(request)


class FakeEE:
    """The fake module. Attributes mirror the parts of ``ee`` the detector uses.

    ``requests``: every computePixels request, in order. ``initialize_calls``: kwargs of each
    ``Initialize``. ``service_account_calls``: (email, key_file) pairs. ``fail_next`` queues
    exceptions that the next computePixels calls raise, one per call; ``fail_always`` makes
    every call raise. ``serve(request)``, where given, answers computePixels (a test's own pixels on the
    request's grid) instead of the fake's pattern. ``delay_s`` makes each call take that long (for concurrency tests);
    ``max_in_flight`` is the most calls seen running at once.
    """

    def __init__(self, initialize_error: BaseException | None = None, delay_s: float = 0.0,
                 serve: Callable[[dict[str, Any]], np.ndarray] | None = None):
        self.serve = serve
        self.ee_exception = SimpleNamespace(EEException=EEException)
        self.EEException = EEException
        self.Geometry = _Geometry
        self.ImageCollection = FakeImageCollection
        self.Image = FakeImage
        self.data = _Data(self)
        self.initialize_error = initialize_error
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self.initialize_calls: list[dict[str, Any]] = []
        self.service_account_calls: list[tuple[Any, Any]] = []
        self.failures: list[BaseException] = []
        self.always: BaseException | None = None
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()

    # ee.Initialize / ee.ServiceAccountCredentials
    def Initialize(self, credentials: Any = "persistent", url: Any = None, **kwargs: Any) -> None:
        call = dict(kwargs, credentials=credentials)
        if url is not None:
            call["url"] = url
        self.initialize_calls.append(call)
        if self.initialize_error is not None:
            raise self.initialize_error

    def ServiceAccountCredentials(self, email: Any = None, key_file: Any = None, key_data: Any = None) -> Any:
        self.service_account_calls.append((email, key_file))
        return SimpleNamespace(kind="service_account", email=email, key_file=key_file)

    # failure injection
    def fail_next(self, *errors: BaseException) -> None:
        with self._lock:
            self.failures.extend(errors)

    def fail_always(self, error: BaseException | None) -> None:
        self.always = error

    def _compute(self, request: dict[str, Any]) -> np.ndarray:
        with self._lock:
            self.requests.append(request)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            error = self.failures.pop(0) if self.failures else self.always
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            if error is not None:
                raise error
            assert request["fileFormat"] == "NUMPY_NDARRAY"
            if self.serve is not None:
                return self.serve(request)
            dims = request["grid"]["dimensions"]
            h, w = dims["height"], dims["width"]
            rows, cols = np.mgrid[0:h, 0:w]
            masked = is_masked(rows, cols)
            out = np.zeros((h, w), dtype=[(b, "<f4") for b in request["bandIds"]])
            for band in request["bandIds"]:
                out[band] = np.where(masked, 0, pixel_value(band, rows, cols))
            return out
        finally:
            with self._lock:
                self._in_flight -= 1
