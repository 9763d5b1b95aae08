"""Shared fixtures: a temporary data folder, the mirror, synthetic Sentinel-2 GeoTIFFs, tiny models.

No test touches the network: published models come from the mirror named by DETECTOR_MIRROR
(the README's test command sets it to ../shared/amw).
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest
from synthetic import SCENE_CRS, SCENE_PX, SCENE_X0, SCENE_YTOP, SHUFFLED, lonlat_box, write_geotiff

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Whole files in the slow tier: Dask clusters and model training.
SLOW_FILES = {"test_distributed.py", "test_training.py"}


def pytest_collection_modifyitems(config, items):
    """Tiers by what a test runs: ``browser`` (a real Chromium), ``slow`` (clusters, training), ``app``
    (Streamlit's AppTest), else ``unit``. ``pytest -m unit`` is the inner loop; the test command runs all."""
    for item in items:
        path = Path(str(item.fspath))
        if "browser" in path.parts:
            item.add_marker(pytest.mark.browser)
        elif path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
        elif "app" in getattr(item, "fixturenames", ()) or _uses_apptest(item):
            item.add_marker(pytest.mark.app)
        else:
            item.add_marker(pytest.mark.unit)


def _app_names(module) -> frozenset[str]:
    """The module's helpers and fixtures that drive a page with AppTest (one level deep)."""
    names = set()
    for name, obj in vars(module).items():
        if inspect.isfunction(obj) and obj.__module__ == module.__name__:
            try:
                if "AppTest" in inspect.getsource(obj):
                    names.add(name)
            except (OSError, TypeError):
                continue
    return frozenset(names)


def _uses_apptest(item) -> bool:
    fn, module = getattr(item, "function", None), getattr(item, "module", None)
    if fn is None or module is None:
        return False
    try:
        src = inspect.getsource(fn)
    except (OSError, TypeError):
        return False
    helpers = _app_names(module)
    return "AppTest" in src or bool(helpers & set(item.fixturenames)) or any(f"{h}(" in src for h in helpers)


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch) -> Path:
    """Every test gets its own empty data folder."""
    d = tmp_path / "data"
    monkeypatch.setenv("DETECTOR_DATA_DIR", str(d))
    return d


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The mirror of published files; the test command must name it."""
    value = os.environ.get("DETECTOR_MIRROR")
    if not value or not (Path(value) / "models").is_dir():
        pytest.fail("DETECTOR_MIRROR must name the published-data mirror (../shared/amw); see README's test command.")
    return Path(value)


@pytest.fixture
def scene(tmp_path) -> Path:
    return write_geotiff(tmp_path / "scene.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, SCENE_PX, SCENE_PX, bands=SHUFFLED)


@pytest.fixture
def scene_region() -> dict:
    """A 1.5 × 1.5 km region well inside the scene."""
    x0, y1 = SCENE_X0 + 700, SCENE_YTOP - 700
    return lonlat_box(SCENE_CRS, x0, y1 - 1500, x0 + 1500, y1)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A small untrained CNN of the published input shape, saved as legacy .h5."""
    import tf_keras as K

    K.utils.set_random_seed(1)
    model = K.Sequential([
        K.layers.Input((48, 48, 12)),
        K.layers.Conv2D(4, 5, strides=3, activation="relu"),
        K.layers.GlobalAveragePooling2D(),
        K.layers.Dense(3, activation="sigmoid"),
    ])
    path = tmp_path_factory.mktemp("models") / "tiny3.h5"
    model.save(path)
    return path
