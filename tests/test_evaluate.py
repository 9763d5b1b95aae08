"""detector.evaluate and detector.presets: the numbers Tune shows, checked by hand on small cases."""
from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from detector import evaluate, postprocess, presets
from detector.errors import DetectorError
from detector.evaluate import Rule


def _labels(rows) -> pd.DataFrame:
    cols = ["item", "patch_id", "lon", "lat", "is_mine", "category", "reviewer", "queue"]
    return pd.DataFrame([dict(zip(cols, r)) for r in rows], columns=cols)


def _grid(scores) -> gpd.GeoDataFrame:
    """Patches of 0.01° side in a row, 0.005° apart (half overlap, like the real grid)."""
    geoms = [box(-60 + 0.005 * i, -5, -60 + 0.005 * i + 0.01, -4.99) for i in range(len(scores))]
    return gpd.GeoDataFrame({"score": scores}, geometry=geoms, crs="EPSG:4326")


def test_wilson_interval_matches_the_textbook():
    lo, hi = evaluate.wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert evaluate.wilson_interval(0, 5)[0] == 0.0 and evaluate.wilson_interval(5, 5)[1] == 1.0
    assert evaluate.wilson_interval(5, 5)[0] == pytest.approx(0.5655, abs=1e-4)
    assert all(math.isnan(x) for x in evaluate.wilson_interval(0, 0))


def test_cohen_kappa():
    # the textbook table: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> kappa 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert evaluate.cohen_kappa(a, b) == pytest.approx(0.4)
    assert evaluate.cohen_kappa(["yes", "no", "unsure"], ["yes", "no", "unsure"]) == 1.0
    assert evaluate.cohen_kappa(["yes", "no"], ["no", "yes"]) == pytest.approx(-1.0)
    assert evaluate.cohen_kappa(["yes"] * 4, ["yes"] * 4) == 1.0
    assert math.isnan(evaluate.cohen_kappa([], []))


def test_truth_by_patch_id_and_by_point_with_majority():
    patches = _grid([0.9, 0.8, 0.7, 0.6])
    labels = _labels([
        ("L#0", "L#0", None, None, "yes", None, "ana", "random"),
        ("L#0", "L#0", None, None, "no", "aquaculture", "ben", "score"),
        ("L#0", "L#0", None, None, "yes", None, "carl", "score"),  # 2 yes : 1 no
        ("L#1", "L#1", None, None, "no", "riverbank", "ana", "random"),
        ("L#1", "L#1", None, None, "yes", None, "ben", "score"),
        ("L#2", "L#2", None, None, "yes", None, "ben", "score"),
        ("pt:x", None, -59.977, -4.995, "no", "landslide", "import:x", "import"),  # a point inside patch 3 only
        ("other#7", "other#7", -59.9875, -4.995, "no", None, "dan", "random"),  # another layer's: patches 1 and 2
    ])
    t = evaluate.truth(patches, "L", labels)
    assert list(t["truth"]) == ["yes", "no", "unsure", "no"]  # 2:1, 2:1, a tie, 1:0
    assert list(t["category"].fillna("")) == ["", "riverbank", "", "landslide"]
    assert list(t["labels"]) == [3, 3, 2, 1]
    assert list(t["random_truth"].fillna("")) == ["yes", "no", "no", ""]


def test_scores_and_outcomes_by_hand():
    truth = ["yes", "no", "yes", None, "unsure", "yes", "no"]
    kept = np.array([True, True, False, True, True, True, False])
    s = evaluate.score(kept, truth)
    assert (s.tp, s.fp, s.fn, s.unlabelled, s.unsure, s.kept) == (2, 1, 1, 1, 1, 5)
    assert s.precision == pytest.approx(2 / 3) and s.recall == pytest.approx(2 / 3) and s.f1 == pytest.approx(2 / 3)
    assert list(evaluate.outcomes(kept, truth)) == ["true positive", "false positive", "missed mine", "unlabelled",
                                                    "unsure", "true positive", "true negative"]
    empty = evaluate.score(np.zeros(2, bool), [None, None])
    assert math.isnan(empty.precision) and math.isnan(empty.recall) and math.isnan(empty.f1)


def test_sampled_precision_uses_random_labels_of_kept_patches_only():
    kept = np.array([True, True, True, True, False])
    sp = evaluate.sampled_precision(kept, ["yes", "yes", "no", None, "no"])
    assert (sp.mines, sp.labelled) == (2, 3) and sp.precision == pytest.approx(2 / 3)
    assert (sp.low, sp.high) == evaluate.wilson_interval(2, 3)


def test_rule_matches_postprocess():
    rng = np.random.default_rng(3)
    patches = _grid(rng.uniform(0.5, 1, 40))
    assert Rule(0.7).kept(patches).sum() == len(postprocess.above(patches, 0.7))
    dual = Rule(0.6, True, 0.9, 3, 0.5).kept(patches)
    assert patches.index[dual].tolist() == postprocess.dual_threshold(patches, 0.6, 0.9, 3, 0.5).index.tolist()


