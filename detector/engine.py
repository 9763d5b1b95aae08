"""The scoring engine: tile rasters go to the model's device once, windows are cut there, batches span tiles.

Why: a tile's 1,024 overlapping 48 px windows hold four times the pixels of its raster (the stride
is 24 px), so copying windows on the host and sending them to the model moves ~113 MB per tile
where the raster is ~30 MB. Here the tile thread sends the raster (the model input of the whole
tile, :func:`detector.indices.model_input`) to the device while the model is busy with earlier
tiles; one engine thread cuts each batch's windows from the rasters on the device (a single
gather) and calls the model; a batch takes patches from as many waiting tiles as it needs, so the
model gets full batches even where tiles are partly in the region. The numbers are those of
:meth:`detector.models.Scorer.score` on the same windows (the cut is data movement only).

Runtimes: TensorFlow (tf_keras, the default, or Keras 3 on TensorFlow) runs cut and model as
traced graphs; Keras 3 on JAX or PyTorch cuts with ``keras.ops`` and runs ``predict_on_batch`` on
device arrays (JAX gets batch sizes rounded up to a power of two, so it traces a few shapes, not
one per tile). ``DETECTOR_PRECISION=bfloat16`` runs convolutions and matrix products in reduced
precision (TensorFlow's automatic mixed precision: bfloat16 on a CPU, float16 on a GPU; PyTorch's
bfloat16 autocast); float32 is the default.
"""
from __future__ import annotations

import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ModelError

PRECISIONS = ("float32", "bfloat16")
LINGER_S = 0.005  # how long a part-filled batch waits for another tile's patches


def check_precision(name: str, backend: str) -> str:
    """The precision name, or a ModelError saying what exists where."""
    if name not in PRECISIONS:
        raise ModelError("DETECTOR_PRECISION={name!r} is not a precision; use float32 (the default) or bfloat16.", name=name)
    if name == "bfloat16" and backend == "jax":
        raise ModelError("DETECTOR_PRECISION=bfloat16 is available on tf_keras, tensorflow and torch, not on jax; "
                         "unset it or choose another DETECTOR_BACKEND.")
    return name


def flat_index(pr: np.ndarray, pc: np.ndarray, width: int) -> np.ndarray:
    """Each window's top-left pixel as an index into the raster flattened to (H·W, bands)."""
    return (np.asarray(pr, dtype=np.int64) * width + np.asarray(pc, dtype=np.int64)).astype(np.int32)


def window_offsets(width: int, patch: int) -> np.ndarray:
    """(patch, patch) offsets of a window's pixels from its top-left pixel in the flattened raster."""
    r = np.arange(patch, dtype=np.int32)
    return r[:, None] * np.int32(width) + r[None, :]


def cut_numpy(raster: np.ndarray, base: np.ndarray, patch: int) -> np.ndarray:
    """The reference cut, on the host: windows (N, patch, patch, B) at the flat indices ``base``."""
    flat = raster.reshape(-1, raster.shape[-1])
    return np.take(flat, base[:, None, None] + window_offsets(raster.shape[1], patch)[None], axis=0)


class _TensorFlow:
    """tf_keras or Keras 3 on TensorFlow: cut and model as traced graphs, on the GPU where TensorFlow has one."""

    pad = False

    def __init__(self, model: Any, channels: int, precision: str):
        import tensorflow as tf

        patch = int(model.input_shape[1])
        self.tf = tf
        self.gpu = "/GPU:0" if tf.config.list_physical_devices("GPU") else None
        if precision == "bfloat16":  # a graph rewrite: float16 on a GPU, oneDNN's bfloat16 on a CPU
            tf.config.optimizer.set_experimental_options(
                {"auto_mixed_precision": True} if self.gpu else {"auto_mixed_precision_onednn_bfloat16": True})
        spec = tf.TensorSpec((None, None, channels), tf.float32)

        @tf.function(input_signature=[spec, tf.TensorSpec((None,), tf.int32)])
        def cut(raster, base):
            r = tf.range(patch, dtype=tf.int32)
            offsets = r[:, None] * tf.shape(raster)[1] + r[None, :]
            return tf.gather(tf.reshape(raster, (-1, channels)), base[:, None, None] + offsets[None])

        @tf.function(input_signature=[tf.TensorSpec((None, patch, patch, channels), tf.float32)])
        def call(windows):
            return model(windows, training=False)

        self.cut, self.call = cut, call

    def put(self, raster: np.ndarray) -> Any:
        if self.gpu is None:
            return self.tf.convert_to_tensor(raster)
        with self.tf.device(self.gpu):  # the copy to the GPU happens here, in the tile's thread
            return self.tf.identity(self.tf.convert_to_tensor(raster))

    def index(self, base: np.ndarray) -> Any:
        return self.tf.convert_to_tensor(base)

    def concat(self, parts: list) -> Any:
        return self.tf.concat(parts, axis=0)

    def score(self, windows: Any) -> np.ndarray:
        return np.asarray(self.call(windows), dtype=np.float32)


