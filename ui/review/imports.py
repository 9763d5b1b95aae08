"""Review's label import: curated sampling-location files uploaded as labels, for admins (or anyone without sign-in
on a private server), onto the layer's patches where the points fall."""
from __future__ import annotations

import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import streamlit as st

from detector.errors import DetectorError
from detector.labels import LabelStore

from .. import identity
from ..i18n import _, number, text_of

MAX_BYTES = 50 * 1024 * 1024  # a sampling file is points; the same cap as a region file


def _safe_name(name: str) -> str:
    """The upload's own file name only (its answer is read from it), never a path."""
    return Path(name.replace("\\", "/")).name or "upload.geojson"


def import_labels(store: LabelStore, layer: gpd.GeoDataFrame, layer_name: str) -> None:
    """Upload GeoJSON files named *positives* (mines) or *negatives* (look-alikes) and import them as labels."""
    ok, why = identity.may("import")
    if not ok:
        st.caption(why)
        return
    files = st.file_uploader(_("Sampling-location GeoJSON files"), type=["geojson", "json"], accept_multiple_files=True,
                             key="review_import_files",
                             help=_("Named *positives* (mines) or *negatives* (not mines; *negatives_aquaculture* "
                                    "etc. name the look-alike), as the published sampling locations are."))
    onto = st.checkbox(_("Label the patches of {layer} where the points fall (else the points themselves)").format(
                           layer=layer_name),
                       value=True, key="review_import_onto")
    if not files or not st.button(_("Import"), key="review_import", icon=":material/upload:"):
        st.caption(_("Each file's labels are kept under the reviewer `import:<file name>`, so curated sets never "
                     "replace each other; importing a file again adds nothing. Also: `python -m detector labels "
                     "import FILE… --layer LAYER`."))
        return
    too_big = [f.name for f in files if f.size > MAX_BYTES]
    if too_big:
        st.error(_("{files}: over {mb} MB, larger than any sampling-location file. Nothing was imported; split the "
                   "file or check that it is the right one.").format(files=", ".join(too_big), mb=MAX_BYTES // 2**20))
        return
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for f in files:
            path = Path(tmp) / _safe_name(f.name)
            path.write_bytes(f.getvalue())
            paths.append(path)
        try:
            reports = store.import_sampling(paths, layer if onto else None, layer_name if onto else None)
        except DetectorError as exc:  # every file is checked before anything is written
            st.error(text_of(exc).replace(f"{tmp}/", "") + " " + _("Nothing was imported."))
            return
    added = sum(r.added for r in reports)
    labels = _("1 new label") if added == 1 else _("{n} new labels").format(n=number(added))
    files_ = _("1 file") if len(reports) == 1 else _("{n} files").format(n=len(reports))
    st.success(_("Imported {labels} from {files}.").format(labels=labels, files=files_))
    st.dataframe(pd.DataFrame([{_("file"): r.file, _("label"): _("mine") if r.is_mine == "yes" else
                                _("not a mine: {category}").format(category=_(r.category)) if r.category else _("not a mine"),
                                _("points"): r.points, _("skipped"): r.skipped, _("in patches"): r.inside,
                                _("patches"): r.patches, _("added"): r.added, _("already there"): r.unchanged}
                               for r in reports]), hide_index=True, width="stretch")
