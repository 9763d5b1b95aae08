"""Detect: score a region and year with a mining model, see the detections at once, re-filter for free.

Thin: inputs in ui.detect.inputs, running and reopening in ui.detect.run (through the workspace),
figures and downloads in ui.detect.results, the map in ui.detect.map. The model runs only on the
Run button, and only for tiles the score store lacks; the threshold (sidebar) and the isolation
rule re-filter stored scores.
"""
from dataclasses import astuple

import streamlit as st

from ui import state
from ui.detect import inputs, results, run
from ui.detect import map as detect_map
from ui.format import plain
from ui.i18n import _
from ui.map import basemaps
from ui.tune import view as tune_view

view = state.current()
st.title(_("Detect"))
st.caption(_(
    "Run a mining detector where you want: choose a region (draw it on the map, pick a country or territory, "
    "upload a GeoJSON, or score a whole GeoTIFF), the imagery, the year and the model, then run. Every patch's "
    "score is kept, so the same run again is instant, an overlapping region only computes what is new, and the "
    "threshold in the sidebar re-filters without running the model."
))

left, right = st.columns([2, 1], gap="medium")  # the map takes two thirds
with right:
    req = inputs.controls(view)
    where = st.container()
    if where.button(_("Run detector"), type="primary", disabled=not req.ready, key="detect_run_button"):
        run.run(req, where)
    result = run.current()
    if run.message():
        st.warning(run.message())
    run.model_work_caption()

with left:
    map_box = st.container()
    f, top = None, results.top_patches([])
    if result is not None:
        st.markdown(_("**Result:** {title}").format(title=run.title(result.record)))
        st.caption(run.summary_text(result))
        rule = tune_view.rule_controls(view)  # the same rule as on Tune
        f = results.filtered(result.digest, astuple(rule), result.patches)
        results.show_figures(result, f, rule)
        recommended = run.recommended_threshold(result.record)
        warning = results.low_threshold_warning(rule.threshold, recommended)
        if warning:
            st.warning(warning)
        if result.geotiff:
            top = results.top_patches(result.scores)
            st.info(results.image_answer(result, recommended))
        results.downloads(result, f, rule)
        results.polygons_table(f.polygons)
    with map_box:
        bm = basemaps.basemap(view.basemap, str(result.record.the_period if result is not None else req.year))
        detect_map.show(result, f, top, view.threshold, bm, inputs.fly(req),
                        req.region.geometry if req.region else None, view,
                        req.source.footprint() if req.geotiff and req.source is not None else None)
        if view.basemap == "mapbox" and not basemaps.mapbox_token():
            st.info(_(basemaps.MAPBOX_HELP))  # below the map, which would reload if an element appeared above it
        st.caption(_("{model} Imagery: {imagery}.").format(model=results.model_credit(result), imagery=plain(bm.attribution)))

run.earlier_runs()
