"""The Earth Engine source against a fake ``ee``: the request, the recipe, retries, credentials."""
from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from detector.errors import CredentialsError, ImageryError
from detector.grid import TILE_PX, Tile
from detector.sources import open_source
from detector.sources.earthengine import (
    CS_COLLECTION,
    HIGH_VOLUME_URL,
    S2_COLLECTION,
    EarthEngineSource,
)

try:
    from tests.fake_ee import EEException, FakeEE, is_masked, pixel_value
except ImportError:  # tests/ is on sys.path, not the repository root
    from fake_ee import EEException, FakeEE, is_masked, pixel_value

BANDS12 = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8A", "B8", "B9", "B11", "B12"]
TILE = Tile(32621, -40, 10)  # southern hemisphere as the grid has it: EPSG:326zz with negative northings
YEAR = 2023


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("EE_PROJECT", "GOOGLE_CLOUD_PROJECT", "EE_SERVICE_ACCOUNT_KEY", "EE_HIGH_VOLUME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake() -> FakeEE:
    return FakeEE()


def make_source(fake: FakeEE, **kwargs) -> tuple[EarthEngineSource, list[float]]:
    sleeps: list[float] = []
    kwargs.setdefault("project", "my-project")
    source = EarthEngineSource(ee_module=fake, **kwargs)
    source._sleep = sleeps.append
    return source, sleeps


# -- the request and the recipe ---------------------------------------------------------------


def test_request_grid_is_the_tiles_grid(fake):
    source, _ = make_source(fake)
    source.read(TILE, ["B4", "B12", "B8A"], YEAR)
    (req,) = fake.requests
    t = TILE.transform
    assert req["fileFormat"] == "NUMPY_NDARRAY"
    assert req["bandIds"] == ["B4", "B12", "B8A"]
    assert req["grid"] == {
        "dimensions": {"width": TILE_PX, "height": TILE_PX},
        "affineTransform": {
            "scaleX": 10, "shearX": 0, "translateX": t.c,
            "shearY": 0, "scaleY": -10, "translateY": t.f,
        },
        "crsCode": "EPSG:32621",
    }
    assert (t.c, t.f) == (TILE.bounds[0], TILE.bounds[3]) and t.f < 0, "a southern tile's northings are negative"


def test_recipe_is_cloud_score_plus_masked_yearly_median(fake):
    source, _ = make_source(fake)
    source.read(TILE, BANDS12, YEAR)
    area = ("Rectangle", TILE.bounds, "EPSG:32621", False)
    scores = (
        ("ImageCollection", CS_COLLECTION),
        ("filterDate", "2023-01-01", "2024-01-01"),
        ("filterBounds", area),
    )
    masked_scene = (("element",), ("updateMask", (("element",), ("select", "cs_cdf"), ("gte", 0.6))))
    assert fake.requests[0]["expression"].ops == (
        ("ImageCollection", S2_COLLECTION),
        ("filterDate", "2023-01-01", "2024-01-01"),
        ("filterBounds", area),
        ("linkCollection", scores, ["cs_cdf"]),
        ("map", masked_scene),
        ("median",),
        ("select", BANDS12),
        ("unmask", 0, False),
        ("toFloat",),
    )
    assert S2_COLLECTION == "COPERNICUS/S2_HARMONIZED"
    assert CS_COLLECTION == "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED"


def test_threshold_is_configurable_and_names_the_cache(fake):
    source, _ = make_source(fake, cs_threshold=0.5)
    assert source.key == "ee-s2l1c-csplus0.5"
    assert EarthEngineSource(ee_module=fake).key == "ee-s2l1c-csplus0.6"
    assert source.cacheable is True
    assert EarthEngineSource(ee_module=fake, max_concurrency=3).max_concurrency == 3
    source.read(TILE, ["B2"], YEAR)
    _, masked_scene = fake.requests[0]["expression"].ops[4]  # ("map", body)
    _, (_, mask) = masked_scene  # (element, ("updateMask", mask))
    assert mask[-1] == ("gte", 0.5)


# -- the pixels --------------------------------------------------------------------------------


def test_pixels_in_requested_order_and_masked_pixels_invalid(fake):
    source, _ = make_source(fake)
    bands = ["B12", "B2", "B8A", "B10"]
    tp = source.read(TILE, bands, YEAR)
    rows, cols = np.mgrid[0:TILE_PX, 0:TILE_PX]
    masked = is_masked(rows, cols)
    assert tp.pixels.shape == (TILE_PX, TILE_PX, 4) and tp.pixels.dtype == np.float32
    assert tp.bands == tuple(bands)
    for i, band in enumerate(bands):
        expected = np.where(masked, 0, pixel_value(band, rows, cols))
        np.testing.assert_array_equal(tp.pixels[..., i], expected)
    np.testing.assert_array_equal(tp.valid, ~masked)
    assert 0 < masked.sum() < masked.size
    np.testing.assert_array_equal(tp.select(["B2"])[..., 0], tp.pixels[..., 1])


def test_nan_pixels_are_invalid_and_zeroed(fake):
    source, _ = make_source(fake)
    compute = fake.data.computePixels

    def with_nan(request):
        out = compute(request)
        out["B3"][5, 7] = np.nan
        return out

    fake.data.computePixels = with_nan
    tp = source.read(TILE, ["B2", "B3"], YEAR)
    assert not tp.valid[5, 7] and tp.valid[5, 8]
    assert np.isfinite(tp.pixels).all()


def test_wrong_sized_answer_is_an_imagery_error(fake):
    source, _ = make_source(fake)
    fake.data.computePixels = lambda request: np.zeros((10, 10), dtype=[("B2", "<f4")])
    with pytest.raises(ImageryError, match="expected 792×792"):
        source.read(TILE, ["B2"], YEAR)


# -- retries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        EEException("Too Many Requests (429)"),
        EEException("Quota exceeded for quota metric 'Requests' and limit 'Requests per minute'"),
        EEException("Too many concurrent aggregations."),
        EEException("Internal error."),
        EEException("HTTP 503: Service Unavailable"),
        EEException("Computation timed out."),
        EEException("Deadline exceeded"),
        ConnectionResetError("Connection reset by peer"),
        TimeoutError("The read operation timed out"),
    ],
    ids=lambda e: str(e)[:24],
)
def test_transient_errors_are_retried_then_succeed(fake, error):
    source, sleeps = make_source(fake)
    fake.fail_next(error, error)
    tp = source.read(TILE, ["B2"], YEAR)
    assert len(fake.requests) == 3 and len(sleeps) == 2
    assert tp.valid.any()


