"""The Detect page's inputs: region, imagery, year and model, checked before any work → a :class:`Request`.

The region tools are Explore's (draw, pick, upload: :mod:`ui.region_state`), so a region chosen on
one page is the region of the other. With a GeoTIFF and no region, the region is the image's
footprint: "does this image contain a mine?". Nothing here touches the network: Earth Engine
credentials are checked when the user asks or runs.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st
from shapely.geometry import box, mapping

from detector import periods
from detector.atomic import atomic_path
from detector.errors import DetectorError, RegionError
from detector.models import BANDS_12
from detector.region import check_region, clip_to_imagery
from detector.server_paths import allowed_path, paths_offered
from detector.sources import ImagerySource
from detector.sources.earthengine import FIRST_YEAR
from detector.sources.local import LocalSource

from .. import identity, region_state, workspace
from ..explore.panels import region_picker
from ..format import period_label
from ..i18n import N_, _, number, text_of
from ..map.kernel import Fly
from ..regions import Region
from .run import markdown

IMAGERY = {"earthengine": N_("Earth Engine (your account)"), "upload": N_("Upload a GeoTIFF or product"),
           "path": N_("Imagery on this machine")}
LOCAL_MODEL = "Local model file…"
_TIF, _TIF_KEY, _EE, _EE_STATUS = "detect_tif", "detect_tif_upload", "detect_ee_source", "detect_ee_status"


@dataclass
class Request:
    """Everything a run needs, or the problems that stop it (shown already)."""

    year: periods.Period  # the period (a year, a quarter, a date range)
    region: Region | None = None
    whole_image: bool = False
    model_ref: str = ""
    source: ImagerySource | None = None
    source_label: str = ""
    source_arg: str = "earthengine"  # the CLI's --source for the same imagery, as the visitor knows it
    source_ref: str = "earthengine"  # what opens the same imagery on this server (a watch keeps it; never shown)
    geotiff: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems and self.region is not None and self.source is not None and bool(self.model_ref)


# ---------------------------------------------------------------- imagery

def save_upload(raw: bytes, folder: Path, suffix: str = ".tif") -> Path:
    """An upload as ``folder/<sha256>.tif`` (or ``.zip``, a product): the same bytes, the same path and file.

    The GeoTIFF source names its store entries after the file's path, size and time, so keeping
    one file per content keeps a re-upload (also after a restart) on the scores already stored.
    """
    suffix = ".zip" if suffix.lower() == ".zip" else ".tif"  # never a name the visitor chose
    path = folder / f"{hashlib.sha256(raw).hexdigest()}{suffix}"
    if not path.exists():
        with atomic_path(path) as tmp:
            tmp.write_bytes(raw)
    return path


@st.cache_resource(show_spinner=False, max_entries=32)
def _geotiff(path: str, stamp: str) -> LocalSource:
    return LocalSource(path)


def geotiff(path: str | Path) -> LocalSource:
    """A GeoTIFF source, inspected once per file version (an ImageryError says what is wrong)."""
    p = Path(path).expanduser()
    stat = p.stat() if p.exists() else None
    return _geotiff(str(p.resolve()), f"{stat.st_size}:{stat.st_mtime_ns}" if stat else "")


def _on_tif_upload() -> None:
    f = st.session_state.get(_TIF_KEY)
    if f is None:
        st.session_state[_TIF] = None
        return
    path = save_upload(f.getvalue(), workspace.current().layout.uploads, Path(f.name).suffix)
    st.session_state[_TIF] = {"path": str(path), "name": f.name}


def earth_engine() -> ImagerySource:
    """The session's Earth Engine source (initialised once, on first check or run)."""
    if st.session_state.get(_EE) is None:
        st.session_state[_EE] = workspace.current().open_source("earthengine")
    return st.session_state[_EE]


def _check_ee(year: int) -> None:
    try:
        earth_engine().check(box(0, 0, 0.01, 0.01), BANDS_12, year)
        st.session_state[_EE_STATUS] = (True, "Earth Engine answers: credentials and project work.")
    except DetectorError as exc:
        st.session_state[_EE_STATUS] = (False, text_of(exc))


