"""Models: every registered model, and for one trained here its training report and how to use it.

Thin: the registry and the reports come from detector.models / detector.training, the figures from
ui.charts.models. Models are trained from the command line (``python -m detector train``); this page
shows what came out, and sends the model to Detect.
"""
import json

import streamlit as st

from detector import models, training
from ui import state
from ui.charts import models as model_charts
from ui.i18n import _, chart, number

PARAM = "model"  # ?model=NAME opens that model's report

state.current()
st.title(_("Models"))
st.caption(_(
    "The published Amazon Mining Watch models and the models trained here from reviewers' labels. A trained "
    "model is registered in the data folder; **Detect** (and, through its runs, **Tune**) can select it at once."
))

specs = models.registry()
reports = {n: training.load_report(s) for n, s in specs.items() if s.trained}
default = models.default_model()
st.dataframe(model_charts.models_table(specs, reports, default), hide_index=True, width="stretch",
             column_config={_("description"): st.column_config.TextColumn(width="large")})

names = list(specs)
trained = [n for n in names if specs[n].trained]
wanted = st.query_params.get(PARAM)
start = wanted if wanted in specs else (trained[-1] if trained else default)
if "models_pick" not in st.session_state:
    st.session_state["models_pick"] = start
choice = st.selectbox(_("Model"), names, key="models_pick",
                      format_func=lambda n: (_("{name} — trained here") if specs[n].trained
                                             else _("{name} — published")).format(name=n))
if st.query_params.get(PARAM) != choice:
    st.query_params[PARAM] = choice  # a copied link reopens this report
spec = specs[choice]


def use_on_detect(name: str) -> None:
    st.session_state["detect_model"] = name


left, right = st.columns([3, 2], gap="medium")
with left:
    st.subheader(choice)
    st.markdown(spec.description or "")
    inputs = ", ".join(spec.bands) + (_("; indices {names}").format(names=", ".join(spec.indices)) if spec.indices else "")
    st.caption(_("Inputs: {size}×{size} px patches of {inputs}. Recommended threshold {threshold:g}.").format(
        size=spec.patch_size, inputs=inputs, threshold=spec.threshold)
        + (" " + _("Provenance: {text}.").format(text=spec.provenance) if spec.provenance else "")
        + (" " + _("Licence: {text}.").format(text=spec.licence) if spec.licence else ""))
with right:
    st.markdown(_("**Use it**"))
    year = reports[choice]["year"] if reports.get(choice) else 2024  # a trained model: the year it learnt on
    st.code(f"python -m detector detect --model {choice} \\\n  --region region.geojson --year {year} --out mines.geojson",
            language="bash", wrap_lines=True)
    st.caption(_("On **Detect**, pick it under *Model*; a Detect run made with it is a layer that **Review** and "
                 "**Tune** can open."))
    if st.button(_("Use this model on Detect"), key="models_use", icon=":material/search:", on_click=use_on_detect,
                 args=(choice,)):
        st.switch_page("app_pages/detect.py")

report = reports.get(choice)
if not spec.trained:
    st.info(_("A published model: its training sets and test metrics are in the `_config.txt` beside it in the "
              "[mining-detector repository](https://github.com/earthrise-media/mining-detector/tree/main/models).")
            + " " + (_("An ensemble of {n} models cannot be fine-tuned as a whole: fine-tune one of the single "
                       "published models on your own labels instead, e.g. `python -m detector train --base 48px_v3.7 "
                       "…`.").format(n=spec.ensemble)
                     if spec.ensemble > 1 else
                     _("Fine-tune it on your own labels with `python -m detector train --base {name} …`.").format(
                         name=choice)))
elif report is None:
    st.warning(_("No training report beside the model file (it should be {file}, in the same folder).").format(
        file=f"{choice}.report.json"))
else:
    st.header(_("Training report"))
    val = report["metrics"]["validation"]
    c = st.columns(5)
    c[0].metric(_("Validation F1"), model_charts.fmt(val["f1"]))
    c[1].metric(_("Precision"), model_charts.fmt(val["precision"]))
    c[2].metric(_("Recall"), model_charts.fmt(val["recall"]))
    c[3].metric(_("Average precision"), model_charts.fmt(val["average_precision"]))
    c[4].metric(_("Best threshold"), number(val['threshold'], "g"))
    n, sp, tr = report["counts"], report["split"], report["training"]
    how = (_("Fine-tuned from **{base}**").format(base=report["base"]) if report["base"] else
           _("Trained from scratch with the **{architecture}** architecture").format(architecture=report["architecture"]))
    st.markdown(" ".join([
        _("{how} on {patches:,} labelled patches ({mines:,} mines, {not_mines:,} not) of {year} imagery ({source}); "
          "{not_covered:,} without imagery skipped.").format(
            how=how, patches=n["patches"], mines=n["mines"], not_mines=n["not_mines"], year=report["year"],
            source=report["source"]["label"], not_covered=n["not_covered"]),
        _("Validation held out by geography: {validation:,} patches in {held:,} of {blocks:,} blocks of {km:g} km "
          "(seed {seed}), {train:,} for training.").format(
            validation=sp["validation"], held=sp["validation_blocks"], blocks=sp["blocks"], km=sp["block_km"],
            seed=sp["seed"], train=sp["train"]),
        *([_("{n:,} patches overlapping the held-out ones were left out.").format(n=sp["buffer_dropped"])]
          if sp["buffer_dropped"] else []),
        _("{epochs} epochs (best: {best}), {seconds:.0f} s on {device}.").format(
            epochs=tr["epochs_run"], best=tr["best_epoch"], seconds=tr["seconds"], device=tr["device"]),
    ]))
    st.plotly_chart(chart(model_charts.learning_curves(report["history"], tr["best_epoch"])), width="stretch",
                    key="models_curves", config={"displayModeBar": False})
    c1, c2 = st.columns(2)
    c1.plotly_chart(chart(model_charts.confusion_matrix(val)), width="stretch", key="models_confusion",
                    config={"displayModeBar": False})
    c2.plotly_chart(chart(model_charts.pr_chart(report.get("pr_curve", {}), val["threshold"])), width="stretch",
                    key="models_pr", config={"displayModeBar": False})
    st.dataframe(model_charts.metrics_table(report), hide_index=True, width="stretch")
    with st.expander(_("Labels, options and the whole report")):
        st.markdown(_("**Labels:** {files}").format(files="; ".join(f"`{o}`" for o in report["labels"])))
        st.json(report["split"], expanded=False)
        st.download_button(_("Download the report (JSON)"), json.dumps(report, indent=1), file_name=f"{choice}.report.json",
                           mime="application/json", on_click="ignore", icon=":material/download:", key="models_report")

st.subheader(_("Train your own"))
st.caption(_("Label detections on **Review**, export them, and train (add `--base 48px_v3.7` to fine-tune, "
             "`--indices ndvi,mndwi,bsi` for spectral-index inputs). The new model appears here and on Detect."))
st.code("python -m detector labels export --out my_labels/\n"
        "python -m detector train --labels my_labels/ --year 2024 --source earthengine --out my-model-v1",
        language="bash")
st.caption(_("Trained models are registered in the `models/` folder of the server's data folder (DETECTOR_DATA_DIR)."))