def test_footprint_counts_overlaps_once():
    patches = _grid([0.9, 0.8, 0.7, 0.6])
    c = evaluate.cells(patches)
    for t in (0.5, 0.65, 0.75, 0.95):
        kept = Rule(t).kept(patches)
        union = postprocess.area_ha(gpd.GeoSeries([patches[kept].union_all()], crs=4326))[0] if kept.any() else 0
        assert c.footprint_ha(kept) == pytest.approx(union, rel=1e-3)


def test_footprint_of_the_real_layer_matches_dissolve(mirror):
    from detector import published

    layer = published.load_layer("patches_amazon1_v3.7_2023")
    c = evaluate.cells(layer)
    for t in (0.5, 0.8):
        kept = Rule(t).kept(layer)
        assert c.footprint_ha(kept) == pytest.approx(postprocess.dissolve(layer[kept])["footprint_ha"].sum(), rel=0.01)


def test_curve_is_monotone_without_isolation():
    rng = np.random.default_rng(1)
    patches = _grid(rng.uniform(0.5, 1, 30))
    truth = rng.choice(["yes", "no", None], 30)
    cv = evaluate.curve(patches, truth, Rule(), np.linspace(0, 1, 21))
    assert (np.diff(cv["kept"]) <= 0).all() and (np.diff(cv["footprint_ha"]) <= 1e-9).all()
    row = cv[cv["threshold"] == 0.75].iloc[0]
    s = evaluate.score(patches["score"].to_numpy() >= 0.75, truth)
    assert (row["tp"], row["fp"], row["fn"]) == (s.tp, s.fp, s.fn)


def test_agreement_pairs_and_disagreements():
    labels = _labels([
        ("a", None, None, None, "yes", None, "ana", None), ("a", None, None, None, "yes", None, "ben", None),
        ("b", None, None, None, "no", "aquaculture", "ana", None), ("b", None, None, None, "yes", None, "ben", None),
        ("c", None, None, None, "no", None, "ana", None), ("c", None, None, None, "no", None, "ben", None),
        ("d", None, None, None, "unsure", None, "ana", None),
    ])
    pairs, differ = evaluate.agreement(labels)
    row = pairs.iloc[0]
    assert (row["reviewer_a"], row["reviewer_b"], row["items"]) == ("ana", "ben", 3)
    assert row["agree"] == pytest.approx(2 / 3)
    assert row["kappa"] == pytest.approx(evaluate.cohen_kappa(["yes", "no", "no"], ["yes", "yes", "no"]))
    assert differ["item"].tolist() == ["b"] and differ.iloc[0]["ana"] == "no: aquaculture"


# ---------------------------------------------------------------- presets

def test_presets_save_list_load_apply():
    rng = np.random.default_rng(2)
    patches = _grid(rng.uniform(0.5, 1, 25))
    presets.save(presets.Preset("strict", 0.8, precision=0.9, layer="L"))
    presets.save(presets.Preset("Clustered 1", 0.6, dual=True, t_iso=0.9, k=3, d_km=0.5))
    assert [p.name for p in presets.list_presets()] == ["AMW relaxed", "AMW stringent", "Clustered 1", "strict"]
    p = presets.load("Clustered 1")
    assert p.saved_at and p.describe() == "score ≥ 0.6, isolated patches (k=3, D=0.5 km) ≥ 0.9"
    assert p.apply(patches).index.tolist() == postprocess.dual_threshold(patches, 0.6, 0.9, 3, 0.5).index.tolist()
    assert len(presets.load("strict").apply(patches)) == int((patches["score"] >= 0.8).sum())
    presets.save(presets.Preset("strict", 0.85))  # saving a name again replaces it
    assert presets.load("strict").threshold == 0.85 and len(presets.list_presets()) == 4
    with pytest.raises(DetectorError, match="Clustered 1, strict"):
        presets.load("nope")


def test_amazon_mining_watch_rules_are_built_in_presets_that_cannot_be_saved_over():
    relaxed, stringent = presets.load("AMW relaxed").rule(), presets.load("AMW stringent").rule()
    assert (relaxed.threshold, relaxed.dual, relaxed.t_iso, relaxed.k, relaxed.d_km) == (0.43, True, 0.75, 5, 3.0)
    assert (stringent.threshold, stringent.dual, stringent.t_iso, stringent.k, stringent.d_km) == (0.55, True, 0.8, 5, 3.0)
    assert "Amazon Mining Watch" in presets.load("AMW stringent").note
    with pytest.raises(DetectorError, match="built-in"):
        presets.save(presets.Preset("amw relaxed", 0.2))


@pytest.mark.parametrize("bad", [{"name": "../x"}, {"name": ""}, {"threshold": 1.5}, {"k": 0}])
def test_bad_presets_are_refused(bad):
    with pytest.raises(DetectorError):
        presets.save(presets.Preset(**{"name": "ok", "threshold": 0.5, **bad}))