def imagery(req: Request, check_dates: bool = True) -> None:
    """The imagery choice; fills the request's source (or a problem). ``check_dates``: refuse imagery dated
    outside the request's period (the Change page's periods are checked per period instead)."""
    offered = [k for k in IMAGERY if k != "path" or paths_offered(workspace.current().settings)]
    if not identity.may("earthengine")[0]:  # what this visitor can use comes first
        offered = [k for k in offered if k != "earthengine"] + ["earthengine"]
    if st.session_state.get("detect_imagery") not in offered:
        st.session_state.pop("detect_imagery", None)
    kind = st.radio(_("Imagery"), offered, format_func=lambda k: _(IMAGERY[k]), key="detect_imagery", horizontal=True)
    if kind == "earthengine":
        req.source, req.source_label = earth_engine(), "Earth Engine (S2 L1C, Cloud Score+)"
        st.caption(_("A yearly cloud-masked median of Sentinel-2 L1C, fetched under your own Earth Engine account "
                     "(credentials are checked when you run)."))
        ok, why = identity.may("earthengine")
        if not ok:
            st.warning(why)
            req.problems.append(why)
            return
        st.button(_("Check Earth Engine credentials"), key="detect_ee_check", on_click=_check_ee, args=(req.year,))
        status = st.session_state.get(_EE_STATUS)
        if status:
            (st.success if status[0] else st.error)(markdown(status[1]))
        return
    req.geotiff = True
    if kind == "upload":
        # No per-widget size: the server's one limit (server.maxUploadSize) is what the box shows and enforces.
        st.file_uploader(_("Sentinel-2 GeoTIFF (bands named B1 … B12), or an L1C product's .zip as the Copernicus "
                           "Browser gives it"), type=["tif", "tiff", "zip"], key=_TIF_KEY, on_change=_on_tif_upload)
        held = st.session_state.get(_TIF)
        path, name = (held["path"], f"{held['name']} (uploaded)") if held else ("", "")
    else:
        path = st.text_input(_("Path of a GeoTIFF, a Sentinel-2 product (.SAFE or .zip), or a folder of them"),
                             key="detect_tif_path", placeholder="/data/S2_2023_scene.tif").strip()
        st.caption(_("A folder of products is combined as the median of their cloud-masked scenes (as Earth Engine's "
                     "composite); a folder of GeoTIFFs (one file per band works too) as a mosaic."))
        name = Path(path).name
    if not path:
        req.problems.append(_("Choose the imagery to score."))
        return
    try:
        if kind == "path":
            path = str(allowed_path(path, workspace.current().settings))
        req.source = geotiff(path)
    except DetectorError as exc:
        st.error(markdown(text_of(exc)))
        req.problems.append(text_of(exc))
        return
    # An upload's file on the server is not the visitor's to see: the command line names their own file.
    req.source_label, req.source_arg = name, (shlex.quote(held["name"]) if kind == "upload" else shlex.quote(path))
    req.source_ref = str(path)
    for note in getattr(req.source, "notes", []):
        (st.warning if "L2A" in note else st.caption)(text_of(note))
    years, dates = getattr(req.source, "years", ()), getattr(req.source, "dates", ())
    if check_dates and dates and not any(periods.contains(req.year, d) for d in dates):
        text = _("The file's metadata dates its imagery {dates}: set the **Period** to one that holds those dates, "
                 "such as the year {year} (now {period}), so the scores are stored and shown under the period the "
                 "image shows.").format(dates=", ".join(dates[:4]), year=years[-1], period=period_label(req.year))
        st.warning(text)
        req.problems.append(text)


# ---------------------------------------------------------------- model and year

