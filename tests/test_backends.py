"""The models on Keras 3's JAX backend (DETECTOR_BACKEND=jax) score as tf_keras does, to 1e-5.

A GPU machine may carry JAX or PyTorch and no TensorFlow; Keras 3 runs the same published .h5
files there. Keras fixes its backend per process, so the JAX side runs in a subprocess.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synthetic import BANDS_13, SCENE_CRS, SCENE_X0, SCENE_YTOP, write_geotiff

from detector import backends, models
from detector.errors import ModelError

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
import json, sys, numpy as np
from detector import models
out = {}
for name in json.loads(sys.argv[1]):
    spec = models.resolve(name)
    x = np.load(sys.argv[2] + f"/{len(spec.bands)}.npy")
    out[name] = models.load(spec).score(x).tolist()
print(json.dumps(out))
"""


def _windows(tmp_path: Path) -> None:
    """Real-looking windows (forest, bare soil, pools) in DN, for the 12- and the 13-band models."""
    import rasterio

    tif = write_geotiff(tmp_path / "s.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, 480, 480, bands=BANDS_13, seed=2)
    with rasterio.open(tif) as src:
        a = np.moveaxis(src.read().astype(np.float32), 0, -1)
    wins = np.stack([a[r : r + 48, c : c + 48] for r in range(0, 432, 24) for c in range(0, 432, 24)])
    for n in (12, 13):
        bands = models.BANDS_12 if n == 12 else models.BANDS_13
        np.save(tmp_path / f"{n}.npy", wins[..., [BANDS_13.index(b) for b in bands]])


@pytest.mark.slow
def test_every_published_model_scores_the_same_on_jax_as_on_tf_keras(mirror, tmp_path):
    pytest.importorskip("jax")
    _windows(tmp_path)
    names = [n for n, s in models.registry().items() if not s.trained]
    env = {**os.environ, "DETECTOR_BACKEND": "jax", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(names), str(tmp_path)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    on_jax = json.loads(run.stdout.strip().splitlines()[-1])
    varied = 0
    for name in names:
        spec = models.resolve(name)
        x = np.load(tmp_path / f"{len(spec.bands)}.npy")
        ref = models.load(spec).score(x)
        got = np.asarray(on_jax[name], dtype=np.float32)
        assert got.shape == ref.shape, name
        assert np.abs(got - ref).max() <= 1e-5, f"{name}: {np.abs(got - ref).max():.2e}"
        varied += ref.std() > 0.05
    assert varied >= 2, "the windows must give varied scores, or agreement proves nothing"


def test_an_unknown_or_missing_backend_says_what_to_do(monkeypatch):
    with pytest.raises(ModelError, match="not a backend; use one of tf_keras, jax, torch, tensorflow"):
        backends.check("cuda")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "torch" else real(n, *a))
    with pytest.raises(ModelError, match="DETECTOR_BACKEND=torch but torch is not installed"):
        backends.keras3("torch")
