"""The detection rule: defaults defined once, checks, and the same filter everywhere."""
from __future__ import annotations

import argparse
import math

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from detector import cli, postprocess, presets
from detector.errors import DetectorError
from detector.rule import DEFAULT, Rule


def _patches(scores, spacing_deg=0.005):
    geoms = [box(i * spacing_deg, 0, i * spacing_deg + 0.004, 0.004) for i in range(len(scores))]
    return gpd.GeoDataFrame({"score": np.asarray(scores, float)}, geometry=geoms, crs="EPSG:4326")


def test_the_cli_presets_and_the_rule_share_one_set_of_defaults():
    parser = cli.build_parser()
    detect = next(a for a in parser._subparsers._group_actions[0].choices["detect"]._actions if a.dest == "t_iso")
    assert detect.default == DEFAULT.t_iso
    args = parser.parse_args(["detect", "--region", "r.geojson", "--year", "2023", "--out", "x.geojson"])
    assert (args.t_iso, args.k, args.d_km) == (DEFAULT.t_iso, DEFAULT.k, DEFAULT.d_km)
    p = presets.Preset("p", 0.6)
    assert p.rule() == Rule(0.6)
    assert isinstance(args, argparse.Namespace)


@pytest.mark.parametrize("bad", [
    Rule(threshold=2), Rule(threshold=math.nan), Rule(threshold=-0.1), Rule(t_iso=1.5), Rule(k=0), Rule(k=-1),
    Rule(d_km=-3), Rule(d_km=0), Rule(d_km=math.inf), Rule(k=2.5),
])
def test_impossible_rules_are_refused_with_the_value_named(bad):
    with pytest.raises(DetectorError, match="must be"):
        bad.check()


def test_the_rule_keeps_what_postprocess_keeps():
    rng = np.random.default_rng(0)
    p = _patches(rng.uniform(0, 1, 40))
    assert Rule(0.6).apply(p).index.tolist() == postprocess.above(p, 0.6).index.tolist()
    dual = Rule(0.5, True, 0.8, 3, 1.0)
    assert dual.apply(p).index.tolist() == postprocess.dual_threshold(p, 0.5, 0.8, 3, 1.0).index.tolist()
    assert Rule(0.5).describe() == "score ≥ 0.5"
    assert "k=3, D=1 km" in dual.describe()


def test_least_imagery_sets_aside_partly_covered_patches_before_the_rest_of_the_rule():
    import geopandas as gpd
    from shapely.geometry import box

    from detector.rule import Rule, with_imagery

    p = gpd.GeoDataFrame({"score": [0.9, 0.8, 0.7], "valid_fraction": [1.0, 0.4, 0.75]},
                         geometry=[box(i, 0, i + 1, 1) for i in range(3)], crs="EPSG:4326")
    assert list(Rule(0.5, min_valid=0.5).kept(p)) == [True, False, True]
    assert list(Rule(0.5).kept(p)) == [True, True, True]
    assert list(Rule(0.5, min_valid=0.5).at(0.75).kept(p)) == [True, False, False], "at() keeps the coverage rule"
    assert len(with_imagery(p.drop(columns="valid_fraction"), 0.9)) == 3, "layers without the figure all pass"
    assert Rule(0.5, min_valid=0.5).describe() == "score ≥ 0.5, imagery on ≥ 50% of the patch"
    with pytest.raises(DetectorError, match="least share of imagery"):
        Rule(0.5, min_valid=1.5).check()


def test_a_preset_keeps_the_coverage_rule_and_old_presets_load_without_it(tmp_path):
    import json

    presets.save(presets.Preset("edges-out", 0.6, min_valid=0.75), tmp_path)
    p = presets.load("edges-out", tmp_path)
    assert p.rule().min_valid == 0.75 and "imagery on ≥ 75% of the patch" in p.describe()
    (tmp_path / "old.json").write_text(json.dumps({"name": "old", "threshold": 0.5, "dual": False}))
    assert presets.load("old", tmp_path).min_valid == 0.0
