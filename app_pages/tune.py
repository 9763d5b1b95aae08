"""Tune: what a threshold (and the isolation rule) does to precision, recall, counts and area.

Thin: the truth of each patch and the scores come from detector.evaluate (cached in ui.tune.view),
the layer and the label store from ui.review.layers. The threshold is the shared sidebar's.
"""
import streamlit as st

from detector import evaluate
from ui import state
from ui.i18n import _, chart, text_of
from ui.review import layers as review_layers
from ui.review import maps as review_maps
from ui.tune import view as tune_view

view = state.current()
st.title(_("Tune"))
st.caption(_(
    "Choose a threshold against what reviewers said. The sidebar's threshold and the isolation rule below "
    "re-filter the layer instantly; precision and recall are measured on the labelled patches, the map colours "
    "what each setting gets right and wrong. Labels come from **Review** and `python -m detector labels import`."
))

info = review_layers.picker("tune_layer")
layer = review_layers.load_or_explain(info) if info else None
if layer is None:
    st.stop()

store = review_layers.label_store()
version = store.count()
truth = tune_view.truth(info.name, store.url, version)
rule = tune_view.rule_controls(view)
kept = rule.kept(layer)
scores = evaluate.score(kept, truth["truth"])
labelled = int(truth["truth"].notna().sum())
footprint = tune_view.cells(info.name).footprint_ha(kept)

if labelled == 0:
    st.warning(_("No label falls on this layer's patches yet: label some on **Review**, or import the published "
                 "sampling locations (`python -m detector labels import … --layer {layer}`).").format(layer=info.name))
tune_view.figures(scores, footprint, labelled)

cv = tune_view.curve(info.name, rule.dual, rule.t_iso, rule.k, rule.d_km, store.url, version, rule.min_valid)
c1, c2 = st.columns(2)
c1.plotly_chart(chart(tune_view.pr_chart(cv, rule.threshold)), width="stretch", config={"displayModeBar": False})
c2.plotly_chart(chart(tune_view.area_chart(cv, rule.threshold)), width="stretch", config={"displayModeBar": False})
with st.expander(_("Table and CSV")):
    st.dataframe(cv.round(4), hide_index=True, width="stretch")
    st.download_button(_("Download CSV"), cv.to_csv(index=False), file_name=f"tune_{info.name}.csv", mime="text/csv",
                       on_click="ignore", icon=":material/download:")

left, right = st.columns([3, 1], gap="medium")
with right:
    st.subheader(_("Unbiased precision"))
    tune_view.sampled(evaluate.sampled_precision(kept, truth["random_truth"]))
    st.subheader(_("Look-alikes kept"))
    fp = truth.loc[kept & (truth["truth"] == "no").to_numpy(), "category"].fillna("no category").value_counts()
    if fp.empty:
        st.caption(_("No labelled false positive is kept."))
    else:
        st.dataframe(fp.rename("patches").rename_axis("category").reset_index(), hide_index=True, width="stretch")
with left:
    rows = tune_view.outcome_frame(layer, evaluate.outcomes(kept, truth["truth"]), truth["category"])
    review_maps.show(tune_view.outcome_map(rows, layer.total_bounds, str(info.year), view.basemap), "tune_map",
                     tune_view.MAP_HEIGHT)
    tune_view.legend(rows)
    st.caption(_("Patches: {credit}. Imagery: {imagery}.").format(
        credit=review_layers.credit(info), imagery=tune_view.imagery_credit(str(info.year), view.basemap)))

st.subheader(_("Save these settings as a preset"))
st.caption(_("Now: {rule}. A preset is a named threshold (and isolation rule) that Explore and Detect can apply; "
             "`detector.presets.load(name).apply(patches)` does it in Python.").format(rule=text_of(rule.describe())))
tune_view.presets_panel(rule, info.name, scores, labelled)
