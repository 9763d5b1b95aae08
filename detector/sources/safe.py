"""Sentinel-2 products as the Copernicus Browser and Data Space hand them out: a ``.SAFE`` folder or ``.zip``.

Read in place with rasterio (JPEG 2000 per band; members of a zip through GDAL's /vsizip/, never
unpacked). The product's metadata gives the processing baseline and the radiometric offset, which
is removed so values match Earth Engine's ``S2_HARMONIZED``; the sensing date; the level (L2A is
read, and flagged). The product's own cloud mask hides pixels: ``MSK_CLASSI_B00.jp2`` (opaque
clouds and cirrus, baseline 04.00 and later) or the ``MSK_CLOUDS_B00.gml`` polygons before that.
"""
from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

import rasterio
from rasterio.warp import transform_bounds
from shapely.geometry import Polygon, box

from ..errors import ImageryError, Message
from . import bands as B
from .raster import BandRef, Scene, gdal_env, open_raster

JP2 = "JP2OpenJPEG"
#: Metadata files are small (tens of kB); anything far larger is not a product's.
MAX_XML_BYTES = 20_000_000
#: band_id in the metadata's offset lists → band name.
BAND_IDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
_MTD_RE = re.compile(r"(?:^|/)MTD_MSIL(1C|2A)\.xml$")
_RES_RE = re.compile(r"_(10|20|60)m\.jp2$", re.IGNORECASE)  # an L2A band file's resolution


def is_product(path: Path) -> bool:
    """A .SAFE folder, or a .zip (the product readers refuse a zip that holds none)."""
    return (path.is_dir() and path.suffix.upper() == ".SAFE") or (path.is_file() and path.suffix.lower() == ".zip")


@dataclass
class _Members:
    """A product's files, as (relative name → GDAL path), and a way to read its small files."""

    label: str  # the product's name, for messages
    names: dict[str, str]
    read_text: Callable[[str], bytes]

    @classmethod
    def of(cls, path: Path) -> _Members:
        if path.is_dir():
            files = {str(p.relative_to(path).as_posix()): str(p) for p in path.rglob("*") if p.is_file()}
            return cls(path.name, files, lambda rel: _limited(Path(files[rel]).read_bytes()))
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError):
            raise ImageryError("{path_name} is not a readable zip (damaged or cut short?). Download the product again.", path_name=path.name) from None
        infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
        base = f"/vsizip/{path.resolve()}"
        files = {name: f"{base}/{name}" for name in infos}

        def read(rel: str) -> bytes:
            if infos[rel].file_size > MAX_XML_BYTES:
                raise ImageryError("{name} in {path_name} is far too large for product metadata.", name=PurePosixPath(rel).name, path_name=path.name)
            with zipfile.ZipFile(path) as z:
                return z.read(rel)

        return cls(path.name, files, read)


def _limited(data: bytes) -> bytes:
    if len(data) > MAX_XML_BYTES:
        raise ImageryError("A metadata file of the product is far too large to be Sentinel-2 metadata.")
    return data


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml(data: bytes, what: str) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(data)  # no external entities are resolved; expat limits expansion
    except ElementTree.ParseError as exc:
        raise ImageryError("{what} is not valid XML ({exc}). Download the product again.", what=what, exc=exc) from None


def read_product(path: Path) -> list[Scene]:
    """The product's scenes (one per granule; an L1C product from the Data Space has one)."""
    m = _Members.of(path)
    mtd = [n for n in m.names if _MTD_RE.search(n)]
    if not mtd:
        raise ImageryError(
            "{m_label} is not a Sentinel-2 product: it has no MTD_MSIL1C.xml (or MTD_MSIL2A.xml). Give "
            "the .SAFE folder or .zip as downloaded from the Copernicus Browser or Data Space.",
            m_label=m.label
        )
    root_rel = mtd[0].rsplit("/", 1)[0] + "/" if "/" in mtd[0] else ""
    if root_rel.rstrip("/").upper().endswith(".SAFE"):
        m.label = PurePosixPath(root_rel.rstrip("/")).name  # the product's own name, also for an upload's hashed file name
    meta = _xml(m.read_text(mtd[0]), f"{PurePosixPath(mtd[0]).name} of {m.label}")
    info = {_local(e.tag): (e.text or "").strip() for e in meta.iter() if len(e) == 0}
    level = "L2A" if _MTD_RE.search(mtd[0]).group(1) == "2A" else "L1C"
    baseline = B.baseline_of([info], m.label)
    offset = _offset(meta, m.label)
    if offset is None and baseline is not None and baseline >= 4.0:
        raise ImageryError(
            "{m_label} has processing baseline {baseline:05.2f} but its metadata lists no radiometric "
            "offset (RADIO_ADD_OFFSET / BOA_ADD_OFFSET). The product is incomplete; download it again.",
            m_label=m.label, baseline=baseline
        )
    quant = _quantification(info)
    date = _date(info, m.label)
    granules = sorted({n.split("GRANULE/", 1)[1].split("/", 1)[0] for n in m.names if f"{root_rel}GRANULE/" in n})
    if not granules:
        raise ImageryError("{m_label} has no GRANULE folder with imagery. Download the product again.", m_label=m.label)
    scenes = []
    for g in granules:
        prefix = f"{root_rel}GRANULE/{g}/"
        bands = _band_files(m, prefix + "IMG_DATA/")
        if not bands:
            raise ImageryError("{m_label}: granule {g} has no band files (IMG_DATA/*_B02.jp2, …). Download it again.", m_label=m.label, g=g)
        notes = []
        if offset:
            notes.append(Message("{name}: the processing-baseline offset ({offset:+g}) removed, as S2_HARMONIZED does.",
                                 name=m.label, offset=offset))
        if level == "L2A":
            notes.append(B.l2a_note(m.label))
        scene = Scene(
            name=m.label, bands=bands, footprint=_footprint(bands, m.label), nodata=0.0,
            factor=10_000.0 / quant, offset=(offset or 0.0) * 10_000.0 / quant,
            dates=(date,) if date else (), level=level, notes=notes,
        )
        _cloud_mask(m, prefix + "QI_DATA/", scene)
        scenes.append(scene)
    return scenes


