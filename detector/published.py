"""Loaders for the published Amazon Mining Watch layers and boundaries.

Every published layer, whatever its source file looks like, comes back in one schema (see
``LAYER_COLUMNS``): ``period`` (an ordered category, "2018" … "2025Q3"), ``mined_area_ha`` (the
source's ``Mined area (ha)``: mined land inside the polygon, from a segmentation mask),
``footprint_ha`` (the polygon's own area in the equal-area EPSG:6933, about five times larger),
``score`` (patch layers: the model score), ``source`` (the catalog name) and ``geometry``
(EPSG:4326). Parsing GeoJSON is the slow part, so the normalised frame is kept as GeoParquet under
``data/published/``, named by the source's sha256: a new published version is a new file, and a
warm load never needs the source again.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from . import catalog
from .atomic import atomic_path
from .catalog import Dataset
from .config import layout
from .errors import DetectorError

#: Bump when normalisation changes, so cached GeoParquet files made by older code are not used.
SCHEMA_VERSION = 1
LAYER_COLUMNS = ["period", "mined_area_ha", "footprint_ha", "score", "source", "geometry"]
WGS84 = "EPSG:4326"
#: The countries' feature that is the whole Amazon (the union of the others), not a country.
WHOLE_AMAZON_ID = "AMAZ"
_COUNTRY_NAMES = {"FrenchGuiana": "French Guiana"}  # as spelled in the source file


def period_dtype() -> pd.CategoricalDtype:
    """Periods as an ordered category, so sorting and cumulative sums follow time, not the alphabet."""
    return pd.CategoricalDtype(list(catalog.periods()), ordered=True)


# ---------------------------------------------------------------- the GeoParquet cache

def _cache_file(key: str, digest: str) -> Path:
    return layout().published / f"{key}-{digest[:16]}-v{SCHEMA_VERSION}.parquet"


def _read_cache(path: Path) -> gpd.GeoDataFrame | None:
    if not path.is_file():
        return None
    try:
        return gpd.read_parquet(path)
    except (OSError, ValueError):  # a cut-short or foreign file (pyarrow's errors are ValueErrors): rebuild it
        path.unlink(missing_ok=True)
        return None


def _write_cache(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Write through a temporary file, so a reader never sees half a file."""
    with atomic_path(path) as tmp:
        gdf.to_parquet(tmp, index=False)


def _read_source(ds: Dataset) -> gpd.GeoDataFrame:
    if not ds.original_path.endswith((".geojson", ".json")):
        raise DetectorError("{ds_name} is a {ds_kind} file, not vector data; use catalog.get({ds_name!r}).path().", ds_name=ds.name, ds_kind=ds.kind)
    gdf = gpd.read_file(ds.path())
    if gdf.crs is None:
        gdf = gdf.set_crs(WGS84)
    elif not gdf.crs.equals(WGS84):
        gdf = gdf.to_crs(WGS84)
    invalid = ~gdf.geometry.is_valid.to_numpy()
    if invalid.any():
        gdf.loc[invalid, "geometry"] = gdf.geometry[invalid].make_valid()
    return gdf


# ---------------------------------------------------------------- layers in the common schema

def normalise(raw: gpd.GeoDataFrame, ds: Dataset) -> gpd.GeoDataFrame:
    """A published layer in the common schema; footprints are measured here, once."""
    from .postprocess import area_ha

    n = len(raw)
    if "year" in raw.columns:  # the yearly layers say their period per feature: 201800, 202502, …
        period = [catalog.period_from_code(v) for v in raw["year"]]
    else:
        period = [ds.period] * n
    unknown = set(period) - set(catalog.periods())
    if unknown:
        raise DetectorError("{ds_name} has features of unknown period {unknown}; add them to catalog.toml.", ds_name=ds.name, unknown=sorted(unknown))

    def column(name: str) -> np.ndarray:
        return raw[name].to_numpy(dtype="float64") if name in raw.columns else np.full(n, np.nan)

    out = gpd.GeoDataFrame(
        {
            "period": pd.Categorical(period, dtype=period_dtype()),
            "mined_area_ha": column("Mined area (ha)"),
            "footprint_ha": area_ha(raw.geometry) if n else np.empty(0),
            "score": column("pred"),
            "source": pd.array([ds.name] * n, dtype="str"),
        },
        geometry=raw.geometry.to_numpy(),
        crs=WGS84,
    )
    return out[LAYER_COLUMNS]


def _layer_dataset(name_or_period: str | int) -> Dataset:
    key = str(name_or_period)
    if key in catalog.periods():
        return catalog.get(f"mining_{key}")
    ds = catalog.get(key)
    if ds.kind not in catalog.LAYER_KINDS:
        raise DetectorError(
            "{key} is a {ds_kind} dataset, not a mining layer; read it with "
            "published.load_dataset({key!r}).",
            key=key, ds_kind=ds.kind
        )
    return ds


