"""Change: one region over several periods — what was detected, what is new since, what has accumulated.

Thin: the periods, rule and run in ui.change.view (through the workspace), the map in ui.change.map;
region, imagery and model are Detect's inputs (the same widgets and the same region).
"""
from dataclasses import astuple

import streamlit as st

from detector import periods
from ui import state
from ui.change import map as change_map
from ui.change import view as change
from ui.change import watches as watch_ui
from ui.detect import inputs
from ui.explore.panels import region_picker
from ui.format import period_label
from ui.i18n import _, chart, text_of
from ui.map import basemaps

view = state.current()
st.title(_("Change"))
st.caption(_(
    "Run a detector over several periods at once (say 2019–2024 and the quarters of 2025) and see, period by period, "
    "what it detects, what is new since the earlier periods and what has accumulated — and how that compares with "
    "Amazon Mining Watch's published layers. Each period is scored once and kept: a longer list later only computes "
    "the new periods, and changing the rule never runs the model. Figures are patch footprints (the detected "
    "patches' squares merged), not mined area."
))

left, right = st.columns([2, 1], gap="medium")  # the map takes two thirds
with right:
    region_box = st.container()
    st.subheader(_("Imagery, periods and model"))
    req = inputs.Request(year=periods.year(2024))  # each period is the run's own; this one is not used
    inputs.model(req)
    inputs.imagery(req, check_dates=False)
    with region_box:
        region_picker(view)
        inputs.region(req, view)
    spans = change.period_list()
    where = st.container()
    ready = req.ready and spans is not None
    if where.button(_("Run all periods"), type="primary", disabled=not ready, key="change_run_button"):
        change.run(req, spans, where)
    rule = change.rule_choice()
    watch_ui.save_form(req, st.session_state[change.PRESET_KEY])

result = change.current()
with left:
    if result is None:
        st.info(_("Choose a region, the imagery, the periods and a model, then **Run all periods**."))
    else:
        runs, table = change.layers_for(result.digest, astuple(rule), result)
        keys, labels = result.keys, {o.period.key: period_label(o.period) for o in result.outcomes}
        if st.session_state.get(change.PERIOD_KEY) not in keys:
            st.session_state[change.PERIOD_KEY] = keys[-1]
        st.markdown(f"**{result.region_label}** · {result.model} · {result.source_label} · {text_of(rule.describe())}")
        change.low_imagery_notes(table)
        playing = st.toggle(_("Play the periods"), key=change.PLAY_KEY, help=_("Step through the periods, one every 1.5 s"))

        @st.fragment(run_every=1.5 if playing else None)
        def period_view() -> None:
            if st.session_state.get(change.PLAY_KEY):
                i = keys.index(st.session_state[change.PERIOD_KEY])
                st.session_state[change.PERIOD_KEY] = keys[(i + 1) % len(keys)]
            key = st.select_slider(_("Period"), keys, key=change.PERIOD_KEY, format_func=labels.get)
            which = st.radio(_("Layer"), list(change.LAYERS), format_func=lambda k: _(change.LAYERS[k]), key=change.LAYER_KEY,
                             horizontal=True)
            change.figures_row(table, key)
            region = result.outcomes[0].region
            if which == "agreement":
                got = change.agreement_for(result.digest, astuple(rule), key, runs, region)
                if got is None:
                    st.info(_("Amazon Mining Watch publishes no layer for {period}; pick a year or a quarter it "
                              "covers.").format(period=labels[key]))
                    geojson = '{"type": "FeatureCollection", "features": []}'
                else:
                    figures, shown = got
                    st.dataframe(change.agreement_table(figures), hide_index=True, width="stretch",
                                 column_config={_(c): st.column_config.NumberColumn(format="percent")
                                                for c in change.AGREEMENT_SHARES})
                    st.caption(_("Areas within the region (patches across its edge count with the part inside, so "
                                 "\"ours\" can read a little under the footprint above); a share reads empty where "
                                 "there is nothing to divide by (no published polygon here, or no detection)."))
                    geojson = shown.to_json(drop_id=True)
            else:
                layer = next(r for r in runs if r.period.key == key)
                geojson = change.period_geojson({"kept": layer.kept, "new": layer.new,
                                                 "cumulative": layer.cumulative}[which])
            bm = basemaps.basemap(view.basemap, key)
            change_map.show(geojson, which, region, bm, f"{key}_{which}")
            st.caption(change_map.legend(which), unsafe_allow_html=True)
            change.downloads(result, runs, table, key, rule)

        period_view()
        st.plotly_chart(chart(change.chart(table)), width="stretch", key="change_chart")
        st.dataframe(change.display_table(table), hide_index=True, width="stretch")
    watch_ui.listing()
