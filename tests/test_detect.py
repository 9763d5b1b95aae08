"""The Detect page headless (Streamlit AppTest) with a fake Earth Engine and GeoTIFF fixtures, and its pieces.

AppTest cannot draw or upload, so the region comes from the URL (``region=bbox:…``, a country) or
is a GeoTIFF's footprint, and GeoTIFFs are named by path. The model is the tiny untrained CNN of
conftest (a local .h5 file): fast, and exactly the "model trained locally" path. The real-browser
test (upload, the published ensemble, the slider) is tests/browser/test_detect_browser.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

import fake_ee
import geopandas as gpd
import numpy as np
import pytest
from fake_ee import EEException, FakeEE
from shapely.geometry import box, shape
from streamlit.testing.v1 import AppTest
from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, SHUFFLED, lonlat_box, write_geotiff

from detector import display, grid, postprocess, runs
from detector.errors import ImageryError
from detector.evaluate import Rule
from detector.pipeline import Detector
from detector.sources.local import LocalSource
from ui.detect import inputs as detect_inputs
from ui.detect import map as detect_map
from ui.detect import results as detect_results
from ui.detect import run as detect_run

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "app_pages/detect.py"
TIMEOUT = 120
# A 1.2 × 1.2 km box inside one grid tile (Peruvian Amazon, UTM 18S): about 30 patches.
X0, Y0 = 600_000.0 + 1_000, 8_900_000.0 - 2_500
BOX = shape(lonlat_box(SCENE_CRS, X0, Y0, X0 + 1_200, Y0 + 1_200))


def bbox_param(geom) -> str:
    w, s, e, n = geom.bounds
    return f"bbox:{w:.5f},{s:.5f},{e:.5f},{n:.5f}"


@pytest.fixture
def app(mirror, monkeypatch):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    monkeypatch.delenv("MAPBOX_TOKEN", raising=False)
    for name in ("EE_PROJECT", "GOOGLE_CLOUD_PROJECT", "EE_SERVICE_ACCOUNT_KEY", "EE_HIGH_VOLUME"):
        monkeypatch.delenv(name, raising=False)

    def make(ee=None, **query) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.switch_page(PAGE)
        for k, v in query.items():
            at.query_params[k] = v
        if ee is not None:  # the fake stands where the real client is imported from
            monkeypatch.setitem(sys.modules, "ee", ee)
        return at

    return make


@pytest.fixture
def clear_sky(monkeypatch):
    """The fake's pixels without its masked diagonal, so every patch has imagery."""
    monkeypatch.setattr(fake_ee, "is_masked", lambda rows, cols: np.zeros(np.shape(rows), dtype=bool))


def use_local_model(at: AppTest, path: Path) -> AppTest:
    at.selectbox(key="detect_model").set_value(detect_inputs.LOCAL_MODEL).run()
    return at.text_input(key="detect_model_path").set_value(str(path)).run()


def run(at: AppTest) -> AppTest:
    return at.button(key="detect_run_button").click().run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def model_work() -> int:
    return detect_run.model_work()


def caption_with(at: AppTest, text: str) -> str:
    hits = [c.value for c in at.caption if text in c.value]
    assert hits, f"no caption with {text!r}: {[c.value for c in at.caption]}"
    return hits[0]


def threshold_slider(at: AppTest):
    return next(s for s in at.slider if s.label == "Detection threshold")


# ---------------------------------------------------------------- the page

def test_the_page_opens_and_waits_for_a_region(app):
    at = app().run()
    assert not at.exception
    assert at.title[0].value == "Detect"
    assert any("Draw a rectangle" in i.value for i in at.info)
    assert at.button(key="detect_run_button").disabled
    assert at.get("component_instance"), "the map is on the page"
    assert "Model work in this server process" in caption_with(at, "Model work")


