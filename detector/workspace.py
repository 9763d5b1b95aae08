"""The application layer: one object the CLI and the pages call for everything they do.

A :class:`Workspace` owns the settings (read once), the data-folder layout, the score store, the
pixel cache, the run index, the label store, the presets and the model registry, and the loaded
detectors (one per model and file version, shared by every caller in the process). Front ends
describe *what* they want — a :class:`DetectRequest` — and the workspace decides how: in-process
or on a Dask cluster, which size limit applies, which rule filters the result, where it is kept.

Tests build ``Workspace(Settings(data_dir=tmp))`` instead of patching the environment.
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from . import grid, models, periods, presets, region, runs, sources
from .config import DataLayout, Settings
from .errors import DetectorError
from .pipeline import Detector, DetectResult, RunSummary, TileProgress
from .rule import Rule
from .store import ScoreStore

Echo = Callable[[str], None]


@dataclass
class DetectRequest:
    """What to score: a region, a year, imagery and a model; and, optionally, where to run it.

    ``source`` is ``"earthengine"``, a GeoTIFF path, or an opened :class:`ImagerySource`.
    ``workers`` (a local Dask cluster) or ``scheduler`` (an existing one) put the run on a
    cluster, where no on-demand size limit applies unless ``max_area_km2`` is given.
    """

    region: BaseGeometry | str | Path | Mapping[str, Any]
    year: int | str | periods.Period | None  # a year, "2025Q2", a date range; None: the imagery's own year
    source: sources.ImagerySource | str | None = "earthengine"
    model: str | Path | None = None
    bands: Sequence[str] | None = None  # band order of a GeoTIFF without band descriptions
    max_area_km2: float | None = None
    workers: int | None = None
    scheduler: str | None = None
    retries: int = 2
    fetch_per_worker: int | None = None
    store: str | None = None  # another score store (a folder or an fsspec URL)
    dn_offset: float | None = None  # a GeoTIFF's radiometric offset when its metadata does not say (-1000, 0)

    @property
    def on_cluster(self) -> bool:
        return bool(self.workers or self.scheduler)

    def check(self) -> DetectRequest:
        """Refuse impossible options before any work (the CLI's and the pages' one check)."""
        if self.workers and self.scheduler:
            raise DetectorError("Give --workers N (a local Dask cluster) or --scheduler tcp://HOST:PORT (yours), "
                                "not both.")
        for name in ("workers", "fetch_per_worker"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise DetectorError("{replace} must be at least 1, not {value}.", replace=name.replace('_', '-'), value=value)
        if self.retries < 0:
            raise DetectorError("retries must be 0 or more, not {retries}.", retries=self.retries)
        if self.max_area_km2 is not None and not (self.max_area_km2 > 0):
            raise DetectorError("The area limit must be a positive number of km², not {max_area_km2}.", max_area_km2=self.max_area_km2)
        return self


@dataclass
class DetectOutcome:
    """A finished run: its figures, the region's patches (None while tiles failed), what failed."""

    summary: RunSummary
    region: BaseGeometry
    model: models.ModelSpec
    source: sources.ImagerySource
    scores: pd.DataFrame | None  # every covered patch's score (no ids or shapes: see ``patches``)
    failed: dict[str, str] = field(default_factory=dict)
    on_cluster: bool = False
    members: list[str] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """What the imagery's reader did to the values, or warns about (L2A, reflectance scaled, offset removed)."""
        return list(getattr(self.source, "notes", []) or [])

    @functools.cached_property
    def patches(self) -> gpd.GeoDataFrame | None:
        """The scores with patch ids and squares, made when first asked for (None while tiles failed)."""
        return None if self.scores is None else grid.squares(self.scores)

    @property
    def result(self) -> DetectResult:
        if self.scores is None:
            raise DetectorError("{n_failed} tiles failed; run again to finish them.", n_failed=len(self.failed))
        return DetectResult(self.scores, self.summary, self.members)


