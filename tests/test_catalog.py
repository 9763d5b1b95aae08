"""The published-data catalog and loaders, on the mirror; nothing here may touch the network."""
from __future__ import annotations

from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import pytest

from detector import catalog, fetch, published
from detector.cli import main
from detector.errors import DetectorError

BASE = "https://raw.githubusercontent.com/earthrise-media/mining-detector/bbbcb2d722c930626f322bec751a22e4acb22750/"
PERIODS = ["2018", "2019", "2020", "2021", "2022", "2023", "2024", "2025Q2", "2025Q3"]


def _sums(mirror: Path) -> dict[str, str]:
    out = {}
    for line in (mirror / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split(maxsplit=1)
        out[path.strip().removeprefix("./")] = digest
    return out


def _no_network(monkeypatch) -> None:
    """Any download attempt fails the way an offline machine does."""
    import pooch

    def offline(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(pooch, "retrieve", offline)


def test_catalog_checksums_match_the_mirror(mirror):
    sums = _sums(mirror)
    entries = catalog.catalog()
    for ds in entries.values():
        assert sums[ds.mirror_path] == ds.sha256, ds.name
        fetch.verify(mirror / ds.mirror_path, ds.sha256)  # the mirror files really have these checksums
        assert ds.url == BASE + ds.original_path
        assert ds.attribution and ds.licence and ds.description
    # Every published data file of the mirror is in the catalog (models live in models/registry.toml).
    data_files = {p for p in sums if not p.startswith("models/") and not p.startswith("LICENSE")}
    assert data_files == {ds.mirror_path for ds in entries.values()}


def test_catalog_kinds_periods_and_credits():
    assert [d.period for d in catalog.yearly_layers()] == PERIODS
    assert list(catalog.periods()) == PERIODS
    assert [d.name for d in catalog.yearly_layers()][:2] == ["mining_2018", "mining_2019"]
    assert len(catalog.by_kind("patches")) == 3 and all(d.model and d.period == "2023" for d in catalog.by_kind("patches"))
    assert {d.label for d in catalog.by_kind("sampling")} == {"positive", "negative"}
    for d in catalog.by_kind("sampling"):
        assert (d.label == "positive") == ("positives" in d.mirror_path.lower() or "minespos" in d.mirror_path.lower())
    assert "Earth Genome" in catalog.attribution("mining_2024") and "CC BY 4.0" in catalog.attribution("mining_2024")
    air = catalog.attribution("airstrips")
    assert "Intercept" in air and "New York Times" in air and "Rainforest Investigations Network" in air
    assert catalog.period_from_code(201800) == "2018" and catalog.period_from_code(202502) == "2025Q2"
    with pytest.raises(DetectorError, match="data list"):
        catalog.get("mining_1999")


def test_is_available_follows_the_mirror(mirror, monkeypatch):
    assert catalog.is_available("mining_2018")
    monkeypatch.delenv("DETECTOR_MIRROR")
    assert not catalog.is_available("mining_2018")


def test_data_list_works_offline_without_mirror(monkeypatch, capsys):
    monkeypatch.delenv("DETECTOR_MIRROR", raising=False)
    _no_network(monkeypatch)

    def no_fetch(*args, **kwargs):
        raise AssertionError("data list must not fetch anything")

    monkeypatch.setattr(catalog, "published_file", no_fetch)
    monkeypatch.setattr(fetch, "published_file", no_fetch)
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("mining_", "boundaries_", "airstrips"))]
    assert len(rows) == 9 + 2 + 1
    assert all("not here" in r for r in rows)
    assert "CC BY 4.0" in out and "Intercept" in out


