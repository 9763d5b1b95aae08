"""Synthetic Sentinel-2 products in the exact layout the Copernicus Data Space hands out.

A ``.SAFE`` folder (or its ``.zip``): ``MTD_MSIL1C.xml`` with the processing baseline, the
quantification value and the per-band radiometric offsets; ``GRANULE/L1C_…/IMG_DATA/T…_B02.jp2``
and the rest at their native 10, 20 and 60 m (lossless JPEG 2000); the cloud mask as
``QI_DATA/MSK_CLASSI_B00.jp2`` (baseline 04.00 and later) or ``MSK_CLOUDS_B00.gml`` (before).

:func:`truth` gives the 10 m scene every reader must reproduce: harmonized digital numbers (what
Earth Engine's ``S2_HARMONIZED`` serves), coarse bands constant over their 20 m / 60 m cells.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

BANDS_13 = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
NATIVE_M = {"B1": 60, "B2": 10, "B3": 10, "B4": 10, "B5": 20, "B6": 20, "B7": 20, "B8": 10, "B8A": 20,
            "B9": 60, "B10": 60, "B11": 20, "B12": 20}


def truth(source_tif: Path) -> tuple[np.ndarray, dict]:
    """(13, H, W) harmonized DN from a synthetic GeoTIFF, coarse bands averaged over their cells, and its profile."""
    with rasterio.open(source_tif) as src:
        names = list(src.descriptions)
        h6, w6 = src.height // 6 * 6, src.width // 6 * 6  # whole 60 m cells only
        data = src.read(window=((0, h6), (0, w6))).astype(np.float64)
        profile = {**src.profile, "height": h6, "width": w6}
    out = np.empty((13, data.shape[1], data.shape[2]), np.float64)
    for i, b in enumerate(BANDS_13):
        band = data[names.index(b)]
        k = NATIVE_M[b] // 10
        h, w = band.shape
        cells = band.reshape(h // k, k, w // k, k).mean(axis=(1, 3))
        out[i] = np.repeat(np.repeat(cells, k, 0), k, 1)
    return np.rint(out).astype(np.uint16), profile


def _jp2(path: Path, data: np.ndarray, crs, x0: float, ytop: float, res: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = data.shape[0]
    with rasterio.open(path, "w", driver="JP2OpenJPEG", width=data.shape[2], height=data.shape[1], count=count,
                       dtype=data.dtype.name, crs=crs, transform=from_origin(x0, ytop, res, res),
                       QUALITY=100, REVERSIBLE="YES", BLOCKXSIZE=1024, BLOCKYSIZE=1024) as dst:  # ESA's JP2 tiling
        dst.write(data)


def _mtd(level: str, date: str, baseline: str, offset: int | None, quant: int) -> str:
    ns = f"https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-{level}.xsd"
    if level == "1C":
        offsets = "".join(f'<RADIO_ADD_OFFSET band_id="{i}">{offset}</RADIO_ADD_OFFSET>' for i in range(13))
        image = (f'<QUANTIFICATION_VALUE unit="none">{quant}</QUANTIFICATION_VALUE>'
                 + (f"<Radiometric_Offset_List>{offsets}</Radiometric_Offset_List>" if offset is not None else ""))
    else:
        offsets = "".join(f'<BOA_ADD_OFFSET band_id="{i}">{offset}</BOA_ADD_OFFSET>' for i in range(13))
        image = (f'<QUANTIFICATION_VALUES_LIST><BOA_QUANTIFICATION_VALUE unit="none">{quant}</BOA_QUANTIFICATION_VALUE>'
                 "</QUANTIFICATION_VALUES_LIST>"
                 + (f"<BOA_ADD_OFFSET_VALUES_LIST>{offsets}</BOA_ADD_OFFSET_VALUES_LIST>" if offset is not None else ""))
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<n1:Level-{level}_User_Product xmlns:n1="{ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>{date}T14:07:11.024Z</PRODUCT_START_TIME>
      <PRODUCT_STOP_TIME>{date}T14:07:11.024Z</PRODUCT_STOP_TIME>
      <PROCESSING_LEVEL>Level-{level}</PROCESSING_LEVEL>
      <PRODUCT_TYPE>S2MSI{level}</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
    </Product_Info>
    <Product_Image_Characteristics>{image}</Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-{level}_User_Product>
"""


