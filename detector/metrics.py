"""How well a model's scores separate mines from the rest: pure numpy, no scikit-learn.

Scores are kept when ``score ≥ threshold`` (as everywhere in the project). Average precision is
scikit-learn's step-wise definition, AP = Σₙ (Rₙ − Rₙ₋₁) Pₙ over the distinct scores from the
highest down, without interpolation.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


class Rates:
    """Precision and recall from ``tp``, ``fp``, ``fn`` counts; nan where nothing is there to count."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else math.nan

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else math.nan


@dataclass(frozen=True)
class Confusion(Rates):
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp + self.fp + self.fn else math.nan

    @property
    def accuracy(self) -> float:
        n = self.tp + self.fp + self.fn + self.tn
        return (self.tp + self.tn) / n if n else math.nan

    def as_dict(self) -> dict:
        return {**asdict(self), "precision": self.precision, "recall": self.recall, "f1": self.f1,
                "accuracy": self.accuracy}


def _arrays(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if len(y) != len(s):
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    return y, s


def confusion(y_true, scores, threshold: float) -> Confusion:
    """Counts of the patches kept (score ≥ threshold) and dropped, against the labels (1 = mine)."""
    y, s = _arrays(y_true, scores)
    kept = s >= threshold
    return Confusion(tp=int((kept & y).sum()), fp=int((kept & ~y).sum()), fn=int((~kept & y).sum()),
                     tn=int((~kept & ~y).sum()))


def _cutoffs(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct scores from the highest down, and the true and false positives kept at each (score ≥ it)."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each run of equal scores
    tps = np.cumsum(y)[last]
    fps = (last + 1) - tps
    return s[last], tps, fps


def pr_curve(y_true, scores) -> dict[str, list[float]]:
    """Precision and recall at each distinct score used as the threshold (highest threshold first)."""
    y, s = _arrays(y_true, scores)
    if not len(y) or not y.any():
        return {"threshold": [], "precision": [], "recall": []}
    thr, tps, fps = _cutoffs(y, s)
    return {"threshold": thr.tolist(), "precision": (tps / (tps + fps)).tolist(), "recall": (tps / tps[-1]).tolist()}


def average_precision(y_true, scores) -> float:
    """Step-wise average precision, as ``sklearn.metrics.average_precision_score``; nan without any mine."""
    y, s = _arrays(y_true, scores)
    if not y.any():
        return math.nan
    _, tps, fps = _cutoffs(y, s)
    precision, recall = tps / (tps + fps), tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def best_threshold(y_true, scores) -> tuple[float, float]:
    """The threshold with the highest F1, and that F1.

    Every threshold between a kept score and the next lower one keeps the same patches; the midpoint
    is returned, so that the choice does not sit on a validation patch's score. Among equal F1, the
    widest such gap wins (the most room for new imagery to differ).
    """
    y, s = _arrays(y_true, scores)
    if not y.any():
        return 0.5, math.nan
    thr, tps, fps = _cutoffs(y, s)
    f1 = 2 * tps / (tps + fps + y.sum())
    lower = np.r_[thr[1:], min(0.0, thr[-1])]
    gap = thr - lower
    best = np.flatnonzero(f1 >= f1.max() - 1e-12)
    i = best[np.argmax(gap[best])]
    t = float((thr[i] + lower[i]) / 2)
    r = round(t, 3)
    return (r if lower[i] < r <= thr[i] else t), float(f1[i])


def summary(y_true, scores, threshold: float) -> dict:
    """Everything the training report shows about one split at one threshold."""
    c = confusion(y_true, scores, threshold)
    return {"threshold": threshold, **c.as_dict(), "average_precision": average_precision(y_true, scores),
            "n": len(np.ravel(y_true)), "mines": int(np.asarray(y_true).astype(bool).sum())}
