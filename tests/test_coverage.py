"""Coverage as the published pipeline has it: a patch with some pixels masked is scored, the masked
pixels as 0 (what Earth Engine's NUMPY_NDARRAY export and the training chips have), and its
valid fraction is stored."""
from __future__ import annotations

import numpy as np
import rasterio
from shapely.geometry import shape
from synthetic import SCENE_CRS, SCENE_PX, SCENE_X0, SCENE_YTOP, write_geotiff

from detector import grid
from detector.pipeline import Detector, _upgrade, covered, patch_windows, scoreable, valid_fraction
from detector.sources.local import LocalSource


def _holes(path, fraction=0.002, seed=5):
    """Scattered masked pixels (nodata 0), as clouds leave them in a yearly composite."""
    with rasterio.open(path, "r+") as dst:
        data = dst.read()
        rng = np.random.default_rng(seed)
        hole = rng.random(data.shape[1:]) < fraction
        data[:, hole] = 0
        dst.nodata = 0
        dst.write(data)
    return path


def test_scattered_masked_pixels_no_longer_drop_patches(tmp_path, scene_region, tiny_model):
    tif = _holes(write_geotiff(tmp_path / "holes.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, SCENE_PX, SCENE_PX))
    src = LocalSource(tif)
    res = Detector(tiny_model).run(scene_region, 2023, src)
    p = res.patches
    whole = int((p.valid_fraction == 1).sum())
    assert 0 < whole < len(p)
    assert res.summary.partly_covered == len(p) - whole
    # what the old rule (every pixel present) would have scored, on the same tiles
    tile, (rows, cols) = next(iter(grid.tiles_for_region(shape(scene_region)).items()))
    tp = src.read(tile, Detector(tiny_model).spec.bands, 2023)
    old = int(covered(tp.valid, tile, rows, cols).sum())
    new = int(scoreable(valid_fraction(tp.valid, tile, rows, cols)).sum())
    assert new > old, f"coverage: {old} patches before, {new} now"
    print(f"scattered masked pixels (0.2 %): {old} of {len(rows)} patches scored before, {new} now")


def test_a_partly_masked_patch_is_scored_with_its_masked_pixels_as_zero(tmp_path, scene_region, tiny_model):
    import tf_keras

    tif = _holes(write_geotiff(tmp_path / "holes.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, SCENE_PX, SCENE_PX), 0.01)
    src = LocalSource(tif)
    det = Detector(tiny_model)
    p = det.run(scene_region, 2023, src).patches
    part = p[p.valid_fraction < 1].iloc[:5]
    tile = grid.Tile(int(part.epsg.iloc[0]), int(part.row.iloc[0]) // grid.TILE, int(part.col.iloc[0]) // grid.TILE)
    part = part[(part.row // grid.TILE == tile.trow) & (part.col // grid.TILE == tile.tcol)]
    tp = src.read(tile, det.spec.bands, 2023)
    px = np.where(tp.valid[..., None], tp.pixels, 0).astype(np.float32)
    wins = patch_windows(px, tile, part.row.to_numpy(), part.col.to_numpy())
    net = tf_keras.models.load_model(tiny_model, compile=False)
    want = net(np.clip(wins / 10000.0, 0, 1).astype(np.float32)).numpy().mean(axis=1)
    np.testing.assert_allclose(part.score, want, atol=1e-6)


def test_a_tile_stored_before_coverage_was_kept_is_rescored_where_it_left_gaps():
    import pandas as pd

    old = pd.DataFrame({"patch_id": ["a", "b"], "covered": [True, False], "score": [0.4, np.nan]})
    up = _upgrade(old)
    assert up["patch_id"].tolist() == ["a"] and up["valid_fraction"].tolist() == [1.0]
    assert _upgrade(None) is None
