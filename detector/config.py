"""Settings and the data-folder layout: each one defined here, read from the environment once.

:class:`Settings` holds every setting the detector and the dashboard use; ``Settings.from_env()``
is the only place that reads the environment for them. :class:`DataLayout` names every folder and
file under the data folder, so no other module spells out ``"pixels"`` or ``"runs"``. The
application layer (:class:`detector.workspace.Workspace`) owns one of each; the module-level
helpers below serve library code called without a workspace (they read the environment anew, so
a test or a process that changes it is followed).
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import DetectorError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Largest region (km²) scored on demand unless the caller raises the limit.
DEFAULT_MAX_AREA_KM2 = 2500.0


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _positive_float(name: str, value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (number > 0):  # also refuses NaN
        raise DetectorError("{name}={value!r} is not a positive number; set it to a size such as {default:g}, or unset "
                            "it for the default.",
                            name=name, value=value, default=default)
    return number


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with its environment variable in the comment."""

    data_dir: Path  # DETECTOR_DATA_DIR: downloads, pixel caches, score stores, runs, labels
    mirror: Path | None = None  # DETECTOR_MIRROR: a local copy of the published files (never download)
    max_area_km2: float = DEFAULT_MAX_AREA_KM2  # DETECTOR_MAX_AREA_KM2: the on-demand region limit
    database_url: str | None = None  # DATABASE_URL: the label store (default: SQLite in the data folder)
    mapbox_token: str | None = None  # MAPBOX_TOKEN: Mapbox satellite basemap
    ee_project: str | None = None  # EE_PROJECT (or GOOGLE_CLOUD_PROJECT)
    ee_service_account_key: str | None = None  # EE_SERVICE_ACCOUNT_KEY: a JSON key file
    google_credentials: str | None = None  # GOOGLE_APPLICATION_CREDENTIALS: used when it is a service-account key
    ee_high_volume: bool = False  # EE_HIGH_VOLUME: the high-volume endpoint
    backend: str = "tf_keras"  # DETECTOR_BACKEND: tf_keras, or Keras 3 on jax / torch / tensorflow
    precision: str = "float32"  # DETECTOR_PRECISION: float32, or bfloat16 (faster on some hardware; see BENCHMARKS.md)
    public: bool = False  # DETECTOR_PUBLIC: a server open to the public (uploads only, see server_paths)
    allowed_dirs: tuple[str, ...] = ()  # DETECTOR_ALLOWED_DIRS: folders whose files visitors may name (os.pathsep)
    max_runs: int = 2  # DETECTOR_MAX_RUNS: runs at once on the server (the pages'; the CLI is the operator's)
    runs_per_user: int = 1  # DETECTOR_RUNS_PER_USER: runs at once per user
    km2_per_day: float | None = None  # DETECTOR_KM2_PER_DAY: km² a user may run a day (unset: no quota)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        mirror = env.get("DETECTOR_MIRROR")
        return cls(
            data_dir=Path(env.get("DETECTOR_DATA_DIR") or PROJECT_ROOT / "data").expanduser(),
            mirror=Path(mirror).expanduser().resolve() if mirror else None,
            max_area_km2=_positive_float("DETECTOR_MAX_AREA_KM2", env.get("DETECTOR_MAX_AREA_KM2"),
                                         DEFAULT_MAX_AREA_KM2),
            database_url=env.get("DATABASE_URL") or None,
            mapbox_token=env.get("MAPBOX_TOKEN") or None,
            ee_project=env.get("EE_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or None,
            ee_service_account_key=env.get("EE_SERVICE_ACCOUNT_KEY") or None,
            google_credentials=env.get("GOOGLE_APPLICATION_CREDENTIALS") or None,
            ee_high_volume=_truthy(env.get("EE_HIGH_VOLUME")),
            backend=(env.get("DETECTOR_BACKEND") or "tf_keras").strip().lower(),
            precision=(env.get("DETECTOR_PRECISION") or "float32").strip().lower(),
            public=_truthy(env.get("DETECTOR_PUBLIC")),
            max_runs=int(_positive_float("DETECTOR_MAX_RUNS", env.get("DETECTOR_MAX_RUNS"), 2)),
            runs_per_user=int(_positive_float("DETECTOR_RUNS_PER_USER", env.get("DETECTOR_RUNS_PER_USER"), 1)),
            km2_per_day=(_positive_float("DETECTOR_KM2_PER_DAY", env.get("DETECTOR_KM2_PER_DAY"), 1000)
                         if env.get("DETECTOR_KM2_PER_DAY") else None),
            allowed_dirs=tuple(d for d in (env.get("DETECTOR_ALLOWED_DIRS") or "").split(os.pathsep) if d.strip()),
        )

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    @property
    def layout(self) -> DataLayout:
        return DataLayout(self.data_dir)


@dataclass(frozen=True)
class DataLayout:
    """Where each kind of runtime data lives under the data folder (created on first use)."""

    root: Path

    def _dir(self, name: str) -> Path:
        return self.root / name

    @property
    def pixels(self) -> Path:  # fetched tile pixels, shared by every model
        return self._dir("pixels")

    @property
    def scores(self) -> Path:  # the score store
        return self._dir("scores")

    @property
    def runs(self) -> Path:  # the Detect run index
        return self._dir("runs")

    @property
    def models(self) -> Path:  # models trained here
        return self._dir("models")

    @property
    def presets(self) -> Path:  # threshold presets saved on Tune
        return self._dir("presets")

    @property
    def training(self) -> Path:  # cached training windows
        return self._dir("training")

    @property
    def downloads(self) -> Path:  # published files downloaded on first use
        return self._dir("downloads")

    @property
    def published(self) -> Path:  # normalised published layers (GeoParquet)
        return self._dir("published")

    @property
    def watches(self) -> Path:  # saved watches and their reports
        return self._dir("watches")

    @property
    def uploads(self) -> Path:  # GeoTIFFs uploaded on the Detect page
        return self._dir("uploads")

    @property
    def labels_sqlite(self) -> Path:  # the default label store
        return self.root / "labels.sqlite"

    def labels_url(self, database_url: str | None = None) -> str:
        """The label store's SQLAlchemy URL: the configured one, else SQLite in the data folder."""
        if database_url:
            return database_url
        self.root.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.labels_sqlite}"


def settings() -> Settings:
    """The settings as the environment gives them now."""
    return Settings.from_env()


def layout() -> DataLayout:
    """The data-folder layout as the environment gives it now."""
    return DataLayout(data_dir())


def data_dir() -> Path:
    """Folder for downloads, pixel caches and score stores (created on first use)."""
    path = settings().data_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def mirror_dir() -> Path | None:
    """The local mirror of published files, when one is configured."""
    return settings().mirror


def max_area_km2() -> float:
    """The on-demand region size limit in km²."""
    return settings().max_area_km2