def test_data_list_with_mirror_shows_present(mirror, capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "not here" not in out and str(mirror.resolve()) in out


def test_data_fetch_with_mirror_verifies(mirror, capsys):
    assert main(["data", "fetch", "--quiet", "mining_2025Q3", "airstrips"]) == 0
    out = capsys.readouterr().out
    assert out.count(" ok ") == 2 and str(mirror.resolve()) in out
    assert main(["data", "fetch", "no_such_layer"]) == 2
    assert "data list" in capsys.readouterr().err


def test_offline_without_mirror_says_how_to_get_the_data(monkeypatch, capsys):
    monkeypatch.delenv("DETECTOR_MIRROR", raising=False)
    _no_network(monkeypatch)
    with pytest.raises(DetectorError) as err:
        published.load_layer("2018")
    msg = str(err.value)
    assert "mining_2018" in msg and "python -m detector data fetch mining_2018" in msg
    assert "DETECTOR_MIRROR" in msg and "ConnectionError" in msg
    assert main(["data", "fetch", "--quiet", "mining_2018"]) == 2
    assert main(["stats", "--by", "country"]) == 2
    err_text = capsys.readouterr().err
    assert "error:" in err_text and "Traceback" not in err_text and "DETECTOR_MIRROR" in err_text


def test_normalised_schema_of_a_yearly_layer(mirror):
    gdf = published.load_layer("2025Q2")
    assert list(gdf.columns) == published.LAYER_COLUMNS
    assert gdf.crs.to_epsg() == 4326
    assert isinstance(gdf["period"].dtype, pd.CategoricalDtype) and gdf["period"].dtype.ordered
    assert list(gdf["period"].cat.categories) == PERIODS
    assert set(gdf["period"]) == {"2025Q2"} and set(gdf["source"]) == {"mining_2025Q2"}
    raw = geopandas.read_file(mirror / catalog.get("mining_2025Q2").mirror_path)
    assert len(gdf) == len(raw) == 3004
    np.testing.assert_array_equal(gdf["mined_area_ha"].to_numpy(), raw["Mined area (ha)"].to_numpy(dtype=float))
    assert (gdf["footprint_ha"] > 0).all() and gdf["score"].isna().all()
    # The footprint is the polygon's own area in EPSG:6933, in hectares.
    np.testing.assert_allclose(gdf["footprint_ha"], raw.to_crs("EPSG:6933").area / 1e4, rtol=1e-9)
    assert published.load_layer("mining_2025Q2")["footprint_ha"].sum() == pytest.approx(gdf["footprint_ha"].sum())


def test_patch_layer_has_scores():
    gdf = published.load_layer("patches_amazon1_v3.7_2023")
    assert len(gdf) == 1809 and list(gdf.columns) == published.LAYER_COLUMNS
    assert set(gdf["period"]) == {"2023"} and gdf["mined_area_ha"].isna().all()
    assert gdf["score"].between(0.5, 1.0).all()
    # The published patch polygons are 520 m squares in UTM (27.04 ha), a little more than 48 px × 10 m.
    assert gdf["footprint_ha"].median() == pytest.approx(27.04, rel=0.01)
    with pytest.raises(DetectorError, match="not a mining layer"):
        published.load_layer("airstrips")


def test_yearly_layers_in_period_order(mirror):
    gdf = published.load_yearly_layers()
    assert list(gdf.columns) == published.LAYER_COLUMNS
    assert list(gdf["period"].unique()) == PERIODS  # concatenated in time order
    assert gdf["period"].is_monotonic_increasing
    assert len(gdf) == 45011
    assert gdf["source"].iloc[0] == "mining_2018" and gdf["source"].iloc[-1] == "mining_2025Q3"


def test_geoparquet_cache_is_used_on_the_second_load(mirror, data_dir, monkeypatch):
    first = published.load_layer("2019")
    ds = catalog.get("mining_2019")
    cached = list((data_dir / "published").glob("mining_2019-*.parquet"))
    assert len(cached) == 1 and ds.sha256[:16] in cached[0].name
    both = published.load_yearly_layers()

    def no_parse(*args, **kwargs):
        raise AssertionError("the GeoJSON was parsed again instead of read from the GeoParquet cache")

    monkeypatch.setattr(geopandas, "read_file", no_parse)
    again = published.load_layer("2019")
    pd.testing.assert_frame_equal(pd.DataFrame(again.drop(columns="geometry")), pd.DataFrame(first.drop(columns="geometry")))
    assert again.geometry.geom_equals_exact(first.geometry, tolerance=0).all()
    assert len(published.load_yearly_layers()) == len(both)
    # A new published version (another checksum) is another cache file, never the stale one.
    assert published._cache_file("mining_2019", "0" * 64) != cached[0]


def test_broken_cache_file_is_rebuilt(mirror, data_dir):
    published.load_layer("2025Q3")
    (cached,) = (data_dir / "published").glob("mining_2025Q3-*.parquet")
    cached.write_bytes(b"not parquet")
    assert len(published.load_layer("2025Q3")) == 2780


def test_regions_countries_and_territories(mirror):
    c = published.countries()
    assert len(c) == 9 and "AMAZ" not in set(c["region_id"])
    assert {"BRA", "PER", "BOL", "GUF"} <= set(c["region_id"])
    assert "French Guiana" in set(c["region_name"])
    t = published.territories()
    assert len(t) == 237 and t["region_id"].is_unique
    assert t["region_name"].notna().all() and (t["region_name"].str.len() > 0).all()
    assert "Kayapó" in set(t["region_name"])
    names = t["region_name"].str.split()
    capitals = t["region_name"][(t["region_name"] == t["region_name"].str.upper()) & (names.str.len() > 1)]
    assert capitals.empty, f"names in capitals next to mixed-case ones: {capitals.tolist()[:5]}"
    assert "Boca Pariamanu" in set(t["region_name"]) and "Saramurillo" in set(t["region_name"])
    ym = published.boundary_regions("yanomami_and_munduruku")
    assert sorted(ym["region_name"]) == ["Munduruku", "Yanomami"]
    assert published.boundary_regions("tapajos_basin")["region_id"].tolist() == ["tapajos_basin"]


def test_sampling_points_and_airstrips_load(mirror):
    pos = published.load_dataset("sampling_v2_4_amazon_positives")
    assert len(pos) == 210 and set(pos.geom_type) == {"Point"}
    air = published.load_dataset("airstrips")
    assert len(air) == 1269
    assert catalog.get("gallery_aquaculture").path().suffix == ".png"
    with pytest.raises(DetectorError, match="not vector data"):
        published.load_dataset("gallery_aquaculture")



def test_names_in_capitals_are_written_as_the_others_and_ids_and_acronyms_are_kept():
    case = published.name_case
    assert case("BOCA PARIAMANU") == "Boca Pariamanu"
    assert case("SAN JOSE DE KARENE") == "San Jose de Karene"
    assert case("C.N. SAN JOSÉ") == "C.N. San José"
    assert case("Boni, émérillons et wayana") == "Boni, émérillons et wayana"
    assert case("TI") == "TI" and case("BR6101_0") == "BR6101_0" and case("") == ""
