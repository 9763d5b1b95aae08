"""The Tune page: its precision, recall and counts equal an independent computation on the same data."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point
from streamlit.testing.v1 import AppTest

from detector import catalog, presets, published
from detector.labels import Label, LabelStore

APP = str(Path(__file__).resolve().parent.parent / "app.py")
LAYER = "patches_amazon1_v3.7_2023"


@pytest.fixture
def labelled(mirror):
    """The mirror's look-alikes and mines imported two ways, plus a reviewer's random-sample labels."""
    layer = published.load_layer(LAYER)
    store = LabelStore()
    on_patches = [catalog.get(n).path() for n in ("sampling_aquaculture_negatives_2025_08",
                                                  "sampling_landslide_negatives_2025_08",
                                                  "sampling_dredge_mining_positives_2025_08")]
    store.import_sampling(on_patches, layer, LAYER)  # by patch id
    as_points = [catalog.get(n).path() for n in ("sampling_punino_positives_2026_04",
                                                 "sampling_industrial_negatives_2025_08")]
    store.import_sampling(as_points)  # bare points: they find their patches by location
    rng = np.random.default_rng(7)
    for i in rng.choice(len(layer), 40, replace=False):
        answer = "yes" if layer["score"].iloc[i] > rng.uniform(0.4, 1.0) else "no"
        store.add(Label(item=f"{LAYER}#{i}", patch_id=f"{LAYER}#{i}", source=LAYER, is_mine=answer, reviewer="ana",
                        category="other" if answer == "no" else None, queue="random"))
    return layer, store


def _hand_truth(layer, cur: pd.DataFrame, random_only: bool = False) -> list:
    """Majority of yes and no per patch, labels joined by patch id, else by their point inside the patch."""
    if random_only:
        cur = cur[cur["queue"] == "random"]
    votes = [[] for _ in range(len(layer))]
    b = layer.geometry.bounds.to_numpy()
    for r in cur.itertuples():
        if isinstance(r.patch_id, str) and r.patch_id.startswith(LAYER + "#"):
            votes[int(r.patch_id.split("#")[1])].append(r.is_mine)
        elif not pd.isna(r.lon):
            near = np.flatnonzero((b[:, 0] <= r.lon) & (r.lon <= b[:, 2]) & (b[:, 1] <= r.lat) & (r.lat <= b[:, 3]))
            for i in near:
                if layer.geometry.iloc[i].contains(Point(r.lon, r.lat)):
                    votes[i].append(r.is_mine)
    out = []
    for v in votes:
        y, n = v.count("yes"), v.count("no")
        out.append(None if not v else "yes" if y > n else "no" if n > y else "unsure")
    return out


def _hand_kept(layer, t, dual=False, t_iso=0.75, k=5, d_km=3.0) -> np.ndarray:
    """Score ≥ t; with the isolation rule, brute-force great-circle distances between the kept patch centres."""
    score = layer["score"].to_numpy()
    kept = score >= t
    if not dual:
        return kept
    b = layer.geometry.bounds.to_numpy()[kept]
    lon, lat = np.radians((b[:, 0] + b[:, 2]) / 2), np.radians((b[:, 1] + b[:, 3]) / 2)
    dlat, dlon = lat[:, None] - lat[None, :], lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    dist = 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    kth = np.sort(dist, axis=1)[:, k] if len(b) > k else np.full(len(b), np.inf)  # column 0 is the patch itself
    ok = (kth <= d_km) | (score[kept] >= t_iso)
    out = np.zeros(len(layer), bool)
    out[np.flatnonzero(kept)[ok]] = True
    return out


def _pct(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:.1f}%"


def _expected(truth, kept) -> dict:
    t = np.array(truth, dtype=object)
    tp = int(sum(k and v == "yes" for k, v in zip(kept, t)))
    fp = int(sum(k and v == "no" for k, v in zip(kept, t)))
    fn = int(sum((not k) and v == "yes" for k, v in zip(kept, t)))
    p = tp / (tp + fp) if tp + fp else math.nan
    r = tp / (tp + fn) if tp + fn else math.nan
    f1 = 2 * p * r / (p + r) if p + r > 0 else math.nan
    return {"Precision": _pct(p), "Recall": _pct(r), "F1": _pct(f1), "Patches kept": f"{int(kept.sum()):,}"}


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def _open_tune() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("app_pages/tune.py").run()  # straight there: the default page (Explore) is not run
    assert not at.exception
    return at


def _threshold(at, value: float) -> None:
    next(s for s in at.sidebar.slider if s.label == "Detection threshold").set_value(value).run()
    assert not at.exception


def test_tune_figures_equal_an_independent_computation(labelled):
    layer, store = labelled
    cur = store.current()
    truth = _hand_truth(layer, cur)
    assert truth.count("yes") > 50 and truth.count("no") > 30  # mines and look-alikes both fall on the layer
    at = _open_tune()
    for t in (0.5, 0.8):
        _threshold(at, t)
        shown = _metrics(at)
        assert {k: shown[k] for k in ("Precision", "Recall", "F1", "Patches kept")} == _expected(truth,
                                                                                                 _hand_kept(layer, t))
    at.toggle(key="tune_dual").set_value(True).run()
    at.slider(key="tune_t_iso").set_value(0.9).run()
    at.slider(key="tune_d_km").set_value(2.0).run()
    assert not at.exception
    kept = _hand_kept(layer, 0.8, True, 0.9, 5, 2.0)
    assert kept.sum() < _hand_kept(layer, 0.8).sum()  # the rule does drop isolated patches here
    shown = _metrics(at)
    assert {k: shown[k] for k in ("Precision", "Recall", "F1", "Patches kept")} == _expected(truth, kept)

    # the random-sample estimate: the reviewer's random labels alone, with the Wilson interval
    rt = np.array(_hand_truth(layer, cur, random_only=True), dtype=object)
    mines, n = int(((rt == "yes") & kept).sum()), int(((rt == "yes") | (rt == "no"))[kept].sum())
    assert shown["Precision, random sample"] == _pct(mines / n)
    assert any(f"{mines} mines among {n} randomly sampled patches kept" in c.value for c in at.caption)


def test_tune_saves_a_preset_that_detect_and_explore_can_read(labelled, monkeypatch):
    layer, _ = labelled
    at = _open_tune()
    _threshold(at, 0.7)
    next(t for t in at.text_input if t.label == "Preset name").set_value("strict-0.7")
    at.button(key="tune_save_preset_button").click().run()
    assert not at.exception
    p = presets.load("strict-0.7")
    assert (p.threshold, p.dual, p.layer, p.min_valid) == (0.7, False, LAYER, 0.0) and p.precision is not None
    assert len(p.apply(layer)) == int((layer["score"] >= 0.7).sum())
    # applying a saved preset brings its threshold back, without Streamlit's "default value but also set via
    # the Session State API" warning in the server log
    from streamlit.elements.lib import policies

    said: list[str] = []
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(policies._LOGGER, "warning", lambda msg, *a, **k: said.append(msg % a if a else msg))
    presets.save(presets.Preset("loose", 0.55, min_valid=0.5))
    at.run()
    at.selectbox(key="tune_preset").set_value("loose").run()
    assert not at.exception
    assert next(s for s in at.slider if s.label == "Least imagery per patch (%)").value == 50, "coverage too"
    assert _metrics(at)["Patches kept"] == f"{int((layer['score'] >= 0.55).sum()):,}"
    assert next(s for s in at.slider if s.label == "Detection threshold").value == 0.55
    assert not [m for m in said if "default value" in m], said


def test_tune_without_labels_says_where_they_come_from(mirror):
    at = _open_tune()
    assert any("No label falls on this layer" in w.value for w in at.warning)
    assert _metrics(at)["Precision"] == "–"
