"""How good a threshold is, judged by the reviewers' labels: pure functions over patches and labels.

The truth of a patch is the majority of the labels on it (a tie, or only "unsure", is unsure).
Labels find their patch by patch id; a label made on another layer, or imported as a bare point, finds
it by its point lying inside the patch. From there: precision, recall and F1 of the patches a
threshold keeps, a precision-recall curve, the footprint a threshold keeps (overlapping patches
counted once), a precision estimate with a Wilson interval from the random-sample labels only (the
other queues over-sample the interesting cases), and Cohen's kappa between reviewers.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from . import postprocess
from .labels import layer_patch_ids
from .metrics import Rates
from .rule import Rule

#: How a kept or dropped patch fares against its truth; the Tune map colours these.
OUTCOMES = ("true positive", "false positive", "missed mine", "unlabelled", "unsure", "true negative")


@dataclass(frozen=True)
class Scores(Rates):
    """The confusion counts of one rule against the labelled patches, and what follows from them."""

    kept: int
    tp: int
    fp: int
    fn: int
    unsure: int  # kept patches whose labels do not settle it
    unlabelled: int  # kept patches nobody labelled

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else math.nan


# ---------------------------------------------------------------- labels onto patches

def _votes(labels: pd.DataFrame) -> pd.DataFrame:
    """Per patch position (``pos``): truth, category and vote counts from the labels joined to it."""
    cols = ["truth", "category", "labels"]
    if labels.empty:
        return pd.DataFrame(columns=cols)
    yes = labels["is_mine"].eq("yes").groupby(labels["pos"]).sum()
    no = labels["is_mine"].eq("no").groupby(labels["pos"]).sum()
    out = pd.DataFrame({"labels": labels.groupby("pos").size()})
    out["truth"] = np.where(yes > no, "yes", np.where(no > yes, "no", "unsure"))
    neg = labels[labels["is_mine"].eq("no") & labels["category"].notna()]
    cats = neg.groupby("pos")["category"].agg(lambda s: s.mode().iloc[0])
    out["category"] = cats.reindex(out.index).where(out["truth"] == "no")
    return out[cols]


def join_labels(patches: gpd.GeoDataFrame, source: str, current: pd.DataFrame) -> pd.DataFrame:
    """Each current label with the position (``pos``) of the patch it speaks about, one row per pair.

    By patch id first; a label whose patch id is not in this layer counts for every patch its point
    lies inside (patches overlap by half, so that can be two or four).
    """
    ids = layer_patch_ids(patches, source).to_numpy()
    pos_of = pd.Series(np.arange(len(ids)), index=ids)
    cur = current.reset_index(drop=True)
    by_id = cur["patch_id"].isin(pos_of.index)
    direct = cur[by_id].assign(pos=pos_of.reindex(cur.loc[by_id, "patch_id"]).to_numpy())
    rest = cur[~by_id & cur["lon"].notna() & cur["lat"].notna()]
    spatial = rest.iloc[0:0].assign(pos=pd.Series(dtype=int))
    if len(rest) and len(patches):
        pts = shapely.points(rest["lon"].to_numpy(float), rest["lat"].to_numpy(float))
        lab_i, patch_i = shapely.STRtree(patches.geometry.to_numpy()).query(pts, predicate="within")
        spatial = rest.iloc[lab_i].assign(pos=patch_i)
    return pd.concat([direct, spatial], ignore_index=True)


def truth(patches: gpd.GeoDataFrame, source: str, current: pd.DataFrame) -> pd.DataFrame:
    """Per patch (in the patches' order): ``truth`` (yes / no / unsure / None), ``category``, ``labels``
    (how many), and ``random_truth``: the same from the random-sample labels alone."""
    joined = join_labels(patches, source, current)
    out = pd.DataFrame(index=pd.RangeIndex(len(patches)))
    out = out.join(_votes(joined))
    rnd = _votes(joined[joined["queue"].eq("random")])
    out["random_truth"] = rnd["truth"].reindex(out.index)
    out["labels"] = out["labels"].fillna(0).astype(int)
    out["truth"] = out["truth"].astype(object).where(out["truth"].notna(), None)
    return out


# ---------------------------------------------------------------- scoring a rule

def outcomes(kept: np.ndarray, truth_col: Sequence) -> np.ndarray:
    """Each patch's outcome (see OUTCOMES); a dropped patch nobody labelled a mine is None."""
    t = np.asarray(pd.Series(truth_col, dtype=object).fillna("").to_numpy(), dtype=object)
    kept = np.asarray(kept, bool)
    out = np.full(len(t), None, dtype=object)
    out[kept & (t == "yes")] = "true positive"
    out[kept & (t == "no")] = "false positive"
    out[kept & (t == "unsure")] = "unsure"
    out[kept & (t == "")] = "unlabelled"
    out[~kept & (t == "yes")] = "missed mine"
    out[~kept & (t == "no")] = "true negative"
    return out


def score(kept: np.ndarray, truth_col: Sequence) -> Scores:
    """Confusion counts of the kept patches against the truth column."""
    o = outcomes(kept, truth_col)
    n = {k: int((o == k).sum()) for k in OUTCOMES}
    return Scores(kept=int(np.asarray(kept, bool).sum()), tp=n["true positive"], fp=n["false positive"],
                  fn=n["missed mine"], unsure=n["unsure"], unlabelled=n["unlabelled"])


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % by default); (nan, nan) when n is 0.

    Unlike the normal approximation it stays inside [0, 1] and behaves with the small samples and
    near-perfect precisions reviewers produce.
    """
    if n <= 0:
        return math.nan, math.nan
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class SampledPrecision:
    """Precision estimated from the random-sample labels of the kept patches."""

    mines: int
    labelled: int
    low: float
    high: float

    @property
    def precision(self) -> float:
        return self.mines / self.labelled if self.labelled else math.nan


def sampled_precision(kept: np.ndarray, random_truth: Sequence, z: float = 1.959964) -> SampledPrecision:
    """Precision among the kept patches that the random queue put in front of reviewers.

    The random queue draws uniformly from the layer, so its labelled patches above a threshold are a
    uniform sample of the patches the threshold keeps: an unbiased estimate, with a Wilson interval.
    """
    t = pd.Series(random_truth, dtype=object).to_numpy()
    k = np.asarray(kept, bool)
    mines, nots = int((k & (t == "yes")).sum()), int((k & (t == "no")).sum())
    lo, hi = wilson_interval(mines, mines + nots, z)
    return SampledPrecision(mines, mines + nots, lo, hi)


# ---------------------------------------------------------------- footprint: overlapping patches counted once

@dataclass(frozen=True)
class Cells:
    """The patches cut into quarter cells (240 m on a 480 m patch), shared cells found once.

    Patches overlap by half, so the area a set of patches covers is the area of the distinct cells they
    touch; this makes the area at a hundred thresholds cost a sparse product each, not a union each.
    """

    incidence: sparse.csr_matrix  # patches × cells
    cell_ha: np.ndarray

    def footprint_ha(self, kept: np.ndarray) -> float:
        covered = self.incidence.T @ np.asarray(kept, dtype=np.float64) > 0
        return float(self.cell_ha[covered].sum())


def cells(patches: gpd.GeoDataFrame, tolerance_m: float = 60.0) -> Cells:
    """Quarter cells of square patches (see :class:`Cells`); non-square shapes still count, without sharing."""
    n = len(patches)
    if n == 0:
        return Cells(sparse.csr_matrix((0, 0)), np.empty(0))
    geoms = patches.geometry.to_numpy()
    env = shapely.oriented_envelope(geoms)
    ring = shapely.get_coordinates(shapely.get_exterior_ring(env)).reshape(n, -1, 2)[:, :4, :]
    centre = shapely.get_coordinates(shapely.centroid(geoms))[:, None, :]
    quarters = ((ring + centre) / 2).reshape(-1, 2)
    xyz = postprocess.unit_xyz(quarters[:, 0], quarters[:, 1]) * (postprocess.EARTH_RADIUS_KM * 1000)
    pairs = cKDTree(xyz).query_pairs(tolerance_m, output_type="ndarray")
    m = len(quarters)
    graph = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m))
    n_cells, cell_of = connected_components(graph, directed=False)
    area = patches["footprint_ha"].to_numpy(float) if "footprint_ha" in patches.columns else None
    if area is None or np.isnan(area).any():
        area = postprocess.area_ha(patches.geometry)
    quarter_ha = np.repeat(area / 4, 4)
    cell_ha = np.bincount(cell_of, weights=quarter_ha, minlength=n_cells) / np.bincount(cell_of, minlength=n_cells)
    inc = sparse.csr_matrix((np.ones(m), (np.repeat(np.arange(n), 4), cell_of)), shape=(n, n_cells))
    return Cells(inc, cell_ha)


# ---------------------------------------------------------------- curves

def curve(patches: gpd.GeoDataFrame, truth_col: Sequence, rule: Rule, thresholds: Sequence[float],
          cell_index: Cells | None = None) -> pd.DataFrame:
    """Precision, recall, F1, kept patches and footprint (ha) at each threshold, the rest of the rule fixed."""
    cell_index = cell_index or cells(patches)
    rows = []
    for t in thresholds:
        kept = rule.at(float(t)).kept(patches)
        s = score(kept, truth_col)
        rows.append({"threshold": float(t), "kept": s.kept, "tp": s.tp, "fp": s.fp, "fn": s.fn,
                     "precision": s.precision, "recall": s.recall, "f1": s.f1,
                     "footprint_ha": cell_index.footprint_ha(kept)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- reviewers agreeing

def cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa of two raters' answers on the same items (nan with no items; 1 when both agree on a
    single answer throughout, since chance then explains nothing to disagree about)."""
    a, b = pd.Series(list(a), dtype=object), pd.Series(list(b), dtype=object)
    if len(a) != len(b):
        raise ValueError("both raters must answer the same items")
    n = len(a)
    if n == 0:
        return math.nan
    observed = float((a.to_numpy() == b.to_numpy()).mean())
    pa, pb = a.value_counts(normalize=True), b.value_counts(normalize=True)
    expected = float(sum(pa.get(k, 0.0) * pb.get(k, 0.0) for k in set(pa.index) | set(pb.index)))
    if expected >= 1.0:
        return 1.0 if observed == 1.0 else math.nan
    return (observed - expected) / (1 - expected)


