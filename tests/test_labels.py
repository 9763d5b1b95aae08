"""The label store: append-only history, undo, several reviewers at once, sampling files in and out."""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from detector import cli, labels, sampling
from detector.errors import DetectorError
from detector.labels import Label, LabelStore

LAYER = "patches_amazon1_v3.7_2023"


def test_a_new_label_supersedes_and_nothing_is_lost():
    s = LabelStore()
    first = s.add(Label(item="p1", is_mine="yes", reviewer="ana"))
    second = s.add(Label(item="p1", is_mine="no", category="aquaculture", note="ponds in a row", reviewer="ana"))
    s.add(Label(item="p1", is_mine="yes", reviewer="ben"))
    cur = s.current()
    assert len(cur) == 2  # one standing label per reviewer and item
    ana = cur[cur["reviewer"] == "ana"].iloc[0]
    assert (ana["is_mine"], ana["category"], ana["note"], ana["supersedes"]) == ("no", "aquaculture", "ponds in a row", first)
    hist = s.history(item="p1")
    assert list(hist["id"]) == [first, second, second + 1] and hist["created_at"].notna().all()
    assert s.labelled_items("ana") == {"p1"} and s.labelled_items("carl") == set()


def test_undo_walks_back_by_appending():
    s = LabelStore()
    s.add(Label(item="a", is_mine="yes", reviewer="ana"))
    s.add(Label(item="b", is_mine="unsure", reviewer="ana"))
    s.add(Label(item="a", is_mine="no", category="riverbank", reviewer="ana"))
    s.add(Label(item="a", is_mine="no", reviewer="ben"))  # another reviewer's work is never touched

    def mine():
        return dict(zip(*s.current("ana")[["item", "is_mine"]].to_numpy().T))

    assert s.undo("ana")["undone"]["category"] == "riverbank"
    assert mine() == {"a": "yes", "b": "unsure"}  # back to what ana had said before
    s.undo("ana")
    assert mine() == {"a": "yes"}
    s.undo("ana")
    assert mine() == {}
    assert s.undo("ana") is None
    assert len(s.history()) == 7  # 4 labels + 3 undo records: nothing deleted
    assert list(s.current("ben")["is_mine"]) == ["no"]


@pytest.mark.parametrize("bad", [
    {"is_mine": "maybe"}, {"is_mine": "no", "category": "swamp"}, {"is_mine": "yes", "category": "landslide"},
    {"reviewer": " "}, {"queue": "sideways"},
])
def test_bad_labels_are_refused_with_a_reason(bad):
    s = LabelStore()
    with pytest.raises(DetectorError):
        s.add(Label(**{"item": "x", "is_mine": "no", "reviewer": "ana", **bad}))
    assert s.count() == 0


def test_database_url_names_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    LabelStore().add(Label(item="x", is_mine="yes", reviewer="ana"))
    assert (tmp_path / "elsewhere.db").is_file()
    assert LabelStore(f"sqlite:///{tmp_path / 'elsewhere.db'}").count() == 1


# ---------------------------------------------------------------- several reviewers at once

N = 150


def _review(url: str, reviewer: str, start, results) -> None:
    """A reviewer labelling N items: the even ones are shared with the other reviewer, the odd ones their own."""
    store = LabelStore(url)
    start.wait()
    ids = []
    for i in range(N):
        item = f"shared-{i}" if i % 2 == 0 else f"{reviewer}-{i}"
        ids.append(store.add(Label(item=item, is_mine="yes" if i % 3 else "no", reviewer=reviewer, queue="random")))
        if i % 25 == 24:
            ids.append(store.add(Label(item=item, is_mine="unsure", reviewer=reviewer)))  # changes their mind
        time.sleep(0.002)  # a (very fast) reviewer's pace, so the two really take turns
    results.put((reviewer, ids))


