"""The model registry, safe model loading, and batched scoring.

Published models are named in ``models/registry.toml`` with their checksum, band order and
recommended threshold. Models trained here (``python -m detector train``) are registered as
``NAME.h5`` + ``NAME.toml`` in ``data/models/`` and listed after them. A user's own model may be
given by path; since a Keras file can carry Python code (Lambda layers, custom objects) that runs
on load, such files are refused before TensorFlow ever sees them.
"""
from __future__ import annotations

import os
import threading
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import config
from . import indices as spectral
from .config import PROJECT_ROOT
from .errors import ModelError
from .fetch import local_copy, published_file
from .model_safety import check_safe, read_config, walk_layers

REGISTRY_FILE = PROJECT_ROOT / "models" / "registry.toml"
SCALE = spectral.SCALE
BANDS_12 = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8A", "B8", "B9", "B11", "B12")
BANDS_13 = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8A", "B8", "B9", "B10", "B11", "B12")


@dataclass(frozen=True)
class ModelSpec:
    """What the pipeline must know about a model before loading it."""

    name: str
    bands: tuple[str, ...]
    patch_size: int = 48
    ensemble: int = 1
    threshold: float = 0.5
    description: str = ""
    provenance: str = ""
    licence: str = ""
    file: str = ""  # path in the published repository (and the mirror)
    url: str = ""
    sha256: str = ""
    local_path: str = ""  # set for a user's own model file
    indices: tuple[str, ...] = ()  # spectral indices appended to the bands as input channels
    trained: bool = False  # registered by `python -m detector train` in the data folder

    @property
    def published(self) -> bool:
        return not self.local_path

    @property
    def channels(self) -> int:
        """Input channels: the bands, then the indices."""
        return len(self.bands) + len(self.indices)

    @property
    def report_path(self) -> Path | None:
        """The training report (NAME.report.json) of a model trained here."""
        return Path(self.local_path).with_suffix(".report.json") if self.trained else None

    def available(self) -> bool:
        """Whether the file is here without a download."""
        return Path(self.local_path).is_file() if self.local_path else local_copy(self.file) is not None

    def path(self) -> Path:
        """The verified model file, fetched on first use."""
        if self.local_path:
            return Path(self.local_path)
        return published_file(self.file, self.url, self.sha256)


def registry() -> dict[str, ModelSpec]:
    """Registered models by name: the published ones (default first), then those trained here.

    The trained models are read from the data folder at each call (cheaply: re-parsed only when a
    file there changes), so a model registered by another process, or another data folder, shows.
    """
    out = dict(_published())
    for name, spec in _trained(*_trained_stamp()).items():
        out.setdefault(name, spec)  # a published name always means the published model
    return out


def published_names() -> frozenset[str]:
    return frozenset(_published())


def trained_dir() -> Path:
    """Where trained models are registered (NAME.h5, NAME.toml, NAME.report.json): the layout's models folder."""
    return config.layout().models


def _trained_stamp() -> tuple[str, tuple[tuple[str, int, int], ...]]:
    root = trained_dir()
    files = []
    if root.is_dir():
        for p in sorted(root.glob("*.toml")):
            try:
                st = p.stat()
            except OSError:
                continue
            files.append((p.name, st.st_mtime_ns, st.st_size))
    return str(root), tuple(files)


@lru_cache(maxsize=8)
def _trained(root: str, files: tuple[tuple[str, int, int], ...]) -> dict[str, ModelSpec]:
    specs = {}
    for fname, _, _ in files:
        side = Path(root) / fname
        try:
            spec = trained_spec(side)
        except (OSError, KeyError, ValueError, TypeError, tomllib.TOMLDecodeError, ModelError) as exc:
            warnings.warn(f"Skipping the trained model {side}: {exc}", stacklevel=2)
            continue
        specs[spec.name] = spec
    return dict(sorted(specs.items()))


def trained_spec(side: Path) -> ModelSpec:
    """The spec of a model registered by training: NAME.toml beside NAME.h5."""
    meta = tomllib.loads(side.read_text(encoding="utf-8"))
    h5 = side.with_suffix(".h5")
    if not h5.is_file():
        raise ModelError("{h5_name} is missing beside {side_name}", h5_name=h5.name, side_name=side.name)
    prov = meta.get("provenance", {})
    if isinstance(prov, dict):
        prov = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in prov.items()
                         if v not in (None, "", []))
    name = side.stem  # the file names the model, so two files never claim one name
    bands, idx = tuple(meta["bands"]), spectral.parse(meta.get("indices", []))
    spectral.check(idx, bands, name)
    return ModelSpec(
        name=name, bands=bands, patch_size=int(meta.get("patch_size", 48)),
        ensemble=int(meta.get("ensemble", 1)), threshold=float(meta.get("threshold", 0.5)),
        description=str(meta.get("description", "")), provenance=str(prov), licence=str(meta.get("licence", "")),
        sha256=str(meta.get("sha256", "")), local_path=str(h5), indices=idx, trained=True,
    )


