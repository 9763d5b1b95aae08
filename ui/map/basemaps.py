"""Basemap tile layers, each with the attribution and licence line it requires."""
from __future__ import annotations

from dataclasses import dataclass

from detector.config import settings

from ..i18n import N_

#: Years for which EOX publishes a Sentinel-2 cloudless mosaic.
S2CLOUDLESS_YEARS = (2016, 2018, 2019, 2020, 2021, 2022, 2023, 2024)


@dataclass(frozen=True)
class Basemap:
    name: str
    url: str
    attribution: str
    max_zoom: int = 18


def mapbox_token() -> str | None:
    """The operator's Mapbox token (MAPBOX_TOKEN), if any."""
    return settings().mapbox_token


MAPBOX_HELP = N_(
    "Mapbox Satellite needs a token: create a free one at https://account.mapbox.com/access-tokens/ "
    "and start the app with `MAPBOX_TOKEN=pk.… streamlit run app.py`. Showing Esri World Imagery instead."
)


def s2cloudless_year(period: str) -> int:
    """The mosaic year closest to a period (the newest one for periods after it)."""
    year = int(str(period)[:4])
    return max([y for y in S2CLOUDLESS_YEARS if y <= year], default=S2CLOUDLESS_YEARS[0])


def basemap(key: str, period: str) -> Basemap:
    """The tile layer for a basemap key; Mapbox falls back to Esri without a token."""
    if key == "mapbox" and mapbox_token():
        return Basemap(
            "Mapbox Satellite",
            f"https://api.mapbox.com/styles/v1/mapbox/satellite-v9/tiles/256/{{z}}/{{x}}/{{y}}@2x?access_token={mapbox_token()}",
            '© <a href="https://www.mapbox.com/about/maps/">Mapbox</a> © <a href="https://www.maxar.com/">Maxar</a>',
            max_zoom=20,
        )
    if key == "s2cloudless":
        y = s2cloudless_year(period)
        licence = "CC BY 4.0" if y == 2016 else "CC BY-NC-SA 4.0"
        return Basemap(
            f"Sentinel-2 cloudless {y}",
            f"https://tiles.maps.eox.at/wmts/1.0.0/s2cloudless-{y}_3857/default/g/{{z}}/{{y}}/{{x}}.jpg",
            f'<a href="https://s2maps.eu">Sentinel-2 cloudless {y}</a> by EOX IT Services GmbH '
            f"(contains modified Copernicus Sentinel data {y}), {licence}",
            max_zoom=15,
        )
    return Basemap(
        "Esri World Imagery",
        "https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}",
        "Tiles © Esri — Source: Esri, Maxar, Earthstar Geographics, and the GIS User Community",
        max_zoom=19,
    )
