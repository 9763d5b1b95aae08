"""Training and fine-tuning from labels, spectral-index inputs, registration, and Detect with the result.

The scene is synthetic (tests/synthetic.py): forest with a dozen mine clusters (bare soil and
sediment pools) spread over a 6.4 km square, so a split by 1.6 km blocks has mines on both sides.
One model is trained once per module (about ten seconds on two CPU cores) and copied into each
test's own data folder.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from training_helpers import YEAR, install, make_mining, train_on

from detector import cli, grid, indices, metrics, models, training, training_data
from detector import trained as trained_models
from detector.errors import DetectorError, ModelError
from detector.pipeline import Detector, covered, patch_windows
from detector.sources.local import LocalSource

NAME = "synthetic-mines"
FAST = ["--epochs", "2", "--batch-size", "16", "--block-km", "1.6", "--val-fraction", "0.3", "--quiet"]


@pytest.fixture(scope="module")
def mining(tmp_path_factory):
    return make_mining(tmp_path_factory.mktemp("mining"))


@pytest.fixture(scope="module")
def trained(mining, tmp_path_factory):
    """The published architecture trained from scratch on the scene's labels, in a data folder of its own."""
    return train_on(mining, NAME, tmp_path_factory.mktemp("trained_data"))


# ---------------------------------------------------------------- spectral indices

def test_index_formulas_on_known_values():
    bands = ("B2", "B3", "B4", "B8", "B11", "B12")
    px = np.array([[100, 300, 200, 600, 400, 100]], dtype=np.float32)  # B2, B3, B4, B8, B11, B12
    names = ("ndvi", "ndwi", "mndwi", "ndmi", "nbr", "bsi", "ndti")
    got = indices.compute(px, bands, names)[0]
    raw = {
        "ndvi": (600 - 200) / (600 + 200),  # 0.5
        "ndwi": (300 - 600) / (300 + 600),  # -1/3
        "mndwi": (300 - 400) / (300 + 400),  # -1/7
        "ndmi": (600 - 400) / (600 + 400),  # 0.2
        "nbr": (600 - 100) / (600 + 100),  # 5/7
        "bsi": ((400 + 200) - (600 + 100)) / ((400 + 200) + (600 + 100)),  # -1/13
        "ndti": (200 - 300) / (200 + 300),  # -0.2
    }
    np.testing.assert_allclose(got, [(raw[n] + 1) / 2 for n in names], rtol=1e-6)
    # no signal: 0 / 0 is 0 (0.5 after rescaling), never NaN; the range is always [0, 1]
    zero = indices.compute(np.zeros((1, 6), np.float32), bands, names)
    assert np.all(zero == 0.5)
    extreme = indices.compute(np.array([[0, 0, 0, 5000, 0, 0]], np.float32), bands, ("ndvi", "ndwi"))
    np.testing.assert_allclose(extreme[0], [1.0, 0.0])
    # the model input: scaled, clipped reflectances first, then the index channels
    x = indices.model_input(np.array([[[[100, 300, 200, 600, 12000, 100]]]], np.float32), bands, ("ndvi",))
    np.testing.assert_allclose(x[0, 0, 0], [0.01, 0.03, 0.02, 0.06, 1.0, 0.01, 0.75], rtol=1e-6)
    assert x.dtype == np.float32


def test_unknown_index_and_missing_band_are_refused():
    with pytest.raises(ModelError, match=r"Unknown spectral index 'ndsi'.*ndvi \(B8 − B4\) / \(B8 \+ B4\)"):
        indices.parse("ndvi,ndsi")
    assert indices.parse(" NDVI, mndwi,ndvi ") == ("ndvi", "mndwi")
    with pytest.raises(ModelError, match=r"ndvi = \(B8 − B4\) / \(B8 \+ B4\) needs band\(s\) B8"):
        indices.check(["ndvi"], ["B2", "B3", "B4"], "my model")


# ---------------------------------------------------------------- metrics

