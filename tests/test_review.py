"""The Review page and its queue: orders, skipping what a reviewer did, decisions, undo, agreement, export."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import box
from streamlit.testing.v1 import AppTest

from detector import review_queue
from detector.labels import LabelStore
from ui.review.view import KEYS, LOOKALIKE_KEYS

APP = str(Path(__file__).resolve().parent.parent / "app.py")
LAYER = "patches_amazon1_v3.7_2023"


def _layer(scores):
    import geopandas as gpd

    geoms = [box(i, 0, i + 1, 1) for i in range(len(scores))]
    return gpd.GeoDataFrame({"score": scores}, geometry=geoms, crs="EPSG:4326")


def test_queue_orders():
    layer = _layer([0.55, 0.95, 0.71, 0.62, 0.99])
    assert review_queue.order(layer, "score", "L").tolist() == [4, 1, 2, 3, 0]
    assert review_queue.order(layer, "uncertain", "L", threshold=0.7).tolist() == [2, 3, 0, 1, 4]
    rnd = review_queue.order(layer, "random", "L")
    assert sorted(rnd.tolist()) == [0, 1, 2, 3, 4]
    assert rnd.tolist() == review_queue.order(layer, "random", "L").tolist()  # the same for every reviewer
    assert review_queue.order(layer, "region", "L", region=box(0.9, 0, 3.1, 1)).tolist() == [1, 2]
    assert review_queue.order(layer, "region", "L").size == 0
    with pytest.raises(ValueError):
        review_queue.order(layer, "sideways", "L")


def test_pending_skips_done_and_puts_skipped_last():
    ids = np.array(["a", "b", "c", "d"])
    order = np.array([3, 2, 1, 0])
    assert review_queue.pending(order, ids, {"c"}).tolist() == [3, 1, 0]
    assert review_queue.pending(order, ids, {"c"}, ["d"]).tolist() == [1, 0, 3]
    assert review_queue.pending(order, ids, set()).tolist() == [3, 2, 1, 0]


def test_every_decision_has_a_key_and_a_button():
    assert set(LOOKALIKE_KEYS) == {"1", "2", "3", "4", "5", "6", "7"}
    assert {KEYS[k] for k in "mnuzs"} == {"[M]", "[N]", "[U]", "[Z]", "[S]"}


# ---------------------------------------------------------------- the page

def _open(name: str | None = "ana", order: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("app_pages/review.py").run()  # straight there: the default page (Explore) is not run
    assert not at.exception
    if order:
        at.selectbox(key="review_order").set_value(order).run()
    if name:
        at.text_input(key="review_name").set_value(name).run()
    assert not at.exception
    return at


def _shown(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Patch `")).split("`")[1]


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_review_asks_who_before_anything(mirror):
    at = _open(name=None)
    assert any("Say who you are" in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "Mine [M]"]


def test_decisions_are_saved_with_reviewer_queue_and_note_and_undo_appends(mirror):
    at = _open(order="score")
    first = _shown(at)
    at.text_input(key="review_note").set_value("tailings ponds, bare sand").run()
    at.button(key="review_m").click().run()
    second = _shown(at)
    assert second != first and _metric(at, "Labelled by you") == "1"
    at.button(key="review_cat_aquaculture").click().run()
    third = _shown(at)
    at.button(key="review_u").click().run()
    assert (_metric(at, "Mines"), _metric(at, "Not mines"), _metric(at, "Unsure")) == ("1", "1", "1")
    store = LabelStore()
    cur = store.current("ana").set_index("item")
    assert cur.loc[first, "is_mine"] == "yes" and cur.loc[first, "note"] == "tailings ponds, bare sand"
    assert (cur.loc[second, "is_mine"], cur.loc[second, "category"]) == ("no", "aquaculture")
    assert set(cur["queue"]) == {"score"} and set(cur["source"]) == {LAYER}
    assert cur["lon"].notna().all() and cur["score"].between(0.5, 1).all()
    assert at.text_input(key="review_note").value == ""  # the note went with the first decision only

    at.button(key="review_undo").click().run()  # the unsure one comes back to the front
    assert _shown(at) == third and _metric(at, "Labelled by you") == "2"
    hist = store.history(reviewer="ana")
    assert hist["action"].tolist() == ["label", "label", "label", "retract"]  # undo appended, deleted nothing

    # another browser session typing the same name cannot undo ana's labels
    intruder = _open(order="score")
    intruder.button(key="review_undo").click().run()
    assert store.history(reviewer="ana")["action"].tolist() == ["label", "label", "label", "retract"]
    assert any("Nothing to undo" in str(m.value) for m in intruder.info) or not intruder.exception

    # a new session of the same reviewer skips what they labelled; another reviewer starts at the top
    again = _open(order="score")
    assert _shown(again) not in (first, second)
    other = _open(name="ben", order="score")
    assert _shown(other) == first


def test_agreement_between_two_reviewers_on_the_random_queue(mirror):
    answers = {"ana": ["m", "m", "n", "u"], "ben": ["m", "n", "n", "u"]}
    shown = {}
    for who, keys in answers.items():
        at = _open(name=who, order="random")
        shown[who] = []
        for k in keys:
            shown[who].append(_shown(at))
            at.button(key=f"review_{k}").click().run()
    assert shown["ana"] == shown["ben"]  # the same random order for everyone: their labels overlap
    exp = next(e for e in at.expander if e.label == "Agreement between reviewers")
    pairs = exp.dataframe[0].value
    row = pairs.iloc[0]
    assert (row["reviewer_a"], row["reviewer_b"], row["items"]) == ("ana", "ben", 4)
    assert row["agree %"] == 75.0
    # kappa by hand: observed 3/4; chance = P(yes)P(yes) + P(no)P(no) + P(unsure)P(unsure)
    chance = 0.5 * 0.25 + 0.25 * 0.5 + 0.25 * 0.25
    assert row["Cohen's kappa"] == pytest.approx(round((0.75 - chance) / (1 - chance), 3))
    differ = exp.dataframe[1].value
    assert differ["item"].tolist() == [shown["ana"][1]] and differ.iloc[0]["ben"] == "no"
    assert LabelStore().current()["queue"].eq("random").all()
    # A row of the disagreements opens that patch for the reviewer, whose new answer replaces the old one.
    at.session_state["review_differ"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at = at.run()
    assert _shown(at) == shown["ana"][1] and any("Opened from the disagreements" in i.value for i in at.info)
    at = at.button(key="review_m").click().run()
    assert LabelStore().current("ben").set_index("item").loc[shown["ana"][1], "is_mine"] == "yes"
    assert not any("Opened from the disagreements" in i.value for i in at.info), "back to the queue"


def test_review_from_a_region_and_export(mirror):
    at = _open(order="region")
    region = at.selectbox(key="review_region")
    assert region.options and "country" in region.options[0]
    at.button(key="review_m").click().run()
    exp = next(e for e in at.expander if e.label == "Export labels for training")
    exp.button[0].click().run()
    assert not at.exception
    assert any("labels_positives: 1" in c.value for c in at.caption)
    assert LabelStore().current()["queue"].tolist() == ["region"]


def test_login_is_used_when_an_identity_provider_is_configured(mirror):
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x",
                          "client_id": "id", "client_secret": "secret",
                          "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration"}
    at.switch_page("app_pages/review.py").run()
    assert not at.exception
    assert [b for b in at.button if b.label == "Log in to review"]
    assert not [t for t in at.text_input if t.key == "review_name"]


def test_review_a_detect_run(mirror, scene, scene_region, tiny_model):
    """A run made on Detect is a scored layer too: its patches keep their grid ids in the labels."""
    from shapely.geometry import shape

    from detector import runs
    from detector.pipeline import Detector
    from detector.sources.local import LocalSource
    from ui.review import layers as review_layers

    region = shape(scene_region)
    res = Detector(tiny_model).run(region, 2023, LocalSource(scene))
    record = runs.RunRecord.of(res, region, "test box", str(tiny_model), "scene.tif")
    runs.RunIndex().add(record)
    name = review_layers.RUN_PREFIX + record.run_id
    assert review_layers.available()[name].year == 2023

    at = _open()
    at.selectbox(key="review_layer").set_value(name).run()
    at.selectbox(key="review_order").set_value("score").run()
    assert not at.exception
    top = res.patches.sort_values("score", ascending=False, kind="stable")["patch_id"].iloc[0]
    assert _shown(at) == top
    at.button(key="review_n").click().run()
    label = LabelStore().current("ana").iloc[0]
    assert (label["item"], label["patch_id"], label["source"]) == (top, top, name)


def test_the_reviewer_is_not_taken_from_the_link_and_reserved_or_odd_names_are_refused(mirror):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["reviewer"] = "alice"
    at.switch_page("app_pages/review.py").run()
    assert at.text_input(key="review_name").value in ("", None), "a link must not choose who labels"
    for bad in ("import:sampling", "x" * 5000, "ana\x00"):
        at.text_input(key="review_name").set_value(bad).run()
        assert not at.exception
        assert any("reviewer name" in e.value.lower() or "kept for imported" in e.value for e in at.error)
        assert not [b for b in at.button if b.key == "review_m"], "no labelling under a refused name"


AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x", "client_id": "id",
        "client_secret": "secret", "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration"}


def _signed_in(email: str, roles: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = AUTH
    if roles is not None:
        at.secrets["roles"] = roles
    at.user = {"is_logged_in": True, "email": email, "name": email.split("@")[0]}
    at.switch_page("app_pages/review.py").run()
    if at.selectbox(key="review_order").value != "score":
        at.selectbox(key="review_order").set_value("score").run()
    return at


def test_a_signed_in_reviewer_labels_as_their_identity_with_no_name_box(mirror):
    at = _signed_in("ana@example.org", {"reviewers": ["ana@example.org"], "admins": ["boss@example.org"]})
    assert not at.exception
    assert not [t for t in at.text_input if t.key == "review_name"], "the name box is gone"
    assert any("ana@example.org" in c.value for c in at.caption)
    first = _shown(at)
    at.button(key="review_m").click().run()
    cur = LabelStore().current("ana@example.org").set_index("item")
    assert cur.loc[first, "is_mine"] == "yes"
    assert not [b for b in at.button if b.key == "review_export"], "export is an admin's"
    admin = _signed_in("boss@example.org", {"reviewers": ["ana@example.org"], "admins": ["boss@example.org"]})
    assert [b for b in admin.button if b.key == "review_export"]


def test_a_signed_in_user_off_the_lists_cannot_label(mirror):
    at = _signed_in("mallory@example.org", {"reviewers": ["ana@example.org"]})
    assert not at.exception
    assert any("may not label patches" in w.value for w in at.warning)
    assert not [b for b in at.button if b.label == "Mine [M]"]


def test_without_sign_in_the_page_says_labels_are_unauthenticated(mirror):
    at = _open(name=None)
    assert any("not authenticated" in c.value for c in at.caption)
