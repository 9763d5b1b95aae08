"""Model registry, safe loading of local files, device reporting."""
from __future__ import annotations

import types

import numpy as np
import pytest

from detector import models
from detector.errors import DetectorError, ModelError


def test_registry_has_the_published_models_with_checksums_and_bands():
    reg = models.registry()
    assert list(reg)[0] == "48px_v3.2-3.7ensemble" == models.default_model()
    assert set(reg) == {"48px_v3.2-3.7ensemble", "48px_v3.7", "48px_v3.5", "48px_v3.3", "48px_v4.21"}
    for spec in reg.values():
        assert len(spec.sha256) == 64 and spec.url.startswith("https://raw.githubusercontent.com/earthrise-media/")
        assert spec.bands[7:9] == ("B8A", "B8")  # the published order puts B8A before B8
    assert len(reg["48px_v4.21"].bands) == 13 and reg["48px_v4.21"].bands[10] == "B10"
    assert reg["48px_v3.2-3.7ensemble"].ensemble == 6


def test_mirror_copy_is_checksum_verified(tmp_path, monkeypatch, mirror):
    fake_mirror = tmp_path / "mirror"
    target = fake_mirror / models.registry()["48px_v3.7"].file
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the model")
    monkeypatch.setenv("DETECTOR_MIRROR", str(fake_mirror))
    with pytest.raises(DetectorError, match="does not match its published checksum"):
        models.registry()["48px_v3.7"].path()


def test_missing_from_mirror_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTOR_MIRROR", str(tmp_path))
    with pytest.raises(DetectorError, match="is not in the mirror folder"):
        models.registry()["48px_v3.7"].path()


def test_ensemble_members_are_averaged(mirror, monkeypatch):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    scorer = models.load(models.resolve(None))
    x = np.random.default_rng(0).uniform(0, 4000, size=(5, 48, 48, 12)).astype(np.float32)
    members = scorer.score(x)
    assert members.shape == (5, 6)
    np.testing.assert_allclose(models.ensemble_mean(members), members.mean(axis=1))
    assert scorer.patches_scored == 5


def test_keras3_file_loads_and_scores(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((48, 48, 12)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")])
    path = tmp_path / "mine.keras"
    model.save(path)
    (tmp_path / "mine.toml").write_text('name = "my-model"\nthreshold = 0.7\n')
    spec = models.resolve(str(path))
    assert spec.name == f"my-model-{spec.sha256[:8]}" and spec.threshold == 0.7 and len(spec.bands) == 12
    out = models.load(spec).score(np.ones((3, 48, 48, 12), np.float32) * 1000)
    assert out.shape == (3, 1) and np.isfinite(out).all()


def test_keras3_lambda_is_refused(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((48, 48, 12)), keras.layers.Lambda(lambda t: t + 1), keras.layers.Flatten(),
                              keras.layers.Dense(1)])
    path = tmp_path / "code.keras"
    model.save(path)
    with pytest.raises(ModelError, match="Lambda layer"):
        models.resolve(str(path))


def test_custom_object_is_refused(tmp_path):
    import tf_keras as K

    @K.utils.register_keras_serializable(package="evil")
    class Doubler(K.layers.Layer):
        def call(self, x):
            return x * 2

    path = tmp_path / "custom.h5"
    K.Sequential([K.layers.Input((48, 48, 12)), Doubler(), K.layers.Flatten(), K.layers.Dense(1)]).save(path)
    with pytest.raises(ModelError, match="refused before loading"):
        models.resolve(str(path))


def test_unknown_channels_need_a_band_list(tmp_path):
    import tf_keras as K

    path = tmp_path / "rgb.h5"
    K.Sequential([K.layers.Input((48, 48, 3)), K.layers.Flatten(), K.layers.Dense(1)]).save(path)
    with pytest.raises(ModelError, match=r"takes 3 input channels.*rgb.toml"):
        models.resolve(str(path))
    (tmp_path / "rgb.toml").write_text('bands = ["B4", "B3", "B2"]\n')
    assert models.resolve(str(path)).bands == ("B4", "B3", "B2")


def test_unknown_name_lists_the_registered_models():
    with pytest.raises(ModelError, match="Registered models: 48px_v3.2-3.7ensemble"):
        models.resolve("v99")


def test_device_is_reported_as_the_gpu_when_tensorflow_sees_one(monkeypatch):
    import tensorflow as tf

    gpu = types.SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [gpu] if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda d: {"device_name": "NVIDIA H100 80GB HBM3"})
    assert models.describe_device() == "GPU: NVIDIA H100 80GB HBM3"
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert models.describe_device().startswith("CPU")
