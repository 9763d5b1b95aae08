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
from detector import indices, models
out = {}
for name in json.loads(sys.argv[1]):
    spec = models.resolve(name)
    x = np.load(sys.argv[2] + f"/{len(spec.bands)}.npy")
    raster = indices.model_input(np.load(sys.argv[2] + f"/{len(spec.bands)}-raster.npy"), spec.bands, spec.indices)
    pr, pc = np.load(sys.argv[2] + "/offsets.npy")
    scorer = models.load(spec)
    out[name] = scorer.score(x).tolist()
    out[name + " engine"] = scorer.score_raster(raster, pr, pc).tolist()
print(json.dumps(out))
"""


def _windows(tmp_path: Path) -> None:
    """Real-looking windows (forest, bare soil, pools) in DN, for the 12- and the 13-band models."""
    import rasterio

    tif = write_geotiff(tmp_path / "s.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, 480, 480, bands=BANDS_13, seed=2)
    with rasterio.open(tif) as src:
        a = np.moveaxis(src.read().astype(np.float32), 0, -1)
    at = [(r, c) for r in range(0, 432, 24) for c in range(0, 432, 24)]
    wins = np.stack([a[r : r + 48, c : c + 48] for r, c in at])
    np.save(tmp_path / "offsets.npy", np.array(at).T)
    for n in (12, 13):
        pick = [BANDS_13.index(b) for b in (models.BANDS_12 if n == 12 else models.BANDS_13)]
        np.save(tmp_path / f"{n}.npy", wins[..., pick])
        np.save(tmp_path / f"{n}-raster.npy", a[..., pick])


@pytest.mark.slow
def _scores_in_a_process(tmp_path: Path, names: list[str], **env) -> dict[str, np.ndarray]:
    """Every model's scores of the windows, and of the same windows cut by the engine from the raster,
    in a fresh process with ``env`` set (Keras and TensorFlow fix backend and graph options per process)."""
    env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(names), str(tmp_path)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return {k: np.asarray(v, dtype=np.float32) for k, v in json.loads(run.stdout.strip().splitlines()[-1]).items()}


@pytest.mark.slow
def test_every_published_model_scores_the_same_on_jax_as_on_tf_keras(mirror, tmp_path):
    """On the windows, and through the engine (windows cut on the device from the raster)."""
    pytest.importorskip("jax")
    _windows(tmp_path)
    names = [n for n, s in models.registry().items() if not s.trained]
    on_jax = _scores_in_a_process(tmp_path, names, DETECTOR_BACKEND="jax")
    varied = 0
    for name in names:
        spec = models.resolve(name)
        x = np.load(tmp_path / f"{len(spec.bands)}.npy")
        ref = models.load(spec).score(x)
        for key in (name, name + " engine"):
            got = on_jax[key]
            assert got.shape == ref.shape, key
            assert np.abs(got - ref).max() <= 1e-5, f"{key}: {np.abs(got - ref).max():.2e}"
        varied += ref.std() > 0.05
    assert varied >= 2, "the windows must give varied scores, or agreement proves nothing"


@pytest.mark.slow
def test_bfloat16_is_an_option_whose_deviation_is_measured(mirror, tmp_path, capsys):
    """DETECTOR_PRECISION=bfloat16 on tf_keras: the engine's scores move by a measured amount, small
    next to the thresholds' spacing; float32 (the default) is the reference."""
    _windows(tmp_path)
    names = ["48px_v3.7", "48px_v3.2-3.7ensemble"]
    fp32 = _scores_in_a_process(tmp_path, names)
    bf16 = _scores_in_a_process(tmp_path, names, DETECTOR_PRECISION="bfloat16")
    for name in names:
        ref = fp32[name + " engine"]
        assert np.abs(fp32[name] - ref).max() <= 1e-6, "float32: the engine equals the windows"
        dev = np.abs(bf16[name + " engine"] - ref)
        with capsys.disabled():
            print(f"\n{name}: bfloat16 score deviation max {dev.max():.4f}, mean {dev.mean():.5f}")
        assert dev.max() < 0.1, f"{name}: {dev.max():.3f}"


def test_an_unknown_or_missing_backend_says_what_to_do(monkeypatch):
    with pytest.raises(ModelError, match="not a backend; use one of tf_keras, jax, torch, tensorflow"):
        backends.check("cuda")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "torch" else real(n, *a))
    with pytest.raises(ModelError, match="DETECTOR_BACKEND=torch but torch is not installed"):
        backends.keras3("torch")
