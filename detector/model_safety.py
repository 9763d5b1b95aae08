"""Is a model file safe to load? Its architecture is read with h5py or zipfile alone and checked
against an allow-list before TensorFlow or Keras ever sees the file.

Keras files describe layers by class name and configuration, and some of those run code while
loading (Lambda's pickled bytecode; TFOpLambda, whose ``function`` tf_keras resolves to any
TensorFlow symbol and calls on constant inputs; custom and registered classes). Only the parts
that plain CNNs like the published and trained models are made of may appear.
"""
from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ModelError


def walk_layers(cfg: Any) -> Iterator[dict]:
    """Every dict with a class_name anywhere in a Keras config."""
    if isinstance(cfg, dict):
        if "class_name" in cfg:
            yield cfg
        for v in cfg.values():
            yield from walk_layers(v)
    elif isinstance(cfg, list):
        for v in cfg:
            yield from walk_layers(v)


def read_config(path: Path) -> dict:
    if path.suffix == ".h5":
        import h5py

        try:
            with h5py.File(path, "r") as h5:
                raw = h5.attrs.get("model_config")
        except OSError as exc:
            raise ModelError("{path} is not a readable HDF5 Keras model ({exc}).", path=path, exc=exc) from None
        if raw is None:
            raise ModelError("{path} holds weights only, no model architecture. Save the whole model (model.save).", path=path)
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    if path.suffix == ".keras":
        try:
            with zipfile.ZipFile(path) as zf:
                return json.loads(zf.read("config.json"))
        except (zipfile.BadZipFile, KeyError) as exc:
            raise ModelError("{path} is not a valid .keras model file ({exc}).", path=path, exc=exc) from None
    raise ModelError("{path}: only Keras .h5 and .keras model files can be used.", path=path)


_BUILTIN_MODULES = ("keras", "tf_keras")
#: The only classes a model file may name: the layers, initializers, regularizers, constraints and
#: dtype policies of plain CNNs like the published and trained models. Everything else — Lambda,
#: TFOpLambda, SlicingOpLambda (whose "function" tf_keras resolves to any TensorFlow symbol and
#: may call while loading), custom and registered objects — is refused before Keras sees the file.
ALLOWED_CLASSES = frozenset({
    # containers and inputs
    "Sequential", "Functional", "Model", "InputLayer",
    # layers
    "Conv1D", "Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose", "Dense", "Flatten", "Reshape",
    "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "ZeroPadding2D",
    "Cropping2D", "Dropout", "SpatialDropout2D", "GaussianNoise", "BatchNormalization", "LayerNormalization",
    "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Concatenate", "Add", "Average", "Multiply", "Maximum",
    "Minimum", "Subtract", "Rescaling",
    # initializers, regularizers, constraints
    "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal", "Zeros", "Ones",
    "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal", "Orthogonal", "VarianceScaling", "Identity",
    "L1", "L2", "L1L2", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm",
    # dtype policies (Keras 3)
    "Policy", "DTypePolicy", "FloatDTypePolicy",
})
#: Activations a layer may name (by string, as Keras writes the built-in ones).
ALLOWED_ACTIVATIONS = frozenset({
    "relu", "sigmoid", "softmax", "linear", "tanh", "elu", "selu", "swish", "silu", "gelu", "softplus", "softsign",
    "leaky_relu", "relu6", "hard_sigmoid", "hard_swish", "exponential", "mish",
})
#: Configuration keys that name code to call: never allowed, whatever the class.
_CODE_KEYS = frozenset({"function", "function_type", "module_fn", "output_shape_type", "fn"})


def _refuse(path: Path, what: str) -> ModelError:
    return ModelError(
        "{path_name} contains {what}, which is not one of the built-in layers the detector's models "
        "use; it is refused before loading, since such parts can run code. Rebuild the model with "
        "standard Keras layers (Conv2D, Dense, pooling, dropout, …) and built-in activations.",
        path_name=path.name, what=what
    )


def _check_node(path: Path, node: dict) -> None:
    cls = str(node.get("class_name"))
    if cls == "Lambda":
        raise ModelError(
            "{path_name} contains a Lambda layer, which runs arbitrary Python code when loaded; it is "
            "refused. Rebuild the model with built-in layers only.",
            path_name=path.name
        )
    if cls not in ALLOWED_CLASSES:
        raise _refuse(path, f"a {cls!r} object")
    module = node.get("module")
    if module is not None and str(module).split(".")[0] not in _BUILTIN_MODULES:
        raise _refuse(path, f"the object {cls!r} from module {module!r}")
    registered = node.get("registered_name")
    if registered not in (None, cls) and not str(registered).startswith(("keras.", "tf_keras.")):
        raise _refuse(path, f"the registered object {registered!r}")
    config = node.get("config")
    if isinstance(config, dict):
        for key, value in config.items():
            if key in _CODE_KEYS:
                raise _refuse(path, f"a {cls!r} layer that names code ({key!r})")
            if "activation" in key and value is not None:
                name = value if isinstance(value, str) else None
                if isinstance(value, dict) and value.get("class_name") == "function" and isinstance(value.get("config"), str):
                    name = value["config"]  # Keras 3 writes a built-in activation this way
                    if value.get("module") not in (None, "keras.activations", "builtins"):
                        raise _refuse(path, f"the activation {value!r}")
                if name not in ALLOWED_ACTIVATIONS:
                    raise _refuse(path, f"the activation {value!r}")


def check_safe(path: Path) -> None:
    """Refuse model files whose loading could run code: only the allow-listed classes may appear.

    The configuration is read with h5py/zipfile alone; TensorFlow never sees a refused file.
    """
    cfg = read_config(path)
    nodes = list(walk_layers(cfg))
    if not nodes:
        raise ModelError("{path_name} describes no layers. Save the whole Keras model (model.save).", path_name=path.name)
    for node in nodes:
        _check_node(path, node)
    _check_inbound(path, cfg)


def _check_inbound(path: Path, cfg: Any) -> None:
    """Layer calls may only take other layers' outputs: a constant argument is how code gets called on load."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == "inbound_nodes" and "_CONSTANT_VALUE" in json.dumps(value):
                raise _refuse(path, "a layer called on a constant value")
            _check_inbound(path, value)
    elif isinstance(cfg, list):
        for v in cfg:
            _check_inbound(path, v)