def model(req: Request) -> None:
    ws = workspace.current()
    names = list(ws.models())
    options = [*names, LOCAL_MODEL] if paths_offered(ws.settings) else names
    if st.session_state.get("detect_model") not in options:
        st.session_state.pop("detect_model", None)
    choice = st.selectbox(_("Model"), options, key="detect_model",
                          format_func=lambda n: _("{name} (default)").format(name=n) if n == names[0] else n)
    ref = choice
    if choice == LOCAL_MODEL:
        ref = st.text_input(_("Model file (.h5 or .keras)"), key="detect_model_path").strip()
        if not ref:
            req.problems.append(_("Give the path of your model file."))
            return
    try:
        if choice == LOCAL_MODEL:
            ref = str(allowed_path(ref, ws.settings))
        spec = ws.detector(ref).spec
    except DetectorError as exc:
        st.error(markdown(text_of(exc)))
        req.problems.append(text_of(exc))
        return
    req.model_ref = ref
    extra = _(" + indices {names}").format(names=", ".join(spec.indices)) if spec.indices else ""
    st.caption(_("{description} Bands: {n}{extra}; recommended threshold {threshold:g}.").format(
        description=spec.description, n=len(spec.bands), extra=extra, threshold=spec.threshold))


PERIOD_KINDS = {"year": N_("Year"), "quarter": N_("Quarter"), "range": N_("Dates")}
_KIND, _QUARTER, _DATES = "detect_period_kind", "detect_quarter", "detect_dates"


def year(view) -> periods.Period:
    """The period to score: a calendar year (as before), a quarter, or a date range."""
    this = dt.date.today()
    default = min(max(int(str(view.period)[:4]), FIRST_YEAR), this.year)
    st.session_state.setdefault(_KIND, "year")  # in Session State only, never also as a default (a reopened run sets it)
    kind = st.segmented_control(_("Period"), list(PERIOD_KINDS), format_func=lambda k: _(PERIOD_KINDS[k]), key=_KIND,
                                help=_("Earth Engine composites the period's clear looks (Sentinel-2 L1C with Cloud "
                                       "Score+, {first} onwards); local imagery is taken from the scenes dated in it. "
                                       "Quarters and date ranges as Amazon Mining Watch's quarterly layers.").format(
                                    first=FIRST_YEAR)) or "year"
    if kind == "range":
        if _DATES not in st.session_state:
            st.session_state[_DATES] = (dt.date(default, 1, 1), min(dt.date(default, 3, 31), this))
        picked = st.date_input(_("From – to (both days included)"), key=_DATES, min_value=dt.date(FIRST_YEAR, 1, 1),
                               max_value=this)
        if isinstance(picked, tuple) and len(picked) == 2:
            return periods.between(*picked)
        st.caption(_("Pick the last day too."))
        return periods.between(picked[0], picked[0]) if isinstance(picked, tuple) and picked else periods.year(default)
    c1, c2 = st.columns(2)
    y = int(c1.number_input(_("Year"), FIRST_YEAR, this.year, default, step=1, key="detect_year",
                            help=_("The calendar year (a GeoTIFF: the year it shows; it names the stored scores "
                                   "and the basemap).")))
    if kind == "quarter":
        q = c2.selectbox(_("Quarter"), [1, 2, 3, 4], key=_QUARTER, format_func=lambda n: _("Q{quarter}").format(quarter=n))
        return periods.quarter(y, q)
    return periods.year(y)


# ---------------------------------------------------------------- region

def cli_command(req: Request, km2: float) -> str:
    when = f"--year {req.year}" if periods.of(req.year).kind == "year" else f"--period {periods.of(req.year).key}"
    return (f"python -m detector detect --region region.geojson {when} --model {req.model_ref or 'MODEL'} "
            f"--source {req.source_arg} --max-area {math.ceil(km2)} --out mines.geojson")


def too_large(req: Request, km2: float, limit: float) -> str:
    """The refusal of a region over the on-demand limit, with the command line that runs it."""
    return _("**{name}** covers {km2:,.0f} km², more than the {limit:,.0f} km² this page scores on demand. Run it "
             "from the command line (download the region below):\n\n```\n{command}\n```\n\nFor a large region "
             "(up to a whole basin) add `--workers N` to spread the tiles over N processes of this machine, or "
             "`--scheduler tcp://HOST:8786` to run them on a Dask cluster; a stopped run resumes where it stopped. "
             "Or split it into smaller regions. (The limit is DETECTOR_MAX_AREA_KM2 on the server.)").format(
        name=req.region.name, km2=km2, limit=limit, command=cli_command(req, km2))


