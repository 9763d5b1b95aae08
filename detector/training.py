"""Train or fine-tune a mining model from labelled points, and register it for Detect and Tune.

The flow, one direction:

    label points (Review export, the label store, sampling-location files)
      → the grid patch each point is nearest the centre of (so training sees what inference sees)
      → that patch's 48 × 48 window from the imagery source, read tile by tile (cached on disk)
      → a split held out by geography: whole blocks of ``block_km`` go to validation
      → the published architecture from scratch, or a registered model fine-tuned
        (rotations and flips, class weights, early stopping on validation loss)
      → precision, recall, F1, average precision and the best threshold on the validation part
      → data/models/NAME.h5 + NAME.toml + NAME.report.json, listed by ``models.registry()``

Features come from :func:`detector.indices.model_input`, the function :class:`models.Scorer` calls
at inference, and the validation scores are computed by a Scorer: one code path for both.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import grid, indices, metrics, models
from .errors import DetectorError, ModelError
from .sources.base import ImagerySource
from .trained import check_name, fmt, load_report, register  # noqa: F401 - registration, re-exported
from .training_data import (  # the data half of training
    build_dataset,
    check_classes,
    load_points,
    spatial_split,
    to_samples,
)

#: The architecture a model trained from scratch gets: that of this published single model.
DEFAULT_ARCHITECTURE = "48px_v3.7"


@dataclass
class TrainOptions:
    """What ``python -m detector train`` takes (see its --help for each option)."""

    name: str
    year: int
    source: str = "earthengine"
    labels: Sequence[str] = ()  # export folders, sampling files, "store", a database URL, published names
    positives: Sequence[str] = ()  # point files that are all mines, whatever their name
    negatives: Sequence[str] = ()  # point files that are all not mines
    base: str | None = None  # a registered single model to fine-tune
    architecture: str | None = None  # a registered single model whose architecture to train from scratch
    indices: Sequence[str] | None = None  # None: the base model's (none from scratch)
    source_bands: Sequence[str] | None = None  # band order of a GeoTIFF without band descriptions
    dn_offset: float | None = None  # a GeoTIFF's radiometric offset where its metadata does not say
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float | None = None  # default 1e-3 from scratch, 1e-4 fine-tuning
    patience: int = 8
    seed: int = 0
    val_fraction: float = 0.25
    block_km: float = 5.0
    force: bool = False
    description: str = ""
    quiet: bool = False


@dataclass
class TrainResult:
    spec: models.ModelSpec
    report: dict[str, Any]
    files: dict[str, Path]

    def text(self) -> str:
        """The closing summary the command line prints."""
        r, m = self.report, self.report["metrics"]["validation"]
        n, s = r["counts"], r["split"]
        lines = [
            f"labels: {n['points']:,} points → {n['patches']:,} patches ({n['mines']:,} mines, {n['not_mines']:,} not)"
            + (f"; {n['duplicates']:,} duplicate points merged" if n["duplicates"] else "")
            + (f"; {n['conflicts']:,} patches labelled both ways left out" if n["conflicts"] else "")
            + (f"; {n['not_covered']:,} without imagery skipped" if n["not_covered"] else ""),
            f"imagery: {r['source']['label']}, {r['year']}"
            + (" (patch windows from the training cache)" if r["dataset"]["from_cache"]
               else f" ({r['dataset']['tiles']} tiles read)"),
            f"split by {s['block_km']:g} km blocks (seed {s['seed']}): train {s['train']:,} patches in "
            f"{s['train_blocks']} blocks, validation {s['validation']:,} in {s['validation_blocks']} blocks"
            + (f"; {s['buffer_dropped']} training patches overlapping validation ones left out"
               if s["buffer_dropped"] else ""),
            f"{'fine-tuned ' + r['base'] if r['base'] else 'trained from scratch (' + r['architecture'] + ' architecture)'}"
            f", inputs {len(self.spec.bands)} bands" + (f" + {', '.join(self.spec.indices)}" if self.spec.indices else "")
            + f"; {r['training']['epochs_run']} epochs (best {r['training']['best_epoch']}), "
              f"{r['training']['seconds']:.0f} s on {r['training']['device']}",
            (f"validation at the best threshold {m['threshold']:g}: precision {fmt(m['precision'])}, "
             f"recall {fmt(m['recall'])}, F1 {fmt(m['f1'])}, average precision {fmt(m['average_precision'])} "
             f"(TP {m['tp']}, FP {m['fp']}, FN {m['fn']}, TN {m['tn']})"),
            f"registered {self.spec.name}: {self.files['model']} (+ .toml, .report.json)",
            (f"use it: python -m detector detect --model {self.spec.name} …, or pick it on the Detect page; "
             "the Models page shows this report"),
        ]
        return "\n".join(lines)


# ---------------------------------------------------------------- the name

def _with_channels(cfg: dict, channels: int) -> dict:
    """A copy of a Sequential model's config taking ``channels`` input channels (fresh weights follow)."""
    cfg = json.loads(json.dumps(cfg))
    if cfg.get("class_name") != "Sequential":
        raise ModelError("Only a Sequential architecture can be rebuilt for training; choose a published single model "
                         "for --architecture (e.g. {default_architecture}).",
                         default_architecture=DEFAULT_ARCHITECTURE)
    inner = cfg["config"]
    inner.pop("build_input_shape", None)
    for layer in inner["layers"]:
        layer.pop("build_config", None)
        c = layer.get("config", {})
        for key in ("batch_input_shape", "batch_shape"):
            if c.get(key):
                c[key] = [*c[key][:-1], channels]
    return cfg


