"""The scoring engine: windows cut on the model's device from tile rasters, batches across tiles.

The cut is data movement only, so the engine's scores are those of the same windows scored as a
batch on the host; tiles scored at the same time share batches; a failed batch is reported to
every tile in it and the engine goes on.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

from detector import engine, grid, indices
from detector.errors import ModelError
from detector.pipeline import Detector, filled, patch_windows


def _tile_raster(scene, scene_region, det):
    from shapely.geometry import shape

    from detector.sources.local import LocalSource

    tile, (rows, cols) = next(iter(grid.tiles_for_region(shape(scene_region)).items()))
    tp = LocalSource(scene).read(tile, det.spec.bands, 2023)
    dn = filled(tp, det.spec.bands)
    return tile, rows, cols, dn, indices.model_input(dn, det.spec.bands, det.spec.indices)


def test_the_flat_index_cut_gives_the_windows_patch_windows_cuts():
    rng = np.random.default_rng(0)
    raster = rng.random((grid.TILE_PX, grid.TILE_PX, 3), dtype=np.float32)
    tile = grid.Tile(32721, -370, 30)
    rows, cols = tile.all_patches()
    pick = rng.choice(len(rows), 50, replace=False)
    pr, pc = tile.pixel_offsets(rows[pick], cols[pick])
    got = engine.cut_numpy(raster, engine.flat_index(pr, pc, raster.shape[1]), grid.PATCH_PX)
    assert np.array_equal(got, patch_windows(raster, tile, rows[pick], cols[pick]))


def test_engine_scores_equal_the_same_windows_scored_on_the_host(scene, scene_region, mirror):
    det = Detector("48px_v3.2-3.7ensemble")
    tile, rows, cols, dn, raster = _tile_raster(scene, scene_region, det)
    on_host = det.scorer.score(patch_windows(dn, tile, rows, cols))
    on_engine = det.scorer.score_raster(raster, *tile.pixel_offsets(rows, cols))
    assert on_host.std() > 0.05, "varied scores, or agreement proves nothing"
    assert np.abs(on_engine - on_host).max() <= 1e-6
    assert det.scorer.patches_scored == 2 * len(rows)


def test_tiles_scored_at_once_share_batches_and_each_gets_its_own_scores(scene, scene_region, mirror):
    """Eight 'tiles' of 9 patches each, handed over from eight threads at once with a batch of 32:
    batches hold patches of several tiles, fewer batches than tiles run, and every tile gets exactly
    the scores its own windows have."""
    det = Detector("48px_v3.7")
    tile, rows, cols, dn, raster = _tile_raster(scene, scene_region, det)
    pr, pc = tile.pixel_offsets(rows, cols)
    parts = np.array_split(np.arange(len(rows)), 8)
    want = [det.scorer.score(patch_windows(dn, tile, rows[p], cols[p])) for p in parts]
    eng = engine.Engine(det.scorer.engine.rt, det.scorer.members, 32)
    got: list = [None] * len(parts)
    start = threading.Barrier(len(parts))

    def one(k: int) -> None:
        start.wait()
        got[k] = eng.score(raster, pr[parts[k]], pc[parts[k]])

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(parts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for k in range(len(parts)):
        assert np.abs(got[k] - want[k]).max() <= 1e-6, k
    assert eng.patches_scored == len(rows) and eng.batches < len(parts) and eng.cross_tile_batches >= 1


def test_a_failed_batch_reaches_every_tile_in_it_and_the_engine_goes_on():
    class Flaky:
        pad = False
        calls = 0

        def put(self, raster):
            return raster

        def index(self, base):
            return base

        def cut(self, raster, base):
            return engine.cut_numpy(raster, base, grid.PATCH_PX)

        def concat(self, parts):
            return np.concatenate(parts)

        def score(self, windows):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise RuntimeError("device lost")
            return windows.mean(axis=(1, 2, 3))[:, None]

    eng = engine.Engine(Flaky(), 1, 64)
    raster = np.ones((grid.TILE_PX, grid.TILE_PX, 2), np.float32)
    with pytest.raises(RuntimeError, match="device lost"):
        eng.score(raster, np.array([0, 24]), np.array([0, 0]))
    assert np.allclose(eng.score(raster, np.array([0]), np.array([48])), 1.0)


def test_jax_pads_to_a_few_batch_shapes():
    assert [engine.padded(n, 512) for n in (1, 33, 100, 512, 700)] == [32, 64, 128, 512, 700]


def test_an_unknown_or_unsupported_precision_says_what_to_do():
    with pytest.raises(ModelError, match="use float32 .the default. or bfloat16"):
        engine.check_precision("fp8", "tf_keras")
    with pytest.raises(ModelError, match="not on jax"):
        engine.check_precision("bfloat16", "jax")
    assert engine.check_precision("bfloat16", "torch") == "bfloat16"