def _gml(crs_code: int, polygons: list[list[tuple[float, float]]]) -> str:
    feats = "".join(
        f"""<eop:maskMembers><eop:MaskFeature gml:id="OPAQUE.{i}"><eop:maskType codeSpace="urn:x">OPAQUE</eop:maskType>
        <eop:extentOf><gml:Polygon gml:id="OPAQUE.{i}.p"><gml:exterior><gml:LinearRing>
        <gml:posList srsDimension="2">{' '.join(f'{x:.1f} {y:.1f}' for x, y in ring)}</gml:posList>
        </gml:LinearRing></gml:exterior></gml:Polygon></eop:extentOf></eop:MaskFeature></eop:maskMembers>"""
        for i, ring in enumerate(polygons)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<eop:Mask xmlns:eop="http://www.opengis.net/eop/2.0" xmlns:gml="http://www.opengis.net/gml/3.2" gml:id="MSK">
<gml:boundedBy><gml:Envelope srsName="urn:ogc:def:crs:EPSG::{crs_code}"><gml:lowerCorner>0 0</gml:lowerCorner>
<gml:upperCorner>1 1</gml:upperCorner></gml:Envelope></gml:boundedBy>{feats}</eop:Mask>
"""


def write_product(folder: Path, scene: np.ndarray, profile: dict, date: str = "2023-07-15",
                  baseline: str = "05.09", level: str = "1C", clouds60: np.ndarray | None = None,
                  as_zip: bool = False, tile_id: str = "T18LXQ", quant: int = 10_000) -> Path:
    """A product holding ``scene`` (13, H, W) harmonized DN; ``clouds60`` (H/6, W/6) bool marks opaque clouds.

    Baseline 04.00 and later store DN + 1000 and list RADIO_ADD_OFFSET -1000, as ESA's products do.
    """
    stamp = date.replace("-", "") + "T140711"
    offset = -1000 if float(baseline) >= 4 else None
    name = f"S2B_MSIL{level}_{stamp}_N{baseline.replace('.', '')}_R010_{tile_id}_{date.replace('-', '')}T154320.SAFE"
    root = folder / name
    granule = root / "GRANULE" / f"L{level}_{tile_id}_A033123_{stamp}"
    crs, t = profile["crs"], profile["transform"]
    stored = scene.astype(np.int64) * quant // 10_000 - (offset or 0)
    stored = np.where(scene == 0, 0, stored).astype(np.uint16)  # 0 stays "no data", as in the products
    for i, b in enumerate(BANDS_13):
        if level == "2A" and b == "B10":
            continue
        k = NATIVE_M[b] // 10
        coarse = stored[i][::k, ::k][None]
        if level == "1C":
            path = granule / "IMG_DATA" / f"{tile_id}_{stamp}_{b.replace('B', 'B0') if len(b) == 2 else b}.jp2"
        else:
            path = granule / "IMG_DATA" / f"R{NATIVE_M[b]}m" / f"{tile_id}_{stamp}_{b.replace('B', 'B0') if len(b) == 2 else b}_{NATIVE_M[b]}m.jp2"
        _jp2(path, coarse, crs, t.c, t.f, 10.0 * k)
    (root / f"MTD_MSIL{level}.xml").write_text(_mtd(level, date, baseline, offset, quant))
    qi = granule / "QI_DATA"
    qi.mkdir(parents=True, exist_ok=True)
    clouds60 = np.zeros((scene.shape[1] // 6, scene.shape[2] // 6), bool) if clouds60 is None else clouds60
    if float(baseline) >= 4:
        classi = np.stack([clouds60, np.zeros_like(clouds60), np.zeros_like(clouds60)]).astype(np.uint8)
        _jp2(qi / "MSK_CLASSI_B00.jp2", classi, crs, t.c, t.f, 60.0)
    else:
        rings = []
        for r, c in zip(*np.nonzero(clouds60)):
            x0, y0 = t.c + c * 60, t.f - r * 60
            rings.append([(x0, y0), (x0 + 60, y0), (x0 + 60, y0 - 60), (x0, y0 - 60), (x0, y0)])
        (qi / "MSK_CLOUDS_B00.gml").write_text(_gml(rasterio.crs.CRS.from_user_input(crs).to_epsg(), rings))
    if not as_zip:
        return root
    zpath = folder / (name[:-5] + ".zip")
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as z:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(folder).as_posix())
    import shutil

    shutil.rmtree(root)
    return zpath


def cloud_mask_10m(clouds60: np.ndarray) -> np.ndarray:
    """The 10 m pixels a 60 m cloud mask hides."""
    return np.repeat(np.repeat(clouds60, 6, 0), 6, 1)
