"""Sentinel-2 yearly composites from Google Earth Engine, with the user's own credentials.

The composite is the one the published models were trained on (see the AMW notes): Sentinel-2
L1C (``COPERNICUS/S2_HARMONIZED``) over a calendar year, each image masked where Cloud Score+
``cs_cdf`` is below a threshold (0.6), then the per-pixel median. A tile is fetched with a
single ``ee.data.computePixels`` call on exactly the tile's grid (CRS, 10 m, north-up,
792 × 792 px), so no resampling happens on our side and a patch is read once.

Earth Engine is a shared service: requests are rate limited per project and now and then fail
for reasons that go away on their own. Those are retried with exponential backoff; everything
else fails at once with the server's message, because retrying it only wastes the user's time.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
from shapely.geometry.base import BaseGeometry

from .. import periods
from ..errors import CredentialsError, DetectorError, ImageryError
from ..grid import PIXEL_M, TILE_PX, Tile
from .base import TilePixels
from .ee_errors import http_status, is_transient

S2_COLLECTION = "COPERNICUS/S2_HARMONIZED"
CS_COLLECTION = "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED"
CS_BAND = "cs_cdf"
#: Every band of Sentinel-2 L1C; B10 (cirrus) exists in L1C only.
S2_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
#: Cloud Score+ is available for the whole archive, but the product serves composites from
#: 2017 on: Sentinel-2B joined in 2017, and before that a year has too few clear looks for a
#: median the models were trained on (the published runs start in 2018).
FIRST_YEAR = 2017
HIGH_VOLUME_URL = "https://earthengine-highvolume.googleapis.com"
#: computePixels refuses responses over 48 MB; a float32 tile of all 13 bands is ~32.6 MB.
_MAX_REQUEST_BYTES = 48 * 1024 * 1024
_MAX_BACKOFF_S = 60.0

_AUTH_STEPS = (
    "To use Earth Engine:\n"
    "  1. run `earthengine authenticate` once (or set EE_SERVICE_ACCOUNT_KEY to the path of "
    "a service-account JSON key file);\n"
    "  2. set EE_PROJECT to the id of a Google Cloud project registered for Earth Engine "
    "(https://code.earthengine.google.com/register), e.g. `export EE_PROJECT=my-project`."
)

class EarthEngineSource:
    """Cloud-masked yearly median composites of Sentinel-2 L1C, fetched tile by tile.

    ``ee_module`` replaces the ``ee`` package (tests pass a fake). Credentials and project are
    read on first use, not at construction, so building a source never touches the network.
    """

    cacheable = True

    def __init__(
        self,
        ee_module: ModuleType | Any | None = None,
        project: str | None = None,
        service_account_key: str | None = None,
        high_volume: bool | None = None,
        max_concurrency: int = 8,
        max_retries: int = 6,
        backoff_s: float = 1.0,
        deadline_s: float = 120.0,
        retry_budget_s: float = 600.0,
        cs_threshold: float = 0.6,
        **_: Any,
    ):
        self._ee_module = ee_module
        self._project = project
        self._key_file = service_account_key
        self._high_volume = high_volume
        self.max_concurrency = int(max_concurrency)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        #: Each request gives up after this long (the client's default is never: a stalled
        #: connection would hold a fetch thread for ever); a tile's retries stop after the budget.
        self.deadline_s = float(deadline_s)
        self.retry_budget_s = float(retry_budget_s)
        self.cs_threshold = float(cs_threshold)
        self.key = f"ee-s2l1c-csplus{self.cs_threshold:g}"
        #: The day the running year's composite ends (exclusive), fixed when the source is made so
        #: Dask workers and the driver agree on it, and on the keys it gives (see period_end).
        self.as_of = _dt.date.today()
        #: The pixel cache keeps every band, so 12- and 13-band models share one fetch.
        self.cache_bands = S2_BANDS
        self._sleep: Callable[[float], Any] = time.sleep
        self._random = random.Random()
        self._init_lock = threading.Lock()
        self._initialized = False
        self._build_lock = threading.Lock()

    # -- shipping to Dask workers -----------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Settings only: locks cannot be pickled, and each process initialises ee itself."""
        state = self.__dict__.copy()
        for name in ("_init_lock", "_build_lock"):
            state.pop(name, None)
        state["_initialized"] = False
        if isinstance(state.get("_ee_module"), ModuleType):
            state["_ee_module"] = None  # the real package: imported again where it lands
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_lock = threading.Lock()
        self._build_lock = threading.Lock()

    # -- public API -------------------------------------------------------------------------

    def period_end(self, period) -> _dt.date | None:
        """A running period's composite ends today (exclusive); a finished period is whole (None)."""
        p = periods.of(period)
        return self.as_of if p.start <= self.as_of < p.end else None

    def check(self, region: BaseGeometry, bands: Sequence[str], year) -> None:
        """Fail before any work: unknown bands, a period without composites, no credentials."""
        _check_request(bands, year, self.as_of)
        p = periods.of(year)
        if self.period_end(p) == p.start:
            raise ImageryError("{p_label} has only just begun: no imagery yet. Pick a period that has begun at least a day "
                               "ago.",
                               p_label=p.label)
        self._ensure_initialized()

    def read(self, tile: Tile, bands: Sequence[str], year: int) -> TilePixels:
        """The composite on the tile's grid: (H, W, bands) float32 DN and a validity mask.

        Pixels without a single clear observation in the year are 0 in every band (or NaN)
        and marked invalid.
        """
        bands = tuple(bands)
        _check_request(bands, year, self.as_of)
        self._ensure_initialized()
        ee = self._ee()
        request = {
            "expression": self._composite(tile, bands, year),
            "fileFormat": "NUMPY_NDARRAY",
            "bandIds": list(bands),
            "grid": _grid(tile),
        }
        raw = self._compute_with_retries(ee, request, tile)
        return _to_tile_pixels(raw, bands, tile)

    # -- initialisation ---------------------------------------------------------------------

    def _ee(self) -> Any:
        if self._ee_module is None:
            try:
                import ee
            except ImportError as exc:
                raise ImageryError(
                    "The Earth Engine source needs the earthengine-api package: "
                    "`pip install earthengine-api`, or run on a local GeoTIFF instead."
                ) from exc
            self._ee_module = ee
        return self._ee_module

    def _ensure_initialized(self) -> None:
        """Initialise Earth Engine once per source, even when many threads ask at once."""
        if self._initialized:
            return
        with self._init_lock:
            if self._initialized:
                return
            self._initialize(self._ee())
            self._initialized = True

    def footprint(self) -> None:
        """Earth Engine's archive covers the globe: no outline to clip a region to."""
        return

    def _initialize(self, ee: Any) -> None:
        # Settings not given to the source come from the configuration (EE_PROJECT, …), read now:
        # a source built before credentials were set up still finds them.
        from ..config import settings

        conf = settings()
        project = self._project or conf.ee_project
        kwargs: dict[str, Any] = {}
        key_file = self._key_file or conf.ee_service_account_key or _service_account_file(conf.google_credentials)
        if key_file:
            key_file = os.path.expanduser(key_file)
            email, key_project = _read_key_file(key_file)
            try:
                kwargs["credentials"] = ee.ServiceAccountCredentials(email, key_file)
            except Exception as exc:
                raise CredentialsError(
                    "The service-account key {key_file} (EE_SERVICE_ACCOUNT_KEY) was rejected: {exc}\nCreate a "
                    "new JSON key for {email} in the Cloud console, or unset EE_SERVICE_ACCOUNT_KEY to use your "
                    "own account.\n{auth_steps}",
                    key_file=key_file, exc=exc, email=email, auth_steps=_AUTH_STEPS
                ) from exc
            project = project or key_project
        if not project:
            raise CredentialsError("No Earth Engine project is set (EE_PROJECT).\n{auth_steps}", auth_steps=_AUTH_STEPS)
        if conf.ee_high_volume if self._high_volume is None else self._high_volume:
            kwargs["url"] = HIGH_VOLUME_URL
        try:
            ee.Initialize(project=project, **kwargs)
        except Exception as exc:
            raise CredentialsError(
                "Earth Engine could not be initialised for project {project!r}: {exc}\n{auth_steps}", project=project, exc=exc, auth_steps=_AUTH_STEPS
            ) from exc
        data = getattr(ee, "data", None)
        if hasattr(data, "setDeadline"):
            data.setDeadline(int(self.deadline_s * 1000))
        if hasattr(data, "setMaxRetries"):
            data.setMaxRetries(0)  # this source retries, with backoff and a budget: not 5 × ours

    # -- the composite ----------------------------------------------------------------------

    def _mask_clouds(self, image: Any) -> Any:
        """Hide the pixels of one scene that Cloud Score+ does not call clear."""
        return image.updateMask(image.select(CS_BAND).gte(self.cs_threshold))

    def _composite(self, tile: Tile, bands: tuple[str, ...], year: int) -> Any:
        """The median composite for one tile.

        The collections are filtered to the tile before the median so the server only
        considers the few dozen scenes over it, not the year's whole archive. Building the
        expression is client-side and costs microseconds; the lock keeps the ee client's
        object construction single-threaded.
        """
        ee = self._ee()
        p = periods.of(year)
        running = self.period_end(p)
        start, end = p.start.isoformat(), (running or p.end).isoformat()
        with self._build_lock:
            area = ee.Geometry.Rectangle(list(tile.bounds), tile.crs, False)
            scores = ee.ImageCollection(CS_COLLECTION).filterDate(start, end).filterBounds(area)
            images = (
                ee.ImageCollection(S2_COLLECTION)
                .filterDate(start, end)
                .filterBounds(area)
                .linkCollection(scores, [CS_BAND])
                .map(self._mask_clouds)
            )
            # unmask(0): a pixel with no clear look must read as 0 in every band, whatever
            # computePixels does with masked pixels; sameFootprint=False covers the whole grid.
            return images.median().select(list(bands)).unmask(0, False).toFloat()

    # -- fetching ---------------------------------------------------------------------------

    def _compute_with_retries(self, ee: Any, request: dict[str, Any], tile: Tile) -> Any:
        ee_error = getattr(getattr(ee, "ee_exception", None), "EEException", Exception)
        last: BaseException | None = None
        started, waited = time.monotonic(), 0.0  # waited: the backoff sleeps (counted even if sleep is swapped)
        for attempt in range(self.max_retries + 1):
            try:
                return ee.data.computePixels(request)
            except Exception as exc:  # EEException, or whatever the HTTP layer raised
                if not is_transient(exc):
                    kind = "Earth Engine" if isinstance(exc, ee_error) else type(exc).__name__
                    status = http_status(exc)
                    raise ImageryError(
                        "Earth Engine refused tile {tile_key}: {kind}{value}: {exc}\nRetrying would fail the same "
                        "way. If it names a permission or a project, check that EE_PROJECT is registered for Earth "
                        "Engine and your account may use it.",
                        tile_key=tile.key, kind=kind, value=f' (HTTP {status})' if status else '', exc=exc
                    ) from exc
                last = exc
                if attempt < self.max_retries:
                    delay = self._delay(attempt)
                    spent = max(time.monotonic() - started, waited)
                    if spent + delay > self.retry_budget_s:
                        break  # the tile's retry budget is spent
                    self._sleep(delay)
                    waited += delay
        raise ImageryError(
            "Earth Engine kept failing for tile {tile_key} after {value} attempts; last error: "
            "{last}{value2}\nThe project is probably over its request rate. Run again with a lower "
            "concurrency (now {max_concurrency}), or set EE_HIGH_VOLUME=1 to use the high-volume "
            "endpoint; tiles already fetched are cached and will not be fetched again.",
            tile_key=tile.key, value=attempt + 1, last=last, value2=f' (HTTP {http_status(last)})' if http_status(last) else '', max_concurrency=self.max_concurrency
        ) from last

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter, so parallel threads do not retry in step."""
        base = min(_MAX_BACKOFF_S, self.backoff_s * (2**attempt))
        return base / 2 + self._random.uniform(0, base / 2)


def _check_request(bands: Sequence[str], year, today: _dt.date | None = None) -> None:
    if isinstance(bands, str):
        raise ImageryError("Bands must be a list of names such as ['B2', 'B3'], not the string {bands!r}.", bands=bands)
    unknown = [b for b in bands if b not in S2_BANDS]
    if unknown:
        raise ImageryError(
            "Unknown Sentinel-2 band(s) {unknown}; the bands are {s2_bands}. Check the model's band list.", unknown=unknown, s2_bands=', '.join(S2_BANDS)
        )
    if not bands:
        raise ImageryError("No bands asked for; the model's metadata should list its input bands.")
    if len(set(bands)) != len(bands):
        raise ImageryError("Band list {bands} names a band twice; list each band once.", bands=list(bands))
    today = today or _dt.date.today()
    try:
        p = periods.of(year)
    except DetectorError:
        raise ImageryError("The period must be a year such as 2023, a quarter such as 2025Q2 or a date range, not "
                           "{year!r}.",
                           year=year) from None
    if p.start.year < FIRST_YEAR:
        raise ImageryError(
            "No Earth Engine composites before {first_year} (asked for {p_label}). Sentinel-2 L1C starts "
            "in mid-2015, but the detector serves composites from 2017 on, when both Sentinel-2 "
            "satellites fly; pick a period from {first_year} to {today_year}, or bring your own GeoTIFF.",
            first_year=FIRST_YEAR, p_label=p.label, today_year=today.year
        )
    if p.start > today:
        raise ImageryError("{p_label} has no imagery yet; pick a period from {first_year} up to today ({today}).", p_label=p.label, first_year=FIRST_YEAR, today=today)
    if TILE_PX * TILE_PX * len(bands) * 4 > _MAX_REQUEST_BYTES:  # cannot happen with ≤ 13 bands
        raise ImageryError("Too many bands for one Earth Engine request.")


def _grid(tile: Tile) -> dict[str, Any]:
    """The tile's pixel grid as computePixels wants it (same affine as ``tile.transform``)."""
    t = tile.transform
    return {
        "dimensions": {"width": TILE_PX, "height": TILE_PX},
        "affineTransform": {
            "scaleX": t.a,
            "shearX": t.b,
            "translateX": t.c,
            "shearY": t.d,
            "scaleY": t.e,
            "translateY": t.f,
        },
        "crsCode": tile.crs,
    }


