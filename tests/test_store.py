"""The score store and reading a region back from it (what reopening a run does)."""
from __future__ import annotations

import numpy as np
from shapely.geometry import box

from detector import grid, readback
from detector.pipeline import _tile_frame
from detector.store import ScoreStore

REGION = box(-70.50, -12.95, -70.49, -12.94)  # about 1 × 1 km in UTM 19S


def _fill(store: ScoreStore, region, key="src", model="m", year=2023) -> int:
    n = 0
    for tile, (rows, cols) in grid.tiles_for_region(region).items():
        score = np.linspace(0, 1, len(rows), dtype=np.float32)[:, None]
        store.write_tile(key, model, year, tile, _tile_frame(1, tile, rows, cols, np.ones(len(rows), bool), score))
        n += len(rows)
    return n


def test_a_region_reads_back_whole_with_its_scores(tmp_path):
    store = ScoreStore(tmp_path / "scores")
    n = _fill(store, REGION)
    back = readback.read_region(store, "src", "m", 2023, REGION)
    assert not back.missing and len(back.patches) == n and back.not_covered == 0
    assert set(back.patches.columns) >= {"patch_id", "score", "year", "model", "geometry"}
    assert back.patches["patch_id"].is_unique
    kept = readback.read_region(store, "src", "m", 2023, REGION, min_score=0.5)
    assert (kept.patches["score"] >= 0.5).all() and 0 < len(kept.patches) < n


def test_tiles_the_store_lacks_or_holds_for_another_region_are_missing(tmp_path):
    store = ScoreStore(tmp_path / "scores")
    small = box(-70.50, -12.95, -70.499, -12.949)
    _fill(store, small)
    back = readback.read_region(store, "src", "m", 2023, REGION.buffer(0.02))
    assert back.missing, "a tile stored only for a smaller region is not this region's"
    assert readback.read_region(store, "other", "m", 2023, REGION).missing


def test_a_url_store_and_a_local_store_hold_the_same(tmp_path):
    local, mem = ScoreStore(tmp_path / "s"), ScoreStore("memory://store-test-readback")
    _fill(local, REGION)
    _fill(mem, REGION)
    a = readback.read_region(local, "src", "m", 2023, REGION).patches.sort_values("patch_id")
    b = readback.read_region(mem, "src", "m", 2023, REGION).patches.sort_values("patch_id")
    assert a["patch_id"].tolist() == b["patch_id"].tolist() and np.allclose(a["score"], b["score"])


def test_tiles_hold_plain_columns_and_geoparquet_tiles_of_older_stores_still_open(tmp_path):
    """The store keeps scores, not shapes: squares are rebuilt from (row, col) on reading, equal to the ones
    an older store wrote as GeoParquet, which opens unchanged."""
    import pyarrow.parquet as pq

    new, old = ScoreStore(tmp_path / "new"), ScoreStore(tmp_path / "old")
    _fill(new, REGION)
    for tile, (rows, cols) in grid.tiles_for_region(REGION).items():  # the layout before: GeoParquet with squares
        frame = _tile_frame(1, tile, rows, cols, np.ones(len(rows), bool), np.linspace(0, 1, len(rows), dtype=np.float32)[:, None])
        path = old.tile_path("src", "m", 2023, tile)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
        assert "geometry" in pq.read_schema(path).names
        assert "geometry" not in pq.read_schema(new.tile_path("src", "m", 2023, tile)).names
    a = readback.read_region(new, "src", "m", 2023, REGION).patches
    b = readback.read_region(old, "src", "m", 2023, REGION).patches
    assert len(a) == len(b) > 0
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()
    assert np.array_equal(a["score"].to_numpy(), b["score"].to_numpy())
