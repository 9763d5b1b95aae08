"""Review: reviewers go through detections one by one and say, with one key, what each one is.

Thin: the queue comes from detector.review_queue, the item's maps, buttons, progress and agreement
from ui.review.view, the layer and the label store from ui.review.layers (over the workspace). Every decision is appended to
the label store at once (detector.labels): nothing waits in the session to be saved.
"""
import streamlit as st

from detector import review_queue
from detector.rule import with_imagery
from ui import coverage, data, state
from ui.i18n import N_, _
from ui.review import imports as review_imports
from ui.review import keys as review_keys
from ui.review import layers as review_layers
from ui.review import view as review_view

view = state.current()
st.title(_("Review"))
st.caption(_(
    "Is it a mine? Each patch the model flagged is shown over high-resolution imagery and Sentinel-2 of its year. "
    "Answer with one key: **M** mine, **N** not a mine, **U** unsure, **1–7** which look-alike it is, **Z** undo. "
    "Your labels train the next model and tell **Tune** how precise each threshold is."
))

c1, c2, c3 = st.columns([2, 3, 3])
with c1:
    who = review_view.reviewer()
with c2:
    info = review_layers.picker("review_layer")
with c3:
    how = st.selectbox(_("Queue order"), list(review_queue.ORDERS), key="review_order",
                       format_func=lambda k: _(review_queue.ORDERS[k]))
if info is None:
    st.stop()
layer = review_layers.load_or_explain(info)
if layer is None:
    st.stop()
if "valid_fraction" in layer.columns and (layer["valid_fraction"] < 1).any():
    layer = with_imagery(layer, coverage.imagery_share("review_min_valid"))

pivot, region = view.threshold, None
if how == "uncertain":
    pivot = st.slider(_("Uncertain around score"), 0.0, 1.0, float(view.threshold), 0.01, key="review_pivot",
                      help=_("Patches whose score is nearest this value come first."))
elif how == "region":
    choices = review_view.regions_over(layer, data.try_load(data.countries, N_("The country boundaries")),
                                       data.try_load(data.territories, N_("The indigenous territories")))
    if not choices:
        st.info(_("No country or territory boundary overlaps this layer."))
        st.stop()
    key = st.selectbox(_("Region"), list(choices), key="review_region", format_func=lambda k: choices[k][0])
    region = choices[key][1]

store = review_layers.label_store()
if not who:
    review_view.ask_for_reviewer()
    st.stop()

ids = layer["patch_id"].to_numpy()
mine = store.current(who, items=ids)
todo = review_queue.pending(review_queue.order(layer, how, info.name, pivot, region), ids, set(mine["item"]),
                            st.session_state.get(review_view.SKIPPED, []))
todo = review_view.opened_first(todo, layer)

left, right = st.columns([5, 3], gap="medium")
with right:
    review_view.message()
    review_view.progress(mine, len(layer), len(todo))
    if len(todo):
        review_view.buttons(store, who, review_view.item_of(layer, int(todo[0]), info.name), how)
    else:
        st.success(_("Nothing left in this queue: every patch in it has your label. Pick another order or layer."))
        st.button(_("Undo [Z]"), key="review_undo_last", on_click=review_view.undo, args=(store, who))
with left:
    if len(todo):
        review_view.item_header(layer, int(todo[0]), info)
        review_view.item_maps(layer, int(todo[0]), info)
    else:
        review_view.guides()
review_keys.listen(review_view.KEYS)

with st.expander(_("Agreement between reviewers")):
    review_view.agreement(store.current())
with st.expander(_("Export labels for training")):
    review_view.export(store)
with st.expander(_("Import labels (sampling-location files)")):
    review_imports.import_labels(store, layer, info.name)