def build_model(architecture: models.ModelSpec, channels: int, seed: int):
    """The architecture of a registered single model (its config, read without running code), fresh weights."""
    models.quiet_tensorflow()
    import tf_keras

    path = architecture.path()
    if architecture.local_path:
        models.check_safe(path)
    cfg = models.read_config(path)
    tf_keras.utils.set_random_seed(seed)
    model = tf_keras.models.model_from_json(json.dumps(_with_channels(cfg, channels)))
    if model.output_shape[-1] != 1:
        raise ModelError("{architecture_name} has {model_output_shape} outputs; --architecture takes a single model "
                         "(one score), e.g. {default_architecture}.",
                         architecture_name=architecture.name, model_output_shape=model.output_shape[-1], default_architecture=DEFAULT_ARCHITECTURE)
    return model


def data_dependent_init(model, x: np.ndarray) -> None:
    """Rescale each hidden layer's fresh weights so its pre-activations are centred with unit spread on ``x``.

    Reflectances are all positive with a large common level and small differences between
    land covers; freshly initialised, the nine convolutions pass on mostly that level and training
    from scratch idles on a plateau (loss ln 2) for a random number of epochs. Centring and scaling
    each layer on a batch of the training data (Krähenbühl et al. 2016) removes the plateau without
    changing the architecture: only the starting weights differ.
    """
    models.quiet_tensorflow()
    import tf_keras

    h = tf_keras.backend.constant(x)
    layers = [lay for lay in model.layers if not isinstance(lay, tf_keras.layers.InputLayer)]
    last = max(i for i, lay in enumerate(layers) if getattr(lay, "kernel", None) is not None)
    for i, layer in enumerate(layers):
        kernel, bias = getattr(layer, "kernel", None), getattr(layer, "bias", None)
        if kernel is not None and bias is not None and i != last:
            act, layer.activation = layer.activation, tf_keras.activations.linear
            z = layer(h).numpy()
            axes = tuple(range(z.ndim - 1))
            mean, std = z.mean(axis=axes), z.std(axis=axes) + 1e-6
            kernel.assign(kernel.numpy() / std)
            bias.assign((bias.numpy() - mean) / std)
            layer.activation = act
        h = layer(h, training=False)


def _check_single(spec: models.ModelSpec) -> None:
    """Ensembles are not fine-tuned: say which single models can be."""
    if spec.ensemble > 1:
        singles = [n for n, s in models.registry().items() if s.ensemble == 1 and s.bands == spec.bands]
        raise ModelError(
            "{spec_name} is an ensemble of {spec_ensemble} models; fine-tuning it would train all of "
            "them at once on one score. Fine-tune one single model instead (--base {names}), or train "
            "from scratch.",
            spec_name=spec.name, spec_ensemble=spec.ensemble, names=' or '.join(singles[:3])
        )


def _base_model(spec: models.ModelSpec):
    _check_single(spec)
    model = models.load(spec).model
    if model.output_shape[-1] != 1:
        raise ModelError("{spec_name} has {model_output_shape} outputs; --base takes a single model (one score).", spec_name=spec.name, model_output_shape=model.output_shape[-1])
    return model


DIHEDRAL = 8  # 4 rotations × with and without a flip