def _offset(meta: ElementTree.Element, label: str) -> float | None:
    """The one radiometric add-offset of all bands (RADIO_ADD_OFFSET for L1C, BOA_ADD_OFFSET for L2A)."""
    values = {float(e.text) for e in meta.iter() if _local(e.tag) in ("RADIO_ADD_OFFSET", "BOA_ADD_OFFSET") and e.text}
    if len(values) > 1:
        raise ImageryError("{label} gives different radiometric offsets per band ({values}); this is not supported. "
                           "Convert the product to a GeoTIFF of digital numbers first.",
                           label=label, values=sorted(values))
    return values.pop() if values else None


def _quantification(info: dict[str, str]) -> float:
    for key in ("QUANTIFICATION_VALUE", "BOA_QUANTIFICATION_VALUE"):
        if info.get(key):
            q = float(info[key])
            if q > 0:
                return q
    return 10_000.0


def _date(info: dict[str, str], label: str) -> str | None:
    found = B.dates_in_tags([{k: v for k, v in info.items() if k in ("PRODUCT_START_TIME", "DATATAKE_SENSING_START")}])
    return min(found) if found else B.date_in_name(label)


def _band_files(m: _Members, img: str) -> dict[str, BandRef]:
    """Each band's file, the finest resolution where an L2A product has several (R10m, R20m, R60m)."""
    best: dict[str, tuple[int, str]] = {}
    for rel, gdal_path in m.names.items():
        if not rel.startswith(img):
            continue
        named = B.band_in_file_name(PurePosixPath(rel).stem) if rel.lower().endswith(".jp2") else None
        if not named:
            continue
        band = named[0]
        res_hit = _RES_RE.search(rel)
        res = int(res_hit.group(1)) if res_hit else 0
        if band not in best or res < best[band][0]:
            best[band] = (res, gdal_path)
    return {b: BandRef(p, 1, JP2) for b, (_, p) in best.items()}


def _footprint(bands: dict[str, BandRef], label: str):
    ref = bands.get("B2") or next(iter(bands.values()))
    try:
        with gdal_env(), open_raster(ref.path, JP2) as src:
            if src.crs is None:
                raise ImageryError("{label}: the band files carry no coordinate reference system.", label=label)
            return box(*transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21))
    except rasterio.errors.RasterioError:
        raise ImageryError(
            "{label}: the band file {name} cannot be read (damaged or cut short). Download the product "
            "again.",
            label=label, name=PurePosixPath(ref.path).name
        ) from None


def _cloud_mask(m: _Members, qi: str, scene: Scene) -> None:
    """The product's cloud mask on the scene: opaque clouds and cirrus hidden."""
    classi = [p for rel, p in m.names.items() if rel.startswith(qi) and rel.endswith("MSK_CLASSI_B00.jp2")]
    if classi:
        # Bands: 1 opaque clouds, 2 cirrus, 3 snow and ice (kept: the models saw snow-free tropics anyway).
        scene.mask_bands = (BandRef(classi[0], 1, JP2), BandRef(classi[0], 2, JP2))
        return
    gml = [rel for rel in m.names if rel.startswith(qi) and rel.endswith("MSK_CLOUDS_B00.gml")]
    if gml:
        scene.mask_shapes, scene.mask_crs = _gml_polygons(m.read_text(gml[0]), scene.name)
        return
    scene.notes.append(Message("{name}: the product has no cloud mask (QI_DATA/MSK_CLASSI_B00.jp2 or "
                               "MSK_CLOUDS_B00.gml); clouds are scored as they are.", name=scene.name))


def _gml_polygons(data: bytes, label: str) -> tuple[tuple[Polygon, ...], str | None]:
    """Polygons (and their CRS) of the pre-04.00 vector cloud mask."""
    if not data.strip():
        return (), None
    root = _xml(data, f"MSK_CLOUDS_B00.gml of {label}")
    crs = None
    for e in root.iter():
        name = e.get("srsName")
        if name:
            hit = re.search(r"EPSG[:/]+(?:[\d.]*[:/]+)?(\d{4,5})", name)
            crs = f"EPSG:{hit.group(1)}" if hit else crs
            break
    shapes = []
    for poly in (e for e in root.iter() if _local(e.tag) == "Polygon"):
        rings = []
        for ring in (e for e in poly.iter() if _local(e.tag) == "posList"):
            vals = [float(v) for v in (ring.text or "").split()]
            dim = int(ring.get("srsDimension") or 2)
            rings.append([(vals[i], vals[i + 1]) for i in range(0, len(vals) - dim + 1, dim)])
        if rings and len(rings[0]) >= 3:
            shapes.append(Polygon(rings[0], [r for r in rings[1:] if len(r) >= 3]))
    return tuple(shapes), crs
