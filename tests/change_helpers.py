"""Dated synthetic scenes where bare-soil scars appear over the years, and a model that scores soil:
what the multi-period tests (CLI, workspace, Change page) run on."""
from __future__ import annotations

import numpy as np


def scar_model(path):
    """A model that scores a patch ~1 when any pixel is bare soil (B12 reflectance > 0.15), else ~0."""
    import tf_keras as K
    from synthetic import BANDS_12

    model = K.Sequential([K.layers.Input((48, 48, 12)), K.layers.Conv2D(1, 1, activation="relu"),
                          K.layers.GlobalMaxPooling2D(), K.layers.Dense(1, activation="sigmoid")])
    w = np.zeros((1, 1, 12, 1), np.float32)
    w[0, 0, BANDS_12.index("B12"), 0] = 1.0
    model.layers[0].set_weights([w, np.array([-0.15], np.float32)])
    model.layers[2].set_weights([np.array([[100.0]], np.float32), np.array([-5.0], np.float32)])
    model.save(path)
    return path


def dated_scene(path, date: str, scars: list[tuple[int, int, int, int]]):
    """Forest (B12 700) with bare-soil rectangles (B12 2500) at pixel (row0, col0, row1, col1), dated by a tag."""
    import rasterio
    from rasterio.transform import from_origin
    from synthetic import _SPECTRA, BANDS_12, SCENE_CRS, SCENE_X0, SCENE_YTOP

    n = 300
    rng = np.random.default_rng(len(scars))
    data = np.stack([np.full((n, n), _SPECTRA["forest"][b], np.float32) for b in BANDS_12])
    for r0, c0, r1, c1 in scars:
        for i, b in enumerate(BANDS_12):
            data[i, r0:r1, c0:c1] = _SPECTRA["soil"][b]
    data = np.clip(data + rng.normal(0, 30, data.shape), 1, 10000).astype(np.uint16)
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=12, dtype="uint16", crs=SCENE_CRS,
                       transform=from_origin(SCENE_X0, SCENE_YTOP, 10, 10)) as dst:
        dst.write(data)
        for i, b in enumerate(BANDS_12, start=1):
            dst.set_band_description(i, b)
        dst.update_tags(ACQUISITION_DATE=date)
    return path


def write_three_years(folder):
    """2022: forest; 2023: scar A; 2024: scars A and B (a folder of dated GeoTIFFs). Returns (folder, A, B)."""
    a, b = (60, 60, 72, 75), (180, 170, 190, 182)
    folder.mkdir(parents=True, exist_ok=True)
    dated_scene(folder / "s2022.tif", "2022-08-01", [])
    dated_scene(folder / "s2023.tif", "2023-08-01", [a])
    dated_scene(folder / "s2024.tif", "2024-08-01", [a, b])
    return folder, a, b