def test_backoff_is_exponential_with_jitter(fake):
    source, sleeps = make_source(fake, max_retries=8, backoff_s=1.0)
    fake.fail_next(*[EEException("429 Too Many Requests")] * 8)
    source.read(TILE, ["B2"], YEAR)
    assert len(sleeps) == 8
    for attempt, delay in enumerate(sleeps):
        base = min(60.0, 2.0**attempt)
        assert base / 2 <= delay <= base


def test_gives_up_after_max_retries_with_advice(fake):
    source, sleeps = make_source(fake, max_retries=3)
    fake.fail_always(EEException("Too Many Requests (429)"))
    with pytest.raises(ImageryError) as info:
        source.read(TILE, ["B2"], YEAR)
    message = str(info.value)
    assert TILE.key in message and "429" in message
    assert "concurrency" in message and "EE_HIGH_VOLUME=1" in message
    assert len(fake.requests) == 4 and len(sleeps) == 3


@pytest.mark.parametrize(
    "message",
    [
        "Permission denied: caller does not have required permission to use project p",
        "User memory limit exceeded.",
        "Image.select: Pattern 'B99' did not match any bands.",
        "Request payload size exceeds the limit: 50331648 bytes.",
    ],
)
def test_permanent_errors_are_not_retried(fake, message):
    source, sleeps = make_source(fake)
    fake.fail_next(EEException(message))
    with pytest.raises(ImageryError, match="refused tile") as info:
        source.read(TILE, ["B2"], YEAR)
    assert message in str(info.value)
    assert len(fake.requests) == 1 and sleeps == []


# -- credentials -------------------------------------------------------------------------------


def test_missing_project_says_how_to_set_up(fake):
    source = EarthEngineSource(ee_module=fake)
    with pytest.raises(CredentialsError) as info:
        source.check(None, ["B2"], YEAR)
    message = str(info.value)
    assert "earthengine authenticate" in message and "EE_PROJECT" in message
    assert "EE_SERVICE_ACCOUNT_KEY" in message
    assert fake.initialize_calls == []


