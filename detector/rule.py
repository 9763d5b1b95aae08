"""The detection rule: a threshold and, optionally, the published isolation rule — defined once.

The CLI, Detect, Tune, presets and training's evaluation all filter with :class:`Rule`; its field
defaults are the only place the isolation parameters' defaults are written.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np

from . import postprocess
from .errors import DetectorError, Message


@dataclass(frozen=True)
class Rule:
    """Keep score ≥ ``threshold``; with ``dual``, an isolated patch needs ``t_iso``.

    A kept patch is isolated when its ``k``-th nearest kept neighbour is farther than ``d_km``
    (see :func:`detector.postprocess.dual_threshold`). ``min_valid`` > 0 first sets aside patches
    with less than that share of their pixels under imagery (see :func:`with_imagery`).
    """

    threshold: float = 0.5
    dual: bool = False
    t_iso: float = 0.75
    k: int = 5
    d_km: float = 3.0
    min_valid: float = 0.0

    def check(self) -> Rule:
        """The rule, or a DetectorError naming the value to change (NaN included)."""
        for name in ("threshold", "t_iso"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise DetectorError("{name} must be a number between 0 and 1, not {value!r}.", name=name, value=value)
        if not isinstance(self.k, (int, np.integer)) or isinstance(self.k, bool) or self.k < 1:
            raise DetectorError("k (neighbours for the isolation rule) must be a whole number ≥ 1, not {k!r}.", k=self.k)
        if not (isinstance(self.min_valid, (int, float)) and 0.0 <= self.min_valid <= 1.0):
            raise DetectorError("The least share of imagery per patch must be between 0 and 1, not {min_valid!r}.", min_valid=self.min_valid)
        if not (isinstance(self.d_km, (int, float)) and math.isfinite(self.d_km) and self.d_km > 0):
            raise DetectorError("D (the isolation distance) must be a positive number of km, not {d_km!r}.", d_km=self.d_km)
        return self

    def kept(self, patches: gpd.GeoDataFrame) -> np.ndarray:
        """Which patches the rule keeps, as a boolean array in the patches' order."""
        pool = with_imagery(patches, self.min_valid)
        if self.dual:
            out = postprocess.dual_threshold(pool, self.threshold, self.t_iso, self.k, self.d_km)
        else:
            out = postprocess.above(pool, self.threshold)
        return patches.index.isin(out.index)

    def apply(self, patches: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """The patches the rule keeps."""
        return patches[self.kept(patches)]

    def at(self, threshold: float) -> Rule:
        return Rule(threshold, self.dual, self.t_iso, self.k, self.d_km, self.min_valid)

    def describe(self) -> Message:
        """The rule in words, e.g. "score ≥ 0.6, isolated patches (k=5, D=3 km) ≥ 0.75" (a str, translatable)."""
        parts = [Message("score ≥ {threshold:g}", threshold=self.threshold)]
        if self.dual:
            parts.append(Message("isolated patches (k={k}, D={d_km:g} km) ≥ {t_iso:g}", k=self.k, d_km=self.d_km,
                                 t_iso=self.t_iso))
        if self.min_valid > 0:
            parts.append(Message("imagery on ≥ {share:.0%} of the patch", share=self.min_valid))
        return Message.joined(", ", parts)

    @property
    def filters_rows(self) -> bool:
        """Whether the rule keeps something other than the score-sorted tail (isolation or coverage)."""
        return self.dual or self.min_valid > 0


def with_imagery(patches: gpd.GeoDataFrame, min_valid: float) -> gpd.GeoDataFrame:
    """The patches with at least ``min_valid`` of their pixels under imagery.

    Patches without a ``valid_fraction`` (published layers, runs stored before coverage was kept)
    were scored whole, so they pass.
    """
    if min_valid <= 0 or "valid_fraction" not in patches.columns:
        return patches
    return patches[patches["valid_fraction"].fillna(1.0).to_numpy() >= min_valid]


#: The defaults, for widgets and options that show them.
DEFAULT = Rule()