def _check_nothing_lost(store: LabelStore, got: dict[str, list[int]]) -> None:
    hist = store.history()
    turns = (hist["reviewer"] != hist["reviewer"].shift()).sum()
    assert turns > 20, f"the reviewers did not work at the same time ({turns} turns)"
    assert len(hist) == sum(len(v) for v in got.values()) == 2 * (N + N // 25)
    assert sorted(hist["id"]) == sorted(i for v in got.values() for i in v)  # every id handed out is stored
    cur = store.current()
    for who in got:
        mine = cur[cur["reviewer"] == who]
        assert len(mine) == N and mine["item"].is_unique
        assert (mine.set_index("item").loc[[f"shared-{i}" for i in range(24, N, 50)], "is_mine"] == "unsure").all()
    shared = cur[cur["item"].str.startswith("shared-")]
    assert shared.groupby("item")["reviewer"].nunique().eq(2).all()  # both labels on every shared item
    for _, rows in hist.groupby(["reviewer", "item"]):  # each chain of supersedes is a line, never a fork
        assert pd.isna(rows["supersedes"].iloc[0])  # the first has no predecessor
        assert list(rows["supersedes"].iloc[1:].astype(int)) == list(rows["id"].iloc[:-1])


_WORKER = """
import json, sys, time
sys.path[:0] = [{root!r}, {tests!r}]
from test_labels import _review
from pathlib import Path
class Go:  # a barrier across processes: each says it is ready, then waits for the other
    def wait(self):
        Path({gate!r}, {who!r}).touch()
        while len(list(Path({gate!r}).iterdir())) < 2:
            time.sleep(0.005)
class Out(list):
    def put(self, item):
        print(json.dumps(item))
_review({url!r}, {who!r}, Go(), Out())
"""


@pytest.fixture(params=["sqlite", "server"])
def db_url(request, tmp_path) -> str:
    """A fresh SQLite file; and, when TEST_DATABASE_URL names one (e.g. postgresql+psycopg://…), a server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'labels.sqlite'}"
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set: the label store is tested on SQLite only")
    from sqlalchemy import create_engine

    with create_engine(url).begin() as conn:  # an empty store for each test
        labels.LABELS.drop(conn, checkfirst=True)
    return url


def test_two_reviewer_processes_lose_no_label(tmp_path, db_url):
    import subprocess
    import sys

    url = db_url
    LabelStore(url)  # the file and table exist before the race (creating them at once is also handled)
    here = Path(__file__).resolve().parent
    gate = tmp_path / "ready"
    gate.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER.format(root=str(here.parent), tests=str(here), url=url,
                                                                    who=who, gate=str(gate))],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who in ("ana", "ben")]
    got = {}
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        who, ids = json.loads(out.strip().splitlines()[-1])
        got[who] = ids
    _check_nothing_lost(LabelStore(url), got)


def test_two_reviewer_threads_sharing_a_store_lose_no_label(db_url):
    import queue

    store = LabelStore(db_url)
    start, results = threading.Barrier(2), queue.Queue()
    threads = [threading.Thread(target=_review, args=(store.url, who, start, results)) for who in ("ana", "ben")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    _check_nothing_lost(store, dict(results.get_nowait() for _ in threads))


def test_one_reviewer_in_two_tabs_keeps_one_line_of_history(db_url):
    """The same reviewer on the same items from two threads: every record supersedes exactly the one before."""
    store = LabelStore(db_url)
    start = threading.Barrier(2)

    def tab(answer: str) -> None:
        start.wait()
        for i in range(60):
            store.add(Label(item=f"p{i % 10}", is_mine=answer, reviewer="ana"))

    threads = [threading.Thread(target=tab, args=(a,)) for a in ("yes", "no")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    hist = store.history()
    assert len(hist) == 120
    for _, rows in hist.groupby("item"):
        assert pd.isna(rows["supersedes"].iloc[0])
        assert list(rows["supersedes"].iloc[1:].astype(int)) == list(rows["id"].iloc[:-1])
    latest = hist.groupby("item").tail(1).set_index("item")["is_mine"]
    assert (store.current().set_index("item")["is_mine"] == latest).all()


# ---------------------------------------------------------------- the published sampling locations

def _inside_counts(points: gpd.GeoDataFrame, patches: gpd.GeoDataFrame) -> tuple[int, int]:
    """Independently of the store: points inside any patch, and the patches holding a point (STRtree)."""
    tree = shapely.STRtree(patches.geometry.to_numpy())
    pts, hit = tree.query(points.geometry.to_numpy(), predicate="within")
    return len(set(pts)), len(set(hit))


def test_import_mirror_sampling_into_the_amazon1_v37_patches(mirror):
    from detector import catalog, published

    layer = published.load_layer(LAYER)
    files = {name: catalog.get(name).path() for name in (
        "sampling_aquaculture_negatives_2025_08", "sampling_landslide_negatives_2025_08",
        "sampling_dredge_mining_positives_2025_08", "sampling_punino_positives_2026_04")}
    s = LabelStore()
    reports = {r.file: r for r in s.import_sampling(list(files.values()), layer, LAYER)}
    expected = {"aquaculture": ("no", "aquaculture"), "landslide": ("no", "landslide"),
                "dredge": ("yes", None), "punino": ("yes", None)}
    cur = s.current()
    for path in files.values():
        rep = reports[path.name]
        key = next(k for k in expected if k in path.name)
        assert (rep.is_mine, rep.category) == expected[key]
        assert (rep.inside, rep.patches) == _inside_counts(gpd.read_file(path), layer)
        assert rep.inside > 0, f"{path.name}: no point inside the layer's patches"
        on_patches = cur[(cur["reviewer"] == f"import:{path.stem}") & cur["patch_id"].notna()]
        assert on_patches["patch_id"].nunique() == rep.patches
        assert (on_patches["source"] == LAYER).all() and on_patches["score"].between(0.5, 1).all()
        assert set(on_patches["is_mine"]) == {expected[key][0]}
    # the counts the README quotes (points inside / patches they fall in)
    got = {k: (reports[p.name].inside, reports[p.name].patches) for k, p in zip(expected, files.values())}
    assert got == {"aquaculture": (13, 17), "landslide": (18, 32), "dredge": (9, 17), "punino": (85, 87)}
    # a patch label's item is the layer's patch id, and its point is the sampling point inside that patch
    row = cur[cur["patch_id"].notna()].iloc[0]
    idx = int(row["patch_id"].split("#")[1])
    assert layer.geometry.iloc[idx].contains(shapely.Point(row["lon"], row["lat"]))
    # importing again adds nothing
    again = s.import_sampling(list(files.values()), layer, LAYER)
    assert sum(r.added for r in again) == 0 and s.count() == sum(r.added for r in reports.values())


def test_export_writes_sampling_files_that_import_back(tmp_path):
    s = LabelStore()
    s.add(Label(item="pt:1", is_mine="yes", reviewer="ana", lon=-70.1, lat=-10.2))
    s.add(Label(item="pt:2", is_mine="no", category="aquaculture", reviewer="ana", lon=-70.3, lat=-10.4))
    s.add(Label(item="pt:2", is_mine="no", category="aquaculture", reviewer="ben", lon=-70.3, lat=-10.4))
    s.add(Label(item="pt:3", is_mine="no", reviewer="ana", lon=-70.5, lat=-10.6))
    s.add(Label(item="pt:4", is_mine="unsure", reviewer="ana", lon=-70.7, lat=-10.8))  # left out
    s.add(Label(item="pt:5", is_mine="yes", reviewer="ana", lon=-70.9, lat=-11.0))  # a tie: left out
    s.add(Label(item="pt:5", is_mine="no", reviewer="ben", lon=-70.9, lat=-11.0))
    res = s.export(tmp_path / "out")
    assert res.counts == {"labels_positives": 1, "labels_negatives": 1, "labels_aquaculture_negatives": 1}
    assert (res.ties, res.unsure) == (1, 1), "what is left out is counted"
    assert res.left_out() == ("Left out: 1 item where as many reviewers said yes as no; 1 item only ever marked "
                              "unsure. A third review, or a second look, decides them.")
    doc = json.loads(res.files["labels_positives"].read_text())
    assert doc["crs"]["properties"]["name"] == "urn:ogc:def:crs:OGC:1.3:CRS84"
    assert doc["features"][0]["geometry"] == {"type": "Point", "coordinates": [-70.1, -10.2]}
    back = LabelStore(f"sqlite:///{tmp_path / 'back.sqlite'}")
    back.import_sampling(sorted(res.files.values()))
    got = back.current()[["is_mine", "category", "lon"]].fillna("").sort_values("lon")
    assert got.values.tolist() == [["no", "", -70.5], ["no", "aquaculture", -70.3], ["yes", "", -70.1]]


@pytest.mark.parametrize("name,answer", [
    ("aquaculture-faziendas-negatives2025-08.geojson", ("no", "aquaculture")),
    ("riverbank_negatives_v2025-08.geojson", ("no", "riverbank")),
    ("v2.4_amazon_negatives.geojson", ("no", None)),
    ("MinesPos2018-2020Sentinel_points.geojson", ("yes", None)),
    ("labels_farm_pond_negatives.geojson", ("no", "farm_pond")),
])
def test_the_answer_comes_from_the_file_name(name, answer):
    assert sampling.sampling_answer(name) == answer


def test_cli_labels_import_stats_export(mirror, tmp_path, capsys):
    assert cli.main(["labels", "import", "sampling_dredge_mining_positives_2025_08",
                     "sampling_landslide_negatives_2025_08", "--layer", LAYER]) == 0
    out = capsys.readouterr().out
    assert "dredge_mining_positives2025-08.geojson" in out and "not a mine: landslide" in out
    assert cli.main(["labels", "stats", "--format", "json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["by_answer"]["yes"] > 0 and stats["by_category"]["landslide"] > 0
    assert cli.main(["labels", "export", "--out", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "labels_positives.geojson").is_file()
    assert (tmp_path / "x" / "labels_landslide_negatives.geojson").is_file()


def test_cli_labels_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "points.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": []}')
    assert cli.main(["labels", "import", str(bad)]) == 2
    assert "positives" in capsys.readouterr().err
    assert cli.main(["labels", "import", str(tmp_path / "missing_positives.geojson")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli.main(["labels", "import", "mining_2018"]) == 2
    assert "sampling-location" in capsys.readouterr().err