def test_initialize_failure_is_a_credentials_error_and_stops_reads():
    fake = FakeEE(initialize_error=EEException("Please authorize access to your Earth Engine account"))
    source, _ = make_source(fake)
    with pytest.raises(CredentialsError, match="earthengine authenticate") as info:
        source.read(TILE, ["B2"], YEAR)
    assert "Please authorize access" in str(info.value)
    assert fake.requests == []
    fake.initialize_error = None  # fixed by the user: the next call tries again
    source.read(TILE, ["B2"], YEAR)
    assert len(fake.initialize_calls) == 2


def test_project_from_argument_or_environment(fake, monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "gcp-project")
    EarthEngineSource(ee_module=fake).check(None, ["B2"], YEAR)
    monkeypatch.setenv("EE_PROJECT", "ee-project")
    EarthEngineSource(ee_module=fake).check(None, ["B2"], YEAR)
    EarthEngineSource(ee_module=fake, project="arg-project").check(None, ["B2"], YEAR)
    assert [c["project"] for c in fake.initialize_calls] == ["gcp-project", "ee-project", "arg-project"]
    assert all(c["credentials"] == "persistent" and "url" not in c for c in fake.initialize_calls)


def test_service_account_key(fake, monkeypatch, tmp_path):
    key = tmp_path / "key.json"
    key.write_text(json.dumps({
        "type": "service_account", "client_email": "bot@key-project.iam.gserviceaccount.com",
        "project_id": "key-project", "private_key": "not-a-real-key",
    }))
    monkeypatch.setenv("EE_SERVICE_ACCOUNT_KEY", str(key))
    EarthEngineSource(ee_module=fake).check(None, ["B2"], YEAR)
    assert fake.service_account_calls == [("bot@key-project.iam.gserviceaccount.com", str(key))]
    (call,) = fake.initialize_calls
    assert call["credentials"].kind == "service_account"
    assert call["project"] == "key-project"  # the key's own project when EE_PROJECT is unset
    monkeypatch.setenv("EE_PROJECT", "other")
    EarthEngineSource(ee_module=fake).check(None, ["B2"], YEAR)
    assert fake.initialize_calls[-1]["project"] == "other"


@pytest.mark.parametrize("content", [None, "not json", json.dumps({"type": "authorized_user"})])
def test_bad_service_account_key(fake, monkeypatch, tmp_path, content):
    key = tmp_path / "key.json"
    if content is not None:
        key.write_text(content)
    monkeypatch.setenv("EE_SERVICE_ACCOUNT_KEY", str(key))
    with pytest.raises(CredentialsError, match="EE_SERVICE_ACCOUNT_KEY"):
        EarthEngineSource(ee_module=fake, project="p").check(None, ["B2"], YEAR)
    assert fake.initialize_calls == []


def test_high_volume_endpoint(fake, monkeypatch):
    monkeypatch.setenv("EE_HIGH_VOLUME", "1")
    make_source(fake)[0].check(None, ["B2"], YEAR)
    assert fake.initialize_calls[0]["url"] == HIGH_VOLUME_URL == "https://earthengine-highvolume.googleapis.com"


# -- checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("year", [2016, 2015, 1990])
def test_years_before_2017_refused(fake, year):
    source, _ = make_source(fake)
    with pytest.raises(ImageryError, match="2017"):
        source.check(None, ["B2"], year)
    with pytest.raises(ImageryError, match="2017"):
        source.read(TILE, ["B2"], year)
    assert fake.requests == []


def test_future_year_refused_current_year_accepted(fake):
    source, _ = make_source(fake)
    this_year = dt.date.today().year
    source.check(None, ["B2"], this_year)
    with pytest.raises(ImageryError, match="no imagery yet"):
        source.check(None, ["B2"], this_year + 1)


@pytest.mark.parametrize("bands", [["B13"], ["b2"], ["B2", "B2"], [], "B2"])
def test_bad_bands_refused_before_initialising(fake, bands):
    source, _ = make_source(fake)
    with pytest.raises(ImageryError):
        source.check(None, bands, YEAR)
    assert fake.initialize_calls == []