@lru_cache(maxsize=1)
def _published() -> dict[str, ModelSpec]:
    """The published models of models/registry.toml, default first."""
    data = tomllib.loads(REGISTRY_FILE.read_text())
    common = data["common"]
    specs = {}
    for name, m in data["models"].items():
        specs[name] = ModelSpec(
            name=name,
            bands=tuple(common[m["bands"]]),
            patch_size=m["patch_size"],
            ensemble=m["ensemble"],
            threshold=m["threshold"],
            description=m["description"],
            provenance=m["provenance"],
            licence=common["licence"],
            file=m["file"],
            url=common["base_url"] + m["file"],
            sha256=m["sha256"],
        )
    default = data["default"]
    return {default: specs.pop(default), **specs}


def default_model() -> str:
    return next(iter(_published()))


# ---------------------------------------------------------------- safety of local files

def _sidecar(path: Path) -> dict:
    """Optional metadata beside a local model: NAME.toml (bands, threshold, …)."""
    side = path.with_suffix(".toml")
    return tomllib.loads(side.read_text()) if side.is_file() else {}


def local_spec(path: str | Path) -> ModelSpec:
    """Spec of a user's own model file, from its sidecar or its input shape."""
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise ModelError("No model file at {p}. Give a registered model name ({names}) or a path.", p=p, names=', '.join(registry()))
    check_safe(p)
    meta = _sidecar(p)
    idx = spectral.parse(meta.get("indices", []))
    bands = tuple(meta["bands"]) if "bands" in meta else ()
    if not bands:
        channels = _input_shape(read_config(p))[-1]
        bands = {12: BANDS_12, 13: BANDS_13}.get(channels - len(idx), ())
        if not bands:
            raise ModelError(
                "{p_name} takes {channels} input channels, and no band list is known for that. Write {name} "
                "beside it with bands = [\"B1\", …] in input order.",
                p_name=p.name, channels=channels, name=p.with_suffix('.toml').name
            )
    from .fetch import sha256_of

    digest = sha256_of(p)
    base = str(meta.get("name") or p.stem)
    if base in published_names():
        raise ModelError(
            "{name} names this file {base!r}, a published model's name, which is reserved (its scores "
            "are the published model's). Give it a name of its own in {name}, or use the published model "
            "by its name: --model {base}.",
            name=p.with_suffix('.toml').name, base=base
        )
    return ModelSpec(
        # The file's content hash is part of the name, the store's key: another file never gets its scores.
        name=f"{base}-{digest[:8]}",
        bands=bands,
        patch_size=int(meta.get("patch_size", 48)),
        ensemble=int(meta.get("ensemble", 1)),
        threshold=float(meta.get("threshold", 0.5)),
        description=meta.get("description", f"Local model {p.name}"),
        provenance=meta.get("provenance", str(p)),
        licence=meta.get("licence", ""),
        sha256=digest,
        local_path=str(p),
        indices=idx,
    )


def _input_shape(cfg: dict) -> tuple:
    for layer in walk_layers(cfg):
        c = layer.get("config")
        if isinstance(c, dict):
            shape = c.get("batch_input_shape") or c.get("batch_shape")
            if shape:
                return tuple(shape)
    raise ModelError("The model's input shape cannot be read from its configuration.")


def resolve(model: str | Path | None) -> ModelSpec:
    """A registered name, or a path to a .h5/.keras file; None means the default model."""
    if model is None:
        return registry()[default_model()]
    if str(model) in registry():
        return registry()[str(model)]
    if str(model).endswith((".h5", ".keras")) or Path(str(model)).exists():
        # A model trained here, given by its file (how a Dask worker may be handed it), is that model.
        where = str(Path(str(model)).expanduser().resolve())
        for spec in registry().values():
            if spec.trained and spec.local_path and str(Path(spec.local_path).resolve()) == where:
                return spec
        return local_spec(model)
    raise ModelError("Unknown model {model!r}. Registered models: {names}; or give a .h5/.keras path.", model=model, names=', '.join(registry()))


# ---------------------------------------------------------------- loading and scoring

def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up chatter out of the CLI; called before every TensorFlow import."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def describe_device() -> str:
    """The device the models run on: the GPU's name, or the CPU (under the DETECTOR_BACKEND in use)."""
    from . import backends, config

    backend = backends.check(config.settings().backend)
    if backend != backends.DEFAULT and backend != "tensorflow":
        return backends.device(backend)
    quiet_tensorflow()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}" + (f" (+{len(gpus) - 1})" if len(gpus) > 1 else "")
    return f"CPU ({os.cpu_count()} cores)"