def test_metrics_follow_the_sklearn_definitions():
    # scikit-learn's documented example: average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.8333…
    assert metrics.average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.83333333)
    # ties are one threshold: both tied patches are kept together
    assert metrics.average_precision([1, 0, 1], [0.5, 0.5, 0.2]) == pytest.approx(0.5 * 0.5 + 0.5 * (2 / 3))
    c = metrics.confusion([1, 1, 0, 0, 1], [0.9, 0.4, 0.6, 0.1, 0.5], 0.5)
    assert (c.tp, c.fp, c.fn, c.tn) == (2, 1, 1, 1)
    assert (c.precision, c.recall, c.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    # perfectly separated: F1 1 anywhere between the classes; the midpoint of the gap is chosen
    t, f1 = metrics.best_threshold([0, 0, 1, 1], [0.1, 0.3, 0.7, 0.9])
    assert (t, f1) == (0.5, 1.0)
    t, f1 = metrics.best_threshold([0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9])
    assert f1 == pytest.approx(metrics.confusion([0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9], t).f1)
    assert f1 == pytest.approx(6 / 7) and t == 0.15  # keep the 0.2 patch: 3 mines and one look-alike
    pr = metrics.pr_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert pr["precision"] == pytest.approx([1, 0.5, 2 / 3, 0.5]) and pr["recall"] == [0.5, 0.5, 1, 1]


# ---------------------------------------------------------------- points onto the grid, the split

def test_points_snap_to_the_patch_whose_centre_is_nearest(mining):
    scene = mining.scene
    r, c = mining.pos[0]
    lon, lat = scene.lonlat(r, c)
    near = training_data.snap([lon], [lat]).iloc[0]
    assert near["patch_id"] == grid.patch_id(scene.epsg, r, c)
    # 100 m east of the centre is still nearer this patch's centre than the next one's (240 m on)
    t = grid._to_utm(scene.epsg)
    x, y = t.transform(lon, lat)
    lon2, lat2 = grid._to_lonlat(scene.epsg).transform(x + 100, y)
    assert training_data.snap([lon2], [lat2]).iloc[0]["patch_id"] == near["patch_id"]
    lon3, lat3 = grid._to_lonlat(scene.epsg).transform(x + 140, y)
    assert training_data.snap([lon3], [lat3]).iloc[0]["patch_id"] == grid.patch_id(scene.epsg, r, c + 1)


def test_published_sampling_locations_are_labels_by_name(mirror):
    pts = training_data.load_points(labels=["sampling_riverbank_negatives_2025_08"],
                               positives=["sampling_dredge_mining_positives_2025_08"])
    by = pts.frame.groupby("origin")["y"].agg(["size", "mean"])
    assert by.loc["riverbank_negatives_v2025-08.geojson"].tolist() == [241, 0]
    assert by.loc["dredge_mining_positives2025-08.geojson"].tolist() == [41, 1]
    samples = training_data.to_samples(pts)
    assert samples.points == 282 and len(samples.frame) + samples.duplicates + samples.conflicts <= 282
    assert samples.frame["epsg"].between(32601, 32660).all()  # each in its own UTM zone's grid


def test_split_holds_out_whole_blocks_deterministically(mining):
    pts = training_data.load_points(positives=[mining.positives], negatives=[mining.negatives])
    frame = training_data.to_samples(pts).frame
    val, trn, facts = training_data.spatial_split(frame, 1.6, 0.3, seed=0)
    again, _, _ = training_data.spatial_split(frame, 1.6, 0.3, seed=0)
    assert (val == again).all() and not (val & trn).any()
    assert 0.2 < val.mean() < 0.45 and facts["validation_mines"] > 0 and facts["train_mines"] > 0
    block = list(zip(frame["epsg"], (frame["col"] * 240 + 240) // 1600, (frame["row"] * 240 + 240) // 1600))
    held = {b for b, v in zip(block, val) if v}
    assert all(v for b, v in zip(block, val) if b in held)  # a block is all validation or none of it
    # no training patch shares a pixel with a validation patch
    vr, vc = frame["row"][val].to_numpy(), frame["col"][val].to_numpy()
    for r, c in zip(frame["row"][trn], frame["col"][trn]):
        assert not np.any((np.abs(vr - r) <= 1) & (np.abs(vc - c) <= 1))
    other, _, _ = training_data.spatial_split(frame, 1.6, 0.3, seed=1)
    assert not (other == val).all()
    with pytest.raises(DetectorError, match="one 50 km block"):
        training_data.spatial_split(frame, 50, 0.3, seed=0)


# ---------------------------------------------------------------- the must-show: train, then detect

def test_trained_model_separates_mines_and_detect_uses_it(trained, mining, data_dir, tmp_path, capsys):
    rep = trained.report
    val = rep["metrics"]["validation"]
    print(f"\nvalidation: F1 {val['f1']:.3f}, precision {val['precision']:.3f}, recall {val['recall']:.3f}, "
          f"AP {val['average_precision']:.3f}, threshold {val['threshold']}, {rep['training']['epochs_run']} epochs, "
          f"{rep['training']['seconds']} s; split {rep['split']}")
    assert rep["split"]["validation_mines"] >= 3 and rep["split"]["train_mines"] >= 3  # mines on both sides
    assert val["f1"] > 0.9 and val["average_precision"] > 0.9
    assert rep["counts"]["not_covered"] == 0 and rep["counts"]["patches"] == len(mining.pos) + len(mining.neg_labelled)
    assert rep["training"]["epochs_run"] <= 10 and len(rep["history"]["val_loss"]) == rep["training"]["epochs_run"]

    install(trained, data_dir)
    spec = models.resolve(NAME)
    assert spec.trained and spec.threshold == val["threshold"] and spec.bands == models.BANDS_12
    res = Detector(NAME).run(mining.scene.region(0), YEAR, LocalSource(mining.scene.path))
    scores = res.patches.set_index("patch_id")["score"]
    mine = scores.reindex([grid.patch_id(mining.scene.epsg, r, c) for r, c in mining.pos]).to_numpy()
    forest = scores.reindex([grid.patch_id(mining.scene.epsg, r, c) for r, c in mining.neg]).to_numpy()
    print(f"detect: {len(mine)} mine patches, lowest {np.nanmin(mine):.3f}; {len(forest)} forest patches, highest "
          f"{np.nanmax(forest):.3f}; threshold {spec.threshold}")
    assert not np.isnan(mine).any() and not np.isnan(forest).any()
    assert (mine >= spec.threshold).all(), "every mine patch scores above the model's threshold"
    assert (forest < spec.threshold).all(), "every forest patch scores below it"

    # the command line selects it by name too, and keeps the mines at the model's own threshold
    out = tmp_path / "mines.geojson"
    assert cli.main(["detect", "--region", str(mining.region), "--year", str(YEAR), "--source",
                     str(mining.scene.path), "--model", NAME, "--out", str(out), "--quiet"]) == 0
    kept = {f["properties"]["patch_id"] for f in json.loads(out.read_text())["features"]}
    assert {grid.patch_id(mining.scene.epsg, r, c) for r, c in mining.pos} <= kept
    assert not kept & {grid.patch_id(mining.scene.epsg, r, c) for r, c in mining.neg}


def test_trained_model_is_registered_with_its_metadata_and_report(trained, data_dir, tmp_path, monkeypatch, capsys):
    folder = install(trained, data_dir)
    meta = tomllib.loads((folder / f"{NAME}.toml").read_text())
    assert meta["name"] == NAME and meta["bands"] == list(models.BANDS_12) and meta["indices"] == []
    assert meta["patch_size"] == 48 and meta["ensemble"] == 1 and 0 < meta["threshold"] < 1
    assert meta["provenance"]["year"] == YEAR and meta["provenance"]["base"] == ""
    assert any("mines_positives.geojson" in s for s in meta["provenance"]["labels"])
    assert "F1" in meta["description"] and meta["licence"]
    report = json.loads((folder / f"{NAME}.report.json").read_text())
    assert set(report["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert {"tp", "fp", "fn", "tn", "precision", "recall", "f1", "average_precision"} <= set(report["metrics"]["validation"])

    reg = models.registry()
    assert next(iter(reg)) == models.default_model() and list(reg)[-1] == NAME  # published first, default first
    assert reg[NAME].trained and not reg[NAME].published and reg["48px_v3.7"].published
    assert training.load_report(reg[NAME])["name"] == NAME
    # by path (how a Dask worker is handed a local model) it resolves to the same model and inputs
    by_path = models.resolve(reg[NAME].local_path)
    assert (by_path.name, by_path.bands, by_path.indices, by_path.threshold) == \
        (NAME, reg[NAME].bands, reg[NAME].indices, reg[NAME].threshold)
    assert cli.main(["models", "list"]) == 0
    assert NAME in capsys.readouterr().out
    # read at call time: another data folder has other trained models
    monkeypatch.setenv("DETECTOR_DATA_DIR", str(tmp_path / "elsewhere"))
    assert NAME not in models.registry()
    with pytest.raises(ModelError, match="Unknown model"):
        models.resolve(NAME)
    monkeypatch.setenv("DETECTOR_DATA_DIR", str(data_dir))
    assert NAME in models.registry()


def test_replacing_a_trained_model_needs_force_and_forgets_its_stored_scores(trained, mining, data_dir):
    install(trained, data_dir)
    source = LocalSource(mining.scene.path)
    region = mining.scene.region(1500)
    assert Detector(NAME).run(region, YEAR, source).summary.scored_now > 0
    assert Detector(NAME).run(region, YEAR, source).summary.scored_now == 0  # from the store
    with pytest.raises(DetectorError, match="already exists.*--force"):
        training.check_name(NAME, force=False)
    training.check_name(NAME, force=True)
    assert trained_models._forget_scores(NAME) == 1
    assert Detector(NAME).run(region, YEAR, source).summary.scored_now > 0  # the replaced model scores again


# ---------------------------------------------------------------- labels from Review train directly

def test_labels_exported_by_review_train_directly(mining, data_dir, tmp_path, capsys):
    import geopandas as gpd

    from detector.labels import Label, LabelStore, point_item
    from ui.review.view import item_of  # what the Review page stores for a patch

    scene = mining.scene
    rows, cols = scene.inside_patches()
    layer = gpd.GeoDataFrame({"patch_id": [grid.patch_id(scene.epsg, r, c) for r, c in zip(rows, cols)],
                              "score": 0.5}, geometry=grid.patch_polygons(scene.epsg, rows, cols), crs="EPSG:4326")
    pos_of = {(r, c): i for i, (r, c) in enumerate(zip(rows, cols))}
    store = LabelStore()
    yes, no = mining.pos[::2], mining.neg_labelled[::3]
    cats = ["aquaculture", "riverbank", None]
    for p in yes:
        store.add(Label(is_mine="yes", reviewer="ana", queue="score", **item_of(layer, pos_of[p], "run:abc")))
    for i, p in enumerate(no):
        store.add(Label(is_mine="no", category=cats[i % 3], reviewer="ana", queue="random",
                        **item_of(layer, pos_of[p], "run:abc")))
    store.add(Label(is_mine="unsure", reviewer="ana", **item_of(layer, pos_of[mining.pos[1]], "run:abc")))
    lon, lat = scene.lonlat(*mining.pos[3])  # a point label (Explore / import), not a patch
    store.add(Label(item=point_item(lon, lat), is_mine="yes", reviewer="ben", lon=lon, lat=lat))

    out = tmp_path / "export"
    res = store.export(out)  # the very function behind the Review page's export button
    assert set(res.files) == {"labels_positives", "labels_aquaculture_negatives", "labels_riverbank_negatives",
                              "labels_negatives"}
    assert cli.main(["train", "--labels", str(out), "--year", str(YEAR), "--source", str(scene.path),
                     "--out", "reviewed-v1", *FAST]) == 0
    printed = capsys.readouterr().out
    assert "registered reviewed-v1" in printed and "validation at the best threshold" in printed
    report = training.load_report(models.resolve("reviewed-v1"))
    expected = {grid.patch_id(scene.epsg, *p) for p in [*yes, *no, mining.pos[3]]}
    assert report["counts"]["points"] == sum(res.counts.values()) == len(expected)  # unsure left out
    assert report["counts"]["mines"] == len(yes) + 1 and report["counts"]["not_mines"] == len(no)
    assert {f"{k}.geojson" for k in res.files} == set(report["counts"]["by_origin"])
    samples = training_data.to_samples(training_data.load_points([str(out)])).frame
    assert set(samples["patch_id"]) == expected  # each label trains on exactly the patch it was given on
    # the Review page's download (a zip of the same files) and the label store itself read the same
    import zipfile

    with zipfile.ZipFile(tmp_path / "labels.zip", "w") as z:
        for path in res.files.values():
            z.write(path, path.name)
    zipped = training_data.to_samples(training_data.load_points([str(tmp_path / "labels.zip")])).frame
    assert zipped[["patch_id", "y"]].sort_values("patch_id").values.tolist() == \
        samples[["patch_id", "y"]].sort_values("patch_id").values.tolist()
    direct = training_data.to_samples(training_data.load_points(["store"])).frame
    assert direct[["patch_id", "y"]].sort_values("patch_id").values.tolist() == \
        samples[["patch_id", "y"]].sort_values("patch_id").values.tolist()


# ---------------------------------------------------------------- spectral-index inputs, one code path

def test_index_model_is_scored_by_the_pipeline_on_the_training_features(mining, data_dir):
    import tf_keras

    assert cli.main(["train", "--positives", str(mining.positives), "--negatives", str(mining.negatives),
                     "--year", str(YEAR), "--source", str(mining.scene.path), "--indices", "ndvi,mndwi,bsi",
                     "--out", "with-indices", *FAST]) == 0
    meta = tomllib.loads((data_dir / "models" / "with-indices.toml").read_text())
    assert meta["indices"] == ["ndvi", "mndwi", "bsi"]
    spec = models.resolve("with-indices")
    assert spec.indices == ("ndvi", "mndwi", "bsi") and spec.channels == 15
    scorer = models.load(spec)
    assert scorer.model.input_shape[1:] == (48, 48, 15)

    # the training windows are the very windows Detect reads for those patches
    source = LocalSource(mining.scene.path)
    samples = training_data.to_samples(training_data.load_points(positives=[mining.positives], negatives=[mining.negatives]))
    data = training_data.build_dataset(samples.frame, source, YEAR, spec.bands)
    assert data.from_cache and data.covered.all()
    frame = samples.frame
    for tile_key, rows in frame.groupby(frame["row"] // grid.TILE * 10_000 + frame["col"] // grid.TILE):
        r0, c0 = rows.iloc[0][["row", "col"]]
        tile = grid.Tile(mining.scene.epsg, int(r0) // grid.TILE, int(c0) // grid.TILE)
        tp = source.read(tile, spec.bands, YEAR)
        r, c = rows["row"].to_numpy(), rows["col"].to_numpy()
        assert covered(tp.valid, tile, r, c).all()
        np.testing.assert_array_equal(patch_windows(tp.select(spec.bands), tile, r, c), data.windows[rows.index])

    # and the pipeline's scores are the model's output on the training features (same indices, same scaling)
    res = Detector("with-indices").run(mining.scene.region(0), YEAR, source)
    got = res.patches.set_index("patch_id")["score"].reindex(data.patch_ids).to_numpy()
    model = tf_keras.models.load_model(spec.local_path, compile=False)
    want = model.predict(indices.model_input(data.windows, spec.bands, spec.indices), verbose=0)[:, 0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # a model whose metadata forgets its indices is refused: the shape says 15 channels
    bad = models.ModelSpec(**{**spec.__dict__, "indices": ()})
    with pytest.raises(ModelError, match=r"takes input \(48, 48, 15\)"):
        models.load(bad)


# ---------------------------------------------------------------- fine-tuning a published model

def test_fine_tuning_a_published_model(mining, mirror, data_dir):
    assert cli.main(["train", "--base", "48px_v3.7", "--positives", str(mining.positives), "--negatives",
                     str(mining.negatives), "--year", str(YEAR), "--source", str(mining.scene.path),
                     "--out", "v3.7-tuned", *FAST]) == 0
    spec = models.resolve("v3.7-tuned")
    report = training.load_report(spec)
    assert report["base"] == "48px_v3.7" and report["training"]["learning_rate"] == 1e-4
    assert spec.bands == models.resolve("48px_v3.7").bands and spec.indices == ()
    tuned = models.load(spec).model.get_weights()
    base = models.load(models.resolve("48px_v3.7")).model.get_weights()
    assert len(tuned) == len(base) and any(not np.allclose(a, b) for a, b in zip(tuned, base))
    assert "base model MIT" in tomllib.loads(Path(spec.local_path).with_suffix(".toml").read_text())["licence"]


# ---------------------------------------------------------------- the dataset cache

def test_patch_windows_are_cached_and_not_read_again(mining):
    class Counting(LocalSource):
        reads = 0

        def read(self, tile, bands, year):
            Counting.reads += 1
            return super().read(tile, bands, year)

    source = Counting(mining.scene.path)
    samples = training_data.to_samples(training_data.load_points(positives=[mining.positives], negatives=[mining.negatives]))
    first = training_data.build_dataset(samples.frame, source, YEAR, models.BANDS_12)
    assert not first.from_cache and Counting.reads == first.tiles >= 1
    second = training_data.build_dataset(samples.frame, source, YEAR, models.BANDS_12)
    assert second.from_cache and Counting.reads == first.tiles
    np.testing.assert_array_equal(first.windows, second.windows)
    # another year, or other bands, is another dataset
    assert not training_data.build_dataset(samples.frame, source, YEAR + 1, models.BANDS_12).from_cache


# ---------------------------------------------------------------- bad input says what to do

def _far_points(tmp_path: Path) -> tuple[Path, Path]:
    far = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [-60.0 + i * 0.01, -3.0]}}
        for i in range(4)]}
    p, n = tmp_path / "far_positives.geojson", tmp_path / "far_negatives.geojson"
    p.write_text(json.dumps(far))
    far["features"] = [{**f, "geometry": {"type": "Point", "coordinates": [-61.0, -3.0 - i * 0.01]}}
                       for i, f in enumerate(far["features"])]
    n.write_text(json.dumps(far))
    return p, n


@pytest.mark.parametrize("case", ["outside", "one_class", "unknown_index", "published_name", "ensemble_base",
                                  "base_other_inputs", "bad_name"])
def test_bad_input_is_refused_with_a_clear_message(case, mining, tmp_path, capsys):
    labels = ["--positives", str(mining.positives), "--negatives", str(mining.negatives)]
    args, expect = {
        "outside": (["--positives", str(_far_points(tmp_path)[0]), "--negatives", str(_far_points(tmp_path)[1])],
                    r"None of the 8 labelled patches has imagery.*imagery covers lon"),
        "one_class": (["--positives", str(mining.positives)], r"hold \d+ mines and no non-mines"),
        "unknown_index": ([*labels, "--indices", "ndvi,ndsi"], r"Unknown spectral index 'ndsi'"),
        "published_name": ([*labels, "--out", "48px_v3.7"], r"is the name of the published model 48px_v3.7"),
        "ensemble_base": ([*labels, "--base", "48px_v3.2-3.7ensemble"], r"ensemble of 6 models.*--base 48px_v3.7"),
        "base_other_inputs": ([*labels, "--base", "48px_v3.7", "--indices", "ndvi"],
                              r"fine-tuning keeps a model's inputs.*Leave out --indices"),
        "bad_name": ([*labels, "--out", "my model.h5"], r"not a usable model name"),
    }[case]
    out = ["--out", "never"] if "--out" not in args else []
    rc = cli.main(["train", *args, *out, "--year", str(YEAR), "--source", str(mining.scene.path), *FAST])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: "), err
    assert len(err.strip().splitlines()) == 1
    import re

    assert re.search(expect, err), err
    assert not (models.trained_dir() / "never.toml").exists()


def test_existing_name_needs_force(trained, data_dir, mining, capsys):
    install(trained, data_dir)
    rc = cli.main(["train", "--positives", str(mining.positives), "--negatives", str(mining.negatives), "--year",
                   str(YEAR), "--source", str(mining.scene.path), "--out", NAME, *FAST])
    assert rc == 2 and "already exists" in capsys.readouterr().err


def test_training_windows_come_from_a_product_as_from_the_same_pixels_stacked(mining, tmp_path):
    """Products are a training source too: the windows equal those of a GeoTIFF of the same pixels."""
    import rasterio
    from s2_products import BANDS_13, truth, write_product

    data, profile = truth(mining.scene.path)
    product = write_product(tmp_path, data, profile)
    stacked = tmp_path / "stacked.tif"
    with rasterio.open(stacked, "w", **{**profile, "count": 13}) as dst:
        dst.write(data)
        for i, b in enumerate(BANDS_13, start=1):
            dst.set_band_description(i, b)
    samples = training_data.to_samples(training_data.load_points(positives=[mining.positives], negatives=[mining.negatives]))
    a = training_data.build_dataset(samples.frame, LocalSource(product), YEAR, models.BANDS_12)
    b = training_data.build_dataset(samples.frame, LocalSource(stacked), YEAR, models.BANDS_12)
    assert len(a.windows) >= 4 and len(a.windows) == len(b.windows)
    np.testing.assert_array_equal(a.windows, b.windows)