def test_all_sentinel2_bands_accepted(fake):
    source, _ = make_source(fake)
    all13 = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8A", "B8", "B9", "B10", "B11", "B12"]
    source.check(None, all13, YEAR)
    assert len(fake.initialize_calls) == 1 and fake.requests == []
    assert TILE_PX * TILE_PX * 13 * 4 < 48 * 1024 * 1024  # one computePixels request per tile


def test_open_source_builds_earth_engine_source(fake):
    assert isinstance(open_source("earthengine", ee_module=fake, project="p"), EarthEngineSource)


# -- threads -----------------------------------------------------------------------------------


def test_concurrent_reads_from_eight_threads():
    fake = FakeEE(delay_s=0.02)
    source, sleeps = make_source(fake, max_concurrency=8)
    fake.fail_next(*[EEException("429 Too Many Requests")] * 4)
    tiles = [Tile(32618, r, c) for r in range(3) for c in range(4)]

    def read(tile: Tile):
        return tile, source.read(tile, ["B8A", "B4"], YEAR)

    with ThreadPoolExecutor(max_workers=source.max_concurrency) as pool:
        results = list(pool.map(read, tiles))

    assert len(fake.initialize_calls) == 1
    assert fake.max_in_flight > 1
    assert len(fake.requests) == len(tiles) + 4 and len(sleeps) == 4
    by_origin = {(r["grid"]["affineTransform"]["translateX"], r["grid"]["affineTransform"]["translateY"])
                 for r in fake.requests}
    assert by_origin == {(t.transform.c, t.transform.f) for t in tiles}
    rows, cols = np.mgrid[0:TILE_PX, 0:TILE_PX]
    expected = np.where(is_masked(rows, cols), 0, pixel_value("B4", rows, cols))
    for tile, tp in results:
        np.testing.assert_array_equal(tp.pixels[..., 1], expected)
        assert tp.bands == ("B8A", "B4")


# -- errors as the real client raises them (earthengine-api 1.7.50: status on __context__) -----

from fake_ee import http_failure  # noqa: E402


@pytest.mark.parametrize("status, message", [
    (503, "The service is currently unavailable."), (500, "Ok"), (502, "Ok"), (429, "Quota exceeded."),
    (504, "Deadline exceeded"),
])
def test_transient_http_statuses_are_retried_whatever_the_message(fake, status, message):
    source, sleeps = make_source(fake)
    fake.fail_next(http_failure(status, message))
    assert source.read(TILE, ["B2"], YEAR).valid.any()
    assert len(fake.requests) == 2 and len(sleeps) == 1


@pytest.mark.parametrize("status, message", [(400, "Invalid argument"), (403, "Ok"), (404, "Not found")])
def test_permanent_http_statuses_are_not_retried_and_named(fake, status, message):
    source, sleeps = make_source(fake)
    fake.fail_next(http_failure(status, message))
    with pytest.raises(ImageryError, match=f"HTTP {status}"):
        source.read(TILE, ["B2"], YEAR)
    assert len(fake.requests) == 1 and sleeps == []


def test_requests_have_a_deadline_and_the_client_does_not_retry_inside_ours(fake):
    source, _ = make_source(fake, deadline_s=30)
    source.check(None, ["B2"], YEAR)
    assert fake.data.deadline_ms == 30_000 and fake.data.max_retries == 0


def test_a_tiles_retries_stop_at_the_budget(fake):
    source, sleeps = make_source(fake, max_retries=50, backoff_s=10, retry_budget_s=60)
    fake.fail_always(http_failure(503, "The service is currently unavailable."))
    with pytest.raises(ImageryError, match="kept failing"):
        source.read(TILE, ["B2"], YEAR)
    assert len(fake.requests) < 10, "the budget, not 51 attempts, ended it"


def test_key_file_paths_are_expanded_and_google_application_credentials_honoured(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    key = tmp_path / "sa.json"
    key.write_text(json.dumps({"type": "service_account", "client_email": "bot@p.iam.gserviceaccount.com",
                               "project_id": "p", "private_key": "x"}))
    monkeypatch.delenv("EE_SERVICE_ACCOUNT_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "~/sa.json")
    EarthEngineSource(ee_module=fake).check(None, ["B2"], YEAR)
    assert fake.service_account_calls == [("bot@p.iam.gserviceaccount.com", str(key))], "~ expanded for the client"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "user.json"))
    (tmp_path / "user.json").write_text(json.dumps({"type": "authorized_user"}))
    monkeypatch.setenv("EE_PROJECT", "mine")
    EarthEngineSource(ee_module=fake).check(None, ["B2"], YEAR)
    assert fake.initialize_calls[-1]["credentials"] == "persistent", "a user's file is left to ee's own login"


