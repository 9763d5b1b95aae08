"""Models trained here: their names, registration (NAME.h5 + NAME.toml + NAME.report.json) and reports.

A registered model is listed by :func:`detector.models.registry`, so Detect, Tune, the CLI and the
Models page all find it; replacing one forgets its stored scores, so Detect scores again with it.
"""
from __future__ import annotations

import json
import math
import re
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import grid, models
from .atomic import atomic_path
from .errors import DetectorError, ModelError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def fmt(x: float | None) -> str:
    """A metric for the report's text: three decimals, or n/a."""
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def check_name(name: str, force: bool) -> None:
    """Refuse names that would be confused with a published model or a file, or replace one unasked."""
    if not _NAME_RE.match(name or "") or name.lower().endswith((".h5", ".keras")):
        raise DetectorError("--out {name!r} is not a usable model name: use letters, digits, '.', '_' and '-' (at most "
                            "80), starting with a letter or digit, e.g. my-mines-v1.",
                            name=name)
    taken = {n.lower(): n for n in models.published_names()}
    if name.lower() in taken:
        raise DetectorError("--out {name} is the name of the published model {taken}; a trained model needs a name of "
                            "its own, e.g. {name}-finetuned.",
                            name=name, taken=taken[name.lower()])
    h5 = models.trained_dir() / f"{name}.h5"
    if (h5.exists() or h5.with_suffix(".toml").exists()) and not force:
        raise DetectorError("A trained model named {name} already exists ({h5}). Choose another --out, or add --force to "
                            "replace it (its stored scores are forgotten, so Detect scores again with the new one).",
                            name=name, h5=h5)


# ---------------------------------------------------------------- the model

def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)  # a JSON string is a TOML basic string


def _clean(o: Any) -> Any:
    """JSON has no NaN: a missing figure is null."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    if isinstance(o, np.generic):
        return _clean(o.item())
    return o


def _forget_scores(name: str) -> int:
    """Remove a replaced model's stored scores (the store is keyed by model name); returns folders removed."""
    from .store import ScoreStore

    store, gone = ScoreStore(), 0
    try:
        rows = store.runs()
    except Exception:  # noqa: BLE001 — nothing stored, or a layout this cannot read: nothing to forget
        return 0
    for src, year in {(r.source, r.year) for r in rows.itertuples()}:
        try:
            path = store.tile_path(src, name, int(year), grid.Tile(0, 0, 0))
        except (TypeError, ValueError):
            continue
        folder = path.parent if isinstance(path, Path) else None  # object storage: left to its own lifecycle
        if folder is not None and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            gone += 1
    return gone


def register(model, opts, bands: Sequence[str], idx: Sequence[str], threshold: float,
             report: dict) -> tuple[models.ModelSpec, dict[str, Path]]:
    """Write NAME.h5, NAME.report.json and, last, NAME.toml (what the registry lists) into data/models/."""
    from .fetch import sha256_of

    check_name(opts.name, opts.force)
    root = models.trained_dir()
    files = {"model": root / f"{opts.name}.h5", "report": root / f"{opts.name}.report.json",
             "metadata": root / f"{opts.name}.toml"}
    replaced = files["metadata"].exists()
    with atomic_path(files["model"]) as tmp, warnings.catch_warnings():
        # .h5 on purpose: the format of the published models, which tf_keras and our safety check read.
        warnings.filterwarnings("ignore", message=r".*HDF5 file via `model.save\(\)`")
        model.save(tmp, save_format="h5", include_optimizer=False)
    digest = sha256_of(files["model"])
    report = {**report, "sha256": digest, "file": str(files["model"])}
    with atomic_path(files["report"]) as tmp:
        tmp.write_text(json.dumps(_clean(report), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    m = report["metrics"]["validation"]
    what = f"fine-tuned from {report['base']}" if report["base"] else f"{report['architecture']} architecture, from scratch"
    description = opts.description or (
        f"Trained here ({what}) on {report['counts']['mines']} mine and {report['counts']['not_mines']} other patches, "
        f"{opts.year}; validation F1 {fmt(m['f1'])} at {threshold:g}."
    )
    meta = {
        "name": opts.name, "bands": list(bands), "indices": list(idx), "patch_size": grid.PATCH_PX, "ensemble": 1,
        "threshold": float(threshold), "description": description,
        "licence": "your own model (trained from your labels" + ("; base model MIT, Earth Genome)" if report["base"]
                                                                  else ")"),
        "sha256": digest, "report": files["report"].name,
    }
    prov = {"trained": report["created"], "labels": report["labels"], "source": report["source"]["label"],
            "year": opts.year, "base": report["base"] or "", "architecture": report["architecture"]}
    text = "# Registered by `python -m detector train`; the training report is in the .report.json beside it.\n"
    text += "".join(f"{k} = {_toml_value(v)}\n" for k, v in meta.items())
    text += "\n[provenance]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in prov.items())
    with atomic_path(files["metadata"]) as tmp:
        tmp.write_text(text, encoding="utf-8")
    if replaced:
        _forget_scores(opts.name)
    spec = models.registry().get(opts.name)
    if spec is None:
        raise ModelError("{files} was written but the registry does not list {opts_name}.", files=files['metadata'], opts_name=opts.name)
    return spec, files


def load_report(spec: models.ModelSpec) -> dict | None:
    """The training report of a model trained here (None for others, or when it cannot be read)."""
    path = spec.report_path
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