class _Keras3:
    """Keras 3 on JAX or PyTorch: device arrays, cut with keras.ops, the model's compiled predict step."""

    def __init__(self, model: Any, backend: str, precision: str):
        import keras

        self.keras, self.model, self.backend = keras, model, backend
        patch = int(model.input_shape[1])
        self.pad = backend == "jax"  # jit traces once per shape: a few power-of-two batch sizes
        self.autocast = None
        if backend == "torch":
            import torch

            self.torch = torch
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
            if precision == "bfloat16":
                self.autocast = lambda: torch.autocast(self.device, dtype=torch.bfloat16)
        if backend == "jax":
            import jax

            ops = keras.ops

            def cut(raster, base):
                flat = ops.reshape(raster, (-1, raster.shape[-1]))
                return ops.take(flat, base[:, None, None] + window_offsets(raster.shape[1], patch)[None], axis=0)

            self.cut = jax.jit(cut)
        else:
            def cut(raster, base):
                flat = raster.reshape(-1, raster.shape[-1])
                offsets = self.torch.as_tensor(window_offsets(raster.shape[1], patch), device=raster.device)
                return flat[(base[:, None, None] + offsets[None]).long()]

            self.cut = cut

    def put(self, raster: np.ndarray) -> Any:
        if self.backend == "torch":
            return self.torch.from_numpy(np.ascontiguousarray(raster)).to(self.device, non_blocking=True)
        import jax

        return jax.device_put(raster)

    def index(self, base: np.ndarray) -> Any:
        if self.backend == "torch":
            return self.torch.from_numpy(base).to(self.device)
        import jax

        return jax.device_put(base)

    def concat(self, parts: list) -> Any:
        if self.backend == "torch":
            return self.torch.cat(parts, dim=0)
        import jax.numpy as jnp

        return jnp.concatenate(parts, axis=0)

    def score(self, windows: Any) -> np.ndarray:
        if self.autocast is not None:
            with self.autocast():
                out = self.model.predict_on_batch(windows)
        else:
            out = self.model.predict_on_batch(windows)
        return np.asarray(out, dtype=np.float32)


def runtime(model: Any, backend: str, channels: int, precision: str = "float32"):
    """The runtime that runs ``model`` (loaded for ``backend``) with windows cut on its device."""
    check_precision(precision, backend)
    if backend in ("tf_keras", "tensorflow"):
        return _TensorFlow(model, channels, precision)
    return _Keras3(model, backend, precision)


def padded(n: int, batch_size: int) -> int:
    """The batch size a shape-tracing runtime is given for ``n`` patches: the next power of two (≥ 32)."""
    size = 32
    while size < n:
        size *= 2
    return min(size, max(batch_size, n))


@dataclass
class _Job:
    """One tile's patches waiting for the model."""

    raster: Any  # on the device
    base: np.ndarray  # flat indices of the windows' top-left pixels
    out: np.ndarray
    at: int = 0  # patches handed to batches so far
    left: int = 0  # patches whose scores have not come back
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Engine:
    """One thread that calls the model; tile threads hand it rasters and wait for their scores."""

    def __init__(self, rt: Any, members: int, batch_size: int, lock: threading.Lock | None = None):
        self.rt, self.members, self.batch_size = rt, members, batch_size
        self.lock = lock or threading.Lock()  # shared with the scorer's own calls of the same model
        self.patches_scored = 0
        self.batches = 0
        self.cross_tile_batches = 0
        self._queue: queue.Queue[_Job] = queue.Queue()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None

    def score(self, raster: np.ndarray, pr: np.ndarray, pc: np.ndarray) -> np.ndarray:
        """Member scores (N, M) of the windows at top-left pixels (pr, pc) of a model-input raster (H, W, B).

        Called from tile threads: the raster goes to the device here, while the engine is busy
        with other tiles, and this returns when the last of its patches is scored.
        """
        base = flat_index(pr, pc, raster.shape[1])
        n = len(base)
        out = np.empty((n, self.members), dtype=np.float32)
        if n == 0:
            return out
        job = _Job(self.rt.put(raster), base, out, left=n)
        self._ensure_thread()
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return out

    def _ensure_thread(self) -> None:
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="scoring-engine", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        waiting: deque[_Job] = deque()
        while True:
            if not waiting:
                waiting.append(self._queue.get())
            self._drain(waiting)
            if sum(len(j.base) - j.at for j in waiting) < self.batch_size:
                try:  # a part-filled batch waits a moment for the next tile
                    waiting.append(self._queue.get(timeout=LINGER_S))
                    self._drain(waiting)
                except queue.Empty:
                    pass
            parts: list[tuple[_Job, int, int]] = []
            need = self.batch_size
            for job in list(waiting):
                if need == 0:
                    break
                take = min(need, len(job.base) - job.at)
                parts.append((job, job.at, job.at + take))
                job.at += take
                need -= take
                if job.at == len(job.base):
                    waiting.remove(job)
            self._run(parts)
            for job in [j for j in waiting if j.error is not None]:
                waiting.remove(job)  # a failed batch ends its tiles' runs

    def _drain(self, waiting: deque) -> None:
        while True:
            try:
                waiting.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def _run(self, parts: list[tuple[_Job, int, int]]) -> None:
        n = sum(j - i for _, i, j in parts)
        try:
            size = padded(n, self.batch_size) if self.rt.pad else n
            bases = [job.base[i:j] for job, i, j in parts]
            if size > n:  # pad with the first window again; its extra scores are dropped
                bases[-1] = np.concatenate([bases[-1], np.full(size - n, bases[-1][0], np.int32)])
            with self.lock:
                cuts = [self.rt.cut(job.raster, self.rt.index(b)) for (job, _, _), b in zip(parts, bases)]
                scores = self.rt.score(cuts[0] if len(cuts) == 1 else self.rt.concat(cuts))
                self.patches_scored += n
                self.batches += 1
                self.cross_tile_batches += len(parts) > 1
        except BaseException as exc:  # every tile in the batch hears of it; the engine goes on
            for job, _, _ in parts:
                job.error = exc
                job.left = 0
                job.done.set()
            return
        at = 0
        for job, i, j in parts:
            job.out[i:j] = scores[at:at + (j - i)]
            at += j - i
            job.left -= j - i
            if job.left == 0 and job.error is None:
                job.raster = None  # free the device copy now
                job.done.set()