def augment(x: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Each window rotated by 90° × (which % 4), then mirrored when which ≥ 4 (the 8 symmetries of a square)."""
    out = np.empty_like(x)
    for t in range(DIHEDRAL):
        sel = which == t
        if sel.any():
            v = np.rot90(x[sel], k=t % 4, axes=(1, 2))
            out[sel] = v[:, :, ::-1] if t >= 4 else v
    return out


def _sequence(x: np.ndarray, y: np.ndarray, w: np.ndarray, batch_size: int, seed: int):
    models.quiet_tensorflow()
    import tf_keras

    class Augmented(tf_keras.utils.Sequence):
        """Shuffled batches, each window under a random symmetry; deterministic from (seed, epoch, batch)."""

        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.order = np.random.default_rng([seed, 0]).permutation(len(x))

        def __len__(self) -> int:
            return math.ceil(len(x) / batch_size)

        def __getitem__(self, i: int):
            idx = self.order[i * batch_size:(i + 1) * batch_size]
            rng = np.random.default_rng([seed, self.epoch, i])
            return augment(x[idx], rng.integers(0, DIHEDRAL, len(idx))), y[idx], w[idx]

        def on_epoch_end(self) -> None:
            self.epoch += 1
            self.order = np.random.default_rng([seed, self.epoch]).permutation(len(x))

    return Augmented()


def _epoch_bar(total: int, quiet: bool):
    models.quiet_tensorflow()
    import tf_keras
    from tqdm import tqdm

    class EpochBar(tf_keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=total, unit="epoch", desc="training", disable=quiet)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items() if k in ("loss", "val_loss", "val_accuracy")})
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return EpochBar()


def class_weights(y: np.ndarray) -> dict[int, float]:
    """Balanced weights n / (2 · n_class): each class counts as much in the loss, whatever its share."""
    n = len(y)
    return {k: float(n / (2 * max(int((y == k).sum()), 1))) for k in (0, 1)}


# ---------------------------------------------------------------- the whole step

def _inputs(opts: TrainOptions) -> tuple[models.ModelSpec | None, models.ModelSpec | None, tuple[str, ...], tuple[str, ...]]:
    """(base, architecture, bands, indices) from the options, refusing what cannot work."""
    wanted = None if opts.indices is None else indices.parse(list(opts.indices))
    if opts.base and opts.architecture:
        raise DetectorError("--base continues training a model and --architecture builds a fresh one: give one of them.")
    if opts.base:
        base = models.resolve(opts.base)
        _check_single(base)
        if wanted is not None and tuple(wanted) != tuple(base.indices):
            have = ", ".join(base.indices) or "no indices"
            raise DetectorError(
                "The base model {base_name} takes its {n_base_bands} bands with {have}; fine-tuning keeps a "
                "model's inputs, so it cannot learn from {value}. Leave out --indices to fine-tune "
                "{base_name} as it is, or train from scratch (no --base) with --indices {value2}.",
                base_name=base.name, n_base_bands=len(base.bands), have=have, value=', '.join(wanted) or 'no indices', value2=','.join(wanted) or '…'
            )
        return base, None, base.bands, tuple(base.indices)
    arch = models.resolve(opts.architecture or DEFAULT_ARCHITECTURE)
    if arch.ensemble > 1:
        raise ModelError("{arch_name} is an ensemble; --architecture takes a single model, e.g. "
                         "{default_architecture}.",
                         arch_name=arch.name, default_architecture=DEFAULT_ARCHITECTURE)
    idx = tuple(wanted or ())
    indices.check(idx, arch.bands, f"the {arch.name} architecture")
    return None, arch, arch.bands, idx


def train(opts: TrainOptions, source: ImagerySource | None = None) -> TrainResult:
    """Labels → patch windows → a trained, evaluated, registered model (see the module docstring)."""
    t_start = time.perf_counter()
    check_name(opts.name, opts.force)
    if opts.epochs < 1 or opts.batch_size < 1:
        raise DetectorError("--epochs and --batch-size must be at least 1.")
    base, arch, bands, idx = _inputs(opts)

    points = load_points(opts.labels, opts.positives, opts.negatives)
    check_classes(points.frame["y"].to_numpy(), "given")
    samples = to_samples(points)
    check_classes(samples.frame["y"].to_numpy(), "left after merging points on the same patch")

    if source is None:
        from .sources import open_source

        extra = {"dn_offset": opts.dn_offset} if opts.dn_offset is not None else {}
        source = open_source(opts.source, bands=list(opts.source_bands) if opts.source_bands else None, **extra)
    source_label = "Earth Engine (S2 L1C, Cloud Score+)" if source.cacheable else str(opts.source)
    data = build_dataset(samples.frame, source, opts.year, bands, source_label, quiet=opts.quiet)
    frame = samples.frame[data.covered].reset_index(drop=True)
    y_all = frame["y"].to_numpy().astype(np.float32)
    check_classes(y_all, f"with imagery in {source_label} ({int((~data.covered).sum())} without)")

    val, trn, split = spatial_split(frame, opts.block_km, opts.val_fraction, opts.seed)
    x_all = indices.model_input(data.windows, bands, idx)
    weights = class_weights(y_all[trn].astype(int))
    w_all = np.where(y_all == 1, weights[1], weights[0]).astype(np.float32)

    models.quiet_tensorflow()
    import tf_keras

    if base is not None:
        model = _base_model(base)
        tf_keras.utils.set_random_seed(opts.seed)
    else:
        model = build_model(arch, len(bands) + len(idx), opts.seed)
        probe_rows = np.random.default_rng(opts.seed).permutation(np.flatnonzero(trn))[:256]
        data_dependent_init(model, x_all[probe_rows])
    lr = opts.learning_rate or (1e-4 if base is not None else 1e-3)
    model.compile(optimizer=tf_keras.optimizers.Adam(lr), loss="binary_crossentropy", metrics=["accuracy"],
                  weighted_metrics=[])
    stop = tf_keras.callbacks.EarlyStopping(monitor="val_loss", patience=opts.patience, restore_best_weights=True)
    t_fit = time.perf_counter()
    hist = model.fit(
        _sequence(x_all[trn], y_all[trn], w_all[trn], opts.batch_size, opts.seed),
        validation_data=(x_all[val], y_all[val], w_all[val]), epochs=opts.epochs, verbose=0,
        callbacks=[stop, _epoch_bar(opts.epochs, opts.quiet)], shuffle=False,
    )
    fit_seconds = time.perf_counter() - t_fit
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    best_epoch = int(np.argmin(history["val_loss"])) + 1

    # Scores through the inference path itself: a Scorer on the raw windows.
    probe = models.ModelSpec(name=opts.name, bands=bands, indices=idx, local_path="(training)")
    scorer = models.Scorer(probe, model)
    s_val = scorer.score(data.windows[val])[:, 0]
    s_trn = scorer.score(data.windows[trn])[:, 0]
    threshold, _ = metrics.best_threshold(y_all[val], s_val)
    report = {
        "name": opts.name,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "year": opts.year,
        "source": {"arg": str(opts.source), "key": source.key, "label": source_label},
        "labels": points.origins,
        "base": base.name if base else None,
        "architecture": arch.name if arch else base.name,
        "bands": list(bands), "indices": list(idx), "patch_size": grid.PATCH_PX,
        "counts": {"points": samples.points, "patches": len(samples.frame), "duplicates": samples.duplicates,
                   "conflicts": samples.conflicts, "not_covered": int((~data.covered).sum()),
                   "mines": int(samples.frame["y"].sum()), "not_mines": int((samples.frame["y"] == 0).sum()),
                   "by_origin": {k: {"mines": int(g["y"].sum()), "not_mines": int((g["y"] == 0).sum())}
                                 for k, g in samples.frame.groupby("origin")}},
        "dataset": {"from_cache": data.from_cache, "tiles": data.tiles, "windows": len(data.windows)},
        "split": split,
        "training": {"epochs": opts.epochs, "epochs_run": len(history["loss"]), "best_epoch": best_epoch,
                     "batch_size": opts.batch_size, "learning_rate": lr, "patience": opts.patience,
                     "class_weights": {str(k): v for k, v in weights.items()}, "augmentation": "rotations by 90° "
                     "and flips (the 8 symmetries of the square)", "optimizer": "Adam", "loss": "binary cross-entropy",
                     "seconds": round(fit_seconds, 1), "device": models.describe_device()},
        "history": history,
        "metrics": {
            "validation": metrics.summary(y_all[val], s_val, threshold),
            "validation_at_0.5": metrics.summary(y_all[val], s_val, 0.5),
            "train": metrics.summary(y_all[trn], s_trn, threshold),
        },
        "pr_curve": metrics.pr_curve(y_all[val], s_val),
        "seconds": None,
    }
    report["seconds"] = round(time.perf_counter() - t_start, 1)
    spec, files = register(model, opts, bands, idx, threshold, report)
    return TrainResult(spec, report, files)
