"""Trends: how much land gold mining has taken, period by period, by country, territory and region.

Thin: the numbers come from detector.stats (cached in ui.data), the tables from detector.trends,
the figures from ui.charts. Every chart has its table and a CSV download behind it.
"""
from dataclasses import astuple

import shapely
import streamlit as st

from detector import catalog, trends
from detector.errors import DetectorError
from detector.region import MAX_GEOJSON_BYTES
from ui import data, growth, regions, state
from ui.change import view as change_view
from ui.charts import trends as charts
from ui.format import period_label, sentence, slug, whole_hectares
from ui.i18n import N_, _, chart, number, text_of

view = state.current()

st.title(_("Trends"))
state.phone_controls()
st.markdown(_(
    "How much land gold mining has taken in the Amazon, from the published "
    "[Amazon Mining Watch](https://amazonminingwatch.org) layers. Each period counts mining **new** in it: "
    "**≤2018 is the baseline** (everything detected up to 2018, not one year's growth), and **2025 Q2 and "
    "2025 Q3 are single quarters**, not whole years."
))
# The measure is in the link too (?measure=footprint), so a shared view opens on the same figures.
if "trends_measure" not in st.session_state:
    asked = st.query_params.get("measure")
    st.session_state["trends_measure"] = asked if asked in trends.MEASURES else "mined"
measure = trends.MEASURES[st.segmented_control(
    _("Measure"), list(trends.MEASURES), required=True, key="trends_measure",
    format_func=lambda k: _(trends.MEASURES[k].option),
    help=_("Mined area is the published figure: mined land inside each polygon, measured on a segmentation "
           "mask. Footprint is the polygons' own area (merged 480 m detection patches), several times larger "
           "(from about 3× to 15×, depending on the region; Explore shows a region's own ratio)."),
)]
if st.query_params.get("measure") != measure.key:
    st.query_params["measure"] = measure.key


def table_behind(table, caption: str, file_name: str, key: str) -> None:
    """The numbers a chart draws, and their CSV."""
    with st.expander(_("Table and CSV")):
        st.caption(caption)
        st.dataframe(table.round(1), hide_index=True, width="stretch")
        st.download_button(_("Download CSV"), trends.to_csv(table), file_name=file_name, mime="text/csv",
                           key=key, on_click="ignore", icon=":material/download:")


def attribution() -> None:
    credits = dict.fromkeys(catalog.attribution(n) for n in ("mining_2018", "boundaries_countries",
                                                            "boundaries_territories"))
    st.caption(_("Data: Amazon Mining Watch yearly mining layers and boundaries — {credits}.").format(
        credits="; ".join(credits)))


layers = data.try_load(data.layers, N_("The published mining layers"))
by_country = data.try_load(data.stats_by_countries, N_("The country boundaries")) if layers is not None else None
if by_country is None:
    attribution()
    st.stop()

# ---------------------------------------------------------------- the whole basin, by country
st.header(_("The whole basin, by country"))
period = view.period
cumulative, new = trends.at_period(by_country, period, measure)
c1, c2 = st.columns(2)
c1.metric(f"{_(measure.name).capitalize()} {growth.up_to(period)}", whole_hectares(cumulative))
c2.metric(sentence(_("New {measure} in {period}").format(measure=_(measure.name), period=period_label(period))),
          whole_hectares(new))
st.caption(_("The period is the sidebar's; the charts show every period."))

new_wide = trends.by_period(by_country, measure.new_col)
cum_wide = trends.by_period(by_country, measure.cumulative_col)
left, right = st.columns(2)
with left:
    st.plotly_chart(chart(charts.new_by_region(new_wide, measure)), width="stretch", key="trends_new_chart")
    table_behind(new_wide, _("{title}, by country. Hatched bar: the ≤2018 baseline.").format(title=charts.new_title(measure)),
                 f"new_{measure.key}_ha_by_country.csv", "trends_csv_new")
with right:
    st.plotly_chart(chart(charts.cumulative_by_region(cum_wide, measure)), width="stretch", key="trends_cum_chart")
    table_behind(cum_wide, _("{title}, by country.").format(title=charts.cumulative_title(measure)),
                 f"cumulative_{measure.key}_ha_by_country.csv", "trends_csv_cum")

published_total = float(layers[measure.layer_col].sum())
missing = published_total - float(cum_wide["Total"].iloc[-1])
if missing > 1:
    st.caption(_("{missing} ha of the published {measure} lies outside the countries' Amazon outlines and is "
                 "not in these charts.").format(missing=number(missing, ",.0f"), measure=_(measure.name)))

# ---------------------------------------------------------------- indigenous territories
st.header(_("Indigenous territories with the most mining"))
by_territory = data.try_load(data.stats_by_territories, N_("The indigenous territories"))
if by_territory is not None:
    n = st.slider(_("How many territories"), 5, 50, 15, key="trends_top_n")
    top = trends.top_regions(by_territory, data.territories(), period, measure, n)
    if top.empty:
        st.info(_("No indigenous territory has any {measure} {up_to}.").format(measure=_(measure.name),
                                                                             up_to=growth.up_to(period)))
    else:
        st.plotly_chart(chart(charts.top_regions(top, measure, period)), width="stretch", key="trends_top_chart")
        table_behind(top, sentence(_("Cumulative {measure} {up_to} and new in it (ha). Territories may overlap, so their "
                                     "areas do not add up to a country's.").format(measure=_(measure.name),
                                                                                  up_to=growth.up_to(period))),
                     f"top_territories_{measure.key}_{period}.csv", "trends_csv_top")

