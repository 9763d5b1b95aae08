"""Landing page: what the tool is, which models are registered, whether the published data is here."""
import pandas as pd
import streamlit as st

from detector.models import registry
from ui import workspace
from ui.i18n import _

st.title(_("Gold-mine detector"))
st.markdown(_(
    "Finds artisanal gold mines in Sentinel-2 imagery with the published "
    "[Amazon Mining Watch](https://amazonminingwatch.org) models, and with models trained here from "
    "reviewers' labels. **Explore** and **Trends** show the published yearly layers; **Detect** scores a "
    "region you draw; **Review** and **Tune** check detections against labels; **Models** shows each "
    "model and the training report of those trained here."
))

st.subheader(_("Registered models"))
rows = [
    {
        _("model"): name + (" " + _("(default)") if i == 0 else ""),
        _("bands"): len(spec.bands),
        _("ensemble members"): spec.ensemble,
        _("threshold"): spec.threshold,
        _("file here"): _("yes") if spec.available() else _("no — downloads on first use"),
        _("description"): spec.description,
    }
    for i, (name, spec) in enumerate(registry().items())
]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

st.subheader(_("Published data"))
mirror = workspace.current().settings.mirror
if mirror is None:
    st.info(_(
        "No mirror folder is set: published models and data are downloaded from their public "
        "address on first use (with checksum). Offline, set `DETECTOR_MIRROR` to a folder holding a copy."
    ))
elif not mirror.is_dir():
    # The server's folders are not shown to visitors; whoever runs the server sees the path in its log.
    st.error(_("`DETECTOR_MIRROR` names a folder that does not exist on the server. Fix the path or unset it."))
else:
    n = sum(1 for p in mirror.rglob("*") if p.is_file())
    st.success(_("Reading published files from the server's mirror folder (`DETECTOR_MIRROR`, {n} files).").format(n=n))
st.caption(_("Scores, runs, labels and trained models are kept in the server's data folder (`DETECTOR_DATA_DIR`)."))

st.caption(_(
    "Models and data: Earth Genome, [mining-detector](https://github.com/earthrise-media/mining-detector) "
    "(models MIT; data CC BY 4.0). Imagery: contains modified Copernicus Sentinel data."
))
