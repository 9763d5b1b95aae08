"""Basin-scale runs: a region's tiles mapped over the workers of a Dask cluster.

Each task scores one tile with :func:`detector.pipeline.score_tile`, the very function of the
in-process run, so both write the same tile files. What the client holds stays small at any
scale: one :class:`~detector.grid.TileCover` per tile (a patch mask only on the region's
outline; never 100 million patch ids), at most a window of a few tasks per worker thread in
flight, and a small report per finished tile. Tiles the store already holds whole are skipped
before anything is submitted, so a run stopped at any moment and started again neither loses
nor repeats a tile; failed tiles are retried, then listed, and the rest of the run goes on.

Workers get a :class:`Recipe` (model reference, store root, year, the pickled imagery source)
and keep, per process, the loaded model and the opened source across tasks. Imagery reads are
bounded per worker process, however many threads it runs.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from . import grid, models, periods
from .concurrency import bounded_map
from .errors import DetectorError, ModelError
from .pipeline import Detector, RunSummary, TileProgress, score_tile
from .readback import IO_THREADS, read_region, region_rows
from .sources import BoundedSource, ImagerySource, storage_key
from .store import ScoreStore

if TYPE_CHECKING:
    from distributed import Client

#: Tasks in flight per worker thread: enough to keep every thread busy between the client's
#: rounds, few enough that the scheduler never holds a basin's 100,000 tasks at once.
WINDOW_PER_THREAD = 3


# ---------------------------------------------------------------- what a worker is sent

@dataclass(frozen=True)
class Recipe:
    """Everything a worker needs to score any tile of one run; the same for every task."""

    model: str  # a registered name, or the absolute path of the model file (every worker must see it)
    model_name: str  # the spec's name, the store's key: the worker checks it resolves the same
    store: str  # store root: a folder every worker sees, or an fsspec URL
    source: bytes  # the imagery source, opened and checked on the client, cloudpickled
    year: int
    storage_options: tuple[tuple[str, Any], ...] = ()
    fetch_per_worker: int | None = None  # imagery reads at once per worker process (None: the source's own limit)
    tf_threads: int | None = None  # TensorFlow threads per worker process (None: TensorFlow's default)

    @property
    def source_token(self) -> str:
        return hashlib.sha1(self.source).hexdigest()


def make_recipe(spec: models.ModelSpec, store: ScoreStore, source: ImagerySource, year: int,
                fetch_per_worker: int | None = None, tf_threads: int | None = None) -> Recipe:
    import cloudpickle

    return Recipe(
        model=_model_ref(spec), model_name=spec.name, store=store.url,
        source=cloudpickle.dumps(source), year=periods.of(year),
        storage_options=tuple(sorted(store.storage_options.items())),
        fetch_per_worker=fetch_per_worker, tf_threads=tf_threads,
    )


def _model_ref(spec: models.ModelSpec) -> str:
    """How a worker finds the model: by its registered name where that resolves, else by its file."""
    try:
        if models.resolve(spec.name) == spec:
            return spec.name
    except DetectorError:
        pass
    return spec.local_path or spec.name


@dataclass
class TileReport:
    """What a task sends back: figures only; the scores themselves are in the store."""

    tile: str
    from_store: int
    scored: int
    not_covered: int
    computed: bool
    seconds: float
    device: str = ""
    pid: int = 0
    partly_covered: int = 0  # scored patches some of whose pixels had no imagery


# ---------------------------------------------------------------- worker side (per process)

_LOCK = threading.Lock()
_DETECTORS: dict[tuple, Detector] = {}
_SOURCES: dict[str, ImagerySource] = {}
_TF_CONFIGURED = False
_DEVICE: str | None = None


def _configure_tensorflow(threads: int | None) -> None:
    """Give TensorFlow its thread count before it starts (several workers share the cores)."""
    global _TF_CONFIGURED
    if _TF_CONFIGURED or not threads:
        return
    models.quiet_tensorflow()
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # TensorFlow already ran in this process; its thread pools are fixed
    _TF_CONFIGURED = True


def _worker_state(recipe: Recipe) -> tuple[Detector, ImagerySource]:
    """This process's detector (the model loads once, on first use) and imagery source.

    The source is read through the worker's pixel cache, and its reads are capped per process
    (a worker may run more threads than the imagery service should see requests from it).
    """
    import cloudpickle

    with _LOCK:
        _configure_tensorflow(recipe.tf_threads)
        key = (recipe.model, recipe.store, recipe.storage_options)
        det = _DETECTORS.get(key)
        if det is None:
            det = Detector(recipe.model, ScoreStore(recipe.store, **dict(recipe.storage_options)))
            if det.spec.name != recipe.model_name:
                raise ModelError(
                    "On this worker the model {recipe_model} is {spec_name}, not {recipe_model_name} as on the "
                    "client: give every worker the same model file and the same models/registry.toml.",
                    recipe_model=recipe.model, spec_name=det.spec.name, recipe_model_name=recipe.model_name
                )
            if len(_DETECTORS) >= 4:  # a long-lived worker serving many runs keeps a few models
                _DETECTORS.pop(next(iter(_DETECTORS)))
            _DETECTORS[key] = det
        source = _SOURCES.get(recipe.source_token)
        if source is None:
            inner = cloudpickle.loads(recipe.source)
            source = det.imagery(BoundedSource(inner, recipe.fetch_per_worker or inner.max_concurrency))
            if len(_SOURCES) >= 8:
                _SOURCES.pop(next(iter(_SOURCES)))
            _SOURCES[recipe.source_token] = source
    return det, source


def _device() -> str:
    global _DEVICE
    if _DEVICE is None:
        _DEVICE = models.describe_device()
    return _DEVICE


def score_tile_task(recipe: Recipe, cover: grid.TileCover) -> TileReport:
    """The Dask task: one tile scored into the store, as :meth:`Detector.run` would."""
    t0 = time.perf_counter()
    det, source = _worker_state(recipe)
    rows, cols = cover.patches()
    out = score_tile(det, source, recipe.year, cover.tile, rows, cols)
    p = out.patches
    partly = int((p["covered"].astype(bool) & (p["valid_fraction"] < 1)).sum()) if "valid_fraction" in p else 0
    return TileReport(cover.tile.key, out.from_store, out.scored, out.not_covered, out.computed,
                      time.perf_counter() - t0, _device() if out.computed else "", os.getpid(), partly)


# ---------------------------------------------------------------- client side

@dataclass
class DistributedRun:
    """The closing figures of a distributed run, and what it could not do."""

    summary: RunSummary
    covers: list[grid.TileCover]
    failed: dict[str, str] = field(default_factory=dict)  # tile key -> the error, as the worker raised it
    workers: int = 0
    tile_seconds: list[float] = field(default_factory=list)  # per computed tile, on its worker


def _stored_whole(store: ScoreStore, source_key: str, model: str, year: int,
                  cover: grid.TileCover) -> tuple[int, int] | None:
    """(covered, not covered) patches of a tile stored whole for the region, else None."""
    stored = store.read_tile(source_key, model, year, cover.tile, columns=["row", "col", "covered"])
    if stored is None:
        return None
    if cover.mask is None:  # every patch position of the tile is in the region
        if len(stored) < grid.TILE * grid.TILE:
            return None
        part = stored
    else:
        part = region_rows(stored, cover.tile, *cover.patches())
        if len(part) < cover.n_patches:
            return None
    n = int(part["covered"].sum())
    return n, len(part) - n


def _threads(client: Client) -> int:
    try:
        return max(sum(client.nthreads().values()), 1)
    except Exception:  # noqa: BLE001 - a scheduler that does not answer now: the next round asks again
        return 1


def run(client: Client, region: BaseGeometry, year: int, source: ImagerySource,
        model: models.ModelSpec | str | Path | None = None, store: ScoreStore | None = None, *, retries: int = 2,
        fetch_per_worker: int | None = None, tf_threads: int | None = None,
        on_progress: Callable[[TileProgress], None] | None = None) -> DistributedRun:
    """Score every patch of a (checked) region on the cluster behind ``client``.

    Returns when every tile is stored or has failed ``retries + 1`` times; scores are read back
    with :func:`collect`.
    """
    t0 = time.perf_counter()
    spec = model if isinstance(model, models.ModelSpec) else models.resolve(model)
    store = store or ScoreStore()
    source.check(region, spec.bands, year)
    covers = grid.region_covers(region)
    recipe = make_recipe(spec, store, source, year, fetch_per_worker, tf_threads)
    summary = RunSummary(model=spec.name, year=year, source=storage_key(source, year), tiles=len(covers))
    result = DistributedRun(summary, covers)
    stored_keys = store.tile_keys(summary.source, spec.name, year)
    run_token = uuid.uuid4().hex[:8]
    done = computed = 0
    devices: set[str] = set()

    def report() -> None:
        if on_progress:
            on_progress(TileProgress(done, len(covers), summary.tiles_from_store, computed, len(result.failed)))

    def check(cover: grid.TileCover) -> tuple[int, int] | None:
        if cover.tile.key not in stored_keys:
            return None
        return _stored_whole(store, summary.source, spec.name, year, cover)

    from distributed import as_completed

    inflight: dict[Any, grid.TileCover] = {}
    finished = as_completed()
    window, window_at = WINDOW_PER_THREAD * _threads(client), time.monotonic()

    def settle(fut) -> None:
        nonlocal done, computed
        cover = inflight.pop(fut)
        try:
            rep: TileReport = fut.result()
        except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - the task's error, KilledWorker, …
            result.failed[cover.tile.key] = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        else:
            summary.from_store += rep.from_store
            summary.scored_now += rep.scored
            summary.not_covered += rep.not_covered
            summary.partly_covered += rep.partly_covered
            if rep.computed:
                computed += 1
                devices.add(rep.device)
                result.tile_seconds.append(rep.seconds)
            else:  # stored whole meanwhile (an earlier attempt of this task, or another run)
                summary.tiles_from_store += 1
        fut.release()
        done += 1
        report()

    def submit_all() -> None:
        nonlocal done, window, window_at
        for cover, check_fut in bounded_map(check, covers, IO_THREADS):
            whole = check_fut.result()
            if whole is not None:
                summary.from_store += whole[0]
                summary.not_covered += whole[1]
                summary.tiles_from_store += 1
                done += 1
                report()
                continue
            fut = client.submit(score_tile_task, recipe, cover, key=f"score-tile-{cover.tile.key}-{run_token}",
                                retries=retries, pure=False)
            inflight[fut] = cover
            finished.add(fut)
            if time.monotonic() - window_at > 5:  # the cluster may have grown or shrunk
                window, window_at = WINDOW_PER_THREAD * _threads(client), time.monotonic()
            while len(inflight) >= window:
                settle(next(finished))
        while inflight:
            settle(next(finished))

    report()
    try:
        submit_all()
    except BaseException:
        # Stopped (Ctrl-C, an error here): tasks not started yet are dropped; running ones
        # finish their tile, which is stored whole, so the next run resumes from there.
        client.cancel(list(inflight))
        raise

    summary.patches = summary.from_store + summary.scored_now
    summary.device = ", ".join(sorted(devices)) if devices else summary.device
    summary.seconds = time.perf_counter() - t0
    result.workers = len(client.nthreads())
    return result


def collect(store: ScoreStore, source_key: str, model: str, year: int, covers: list[grid.TileCover],
            min_score: float | None = None, geometry: bool = True) -> gpd.GeoDataFrame | pd.DataFrame:
    """The region's scored patches read back from the store, as :meth:`Detector.run` returns them.

    Tiles missing from the store (failed ones) are left out; see :func:`detector.readback.read_region`.
    """
    return read_region(store, source_key, model, year, covers, min_score, geometry).patches


# ---------------------------------------------------------------- a cluster to run on

@contextmanager
def connect(workers: int | None = None, scheduler: str | None = None, threads_per_worker: int = 2,
            dashboard_address: str | None = ":8787") -> Iterator[Client]:
    """A client of an existing cluster (``scheduler``), or of a local one of ``workers`` processes.

    A local cluster is shut down on the way out, also on Ctrl-C or an error.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    # Workers' own log lines are kept to the critical: a failed tile comes back with its error
    # anyway, and shutting down must not print a worker's complaint that the scheduler left.
    with LocalCluster(n_workers=workers or 1, threads_per_worker=threads_per_worker, processes=True,
                      dashboard_address=dashboard_address, silence_logs=logging.CRITICAL) as cluster, \
            Client(cluster) as client:
        yield client


