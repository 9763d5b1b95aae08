"""Watches on the Change page: save the region, imagery, model and rule as a watch; list the watches
with their latest new detections and open their latest report."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from detector import periods, watches
from detector.errors import DetectorError

from .. import workspace
from ..format import period_label
from ..i18n import _, number, text_of


def save_form(req, preset_name: str) -> None:
    """Save what the page is set to as a watch (the CLI's `watch run` reports on it)."""
    with st.expander(_("Watch this region"), icon=":material/visibility:"):
        st.caption(_("A watch scores the newest complete quarter (or year) whenever `python -m detector watch run` "
                     "runs (from cron or a CI job: see README) and writes a report of the detections new since the "
                     "period before: GeoJSON, CSV and a one-page summary."))
        with st.form("change_watch_form", border=False):
            name = st.text_input(_("Name"), placeholder=_("e.g. Yanomami north"))
            cadence = st.radio(_("Each"), list(watches.CADENCES), horizontal=True, key="change_watch_cadence",
                               format_func=lambda c: {"quarter": _("quarter"), "year": _("year")}.get(c, c))
            saved = st.form_submit_button(_("Save watch"), icon=":material/save:", disabled=not req.ready)
        if saved:
            try:
                ws = workspace.current()
                ws.watches.save(watches.watch_of(name.strip(), req.region.geometry, req.source_ref,
                                                 req.model_ref, preset_name, cadence, req.region.name))
                st.success(_("Saved the watch **{name}**: {region}, {rule}, each {cadence}.").format(
                    name=name.strip(), region=req.region.name, rule=preset_name,
                    cadence={"quarter": _("quarter"), "year": _("year")}.get(cadence, cadence)))
            except DetectorError as exc:
                st.error(text_of(exc))


def listing() -> None:
    """Every watch with its latest report's new detections; the latest report to download."""
    ws = workspace.current()
    found = ws.watches.list()
    if not found:
        return
    st.subheader(_("Watches"))
    rows = []
    for w in found:
        latest = ws.watches.latest_report(w)
        rows.append({_("watch"): w.name, _("region"): w.region_label, _("each"): _(w.cadence), _("rule"): w.preset,
                     _("latest period"): period_label(periods.parse(latest["period"])) if latest else _("not run yet"),
                     _("new detections"): latest["new_patches"] if latest else None,
                     _("new footprint (ha)"): latest["new_footprint_ha"] if latest else None,
                     _("clear imagery"): (_("too little") if latest["low_imagery"] else number(latest['imagery_share'], ".0%"))
                     if latest else ""})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    pick = st.selectbox(_("Latest report of"), [w.name for w in found], key="change_watch_pick")
    w = ws.watches.get(pick)
    latest = ws.watches.latest_report(w)
    if latest:
        html = (ws.watches.report_dir(w, periods.parse(latest["period"])) / "report.html").read_text(encoding="utf-8")
        st.download_button(_("Report {period} (HTML)").format(period=period_label(periods.parse(latest["period"]))), html, f"watch_{w.folder_name}_{latest['period']}.html",
                           "text/html", key="change_watch_report", on_click="ignore", icon=":material/download:")