@dataclass
class Scorer:
    """A loaded model with its spec; scores batches of raw DN patches."""

    spec: ModelSpec
    model: Any
    batch_size: int = 512
    backend: str = "tf_keras"
    precision: str = "float32"
    _patches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _engine: Any = field(default=None, repr=False)

    @property
    def members(self) -> int:
        return int(self.model.output_shape[-1])

    @property
    def patches_scored(self) -> int:
        """Patches scored in this scorer's life, by window batches and by the engine."""
        return self._patches + (self._engine.patches_scored if self._engine is not None else 0)

    @property
    def engine(self):
        """The :class:`detector.engine.Engine` that scores tile rasters on the model's device (made once)."""
        if self._engine is None:
            from . import engine

            with self._lock:
                if self._engine is None:
                    rt = engine.runtime(self.model, self.backend, self.spec.channels, self.precision)
                    self._engine = engine.Engine(rt, self.members, self.batch_size, self._lock)
        return self._engine

    def score_raster(self, raster: np.ndarray, pr: np.ndarray, pc: np.ndarray) -> np.ndarray:
        """Member scores (N, M) of the windows whose top-left pixels are (pr, pc) in a tile raster that is
        already model input: the raster goes to the device, windows are cut there, and batches are
        shared with other tiles being scored at the same time (see :mod:`detector.engine`)."""
        return self.engine.score(raster, pr, pc)

    def score(self, windows: np.ndarray) -> np.ndarray:
        """Member scores (N, M) for patches (N, P, P, bands) in reflectance DN, model band order.

        The model's input is :func:`detector.indices.model_input`: the scaled bands, then the
        spectral indices the model was trained with (the training step calls the same function).
        """
        n = len(windows)
        return self._batches(n, lambda i, j: spectral.model_input(windows[i:j], self.spec.bands, self.spec.indices))

    def score_cut(self, cut: Callable[[int, int], np.ndarray], n: int) -> np.ndarray:
        """Member scores of ``n`` patches whose model inputs ``cut(i, j)`` gives, patches i … j-1.

        The pipeline cuts them from a tile raster made model input once
        (:func:`detector.indices.model_input` of the whole tile): scaling and indices are per pixel,
        so the scores equal :meth:`score` on the windows bit for bit, for a quarter of the arithmetic
        and without a copy of every window at once.
        """
        return self._batches(n, cut)

    def _batches(self, n: int, batch_of: Callable[[int, int], np.ndarray]) -> np.ndarray:
        out = np.empty((n, self.members), dtype=np.float32)
        with self._lock:  # Keras models are not safe to call from several threads at once
            for i in range(0, n, self.batch_size):
                j = min(i + self.batch_size, n)
                out[i:j] = np.asarray(self.model.predict_on_batch(batch_of(i, j)), dtype=np.float32)
            self._patches += n
        return out


def load(spec: ModelSpec) -> Scorer:
    """Load a model, never compiling it: legacy .h5 with tf_keras (or Keras 3 on the DETECTOR_BACKEND chosen),
    .keras with Keras 3."""
    from . import backends, config

    spectral.check(spec.indices, spec.bands, spec.name)
    path = spec.path()
    if spec.local_path:
        check_safe(path)
    quiet_tensorflow()
    backend = backends.check(config.settings().backend)
    from .engine import check_precision

    precision = check_precision(config.settings().precision, backend)
    try:
        if path.suffix == ".h5" and backend == backends.DEFAULT:
            import tf_keras

            model = tf_keras.models.load_model(path, compile=False)
        elif path.suffix == ".h5":
            model = backends.load_h5(path, backend)
        else:
            if backend != backends.DEFAULT:
                backends.keras3(backend)
            import keras

            model = keras.models.load_model(path, compile=False, safe_mode=True)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError("Could not load {path_name}: {name}: {exc}", path_name=path.name, name=type(exc).__name__, exc=exc) from None
    want = (spec.patch_size, spec.patch_size, spec.channels)
    got = tuple(model.input_shape[1:])
    if got != want:
        extra = f" and the {len(spec.indices)} indices {', '.join(spec.indices)}" if spec.indices else ""
        raise ModelError(
            "Model {spec_name} takes input {got}, but its metadata says {want} ({spec_patch_size} px "
            "patches of the {n_spec_bands} bands {spec_bands}{extra}). Use a model of 48×48 patches with "
            "those inputs, or correct the band (and index) list in its .toml.",
            spec_name=spec.name, got=got, want=want, spec_patch_size=spec.patch_size, n_spec_bands=len(spec.bands), spec_bands=', '.join(spec.bands), extra=extra
        )
    return Scorer(spec, model, backend=backend, precision=precision)


def ensemble_mean(members: np.ndarray) -> np.ndarray:
    """The published ensemble score: the mean of the member outputs."""
    return members.mean(axis=1)
