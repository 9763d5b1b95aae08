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
        grid.squares(frame).to_parquet(path, index=False)
        assert "geometry" in pq.read_schema(path).names
        assert "geometry" not in pq.read_schema(new.tile_path("src", "m", 2023, tile)).names
    a = readback.read_region(new, "src", "m", 2023, REGION).patches
    b = readback.read_region(old, "src", "m", 2023, REGION).patches
    assert len(a) == len(b) > 0
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()
    assert np.array_equal(a["score"].to_numpy(), b["score"].to_numpy())


def _fill_now(store: ScoreStore, region, key="src", model="m", year=2023) -> None:
    """Tiles as today's pipeline writes them (with ``valid_fraction``): what the columnar scan reads."""
    for tile, (rows, cols) in grid.tiles_for_region(region).items():
        score = np.linspace(0, 1, len(rows), dtype=np.float32)[:, None]
        frame = _tile_frame(1, tile, rows, cols, np.ones(len(rows), bool), score)
        frame["valid_fraction"] = np.float32(1.0)
        store.write_tile(key, model, year, tile, frame)


def test_the_columnar_scan_reads_what_tile_by_tile_reading_reads(tmp_path):
    store = ScoreStore(tmp_path / "scores")
    region = REGION.buffer(0.08)
    _fill_now(store, region)
    tiles = list(grid.tiles_for_region(region))
    assert len(tiles) > 4
    scanned = store.scan("src", "m", 2023, tiles)
    assert set(scanned) == set(tiles)
    for tile in tiles:
        one = store.read_tile("src", "m", 2023, tile, geometry=False)
        assert scanned[tile].reset_index(drop=True).equals(one.reset_index(drop=True))
    fast = readback.read_region(store, "src", "m", 2023, region)
    store_slow = ScoreStore(f"file://{tmp_path / 'scores'}")
    store_slow.scan = lambda *a, **k: {}  # the careful way only
    slow = readback.read_region(store_slow, "src", "m", 2023, region)
    assert fast.patches["patch_id"].tolist() == slow.patches["patch_id"].tolist()
    assert fast.patches.geometry.geom_equals_exact(slow.patches.geometry, tolerance=0).all()


def test_a_damaged_or_misplaced_file_is_left_out_of_the_scan_and_reported_by_the_careful_read(tmp_path):
    import shutil

    store = ScoreStore(tmp_path / "scores")
    region = REGION.buffer(0.08)
    _fill_now(store, region)
    tiles = sorted(grid.tiles_for_region(region))
    torn, moved = tiles[0], tiles[1]
    path = store.tile_path("src", "m", 2023, torn)
    path.write_bytes(path.read_bytes()[:100])
    shutil.copy(store.tile_path("src", "m", 2023, tiles[2]), store.tile_path("src", "m", 2023, moved))
    scanned = store.scan("src", "m", 2023, tiles)
    assert torn not in scanned and moved not in scanned  # the torn file spoils the scan as a whole, or is left out
    path.unlink()
    scanned = store.scan("src", "m", 2023, tiles)
    assert moved not in scanned and tiles[2] in scanned, "another tile's file is not this tile's scores"
    back = readback.read_region(store, "src", "m", 2023, region)
    assert sorted(back.missing) == sorted([torn.key, moved.key])
    assert any(key == moved.key for key, _ in store.damaged)


def test_patch_squares_are_the_boxes_corners_transformed(tmp_path):
    """Squares are made from the stride lattice's points, each transformed once: the same coordinates as
    transforming every box's four corners."""
    import shapely

    tile = grid.Tile(32719, -56, 10)
    rows, cols = tile.all_patches()
    rows, cols = np.concatenate([rows, rows + 40]), np.concatenate([cols, cols - 7])
    t = grid._to_lonlat(32719)
    slow = shapely.transform(grid.patch_boxes_utm(rows, cols), lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    fast = grid.patch_polygons(32719, rows, cols)
    assert np.array_equal(shapely.get_coordinates(fast), shapely.get_coordinates(slow))