class Workspace:
    """Settings, storage and models of one deployment (or one test), and the operations on them."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        from .fairuse import Limits, RunGate

        s = self.settings
        #: The pages' fair-use gate: runs at once, per user, km² a day (one per workspace, so per server process).
        self.gate = RunGate(Limits(s.max_runs, s.runs_per_user, s.km2_per_day))
        self.layout: DataLayout = self.settings.layout
        self.layout.root.mkdir(parents=True, exist_ok=True)
        self.store = ScoreStore(self.layout.scores)
        self.pixel_cache = sources.PixelCache(self.layout.pixels)
        self.runs = runs.RunIndex(self.layout.runs)
        self._lock = threading.Lock()
        self._detectors: dict[tuple[str, str, str], Detector] = {}
        self._labels = None

    @classmethod
    def from_env(cls) -> Workspace:
        return cls(Settings.from_env())

    def __repr__(self) -> str:
        return f"Workspace({str(self.layout.root)!r})"

    # ---------------------------------------------------------------- models

    def models(self) -> dict[str, models.ModelSpec]:
        """Every model a run can use: the published ones and those trained here."""
        return models.registry()

    def model(self, ref: str | Path | None) -> models.ModelSpec:
        return models.resolve(ref)

    def detector(self, model_ref: str | Path | None, store: ScoreStore | None = None) -> Detector:
        """The process's detector for a model; a replaced model file is a new detector. Nothing loads yet."""
        spec = models.resolve(model_ref)
        store = store or self.store
        key = (spec.name, _file_stamp(spec), store.url)
        with self._lock:
            det = self._detectors.get(key)
            if det is None:
                det = self._detectors[key] = Detector(model_ref, store=store, pixel_cache=self.pixel_cache)
            return det

    def model_work(self) -> int:
        """Patches the models of this workspace have scored so far (a re-filter never adds to it)."""
        with self._lock:
            return sum(d.patches_scored for d in self._detectors.values())

    # ---------------------------------------------------------------- inputs

    def open_source(self, spec: sources.ImagerySource | str | None, bands: Sequence[str] | None = None,
                    **kwargs: Any) -> sources.ImagerySource:
        """An imagery source: Earth Engine with this workspace's credentials, or a local path (GeoTIFFs, products)."""
        if spec is not None and not isinstance(spec, str):
            return spec
        if spec in (None, "", "earthengine", "ee"):
            conf = self.settings
            kwargs = {"project": conf.ee_project, "service_account_key": conf.ee_service_account_key,
                      "high_volume": conf.ee_high_volume, **kwargs}
        return sources.open_source(spec, bands=list(bands) if bands else None, **kwargs)

    def limit_km2(self, requested: float | None = None, on_cluster: bool = False) -> float:
        """The size limit a run gets: the one asked for, none on a cluster, else the on-demand limit."""
        if requested is not None:
            return requested
        return float("inf") if on_cluster else self.settings.max_area_km2

    def load_region(self, spec: BaseGeometry | str | Path | Mapping[str, Any],
                    limit_km2: float | None = None) -> BaseGeometry:
        """A checked region (EPSG:4326) from a geometry, a GeoJSON file or mapping."""
        limit = self.limit_km2(limit_km2)
        if isinstance(spec, BaseGeometry):
            region.check_region(spec, limit)
            return spec
        return region.load_region(spec, limit)

    # ---------------------------------------------------------------- running

    def detect(self, req: DetectRequest, on_progress: Callable[[TileProgress], None] | None = None,
               echo: Echo | None = None) -> DetectOutcome:
        """Score every patch of the request's region; the same call in-process or on a cluster.

        Tiles already in the store are not recomputed. On a cluster, failed tiles are listed in
        the outcome (and ``patches`` is None) until a rerun finishes them.
        """
        req.check()
        limit = self.limit_km2(req.max_area_km2, req.on_cluster)
        source = self.open_source(req.source, req.bands, **({"dn_offset": req.dn_offset} if req.dn_offset is not None else {}))
        # The size limit applies to what will be scored: the region clipped to the imagery.
        geom = region.clip_to_imagery(self.load_region(req.region, float("inf")), source.footprint())
        region.check_region(geom, limit)
        year = _year_for(req.year, source)
        store = ScoreStore(req.store) if req.store else self.store
        det = self.detector(req.model, store)
        if not req.on_cluster:
            res = det.run(geom, year, source, on_progress=on_progress, limit_km2=limit)
            return DetectOutcome(res.summary, geom, det.spec, source, res.scores, members=res.member_columns)
        from . import distributed

        run = distributed.run_on_cluster(
            geom, year, source, det.spec, store, workers=req.workers, scheduler=req.scheduler,
            retries=req.retries, fetch_per_worker=req.fetch_per_worker, on_progress=on_progress, echo=echo)
        patches = None
        if not run.failed:
            patches = distributed.collect(store, run.summary.source, det.spec.name, year, run.covers, geometry=False)
        members = [c for c in patches.columns if c.startswith("member_")] if patches is not None else []
        return DetectOutcome(run.summary, geom, det.spec, source, patches, run.failed, True, members)

    def change(self, req: DetectRequest, spans: Sequence, on_period: Callable[[int, int, Any], None] | None = None,
               on_progress: Callable[[TileProgress], None] | None = None, label: str = "",
               source_label: str = "") -> list[Any]:
        """One run over several periods: each scored (or read from the store) on its own, in time order.

        ``spans`` are periods in any written form ("2019", "2025Q2", Periods); ``req.year`` is ignored.
        Each period is also remembered as a run of its own when ``label`` is given, so Detect lists it.
        ``on_period(i, n, period)`` is called before each period. Returns :class:`change.PeriodOutcome` s.
        """
        from dataclasses import replace

        from .change import PeriodOutcome

        out = []
        spans = periods.ordered(periods.of(p) for p in spans)
        for i, period in enumerate(spans):
            if on_period:
                on_period(i, len(spans), period)
            outcome = self.detect(replace(req, year=period), on_progress=on_progress)
            res = outcome.result
            rid = ""
            if label:
                rid = self.remember(res, outcome.region, label, str(req.model or outcome.model.name),
                                    source_label or outcome.summary.source).run_id
            out.append(PeriodOutcome(period, res.scores, res.summary, rid, outcome.region))
        return out

    @property
    def watches(self):
        """Saved watches and their reports (:mod:`detector.watches`)."""
        from .watches import WatchStore

        return WatchStore(self.layout.watches)

    def run_watch(self, name: str, period=None, today=None):
        """Score a watch's newest complete period (or ``period``) and write its report."""
        from . import watch_report

        return watch_report.run(self, self.watches.get(name), self.watches, period, today)

    def remember(self, result: DetectResult, region_geom: BaseGeometry, region_label: str, model_ref: str,
                 source_label: str) -> runs.RunRecord:
        """Add a run to the run index (the Detect page's list of earlier runs)."""
        record = runs.RunRecord.of(result, region_geom, region_label, model_ref, source_label)
        self.runs.add(record)
        return record

    def reopen(self, run_id: str) -> tuple[runs.RunRecord, DetectResult]:
        """An earlier run, from the score store alone (no imagery, no model)."""
        record = self.runs.get(run_id)
        if record is None:
            raise DetectorError("No run {run_id!r} in this machine's run list. Run it again on the Detect page.", run_id=run_id)
        return record, runs.reopen(record, self.store)

    # ---------------------------------------------------------------- rules and presets

    def rule(self, threshold: float | None = None, model: str | Path | None = None, **isolation: Any) -> Rule:
        """A checked rule; without a threshold, the model's recommended one."""
        if threshold is None:
            threshold = models.resolve(model).threshold
        return Rule(threshold, **isolation).check()

    def presets(self) -> list[presets.Preset]:
        return presets.list_presets(self.layout.presets)

    def preset(self, name: str) -> presets.Preset:
        return presets.load(name, self.layout.presets)

    def save_preset(self, preset: presets.Preset) -> Path:
        return presets.save(preset, self.layout.presets)

    # ---------------------------------------------------------------- labels, layers, training

    def label_store(self):
        """The label store: the configured database, else SQLite in the data folder (opened once)."""
        from .labels import LabelStore

        with self._lock:
            if self._labels is None:
                self._labels = LabelStore(self.layout.labels_url(self.settings.database_url))
            return self._labels

    def scored_layers(self) -> dict[str, Any]:
        """Scored layers to review or tune on: published patch layers first, then Detect runs."""
        from . import layers

        return layers.available(self.runs)

    def load_layer(self, name: str) -> gpd.GeoDataFrame:
        """A scored layer with ``patch_id``, ``score``, ``footprint_ha`` and ``year``."""
        from . import layers

        return layers.load(name, self.runs, self.store)

    def train(self, opts, source: sources.ImagerySource | None = None):
        """Train (or fine-tune) and register a model; see :mod:`detector.training`."""
        from .training import train

        return train(opts, source)


def _year_for(year, source: sources.ImagerySource) -> periods.Period:
    """The period asked for (a year, a quarter, a date range), or the year a dated image says; a message
    when neither is known."""
    if year is not None:
        return periods.of(year)
    years = getattr(source, "years", ())
    if len(years) == 1:
        return periods.year(years[0])
    if years:
        raise DetectorError("The imagery's metadata dates it in several years ({names}); give --year or --period to say "
                            "which one the run is for.",
                            names=', '.join(map(str, years)))
    raise DetectorError("Give --year or --period: the imagery does not say when it was taken (Earth Engine needs "
                        "the period of its composite; a GeoTIFF without acquisition dates in its metadata needs the "
                        "year it shows).")


def _file_stamp(spec: models.ModelSpec) -> str:
    """A local model file's size and time: a replaced file is a new detector."""
    p = Path(spec.local_path) if spec.local_path else None
    if p is not None and p.is_file():
        s = p.stat()
        return f"{s.st_size}:{s.st_mtime_ns}"
    return ""