def _restore(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    gdf["period"] = gdf["period"].astype(period_dtype())
    return gdf


def load_layer(name_or_period: str | int) -> gpd.GeoDataFrame:
    """One published mining layer in the common schema: a catalog name or a period ("2024", "2025Q2")."""
    ds = _layer_dataset(name_or_period)
    cache = _cache_file(ds.name, ds.sha256)
    cached = _read_cache(cache)
    if cached is not None:
        return _restore(cached)
    gdf = normalise(_read_source(ds), ds)
    _write_cache(gdf, cache)
    return gdf


def load_yearly_layers() -> gpd.GeoDataFrame:
    """All Amazon Mining Watch layers, 2018 (baseline) to 2025Q3, in one frame in period order.

    Kept as one GeoParquet file: a warm load is one read instead of nine.
    """
    layers = catalog.yearly_layers()
    digest = hashlib.sha256("".join(d.sha256 for d in layers).encode()).hexdigest()
    cache = _cache_file("yearly_layers", digest)
    cached = _read_cache(cache)
    if cached is not None:
        return _restore(cached)
    gdf = pd.concat([load_layer(d.name) for d in layers], ignore_index=True)
    gdf = _restore(gpd.GeoDataFrame(gdf, geometry="geometry", crs=WGS84))
    _write_cache(gdf, cache)
    return gdf


# ---------------------------------------------------------------- other datasets and regions

def load_dataset(name: str) -> gpd.GeoDataFrame:
    """Any vector dataset with its published columns (boundaries, airstrips, sampling points), EPSG:4326."""
    ds = catalog.get(name)
    cache = _cache_file(ds.name, ds.sha256)
    cached = _read_cache(cache)
    if cached is not None:
        return cached
    gdf = _read_source(ds)
    _write_cache(gdf, cache)
    return gdf


def countries() -> gpd.GeoDataFrame:
    """The Amazon part of each country: ``region_id`` (ISO3, e.g. BRA), ``region_name``, ``country_code``.

    The source's 'Entire Amazon' feature (AMAZ) is left out: it is the union of the others, and
    counting it as a country would double every total.
    """
    raw = load_dataset("boundaries_countries")
    raw = raw[raw["id"] != WHOLE_AMAZON_ID]
    return gpd.GeoDataFrame(
        {
            "region_id": raw["id"].astype(str).to_numpy(),
            "region_name": [_COUNTRY_NAMES.get(c, c) for c in raw["country"]],
            "country_code": raw["country_code"].to_numpy(),
        },
        geometry=raw.geometry.to_numpy(),
        crs=WGS84,
    )


def whole_amazon() -> gpd.GeoDataFrame:
    """The countries' 'Entire Amazon' outline (AMAZ), as one region."""
    raw = load_dataset("boundaries_countries")
    raw = raw[raw["id"] == WHOLE_AMAZON_ID]
    return gpd.GeoDataFrame(
        {"region_id": [WHOLE_AMAZON_ID], "region_name": ["Entire Amazon"]}, geometry=raw.geometry.to_numpy(), crs=WGS84
    )


#: Words kept in lower case inside a name (Spanish, Portuguese, French articles and prepositions).
_PARTICLES = frozenset({"de", "del", "la", "las", "los", "el", "y", "e", "da", "das", "do", "dos", "et", "des", "du"})


def name_case(name: str) -> str:
    """A name written in capitals (as some national registries give them: ``BOCA PARIAMANU``) in the
    case the other names have (``Boca Pariamanu``); names already in mixed case are left as they are."""
    if name != name.upper() or not re.search(r"[^\W\d_]{4}", name) or re.search(r"\d", name):
        return name  # mixed case already, an acronym, or an id
    parts = re.split(r"([\s\-/(),.]+)", name.lower())  # words, and what separates them (kept)
    return "".join(w if (i and w in _PARTICLES) or not w[:1].isalpha() else w[:1].upper() + w[1:]
                   for i, w in enumerate(parts))


def territories() -> gpd.GeoDataFrame:
    """Indigenous territories touched by mining: ``region_id`` (e.g. BR6101_0), ``region_name``, country, status.

    Some sources give no territory name (French Guiana's collective-rights zones, many of
    Ecuador's), so the name falls back to the peoples living there, then to the id. Names in
    capitals are written as the others are (:func:`name_case`).
    """
    raw = load_dataset("boundaries_territories")

    def text(col: str) -> pd.Series:
        return raw[col].astype(object).where(raw[col].notna() & (raw[col].astype(str).str.strip() != ""))

    name = text("name_field").fillna(text("ethnicities_field")).fillna(raw["id"].astype(object))
    return gpd.GeoDataFrame(
        {
            "region_id": raw["id"].astype(str).to_numpy(),
            "region_name": [name_case(n) for n in name.astype(str)],
            "country": raw["country"].to_numpy(),
            "status": raw["status_field"].to_numpy(),
        },
        geometry=raw.geometry.to_numpy(),
        crs=WGS84,
    )


def boundary_regions(name: str) -> gpd.GeoDataFrame:
    """The features of any boundary dataset as regions (``region_id``, ``region_name``, geometry).

    Countries and territories get their own ids and names; other boundaries are named by their
    ``name`` property where they have one, else by the dataset name.
    """
    if name == "boundaries_countries":
        return countries()
    if name == "boundaries_territories":
        return territories()
    ds = catalog.get(name)
    if ds.kind != "boundary":
        raise DetectorError("{name} is a {ds_kind} dataset, not a boundary; regions come from boundary datasets.", name=name, ds_kind=ds.kind)
    raw = load_dataset(name)
    if "name" in raw.columns and len(raw) > 1:
        names = [str(v) for v in raw["name"]]
        ids = [f"{name}:{v}" for v in names]
    else:
        ids = [name] if len(raw) == 1 else [f"{name}:{i}" for i in range(len(raw))]
        names = [ds.description.rstrip(".")] if len(raw) == 1 else ids
    return gpd.GeoDataFrame({"region_id": ids, "region_name": names}, geometry=raw.geometry.to_numpy(), crs=WGS84)