def run_on_cluster(region: BaseGeometry, year: int, source: ImagerySource,
                   model: models.ModelSpec | str | Path | None = None, store: ScoreStore | None = None, *,
                   workers: int | None = None, scheduler: str | None = None, retries: int = 2,
                   fetch_per_worker: int | None = None, on_progress: Callable[[TileProgress], None] | None = None,
                   echo: Callable[[str], None] | None = None) -> DistributedRun:
    """:func:`run` on a local cluster of ``workers`` processes or on the cluster at ``scheduler``.

    A local cluster shares the machine's cores out among the workers' TensorFlow; each worker
    runs enough threads to read one tile while it scores another.
    """
    from contextlib import ExitStack

    threads = max(2, fetch_per_worker or int(getattr(source, "max_concurrency", 1)))
    with ExitStack() as stack:
        try:
            client = stack.enter_context(connect(workers, scheduler, threads_per_worker=threads))
        except OSError as exc:
            raise DetectorError(
                "Could not reach the Dask scheduler at {scheduler} ({exc}). Start one (`dask scheduler`, "
                "then `dask worker tcp://HOST:8786` on each machine), check the address, or run on this "
                "machine with --workers N.",
                scheduler=scheduler, exc=exc
            ) from None
        if echo:
            info = client.scheduler_info()
            n_workers = len(info.get("workers", {}))
            n_threads = sum(w.get("nthreads", 0) for w in info.get("workers", {}).values())
            echo(f"Dask cluster {client.scheduler.address}: {n_workers} workers, {n_threads} threads; "
                 f"dashboard: {client.dashboard_link}")
        return run(client, region, year, source, model, store, retries=retries, fetch_per_worker=fetch_per_worker,
                   tf_threads=local_tf_threads(workers) if not scheduler and workers else None,
                   on_progress=on_progress)


def local_tf_threads(workers: int) -> int:
    """TensorFlow threads per local worker process: the machine's cores shared out, at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(cores // max(workers, 1), 1)
