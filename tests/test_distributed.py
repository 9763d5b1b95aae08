"""Basin-scale runs on a Dask cluster: the same tile files as in-process, resumable, failures listed.

Local clusters of 2 worker processes (1 thread each) on a synthetic GeoTIFF of 6 tiles. One
cluster is shared by most tests; the worker-kill test has its own.
"""
from __future__ import annotations

import json
import os
import pickle
import signal
import time
import types
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import rasterio
from distributed import Client, LocalCluster
from rasterio.transform import from_origin
from synthetic import _SPECTRA, SCENE_CRS, SHUFFLED, lonlat_box

from detector import distributed, grid
from detector.cli import main
from detector.errors import ImageryError
from detector.pipeline import Detector
from detector.region import geometry_from_geojson
from detector.sources import open_source
from detector.sources.local import LocalSource
from detector.store import ScoreStore

YEAR = 2023
# A 16 × 4 km scene astride a tile-row border and across two tile-column borders: its region
# (the scene less a 300 m margin) needs 6 tiles.
X0, YTOP, WIDTH, HEIGHT = 598_540.0, 8_896_080.0, 1600, 400


def write_scene(path: Path, seed: int = 0) -> Path:
    """Forest with small scars and pools, painted window by window (fast at any size)."""
    rng = np.random.default_rng(seed)
    spec = {k: np.array([v[b] for b in SHUFFLED], np.float32)[:, None] for k, v in _SPECTRA.items()}
    data = spec["forest"][:, :, None] + rng.normal(0, 80, (len(SHUFFLED), HEIGHT, WIDTH)).astype(np.float32)
    for _ in range(WIDTH * HEIGHT // 1500):
        kind = "soil" if rng.random() < 0.5 else "pool"
        cy, cx, r = int(rng.integers(0, HEIGHT)), int(rng.integers(0, WIDTH)), int(rng.integers(2, 8))
        ys = slice(max(cy - r, 0), min(cy + r + 1, HEIGHT))
        xs = slice(max(cx - r, 0), min(cx + r + 1, WIDTH))
        yy, xx = np.ogrid[ys, xs]
        window = data[:, ys, xs]
        window[:, (yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = spec[kind]
    profile = {"driver": "GTiff", "width": WIDTH, "height": HEIGHT, "count": len(SHUFFLED), "dtype": "uint16",
               "crs": SCENE_CRS, "transform": from_origin(X0, YTOP, 10, 10)}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.clip(data, 1, 10000).astype(np.uint16))
        for i, b in enumerate(SHUFFLED, start=1):
            dst.set_band_description(i, b)
    return path


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> tuple[Path, dict]:
    """The 6-tile scene and its region (the scene less a 300 m margin)."""
    folder = tmp_path_factory.mktemp("wide")
    tif = write_scene(folder / "wide.tif")
    region = lonlat_box(SCENE_CRS, X0 + 300, YTOP - HEIGHT * 10 + 300, X0 + WIDTH * 10 - 300, YTOP - 300)
    return tif, region


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """One local cluster of 2 worker processes for the module."""
    env = {"DETECTOR_DATA_DIR": str(tmp_path_factory.mktemp("workers-data"))}
    with mock.patch.dict(os.environ, env), LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                                        dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


def store_files(store: ScoreStore) -> dict[str, pd.DataFrame]:
    """Every tile file of a local store, by path relative to the root."""
    return {str(p.relative_to(store.root)): pd.read_parquet(p) for p in sorted(store.root.rglob("*.parquet"))
            if not p.name.startswith(".")}


def assert_same_store(a: ScoreStore, b: ScoreStore) -> None:
    fa, fb = store_files(a), store_files(b)
    assert fa and list(fa) == list(fb)
    for name in fa:
        pd.testing.assert_frame_equal(fa[name], fb[name], check_exact=True)


def in_process(tmp_path: Path, tif: Path, region: dict, model) -> tuple[ScoreStore, object]:
    store = ScoreStore(tmp_path / "in-process")
    res = Detector(model, store=store).run(region, YEAR, open_source(str(tif)), limit_km2=float("inf"))
    return store, res


def wait_idle(client: Client, timeout: float = 60) -> None:
    """Until no task runs on any worker (released tasks of a stopped run still finish theirs)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        busy = client.run(lambda dask_worker: dask_worker.state.executing_count)
        if not any(busy.values()) and not any(client.processing().values()):
            return
        time.sleep(0.1)


# ---------------------------------------------------------------- the grid at basin scale

def test_tile_covers_give_the_patches_of_the_patch_level_grid():
    """The tile-level cover (what makes a basin cheap) picks exactly the patches patch-level tests pick."""
    rng = np.random.default_rng(0)
    import shapely

    regions = [
        # across the zone 18/19 border, and around a tile corner
        geometry_from_geojson({"type": "Polygon", "coordinates": [[[-72.3, -10.2], [-71.7, -10.2], [-71.7, -9.9],
                                                                    [-72.3, -9.9], [-72.3, -10.2]]]}),
        geometry_from_geojson(lonlat_box(SCENE_CRS, 606_000, 8_893_500, 607_500, 8_894_700)),
    ]
    for _ in range(12):
        cx, cy = rng.uniform(-75, -60), rng.uniform(-12, 4)
        hull = shapely.convex_hull(shapely.MultiPoint(rng.normal(size=(10, 2)) * rng.uniform(0.01, 0.2) + [cx, cy]))
        regions.append(hull.difference(shapely.Point(cx, cy).buffer(0.02)))
    for region in regions:
        expected: dict = {}
        for zp in grid.patches_for_region(region):
            for tile, idx in zp.by_tile().items():
                expected[tile] = (zp.rows[idx], zp.cols[idx])
        got = grid.tiles_for_region(region)
        assert list(got) == sorted(expected)
        for tile, (rows, cols) in got.items():
            np.testing.assert_array_equal(rows, expected[tile][0])
            np.testing.assert_array_equal(cols, expected[tile][1])
        covers = grid.region_covers(region)
        assert sum(c.n_patches for c in covers) == sum(len(r) for r, _ in expected.values())


# ---------------------------------------------------------------- same files as in-process

def test_cluster_run_writes_exactly_the_in_process_tiles(client, wide, tmp_path, mirror):
    tif, region = wide
    ref_store, ref = in_process(tmp_path, tif, region, "48px_v3.7")
    assert ref.summary.tiles == 6 and ref.summary.partly_covered > 0  # the image edges: scored, partly covered

    store = ScoreStore(tmp_path / "cluster")
    geom = geometry_from_geojson(region)
    run = distributed.run(client, geom, YEAR, open_source(str(tif)), "48px_v3.7", store)
    assert not run.failed
    s, r = run.summary, ref.summary
    assert (s.tiles, s.patches, s.scored_now, s.not_covered, s.partly_covered, s.tiles_from_store) == \
           (r.tiles, r.patches, r.scored_now, r.not_covered, r.partly_covered, 0)
    assert_same_store(ref_store, store)
    back = distributed.collect(store, s.source, s.model, YEAR, run.covers)
    pd.testing.assert_frame_equal(back.to_wkb(), ref.patches.to_wkb(), check_exact=True)
    assert back["patch_id"].is_unique

    # each worker process loaded the model once and kept it
    loaded = client.run(lambda: sum(d._scorer is not None for d in distributed._DETECTORS.values()))
    assert set(loaded.values()) <= {0, 1} and sum(loaded.values()) >= 1

    # run again: every tile is whole in the store, nothing is submitted
    again = distributed.run(client, geom, YEAR, open_source(str(tif)), "48px_v3.7", store)
    assert again.summary.tiles_from_store == 6 and again.summary.scored_now == 0
    assert again.summary.from_store == r.patches and again.summary.not_covered == r.not_covered


def test_store_as_a_file_url(client, wide, tmp_path, tiny_model):
    tif, region = wide
    ref_store, _ = in_process(tmp_path, tif, region, tiny_model)
    url = (tmp_path / "by-url").as_uri()  # file:///…
    run = distributed.run(client, geometry_from_geojson(region), YEAR, open_source(str(tif)), tiny_model,
                          ScoreStore(url))
    assert not run.failed and url.startswith("file://")
    assert_same_store(ref_store, ScoreStore(tmp_path / "by-url"))


def test_memory_store_in_process(scene, scene_region, tiny_model):
    store = ScoreStore("memory://scores-test")
    assert not store.is_local and pickle.loads(pickle.dumps(store)).url == store.url
    first = Detector(tiny_model, store=store).run(scene_region, YEAR, open_source(str(scene)))
    second = Detector(tiny_model, store=pickle.loads(pickle.dumps(store))).run(scene_region, YEAR, open_source(str(scene)))
    assert first.summary.scored_now > 0 and second.summary.scored_now == 0
    assert second.summary.from_store == first.summary.patches
    runs = store.runs()
    assert len(runs) == 1 and runs["tiles"].iloc[0] == first.summary.tiles
    tile = next(iter(grid.tiles_for_region(geometry_from_geojson(scene_region))))
    assert store.tile_keys(first.summary.source, first.summary.model, YEAR) == {tile.key}
    assert store.read_tile("nothing", "here", YEAR, tile) is None


# ---------------------------------------------------------------- resuming

def test_stopped_run_resumes_and_computes_only_what_is_missing(client, wide, tmp_path, tiny_model):
    tif, region = wide
    ref_store, ref = in_process(tmp_path, tif, region, tiny_model)
    geom = geometry_from_geojson(region)
    store = ScoreStore(tmp_path / "cluster")

    class Stop(Exception):
        pass

    def stop_after_two(p):
        if p.done >= 2:
            raise Stop

    with pytest.raises(Stop):  # 2 tiles done, 2 running (they finish), 2 waiting (never started)
        distributed.run(client, geom, YEAR, SlowSource(tif), tiny_model, store, on_progress=stop_after_two)
    wait_idle(client)
    present = store_files(store)
    assert 2 <= len(present) < 6
    victim = next(iter(present))
    (store.root / victim).unlink()  # lost, or never finished: scored again
    before = set(store_files(store))

    again = distributed.run(client, geom, YEAR, open_source(str(tif)), tiny_model, store)
    assert not again.failed
    assert again.summary.tiles_from_store == len(before)
    assert len(again.tile_seconds) == 6 - len(before)  # tiles computed now
    assert again.summary.patches == ref.summary.patches
    assert_same_store(ref_store, store)


def test_partly_stored_tile_is_completed_not_skipped(client, wide, tmp_path, tiny_model):
    """A tile stored for a smaller earlier region is scored for the rest, not taken as done."""
    tif, region = wide
    _, ref = in_process(tmp_path, tif, region, tiny_model)
    store = ScoreStore(tmp_path / "cluster")
    small = lonlat_box(SCENE_CRS, X0 + 2000, YTOP - 2500, X0 + 3500, YTOP - 1000)
    first = Detector(tiny_model, store=store).run(small, YEAR, open_source(str(tif)))
    run = distributed.run(client, geometry_from_geojson(region), YEAR, open_source(str(tif)), tiny_model, store)
    assert run.summary.from_store == first.summary.patches
    assert run.summary.scored_now == ref.summary.patches - first.summary.patches
    back = distributed.collect(store, run.summary.source, run.summary.model, YEAR, run.covers)
    assert back["patch_id"].is_unique and len(back) == ref.summary.patches
    a, b = back.set_index("patch_id")["score"], ref.patches.set_index("patch_id")["score"]
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index(), check_exact=True)


# ---------------------------------------------------------------- failures

class FailingSource(LocalSource):
    """The GeoTIFF, except one tile, whose every read fails (and is logged to a file)."""

    def __init__(self, path, bad_tile: str, log: Path):
        super().__init__(path)
        self.bad_tile, self.log = bad_tile, str(log)

    def read(self, tile, bands, year):
        if tile.key == self.bad_tile:
            with open(self.log, "a") as fh:
                fh.write(f"{os.getpid()}\n")
            raise ImageryError(f"no pixels for tile {tile.key} today")
        return super().read(tile, bands, year)


def test_failed_tile_is_retried_then_listed(client, wide, tmp_path, tiny_model):
    tif, region = wide
    geom = geometry_from_geojson(region)
    bad = grid.region_covers(geom)[3].tile.key
    log = tmp_path / "attempts.log"
    store = ScoreStore(tmp_path / "cluster")
    run = distributed.run(client, geom, YEAR, FailingSource(tif, bad, log), tiny_model, store, retries=2)
    assert list(run.failed) == [bad]
    assert run.failed[bad] == f"ImageryError: no pixels for tile {bad} today"
    assert len(log.read_text().split()) == 3  # tried, then retried twice
    assert len(store_files(store)) == 5 and run.summary.tiles == 6


def test_cli_on_a_local_cluster_fails_a_tile_then_resumes(wide, tmp_path, tiny_model, monkeypatch, capsys):
    tif, region = wide
    region_file = tmp_path / "region.geojson"
    region_file.write_text(json.dumps(region))
    bad = grid.region_covers(geometry_from_geojson(region))[0].tile.key
    store = tmp_path / "scores"
    out = tmp_path / "mines.geojson"
    common = ["detect", "--region", str(region_file), "--year", str(YEAR), "--source", str(tif), "--model",
              str(tiny_model), "--threshold", "0.5", "--all", "--quiet"]
    args = [*common, "--store", str(store), "--out", str(out)]

    from detector import sources

    real_open = sources.open_source
    monkeypatch.setattr(sources, "open_source", lambda spec, **kw: FailingSource(spec, bad, tmp_path / "log"))
    rc = main([*args, "--workers", "2", "--retries", "1"])
    std = capsys.readouterr()
    assert rc == 1
    assert f"tile {bad}: ImageryError: no pixels for tile {bad} today" in std.err
    assert "run the same command again to resume" in std.err and "1 of 6 tiles failed after 2 attempts" in std.err
    assert "tiles failed: 1" in std.out and not out.exists()

    monkeypatch.setattr(sources, "open_source", real_open)
    rc = main([*args, "--workers", "2"])
    std = capsys.readouterr()
    assert rc == 0, std.err
    assert "tiles: 6 (5 whole in the store); tiles failed: 0" in std.out
    cluster_out = json.loads(out.read_text())

    # the same command in-process, on a fresh store, writes the same features
    rc = main([*common, "--store", str(tmp_path / "fresh"), "--out", str(tmp_path / "ref.geojson")])
    assert rc == 0
    assert cluster_out == json.loads((tmp_path / "ref.geojson").read_text())


def test_a_killed_worker_loses_and_duplicates_nothing(wide, tmp_path, tiny_model):
    tif, region = wide
    ref_store, _ = in_process(tmp_path, tif, region, tiny_model)
    geom = geometry_from_geojson(region)
    store = ScoreStore(tmp_path / "cluster")
    killed: list[int] = []

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as c:
        pids = c.run(os.getpid)

        def kill_a_busy_worker(p):
            if p.done >= 1 and not killed:
                busy = [w for w, tasks in c.processing().items() if tasks]
                if busy:
                    killed.append(pids[busy[0]])
                    os.kill(pids[busy[0]], signal.SIGKILL)

        run = distributed.run(c, geom, YEAR, SlowSource(tif), tiny_model, store, on_progress=kill_a_busy_worker)
    assert killed and not run.failed
    files = store_files(store)
    assert sorted(Path(f).stem for f in files) == sorted(cv.tile.key for cv in run.covers)
    ids = pd.concat([f[["epsg", "row", "col"]] for f in files.values()])
    assert not ids.duplicated().any()
    assert_same_store(ref_store, store)


class SlowSource(LocalSource):
    """Reads take a while, so a worker can be killed in the middle of a tile."""

    def read(self, tile, bands, year):
        time.sleep(0.7)
        return super().read(tile, bands, year)


# ---------------------------------------------------------------- shipping sources; the page's hint

def test_earth_engine_source_pickles_without_its_module_or_locks():
    from detector.sources.earthengine import EarthEngineSource

    src = EarthEngineSource(project="p", max_concurrency=3)
    src._ee_module = types.ModuleType("ee")
    src._initialized = True
    back = pickle.loads(pickle.dumps(src))
    assert back._ee_module is None and not back._initialized
    assert back.key == src.key and back.max_concurrency == 3
    with back._init_lock, back._build_lock:
        pass


def test_too_large_message_names_the_cluster_run():
    from shapely.geometry import box

    from ui.detect import inputs as detect_inputs

    req = detect_inputs.Request(year=2023, model_ref="48px_v3.7", source_arg="earthengine")
    req.region = detect_inputs.Region("x", "Amazon basin", box(0, 0, 1, 1))
    text = detect_inputs.too_large(req, 6_700_000, 2_500)
    assert "--workers" in text and "--scheduler tcp://" in text


def test_refused_scheduler_address_is_a_clear_error(wide, tmp_path, tiny_model, capsys):
    tif, region = wide
    region_file = tmp_path / "region.geojson"
    region_file.write_text(json.dumps(region))
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        rc = main(["detect", "--region", str(region_file), "--year", str(YEAR), "--source", str(tif), "--model",
                   str(tiny_model), "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "o.geojson")])
    assert rc == 2 and "Could not reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err


def test_workers_and_scheduler_together_are_refused(wide, tmp_path, capsys):
    tif, _ = wide
    rc = main(["detect", "--region", "r.geojson", "--year", "2023", "--source", str(tif), "--workers", "2",
               "--scheduler", "tcp://x:8786", "--out", str(tmp_path / "o.geojson")])
    assert rc == 2 and "not both" in capsys.readouterr().err
    with pytest.raises(ImageryError):
        FailingSource(tmp_path / "none.tif", "x", tmp_path / "log")