def test_earth_engine_run_filter_and_rerun_from_the_store(app, tiny_model, clear_sky, monkeypatch, data_dir):
    monkeypatch.setenv("EE_PROJECT", "test-project")
    fake = FakeEE()
    at = use_local_model(app(ee=fake, region=bbox_param(BOX), year="2023").run(), tiny_model)
    at.number_input(key="detect_year").set_value(2023).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not at.button(key="detect_run_button").disabled
    before = model_work()
    at = run(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert fake.requests, "the pixels came from (fake) Earth Engine"
    assert fake.initialize_calls[0]["project"] == "test-project"
    result = at.session_state[detect_run.RESULT]
    n = len(result.patches)
    assert n > 20 and model_work() - before == n
    assert "patches scored now on CPU" in caption_with(at, "scored now")
    assert set(metrics(at)) == {"Detections", "Polygons", "Mined footprint", "Highest score"}
    assert len(at.get("download_button")) == 3
    assert at.dataframe, "the polygons table (and the run list)"
    assert at.query_params["run"] == result.record.run_id

    # the threshold re-filters: the count changes, the model does not run
    scores = np.sort(result.scores)
    for t in (float(np.round(scores[n // 4], 2)), float(np.round(scores[3 * n // 4], 2))):
        at = threshold_slider(at).set_value(t).run()
        assert not at.exception
        expected = int((result.scores >= np.float32(t)).sum())
        assert metrics(at)["Detections"] == f"{expected:,}"
    at = threshold_slider(at).set_value(0.0).run()
    assert metrics(at)["Detections"] == f"{n:,}"
    assert model_work() - before == n, "re-filtering ran no model"

    # the isolation rule (Tune's switch and sliders: the same rule on both pages) re-filters too
    at = at.toggle(key="tune_dual").set_value(True).run()
    at.slider(key="tune_t_iso").set_value(1.0).run()
    at.slider(key="tune_k").set_value(20).run()
    at = at.slider(key="tune_d_km").set_value(0.5).run()
    expected = int(Rule(0.0, True, 1.0, 20, 0.5).kept(result.patches).sum())
    assert metrics(at)["Detections"] == f"{expected:,}" and expected < n, "isolated patches dropped"
    assert model_work() - before == n

    # the same region again: every tile from the store, nothing computed
    requests = len(fake.requests)
    at = run(at)
    assert "nothing computed" in caption_with(at, "came from the score store")
    assert model_work() - before == n and len(fake.requests) == requests
    # and it is listed once among the earlier runs
    listed = runs.RunIndex().list()
    assert [r.run_id for r in listed] == [result.record.run_id] and listed[0].patches == n


def test_a_region_over_the_limit_is_refused_with_the_command_line(app, data_dir):
    at = app(region="bbox:-71.00000,-13.00000,-70.40000,-12.40000").run()  # ~4,300 km²
    assert not at.exception
    refusal = " ".join(e.value for e in at.error)
    assert "more than the 2,500 km²" in refusal
    assert "python -m detector detect --region region.geojson" in refusal and "--max-area 43" in refusal
    assert at.button(key="detect_run_button").disabled, "refused before any work"
    assert at.get("download_button"), "the region, to give the command line"
    assert not (data_dir / "scores").exists()


def test_missing_credentials_show_the_steps(app, tiny_model):
    fake = FakeEE()
    at = use_local_model(app(ee=fake, region=bbox_param(BOX)).run(), tiny_model)
    at = at.button(key="detect_ee_check").click().run()
    assert "earthengine authenticate" in " ".join(e.value for e in at.error)
    at = run(at)
    errors = " ".join(e.value for e in at.error)
    assert "No Earth Engine project is set" in errors and "EE_PROJECT" in errors and "earthengine authenticate" in errors
    assert not fake.requests and detect_run.RESULT not in at.session_state


def test_an_error_mid_run_says_the_finished_tiles_are_kept(app, tiny_model, clear_sky, monkeypatch):
    monkeypatch.setenv("EE_PROJECT", "test-project")
    # a region across a tile border: two tiles; the second (in the pipeline's order) fails once
    edge = grid.TILE * grid.STRIDE_M * (SCENE_X0 // (grid.TILE * grid.STRIDE_M) + 1)
    region = shape(lonlat_box(SCENE_CRS, edge - 700, Y0, edge + 700, Y0 + 700))
    tiles = sorted(grid.tiles_for_region(region))
    assert len(tiles) == 2

    class FailingTile(FakeEE):
        failing = True

        def _compute(self, request):
            if self.failing and request["grid"]["affineTransform"]["translateX"] == tiles[1].transform.c:
                raise EEException("Permission denied on this tile")
            return super()._compute(request)

    fake = FailingTile()
    at = use_local_model(app(ee=fake, region=bbox_param(region)).run(), tiny_model)
    at = run(at)
    errors = " ".join(e.value for e in at.error)
    assert "Permission denied" in errors and "1 tile finished before this is saved" in errors
    fake.failing = False
    at = run(at)
    assert not at.error
    s = at.session_state[detect_run.RESULT].summary
    assert (s.tiles, s.tiles_from_store) == (2, 1), "the re-run resumed: the first tile came from the store"


def test_a_geotiff_by_path_answers_does_it_contain_a_mine_and_reopens(app, tiny_model, tmp_path):
    tif = write_geotiff(tmp_path / "scene.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, 150, 150, bands=SHUFFLED)
    at = app().run()
    at.radio(key="detect_imagery").set_value("path").run()
    at = use_local_model(at.text_input(key="detect_tif_path").set_value(str(tif)).run(), tiny_model)
    assert "Whole image: scene.tif" in " ".join(m.value for m in at.markdown), "no region: the image's footprint"
    at = run(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    result = at.session_state[detect_run.RESULT]
    answer = " ".join(i.value for i in at.info)
    assert f"Highest patch score {result.scores[-1]:.2f}" in answer and result.patches["patch_id"].iloc[-1] in answer

    # The verdict is the model's, whatever the slider says: the same model, recommending 0.9, says "no mining"
    # for this image even with the slider below the highest score; and the low slider is warned about.
    strict = tmp_path / "strict.h5"
    strict.write_bytes(Path(tiny_model).read_bytes())
    strict.with_suffix(".toml").write_text("threshold = 0.9\n")
    at = use_local_model(app().run(), strict)
    at.radio(key="detect_imagery").set_value("path").run()
    at = run(at.text_input(key="detect_tif_path").set_value(str(tif)).run())
    best = at.session_state[detect_run.RESULT].scores[-1]
    assert detect_run.recommended_threshold(at.session_state[detect_run.RESULT].record) == 0.9 and best < 0.9
    at = threshold_slider(at).set_value(float(np.floor(best * 50) / 100)).run()  # half the highest score
    answer = " ".join(i.value for i in at.info)
    assert "recommended threshold 0.90: no mining detected" in answer, answer
    assert any("far below this model's recommended 0.90" in w.value for w in at.warning)
    at = threshold_slider(at).set_value(0.9).run()
    assert not any("far below" in w.value for w in at.warning)

    # a link with ?run= reopens it in a new session: from the store, no model
    work = model_work()
    again = app(run=result.record.run_id).run()
    assert not again.exception
    reopened = again.session_state[detect_run.RESULT]
    assert reopened.reopened and reopened.digest == result.digest
    assert "the model did not run" in caption_with(again, "Reopened from the score store")
    assert model_work() == work

    # and from the list of earlier runs
    fresh = app().run()
    fresh.selectbox(key="detect_reopen_pick").set_value(result.record.run_id)
    fresh = fresh.button(key="detect_reopen").click().run()
    assert fresh.session_state[detect_run.RESULT].digest == result.digest
    assert model_work() == work


def test_a_link_to_an_unknown_run_says_so_once(app):
    at = app(run="0123456789ab").run()
    assert not at.exception
    assert "No run '0123456789ab'" in " ".join(w.value for w in at.warning)
    assert "run" not in at.query_params and detect_run.RESULT not in at.session_state


def test_a_bad_geotiff_path_and_a_bad_model_path_say_what_to_do(app, tmp_path):
    at = app(region=bbox_param(BOX)).run()
    at.radio(key="detect_imagery").set_value("path").run()
    at = at.text_input(key="detect_tif_path").set_value(str(tmp_path / "nope.tif")).run()
    assert "No imagery at" in " ".join(e.value for e in at.error)
    at.selectbox(key="detect_model").set_value(detect_inputs.LOCAL_MODEL).run()
    at = at.text_input(key="detect_model_path").set_value(str(tmp_path / "model.h5")).run()
    assert "No model file at" in " ".join(e.value for e in at.error)
    assert at.button(key="detect_run_button").disabled


# ---------------------------------------------------------------- the pieces

def scored(n_side: int = 30, seed: int = 0) -> gpd.GeoDataFrame:
    """Synthetic scored patches on the grid (score ascending, as a Result holds them)."""
    rr, cc = np.meshgrid(np.arange(-4000, -4000 + n_side), np.arange(2500, 2500 + n_side), indexing="ij")
    score = np.random.default_rng(seed).beta(0.5, 3, rr.size).astype(np.float32)
    gdf = gpd.GeoDataFrame({"patch_id": [grid.patch_id(32718, r, c) for r, c in zip(rr.ravel(), cc.ravel())],
                            "score": score}, geometry=grid.patch_polygons(32718, rr.ravel(), cc.ravel()), crs="EPSG:4326")
    return gdf.iloc[np.argsort(score, kind="stable")].reset_index(drop=True)


@pytest.mark.parametrize("rule", [Rule(0.3), Rule(0.3, True, 0.6, 3, 1.0)])
def test_apply_rule_matches_the_postprocess_functions(rule):
    patches = scored()
    f = detect_results.apply_rule(patches, rule)
    if rule.dual:
        expected = postprocess.dual_threshold(patches, rule.threshold, rule.t_iso, rule.k, rule.d_km)
        assert len(f.dropped) > 0
    else:
        expected = postprocess.above(patches, rule.threshold)
    assert sorted(f.kept) == sorted(expected.index) and f.start == len(patches) - len(postprocess.above(patches, rule.threshold))
    assert set(f.dropped) | set(f.kept) == set(range(f.start, len(patches)))
    assert f.polygons["patches"].sum() == len(f.kept)


def test_map_bins_and_indices_encode_what_the_browser_decodes():
    scores = np.sort(np.array([0.0, 0.01, 0.049, 0.05, 0.5, 0.5, 0.99, 1.0], dtype=np.float32))
    starts = detect_map.bin_starts(scores)
    assert len(starts) == detect_map.BINS + 1 and starts[0] == 0 and starts[-1] == len(scores)
    assert starts[1] == 3 and starts[10] == 4 and starts[19] == 6  # [0, .05) holds 3; 0.5 starts bin 10
    colors = detect_map.bin_colors()
    assert len(set(colors)) == detect_map.BINS and colors[0].startswith("#") and len(colors[0]) == 7
    idx = np.array([3, 4, 9, 200, 201])
    assert list(np.cumsum(display.decode_varints(detect_map.encode_indices(idx)))) == list(idx)
    patches = scored(5)
    assert len(display.decode_rings(display.encode_rings(patches.geometry.values))) == len(patches), "one ring a patch"


def test_uploads_are_content_addressed(tmp_path):
    a = detect_inputs.save_upload(b"same bytes", tmp_path)
    mtime = a.stat().st_mtime_ns
    b = detect_inputs.save_upload(b"same bytes", tmp_path)
    assert a == b and b.stat().st_mtime_ns == mtime, "a re-upload keeps the file (and the store's source key)"
    assert detect_inputs.save_upload(b"other", tmp_path) != a


def test_the_run_index_keeps_one_record_per_run(tmp_path, scene, scene_region, tiny_model):
    region = shape(scene_region)
    det = Detector(tiny_model)
    res = det.run(region, 2023, LocalSource(scene))
    index = runs.RunIndex(tmp_path / "runs")
    first = runs.RunRecord.of(res, region, "box", str(tiny_model), "scene.tif")
    index.add(first)
    index.add(runs.RunRecord.of(res, region, "box", str(tiny_model), "scene.tif"))
    (index.root / "torn.json").write_text("{not json")
    assert [r.run_id for r in index.list()] == [first.run_id] and index.get(first.run_id).patches == len(res.patches)
    assert runs.run_id(region, 2023, det.spec.name, res.summary.source) == first.run_id
    assert runs.run_id(region, 2024, det.spec.name, res.summary.source) != first.run_id

    # reopening reads the store only (no model, no imagery), and says so when the store lost tiles
    again = runs.reopen(first, det.store)
    assert again.summary.tiles_from_store == again.summary.tiles and len(again.patches) == len(res.patches)
    assert again.patches.sort_values("patch_id")["score"].tolist() == res.patches.sort_values("patch_id")["score"].tolist()
    lost = runs.RunRecord(**{**first.__dict__, "source_key": "elsewhere"})
    with pytest.raises(ImageryError, match="no longer in the score store"):
        runs.reopen(lost, det.store)


def test_too_large_message_names_the_command_line():
    req = detect_inputs.Request(year=2023, model_ref="48px_v3.7", source_arg="/data/scene.tif")
    req.region = detect_inputs.Region("x", "Peru", box(0, 0, 1, 1))
    text = detect_inputs.too_large(req, 12_345.2, 2_500)
    assert "12,345 km²" in text and "2,500 km²" in text
    assert ("python -m detector detect --region region.geojson --year 2023 --model 48px_v3.7 "
            "--source /data/scene.tif --max-area 12346 --out mines.geojson") in text


def test_a_dated_geotiff_asks_for_its_own_year_before_running(app, tiny_model, tmp_path):
    import rasterio

    tif = write_geotiff(tmp_path / "dated.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, 150, 150, bands=SHUFFLED)
    with rasterio.open(tif, "r+") as dst:
        dst.update_tags(ACQUISITION_DATE="2019-08-02")
    at = app().run()
    at.number_input(key="detect_year").set_value(2023).run()
    at.radio(key="detect_imagery").set_value("path").run()
    at = use_local_model(at.text_input(key="detect_tif_path").set_value(str(tif)).run(), tiny_model)
    assert not at.exception
    assert any("2019-08-02" in w.value and "2019" in w.value for w in at.warning)
    assert at.button(key="detect_run_button").disabled, "no run under a year the image contradicts"
    at = at.number_input(key="detect_year").set_value(2019).run()
    assert not any("2019-08-02" in w.value for w in at.warning) and not at.button(key="detect_run_button").disabled


def test_least_imagery_per_patch_sets_patches_aside_without_running_the_model(app, tiny_model, monkeypatch, data_dir):
    """Partly covered patches are scored; the rule's coverage slider sets them aside (and says so), for free."""
    monkeypatch.setenv("EE_PROJECT", "test-project")
    at = use_local_model(app(ee=FakeEE(), region=bbox_param(BOX), year="2023").run(), tiny_model)
    at.number_input(key="detect_year").set_value(2023).run()
    at = threshold_slider(run(at)).set_value(0.0).run()
    result = at.session_state[detect_run.RESULT]
    frac = result.patches["valid_fraction"].to_numpy()
    assert (frac < 1).all(), "the fake masks a diagonal of pixels: every patch is partly covered"
    assert "partly lack imagery" in caption_with(at, "scored now")
    before = model_work()
    slider = next(s for s in at.slider if s.label == "Least imagery per patch (%)")
    cut = float(np.quantile(frac, 0.5))
    at = slider.set_value(int(np.ceil(cut * 100 / 5) * 5)).run()
    want = int((frac >= slider.value / 100).sum())
    assert not at.exception and metrics(at)["Detections"] == f"{want:,}" and want < len(frac)
    assert f"imagery on ≥ {slider.value}% of the patch" in caption_with(at, "patches scored in the region")
    assert model_work() == before


def test_a_large_region_with_a_small_image_is_the_images_part_and_no_server_path_shows(app, tmp_path, monkeypatch):
    tif = write_geotiff(tmp_path / "scene.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, 150, 150, bands=SHUFFLED)
    from shapely.geometry import shape

    small = shape(lonlat_box(SCENE_CRS, SCENE_X0, SCENE_YTOP - 1500, SCENE_X0 + 1500, SCENE_YTOP))
    w, s, e, n = small.bounds
    at = app(region=f"bbox:{w - 1:.5f},{s - 1:.5f},{e + 1:.5f},{n + 1:.5f}").run()  # some 50,000 km²
    at.radio(key="detect_imagery").set_value("path").run()
    at = at.text_input(key="detect_tif_path").set_value(str(tif)).run()
    text = " ".join(m.value for m in at.markdown)
    assert "(the part scene.tif covers)" in text and "2." in text.split("covers),")[1][:6], text
    assert not any("more than the" in e.value for e in at.error)

    # an upload: the command line a too-large region gets names the visitor's file, not the server's copy
    monkeypatch.setenv("DETECTOR_MAX_AREA_KM2", "1")
    at = app(region=f"bbox:{w - 1:.5f},{s - 1:.5f},{e + 1:.5f},{n + 1:.5f}").run()
    at.session_state[detect_inputs._TIF] = {"path": str(tif), "name": "my scene.tif"}
    at = at.radio(key="detect_imagery").set_value("upload").run()
    refusal = " ".join(e.value for e in at.error)
    assert "more than the 1 km²" in refusal and "--source 'my scene.tif'" in refusal and str(tmp_path) not in refusal


def test_coming_back_to_detect_finds_the_run_its_form_and_its_rule(app, tiny_model, clear_sky, monkeypatch, data_dir):
    monkeypatch.setenv("EE_PROJECT", "test-project")
    at = use_local_model(app(ee=FakeEE(), region=bbox_param(BOX), year="2023").run(), tiny_model)
    at.number_input(key="detect_year").set_value(2021).run()
    at = run(at)
    rid = at.session_state[detect_run.RESULT].record.run_id
    at.toggle(key="tune_dual").set_value(True).run()
    at = next(s for s in at.slider if s.label == "Neighbours (k)").set_value(7).run()
    at.switch_page("app_pages/explore.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.query_params["run"] == rid, "the link names the run shown again"
    assert at.number_input(key="detect_year").value == 2021 and at.radio(key="detect_imagery").value == "earthengine"
    assert at.selectbox(key="detect_model").value == detect_inputs.LOCAL_MODEL
    assert at.toggle(key="tune_dual").value is True, "the isolation rule as it was left"
    assert next(s for s in at.slider if s.label == "Neighbours (k)").value == 7
    # a shared link, in a new session: the form takes the run's year and model
    fresh = app(run=rid).run()
    assert not fresh.exception and fresh.session_state[detect_run.RESULT].record.run_id == rid
    assert fresh.number_input(key="detect_year").value == 2021
    assert fresh.text_input(key="detect_model_path").value == str(tiny_model)


def test_downloads_name_their_region_and_carry_region_and_imagery(tmp_path, scene, scene_region, tiny_model):
    import json as _json

    from ui.format import slug

    assert slug("Terra Indígena Yanomami (BR)") == "terra-indigena-yanomami-br" and slug("—") == "region"
    region = shape(scene_region)
    res = Detector(tiny_model).run(region, 2023, LocalSource(scene))
    record = runs.RunRecord.of(res, region, "Munduruku, Pará", str(tiny_model), "scene.tif")
    result = detect_results.Result.of(res, record, True)
    rule = Rule(0.0)
    assert detect_results.download_stem(result, rule).startswith("detections_munduruku-para_2023_")
    f = detect_results.apply_rule(result.patches, rule)
    props = _json.loads(detect_results.patches_geojson(result, f))["features"][0]["properties"]
    assert props["region"] == "Munduruku, Pará" and props["imagery"] == "scene.tif"
    assert set(detect_results.figures_table(result, f, rule).columns) >= {"region", "imagery"}


def test_the_detect_map_carries_the_published_polygons_of_the_runs_region(mirror, monkeypatch):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    from detector import stats
    from ui import data as ui_data

    madre_de_dios = box(-70.6, -13.1, -70.3, -12.8)  # La Pampa: mining in every period
    rings = detect_map.published_rings(madre_de_dios)
    polys = stats.region_polygons(ui_data.layers(), madre_de_dios, "2025Q3")
    assert len(polys) > 10 and rings == display.encode_rings(polys.geometry.values)
    assert detect_map.published_rings(box(-40.0, -10.0, -39.9, -9.9)) == "", "the Atlantic coast: none"
