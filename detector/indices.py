"""Spectral indices as extra model input channels, and the one function that makes a model's input.

A model sees reflectance (DN ÷ 10000, clipped to [0, 1]) in its band order, followed by the
indices its metadata names (``indices = ["ndvi", "mndwi"]`` in its .toml). Training and
inference both call :func:`model_input`, so a trained model is never scored on features computed
differently from the ones it learnt on.

Every index here is a normalised difference of sums of bands, (a − b) / (a + b), in [−1, 1]; it is
rescaled to (index + 1) / 2, in [0, 1] like the reflectances. Where a + b is (nearly) zero — no
signal — the index is 0, i.e. 0.5 after rescaling. Indices are computed from the raw DN: the
ratio does not care about the ÷ 10000, but it must see unclipped values.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ModelError

#: Reflectance digital numbers are divided by this (and clipped to [0, 1]) before a model sees them.
SCALE = 10000.0
EPS = 1e-6


@dataclass(frozen=True)
class Index:
    """(sum of ``plus`` − sum of ``minus``) / (sum of ``plus`` + sum of ``minus``)."""

    name: str
    plus: tuple[str, ...]
    minus: tuple[str, ...]
    description: str

    @property
    def bands(self) -> tuple[str, ...]:
        return self.plus + self.minus

    @property
    def formula(self) -> str:
        a, b = " + ".join(self.plus), " + ".join(self.minus)
        a, b = (f"({a})" if len(self.plus) > 1 else a), (f"({b})" if len(self.minus) > 1 else b)
        return f"({a} − {b}) / ({a} + {b})"


INDICES: dict[str, Index] = {i.name: i for i in (
    Index("ndvi", ("B8",), ("B4",), "vegetation: high over forest, low over bare soil and water"),
    Index("ndwi", ("B3",), ("B8",), "open water (McFeeters): positive over pools and rivers"),
    Index("mndwi", ("B3",), ("B11",), "modified water index (Xu): water apart from bare soil; sediment-laden pools"),
    Index("ndmi", ("B8",), ("B11",), "moisture of vegetation and soil"),
    Index("nbr", ("B8",), ("B12",), "normalised burn ratio: cleared and burnt land"),
    Index("bsi", ("B11", "B4"), ("B8", "B2"), "bare-soil index: high over cleared, excavated land"),
    Index("ndti", ("B4",), ("B3",), "turbidity: sediment in mining pools and rivers downstream"),
)}


def parse(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Index names from "ndvi,mndwi" (or a list), lower-cased, in order, each once; unknown names are refused."""
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(dict.fromkeys(s.strip().lower() for s in items if s and s.strip()))
    unknown = [n for n in names if n not in INDICES]
    if unknown:
        raise ModelError("Unknown spectral index {names}; the indices are {names2}.", names=', '.join(map(repr, unknown)), names2=", ".join(f"{i.name} {i.formula}" for i in INDICES.values()))
    return names


def check(indices: Sequence[str], bands: Sequence[str], model: str = "the model") -> None:
    """Refuse indices that are unknown, or that need a band missing from the model's band list."""
    parse(list(indices))
    for name in indices:
        missing = [b for b in INDICES[name].bands if b not in bands]
        if missing:
            raise ModelError(
                "The index {name} = {formula} needs band(s) {missing}, which {model} does not take (its "
                "bands: {bands}). Add them to the band list, or drop {name}.",
                name=name, formula=INDICES[name].formula, missing=', '.join(missing), model=model, bands=', '.join(bands)
            )


def compute(windows: np.ndarray, bands: Sequence[str], indices: Sequence[str]) -> np.ndarray:
    """Index channels (..., len(indices)) in [0, 1] from raw DN windows (..., len(bands)) in ``bands`` order."""
    check(indices, bands)
    x = np.asarray(windows, dtype=np.float32)
    out = np.empty(x.shape[:-1] + (len(indices),), dtype=np.float32)
    pos = {b: i for i, b in enumerate(bands)}
    for k, name in enumerate(indices):
        idx = INDICES[name]
        a = np.sum([x[..., pos[b]] for b in idx.plus], axis=0, dtype=np.float32)
        b = np.sum([x[..., pos[b]] for b in idx.minus], axis=0, dtype=np.float32)
        den = a + b
        nd = np.divide(a - b, den, out=np.zeros_like(den), where=np.abs(den) > EPS)
        out[..., k] = (np.clip(nd, -1.0, 1.0) + 1.0) / 2.0
    return out


def model_input(windows: np.ndarray, bands: Sequence[str], indices: Sequence[str] = ()) -> np.ndarray:
    """What a model sees: reflectance ÷ 10000 clipped to [0, 1], then the index channels (float32)."""
    refl = np.clip(np.asarray(windows, dtype=np.float32) / SCALE, 0.0, 1.0)
    if not indices:
        return refl
    return np.concatenate([refl, compute(windows, bands, indices)], axis=-1)
