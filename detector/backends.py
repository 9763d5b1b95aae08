"""Which runtime runs the models: tf_keras (the default, as the published code) or Keras 3 on JAX, PyTorch or TensorFlow.

GPU machines often carry PyTorch or JAX and no TensorFlow. Keras 3 runs the same published
``.h5`` files on any of them: a single model loads through Keras 3's legacy-HDF5 reader; the
published ensemble (an input, six Sequential members, a Concatenate) does not (Keras 3.15 refuses
its nested legacy graph), so it is rebuilt here: each member from its own configuration, with its
weights in the file's order, outputs concatenated as the original does. The files are checked by
:mod:`detector.model_safety` before any of this, as for tf_keras.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError

#: DETECTOR_BACKEND values: tf_keras, or Keras 3 on one of its backends.
BACKENDS = ("tf_keras", "jax", "torch", "tensorflow")
DEFAULT = "tf_keras"
_MODULES = {"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}


def check(name: str) -> str:
    """The backend name, or a ModelError saying which exist."""
    if name not in BACKENDS:
        raise ModelError("DETECTOR_BACKEND={name!r} is not a backend; use one of {backends}.", name=name, backends=', '.join(BACKENDS))
    return name


def keras3(backend: str):
    """Keras 3 on ``backend``, refused with what to do when the backend is missing or keras already runs another."""
    import importlib.util

    if importlib.util.find_spec(_MODULES[backend]) is None:
        raise ModelError("DETECTOR_BACKEND={backend} but {modules} is not installed here. Install it, or choose a "
                         "backend this machine has (tf_keras, jax, torch or tensorflow).",
                         backend=backend, modules=_MODULES[backend])
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != backend:
            raise ModelError("Keras 3 already runs on {backend} in this process; start it again with "
                             "DETECTOR_BACKEND={backend2} set before anything imports keras.",
                             backend=keras.backend.backend(), backend2=backend)
        return keras
    os.environ["KERAS_BACKEND"] = backend
    import keras

    return keras


def device(backend: str) -> str:
    """The accelerator Keras 3 uses on ``backend`` (JAX or PyTorch), by name, or the CPU."""
    if backend == "jax":
        import jax

        dev = jax.devices()[0]
        return f"CPU ({os.cpu_count()} cores, jax)" if dev.platform == "cpu" else f"GPU: {dev.device_kind} (jax)"
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return f"GPU: {torch.cuda.get_device_name(0)} (torch)"
        return f"CPU ({os.cpu_count()} cores, torch)"
    return f"CPU ({os.cpu_count()} cores)"


def load_h5(path: Path, backend: str) -> Any:
    """A legacy .h5 model in Keras 3 on ``backend``: loaded directly, or rebuilt member by member (an ensemble)."""
    keras = keras3(backend)
    import h5py

    with h5py.File(path, "r") as f:
        raw = f.attrs.get("model_config")
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw) if raw is not None else None
        members = _ensemble_members(config)
        if members is None:
            return keras.saving.load_model(path, compile=False)
        return _rebuild_ensemble(keras, config, members, f["model_weights"])


def _ensemble_members(config: dict | None) -> list[dict] | None:
    """The member layers of an ensemble graph (Input → models → Concatenate), else None."""
    if not config or config.get("class_name") not in ("Functional", "Model"):
        return None
    layers = config["config"].get("layers", [])
    members = [layer for layer in layers if layer.get("class_name") in ("Sequential", "Functional", "Model")]
    others = {layer.get("class_name") for layer in layers} - {"Sequential", "Functional", "Model"}
    return members if members and others <= {"InputLayer", "Concatenate"} else None


def _rebuild_ensemble(keras, config: dict, members: list[dict], weights) -> Any:
    from keras.src.legacy.saving import saving_utils

    shape = None
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "InputLayer":
            shape = tuple(layer["config"].get("batch_input_shape") or layer["config"].get("batch_shape"))[1:]
    if shape is None:
        raise ModelError("The ensemble's input shape cannot be read from its configuration.")
    inputs = keras.Input(shape)
    outputs = []
    for member in members:
        name = member["config"]["name"]
        model = saving_utils.model_from_config({"class_name": member["class_name"], "config": member["config"]})
        group = weights[name]
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        values = [np.asarray(group[n]) for n in names]
        if [tuple(w.shape) for w in model.weights] != [v.shape for v in values]:
            raise ModelError("The weights of member {name} do not fit its layers; the file is not a published ensemble.", name=name)
        model.set_weights(values)
        outputs.append(model(inputs))
    return keras.Model(inputs, keras.layers.Concatenate(axis=-1)(outputs) if len(outputs) > 1 else outputs[0])