def region(req: Request, view) -> None:
    """The active region (or the GeoTIFF's footprint), its size, and a refusal when it is too large."""
    req.region = region_state.active_region(view)
    if req.region is None and req.geotiff and req.source is not None:
        req.region = Region(f"image:{req.source.key}", _("Whole image: {name}").format(name=req.source_label),
                            req.source.footprint())
        req.whole_image = True
    if req.region is None:
        st.info(_("Draw a rectangle or polygon on the map, pick a country or territory, or upload a GeoJSON "
                  "(or leave it empty to score the whole GeoTIFF).") if req.geotiff else
                _("Draw a rectangle or polygon on the map, pick a country or territory, or upload a GeoJSON."))
        req.problems.append(_("No region."))
        return
    if req.geotiff and req.source is not None and not req.whole_image:
        clipped = clip_to_imagery(req.region.geometry, req.source.footprint())
        if clipped is not req.region.geometry:  # the size limit applies to what will be scored
            req.region = Region(f"{req.region.key}|image:{req.source.key}",
                                _("{region} (the part {image} covers)").format(region=req.region.name,
                                                                                image=req.source_label), clipped)
    try:
        km2 = check_region(req.region.geometry, float("inf"))
    except RegionError as exc:
        st.error(text_of(exc))
        req.problems.append(text_of(exc))
        return
    st.markdown(_("**Region:** {name}, {area} km²").format(name=req.region.name, area=number(km2, ",.1f")))
    limit = workspace.current().settings.max_area_km2
    if km2 > limit:
        refusal = too_large(req, km2, limit)
        st.error(refusal)
        st.download_button("region.geojson", json.dumps({"type": "Feature", "properties": {"name": req.region.name},
                                                         "geometry": mapping(req.region.geometry)}),
                           "region.geojson", "application/geo+json", key="detect_region_download", on_click="ignore")
        req.problems.append(refusal)
    if not req.whole_image:
        st.button(_("Clear region"), key="detect_clear_region", on_click=region_state.clear_region)


def fly(req: Request) -> Fly | None:
    """Where the map should go: a whole GeoTIFF once when it becomes the region, else Explore's fly."""
    if req.whole_image and req.region is not None:
        return Fly(req.region.key, tuple(req.region.geometry.bounds), "", clear_drawn=True)
    return region_state.fly()


def controls(view) -> Request:
    """Every input; problems are shown where they arise. The region comes first on the page but is
    settled last, since a GeoTIFF without a region means the image's footprint."""
    region_box = st.container()
    st.subheader(_("Imagery, period and model"))
    _restore_form()
    req = Request(year=periods.year(FIRST_YEAR))
    req.year = year(view)  # its own row: Year / Quarter / Dates and their inputs need the width
    model(req)
    imagery(req)
    with region_box:
        region_picker(view)
        region(req, view)
    st.session_state[_FORM] = {k: st.session_state[k] for k in _FORM_KEYS if k in st.session_state}
    return req


#: The form's widgets, kept beside them (Streamlit forgets a widget's value on pages that do not draw it),
#: so coming back to Detect finds the form that made the result on show: imagery, file, year, model.
_FORM, _FORM_KEYS = "detect_form", ("detect_imagery", "detect_tif_path", "detect_year", _KIND, _QUARTER, _DATES,
                                     "detect_model", "detect_model_path")


def for_record(record) -> dict:
    """The form a reopened run was made with, as far as its record says (a new session, a shared link)."""
    p = record.the_period
    form = {"detect_year": p.year, _KIND: p.kind}
    if p.kind == "quarter":
        form[_QUARTER] = int(p.key[-1])
    elif p.kind == "range":
        form[_DATES] = (p.start, p.last_day)
    if record.model_ref in workspace.current().models():
        form["detect_model"] = record.model_ref
    elif record.model_ref:
        form.update(detect_model=LOCAL_MODEL, detect_model_path=record.model_ref)
    if str(record.source_key).startswith("ee-"):
        form["detect_imagery"] = "earthengine"
    return form


def _restore_form() -> None:
    for key, value in st.session_state.get(_FORM, {}).items():
        if key not in st.session_state:
            st.session_state[key] = value