def agreement(current: pd.DataFrame, min_items: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reviewer pairs on the items both labelled: items, share agreeing, Cohen's kappa (on yes/no/unsure);
    and the disagreements, one row per item with each reviewer's answer."""
    pair_cols = ["reviewer_a", "reviewer_b", "items", "agree", "kappa"]
    if current.empty:
        return pd.DataFrame(columns=pair_cols), pd.DataFrame(columns=["item"])
    answer = current.assign(answer=current["is_mine"].where(current["category"].isna() | current["is_mine"].ne("no"),
                                                           "no: " + current["category"].astype(str)))
    wide = current.pivot_table(index="item", columns="reviewer", values="is_mine", aggfunc="last")
    rows = []
    reviewers = sorted(wide.columns)
    for i, ra in enumerate(reviewers):
        for rb in reviewers[i + 1:]:
            both = wide[[ra, rb]].dropna()
            if len(both) >= min_items:
                rows.append({"reviewer_a": ra, "reviewer_b": rb, "items": len(both),
                             "agree": float((both[ra] == both[rb]).mean()), "kappa": cohen_kappa(both[ra], both[rb])})
    pairs = pd.DataFrame(rows, columns=pair_cols)
    multi = wide[wide.notna().sum(axis=1) >= 2]
    differ = multi[multi.nunique(axis=1) > 1].index
    detail = answer[answer["item"].isin(differ)].pivot_table(index="item", columns="reviewer", values="answer",
                                                             aggfunc="last")
    return pairs, detail.reset_index()