def _to_tile_pixels(raw: Any, bands: tuple[str, ...], tile: Tile) -> TilePixels:
    """Turn the structured array (one field per band) into (H, W, B) float32 and a mask."""
    arr = np.asarray(raw)
    if arr.dtype.names:
        missing = [b for b in bands if b not in arr.dtype.names]
        if missing:
            raise ImageryError(
                "Earth Engine returned tile {tile_key} without band(s) {missing} (got {dtype_names}); try "
                "again, or report it if it persists.",
                tile_key=tile.key, missing=missing, dtype_names=list(arr.dtype.names)
            )
        pixels = np.stack([arr[b] for b in bands], axis=-1).astype(np.float32, copy=False)
    elif arr.ndim == 3 and arr.shape[-1] == len(bands):
        pixels = arr.astype(np.float32, copy=False)
    else:
        raise ImageryError("Earth Engine returned an unexpected array for tile {tile_key}: {arr_dtype} {arr_shape}.", tile_key=tile.key, arr_dtype=arr.dtype, arr_shape=arr.shape)
    if pixels.shape[:2] != (TILE_PX, TILE_PX):
        raise ImageryError(
            "Earth Engine returned {pixels_shape}×{pixels_shape2} px for tile {tile_key}, expected "
            "{tile_px}×{tile_px} at {pixel_m} m; try again, or report it if it persists.",
            pixels_shape=pixels.shape[1], pixels_shape2=pixels.shape[0], tile_key=tile.key, tile_px=TILE_PX, pixel_m=PIXEL_M
        )
    finite = np.isfinite(pixels)
    valid = finite.all(axis=-1) & (pixels != 0).any(axis=-1)
    if not finite.all():
        pixels = np.where(finite, pixels, np.float32(0))
    return TilePixels(np.ascontiguousarray(pixels), valid, bands)


def _service_account_file(path: str | None) -> str | None:
    """GOOGLE_APPLICATION_CREDENTIALS when it names a service-account key (the published code's way);
    other credential files (a user's own) are left to ``earthengine authenticate``."""
    if not path:
        return None
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as fh:
            return path if json.load(fh).get("type") == "service_account" else None
    except (OSError, ValueError, AttributeError):
        return None


def _read_key_file(path: str) -> tuple[str, str | None]:
    """The service account's email and its project, from a JSON key file."""
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as fh:
            key = json.load(fh)
        return str(key["client_email"]), key.get("project_id")
    except FileNotFoundError as exc:
        raise CredentialsError(
            "EE_SERVICE_ACCOUNT_KEY names {path}, which does not exist. Point it at the service "
            "account's JSON key file, or unset it.\n{auth_steps}",
            path=path, auth_steps=_AUTH_STEPS
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CredentialsError(
            "EE_SERVICE_ACCOUNT_KEY names {path}, which is not a service-account JSON key (it needs a "
            "client_email): {exc}. Download a JSON key from the Cloud console (IAM → Service accounts → "
            "Keys).\n{auth_steps}",
            path=path, exc=exc, auth_steps=_AUTH_STEPS
        ) from exc