# ---------------------------------------------------------------- one region
st.header(_("A region of your own"))
countries = data.try_load(data.countries, N_("The country boundaries"))
territories = data.try_load(data.territories, N_("The indigenous territories"))
names = {"": _("— none —")}
if view.region.startswith("bbox:"):
    names[view.region] = _("Rectangle drawn on the map ({bounds})").format(bounds=view.region[5:].replace(",", ", "))
for kind, rows in (("country", countries), ("territory", territories)):
    if rows is None:
        continue
    for rid, rname, extra in zip(rows["region_id"], rows["region_name"],
                                 rows["country"] if "country" in rows else [None] * len(rows)):
        names[f"{kind}:{rid}"] = f"{kind.capitalize()}: {rname}" + (f" ({extra}, {rid})" if extra else "")
options = list(names)
if view.region and view.region not in names:
    st.warning(_("The region in the link ({region}) no longer exists or cannot be read; pick another one.").format(
        region=view.region))
choice = st.selectbox(
    _("Region"), options, index=options.index(view.region) if view.region in options else 0,
    format_func=names.get,
    help=_("A country or indigenous territory, or the rectangle drawn on Explore. The choice goes into the "
           "link, so a copied link reopens it."),
)
if choice != view.region:
    view = state.update(region=choice)
upload = st.file_uploader(_("…or upload a region (GeoJSON, EPSG:4326)"), type=["geojson", "json"], key="trends_upload",
                          help=_("A polygon or multipolygon in longitude/latitude, at most {mb} MB. While a "
                                 "file is here it is used instead of the choice above.").format(
                              mb=MAX_GEOJSON_BYTES // 10**6))

region = None
if upload is not None:
    try:
        region = regions.from_upload(upload.getvalue(), upload.name)
    except DetectorError as exc:
        region = None
        st.error(_("{name} cannot be used as a region.").format(name=upload.name) + " " + text_of(exc))
elif choice:
    region = regions.resolve(choice)

if region is None:
    st.caption(_("Pick a country or territory, draw a rectangle on the Explore page, or upload a GeoJSON outline "
                 "to see its figures here."))
else:
    table = data.region_stats(shapely.to_wkb(region.geometry), region.key, region.name)
    tbl = trends.region_table(table, measure)
    if trends.found_nothing(table):
        st.info(_("No mining was found in {region} in the published layers ({first} to {last}): every period is "
                  "zero.").format(region=region.name, first=period_label(catalog.periods()[0]),
                                  last=period_label(catalog.periods()[-1])))
    else:
        cum, nw = trends.at_period(table, period, measure)
        c1, c2 = st.columns(2)
        c1.metric(_("{measure} in {region}, {up_to}").format(measure=_(measure.name).capitalize(), region=region.name,
                                                             up_to=growth.up_to(period)), whole_hectares(cum))
        c2.metric(sentence(_("New {measure} in {region}, {period}").format(measure=_(measure.name), region=region.name,
                                                                  period=period_label(period))), whole_hectares(nw))
        growth.show(table, period, measure, region.geometry)
    st.plotly_chart(chart(charts.region_trend(tbl, measure, region.name)), width="stretch", key="trends_region_chart")
    tbl = tbl.assign(region=region.name, source="Amazon Mining Watch published layers")
    table_behind(tbl, _("{region}: new and cumulative {measure} (ha). Polygons across the region's edge count with "
                        "the share inside it.").format(region=region.name, measure=_(measure.name)),
                 f"{slug(region.name)}_{measure.key}_ha.csv", "trends_csv_region")

# ---------------------------------------------------------------- the session's own multi-period run
run = change_view.current()
st.header(_("Your run over several periods"))
if run is None:
    st.caption(_("Run a detector over several periods on the **Change** page to see its new and cumulative "
                 "detections here, beside the published layers."))
else:
    rule = change_view.current_rule()
    _layers, run_table = change_view.layers_for(run.digest, astuple(rule), run)
    st.markdown(f"**{run.region_label}** · {run.model} · {run.source_label} · {text_of(rule.describe())}")
    st.caption(_("Measure: **patch footprint** — the detected 480 m patches merged, in hectares. Only the published "
                 "layers give mined area; a run's footprint compares with the published footprint, not with mined "
                 "area."))
    st.plotly_chart(chart(change_view.chart(run_table)), width="stretch", key="trends_run_chart")
    table_behind(run_table, _("Per period: detected, new since the earlier periods of the run, and cumulative patch "
                              "footprint (ha) and patches; the share of the region seen clearly."),
                 f"{slug(run.region_label)}_run_footprint_ha.csv", "trends_csv_run")

attribution()