def test_running_year_ends_today_and_says_so_in_every_key(fake, tmp_path):
    """A run in the running year composites up to the day the source was made, and its pixels and scores
    are kept under a key with that date: a later run (a later day) fetches again instead of reusing them."""
    from detector.sources import CachedSource, PixelCache, storage_key

    source, _ = make_source(fake)
    source.as_of = dt.date(2026, 2, 14)
    assert storage_key(source, 2025) == "ee-s2l1c-csplus0.6"  # a finished year is whole
    assert storage_key(source, 2026) == "ee-s2l1c-csplus0.6-to2026-02-14"
    cached = CachedSource(source, PixelCache(tmp_path))
    cached.read(TILE, ["B2"], 2026)
    assert fake.requests[0]["expression"].ops[1] == ("filterDate", "2026-01-01", "2026-02-14")
    assert (tmp_path / "ee-s2l1c-csplus0.6-to2026-02-14" / "2026" / f"{TILE.key}.npz").exists()
    cached.read(TILE, ["B2"], 2026)
    assert len(fake.requests) == 1  # the same day: from the cache
    source.as_of = dt.date(2026, 3, 1)
    cached.read(TILE, ["B2"], 2026)
    assert len(fake.requests) == 2 and fake.requests[1]["expression"].ops[1] == ("filterDate", "2026-01-01", "2026-03-01")
    source.as_of = dt.date(2026, 1, 1)
    with pytest.raises(ImageryError, match="only just begun"):
        source.check(None, ["B2"], 2026)


def test_a_run_in_the_running_year_is_stored_under_its_end_date(fake, tiny_model, tmp_path):
    """The score store, too, keeps this year's partial composite apart: the next day's run scores again."""
    from shapely.geometry import box

    from detector.pipeline import Detector
    from detector.sources import PixelCache
    from detector.store import ScoreStore

    source, _ = make_source(fake)
    source.as_of = dt.date(2026, 2, 14)
    det = Detector(tiny_model, store=ScoreStore(tmp_path / "scores"), pixel_cache=PixelCache(tmp_path / "pixels"))
    region = box(-56.60, -3.30, -56.59, -3.29)
    first = det.run(region, 2026, source)
    assert first.summary.source == "ee-s2l1c-csplus0.6-to2026-02-14" and first.summary.scored_now > 0
    assert set(det.store.runs()["source"]) == {"ee-s2l1c-csplus0.6-to2026-02-14"}
    again = det.run(region, 2026, source)
    assert again.summary.scored_now == 0, "the same day: from the store"
    source.as_of = dt.date(2026, 2, 15)
    later = det.run(region, 2026, source)
    assert later.summary.scored_now == first.summary.scored_now, "a later day: fetched and scored again"


def test_quarters_and_date_ranges_go_to_earth_engine_as_their_dates(fake, tmp_path):
    """filterDate takes [start, end): a quarter ends on the next quarter's first day, a date range the day
    after its last day, a running quarter on the day the source was made; each has its own key."""
    from detector import periods
    from detector.sources import storage_key

    source, _ = make_source(fake)
    source.as_of = dt.date(2026, 5, 20)
    for period, dates in ((periods.parse("2025Q4"), ("2025-10-01", "2026-01-01")),
                          (periods.parse("2024-03-01..2024-06-30"), ("2024-03-01", "2024-07-01")),
                          (periods.parse("2026Q2"), ("2026-04-01", "2026-05-20"))):
        source.read(TILE, ["B2"], period)
        assert fake.requests[-1]["expression"].ops[1] == ("filterDate", *dates)
    assert storage_key(source, periods.parse("2025Q4")) == "ee-s2l1c-csplus0.6"
    assert storage_key(source, periods.parse("2026Q2")) == "ee-s2l1c-csplus0.6-to2026-05-20"
    with pytest.raises(ImageryError, match="no imagery yet"):
        source.check(None, ["B2"], periods.parse("2026Q3"))
    with pytest.raises(ImageryError, match="before 2017"):
        source.check(None, ["B2"], periods.parse("2016Q4"))
