"""What a Sentinel-2 file's own names and metadata say: its bands, value scale, offset, dates, level.

Pure functions over names, tags and a pixel sample, so the GeoTIFF and product readers share one
definition of each rule. Values are brought to what the published models were trained on:
L1C digital numbers as Earth Engine's ``COPERNICUS/S2_HARMONIZED`` serves them (reflectance ×
10,000, without the +1,000 offset that processing baseline 04.00 and later add).
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ImageryError, Message

S2_BANDS = frozenset({f"B{i}" for i in range(1, 13)} | {"B8A"})

# "B02", "B02_10m", "B8A_20m", "b8a", "B2 (490 nm)": the band number, then anything but a letter or digit.
_BAND_RE = re.compile(r"^B0?(\d{1,2}A?)(?![0-9A-Z])")
# A band in a file name: "T21LXH_20230715T140711_B02.jp2", "…_B8A_20m.tif", "B12.tif", "scene-b03.tif".
_FILE_BAND_RE = re.compile(r"(?:^|[_\-. ])B0?(\d{1,2}A?)(?:_(?:10|20|60)M)?$")


def band_name(description: str | None) -> str | None:
    """Normalise a band description ('B02', 'b8a', 'B4 (red)', 'B02_10m') to 'B2', 'B8A', 'B4'."""
    if not description:
        return None
    m = _BAND_RE.match(description.strip().upper())
    name = f"B{m.group(1)}" if m else None
    return name if name in S2_BANDS else None


def band_in_file_name(stem: str) -> tuple[str, str] | None:
    """(band, the name without it) for a one-band file named after its band, else None.

    'S2A_MSIL2A_20171221T112501_56_35_B8A' → ('B8A', 'S2A_MSIL2A_20171221T112501_56_35'); the rest of
    the name groups a scene's band files together.
    """
    m = _FILE_BAND_RE.search(stem.upper())
    if not m:
        return None
    name = f"B{m.group(1)}"
    return (name, stem[: m.start()].rstrip("_-. ")) if name in S2_BANDS else None


# -- dates --------------------------------------------------------------------------------------

#: Metadata keys that carry the acquisition date (Sentinel-2 products, GDAL's SENTINEL2 driver,
#: common exports). TIFFTAG_DATETIME is left out on purpose: it is when the file was written.
DATE_KEYS = frozenset({"ACQUISITION_DATE", "SENSING_TIME", "SENSING_DATE", "DATATAKE_1_DATATAKE_SENSING_START",
                       "DATATAKE_SENSING_START", "PRODUCT_START_TIME", "PRODUCT_STOP_TIME", "DATE_ACQUIRED",
                       "START_DATE", "END_DATE", "ACQUISITIONDATE"})
_DATE_RE = re.compile(r"((?:19|20)\d\d)[-:/]?(\d\d)[-:/]?(\d\d)")
# The sensing time in Sentinel-2 file and product names: "…_20230715T140711_…".
_NAME_DATE_RE = re.compile(r"(?:^|[_\-])((?:20)\d\d)(\d\d)(\d\d)T\d{5,6}(?=[_\-.]|$)")


def dates_in_tags(tag_sets: Sequence[Mapping[str, str]]) -> set[str]:
    """Dates (YYYY-MM-DD) that metadata tags give for the imagery."""
    found = set()
    for tags in tag_sets:
        for key, value in tags.items():
            if key.upper() in DATE_KEYS:
                m = _DATE_RE.search(str(value))
                if m and 1 <= int(m.group(2)) <= 12 and 1 <= int(m.group(3)) <= 31:
                    found.add(f"{m.group(1)}-{m.group(2)}-{m.group(3)}")
    return found


def date_in_name(name: str) -> str | None:
    """The sensing date in a Sentinel-2 style name ('S2A_MSIL1C_20230715T140711_…'), else None."""
    m = _NAME_DATE_RE.search(name)
    if not m or not (1 <= int(m.group(2)) <= 12 and 1 <= int(m.group(3)) <= 31):
        return None
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}"


# -- processing level and offset ------------------------------------------------------------------

_LEVEL_TAGS = ("PRODUCT_TYPE", "PROCESSING_LEVEL", "LEVEL")


def level_of(tag_sets: Sequence[Mapping[str, str]], name: str = "") -> str | None:
    """'L1C' or 'L2A' where the metadata or a Sentinel-2 name says which, else None."""
    for tags in tag_sets:
        for key, value in tags.items():
            if key.upper() in _LEVEL_TAGS:
                v = str(value).upper().replace("-", "").replace("_", "")
                if any(k in v for k in ("L2A", "LEVEL2A", "MSI2A")):  # "Level-2A", "S2MSI2A", "L2A"
                    return "L2A"
                if any(k in v for k in ("L1C", "LEVEL1C", "MSI1C")):
                    return "L1C"
    upper = name.upper()
    if "MSIL2A" in upper or "_L2A_" in f"_{upper}_":
        return "L2A"
    if "MSIL1C" in upper or "_L1C_" in f"_{upper}_":
        return "L1C"
    return None


def l2a_note(name: str) -> Message:
    """What a page and the CLI say of L2A imagery (flagged, not refused)."""
    return Message("{name}: This imagery is surface reflectance (Sentinel-2 L2A); the models were trained on "
                   "top-of-atmosphere L1C, so its scores are less reliable (typically lower over bright bare soil). "
                   "Use L1C imagery for figures you publish.", name=name)


_OFFSET_KEYS = ("RADIO_ADD_OFFSET", "BOA_ADD_OFFSET", "ADD_OFFSET")
_BASELINE_KEYS = ("PROCESSING_BASELINE",)


def baseline_of(tag_sets: Sequence[Mapping[str, str]], name: str = "") -> float | None:
    """The processing baseline (4.0 for 'N0400' or '04.00'), from tags or a product name."""
    for tags in tag_sets:
        for key, value in tags.items():
            if key.upper() in _BASELINE_KEYS:
                try:
                    return float(str(value).strip().lstrip("N"))
                except ValueError:
                    pass
    m = re.search(r"_N(\d{2})(\d{2})_", name.upper())
    return int(m.group(1)) + int(m.group(2)) / 100 if m else None


def offset_in_tags(tag_sets: Sequence[Mapping[str, str]]) -> float | None:
    """The radiometric add-offset the metadata states (-1000 for baseline 04.00 and later), else None."""
    for tags in tag_sets:
        for key, value in tags.items():
            if key.upper() in _OFFSET_KEYS:
                try:
                    return float(value)
                except ValueError:
                    pass
    return None


# -- the value scale -------------------------------------------------------------------------------

#: Largest 99th percentile of float values read as reflectance (0–1, bright clouds and sand reach ~1.5).
REFLECTANCE_MAX = 1.5
#: Smallest 99th percentile of values that can be L1C digital numbers (reflectance × 10,000).
DN_MIN = 100.0


@dataclass(frozen=True)
class Scale:
    """value × factor + offset = harmonized L1C digital number; ``note`` says what was done, if anything."""

    factor: float = 1.0
    offset: float = 0.0
    note: str = ""


def value_scale(name: str, dtype: np.dtype, sample: np.ndarray | None, offset: float | None,
                baseline: float | None) -> Scale:
    """How a file's values map to harmonized L1C digital numbers, from its dtype, metadata and pixels.

    Integer files hold digital numbers, except 8-bit ones (a rendered picture). Float files hold
    either digital numbers or reflectance 0–1 (Sentinel Hub, eo-learn, some exports), multiplied
    by 10,000 exactly. Anything in between is refused: scoring it would give scores near zero
    everywhere, a silent wrong answer. The +1,000 offset of baseline 04.00 and later is removed
    where the metadata states it (or states a baseline of 04.00 or later without an offset).
    """
    dtype = np.dtype(dtype)
    if dtype == np.uint8 or dtype == np.int8:
        raise ImageryError(
            "{name} is an 8-bit image: a rendered picture, not Sentinel-2 reflectance. Export the bands "
            "as digital numbers (UInt16, as Earth Engine's COPERNICUS/S2_HARMONIZED gives them) or as "
            "float reflectance.",
            name=name
        )
    factor = 1.0
    if dtype.kind == "f" and sample is not None and sample.size:
        p99 = float(np.percentile(sample, 99))
        if p99 <= REFLECTANCE_MAX:
            factor = 10_000.0
        elif p99 < DN_MIN:
            raise ImageryError(
                "{name} holds floating-point values whose 99th percentile is {p99:.3g}: neither reflectance "
                "(0–1) nor Sentinel-2 digital numbers (reflectance × 10,000, typically 100–10,000). Export "
                "the bands as L1C digital numbers or as reflectance 0–1.",
                name=name, p99=p99
            )
    if factor != 1.0:
        # Reflectance is physical: any offset was applied when it was computed.
        return Scale(factor, 0.0, Message("float reflectance (0–1) multiplied by 10,000"))
    if offset is None and baseline is not None and baseline >= 4.0:
        offset = -1000.0
    if offset:
        if baseline:
            return Scale(1.0, float(offset), Message(
                "{offset:+g} added to every value (the processing-baseline offset of baseline {baseline:05.2f}), "
                "as Earth Engine's S2_HARMONIZED does", offset=offset, baseline=baseline))
        return Scale(1.0, float(offset), Message(
            "{offset:+g} added to every value (the processing-baseline offset), as Earth Engine's S2_HARMONIZED does",
            offset=offset))
    return Scale()
