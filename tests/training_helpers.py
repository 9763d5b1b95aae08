"""A labelled mining scene and a quickly trained model, shared by the training, page and browser tests."""
from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from synthetic import write_mining_scene

YEAR = 2023


def _points(scene, patches) -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": list(scene.lonlat(*p))}}
        for p in patches]}


def make_mining(d: Path) -> SimpleNamespace:
    """The scene, its mine and forest patches, and sampling files: every mine patch, three forest ones per mine."""
    d.mkdir(parents=True, exist_ok=True)
    scene = write_mining_scene(d / "mines.tif")
    pos, neg = scene.labelled_patches()
    pick = np.random.default_rng(0).choice(len(neg), size=3 * len(pos), replace=False)
    neg_labelled = [neg[i] for i in sorted(pick)]
    (d / "mines_positives.geojson").write_text(json.dumps(_points(scene, pos)))
    (d / "forest_negatives.geojson").write_text(json.dumps(_points(scene, neg_labelled)))
    region = d / "scene.geojson"
    region.write_text(json.dumps(scene.region(0)))
    return SimpleNamespace(dir=d, scene=scene, pos=pos, neg=neg, neg_labelled=neg_labelled, region=region,
                           positives=d / "mines_positives.geojson", negatives=d / "forest_negatives.geojson")


@contextmanager
def data_folder(path: Path):
    """DETECTOR_DATA_DIR set to ``path`` for the duration (outside a test's own monkeypatch)."""
    old = os.environ.get("DETECTOR_DATA_DIR")
    os.environ["DETECTOR_DATA_DIR"] = str(path)
    try:
        yield path
    finally:
        if old is None:
            os.environ.pop("DETECTOR_DATA_DIR", None)
        else:
            os.environ["DETECTOR_DATA_DIR"] = old


def train_on(mining: SimpleNamespace, name: str, data_dir: Path, **options):
    """Train a model on the scene's labels into ``data_dir``; returns the TrainResult."""
    from detector import training

    opts = {"epochs": 10, "batch_size": 16, "patience": 4, "block_km": 1.6, "val_fraction": 0.3, "seed": 0,
            "quiet": True, **options}
    with data_folder(data_dir):
        return training.train(training.TrainOptions(
            name=name, year=YEAR, source=str(mining.scene.path), positives=[str(mining.positives)],
            negatives=[str(mining.negatives)], **opts))


def install(result, data_dir: Path) -> Path:
    """Copy a trained model's three files into another data folder, as if trained there."""
    dest = data_dir / "models"
    dest.mkdir(parents=True, exist_ok=True)
    for f in result.files.values():
        shutil.copy2(f, dest / f.name)
    return dest
