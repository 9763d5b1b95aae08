"""Plotly figures and tables of a training report (``NAME.report.json``): pure functions, no Streamlit.

The report is what :func:`detector.training.train` writes: per-epoch ``history`` (loss and accuracy,
training and validation), the validation ``metrics`` at the chosen threshold (a confusion matrix),
and the validation precision-recall curve.
"""
from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from detector.models import ModelSpec

from ..i18n import _, number

TRAIN_COLOR, VAL_COLOR = "#332288", "#CC6677"


def _layout(fig: go.Figure, title: str, height: int = 380) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0, "xanchor": "left"}, height=height,
                      margin={"l": 10, "r": 10, "t": 70, "b": 10},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0, "xanchor": "left"})
    return fig


def learning_curves(history: dict[str, list[float]], best_epoch: int | None = None) -> go.Figure:
    """Loss and accuracy per epoch, training and validation side by side; the kept epoch marked."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(_("Loss (binary cross-entropy, class-weighted)"), _("Accuracy")))
    for col, key in ((1, "loss"), (2, "accuracy")):
        for prefix, name, color in (("", _("training"), TRAIN_COLOR), ("val_", _("validation"), VAL_COLOR)):
            values = history.get(prefix + key)
            if not values:
                continue
            epochs = list(range(1, len(values) + 1))
            fig.add_scatter(x=epochs, y=values, mode="lines+markers", name=name, legendgroup=name,
                            showlegend=col == 1, line={"color": color, "width": 2}, marker={"size": 5},
                            hovertemplate=f"{name}, {_('epoch')} %{{x}}: %{{y:.4f}}<extra></extra>", row=1, col=col)
        fig.update_xaxes(title_text=_("Epoch"), row=1, col=col)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    if best_epoch:
        for col in (1, 2):
            fig.add_vline(x=best_epoch, line={"dash": "dot", "color": "#888888"}, row=1, col=col)
        fig.add_annotation(x=best_epoch, y=0.98, yref="paper", xref="x", text=_("kept: epoch {epoch}").format(epoch=best_epoch),
                           showarrow=False, xanchor="right", xshift=-4, font={"size": 11, "color": "#555555"})
    return _layout(fig, _("Learning curves"), height=420)


def confusion_matrix(m: dict) -> go.Figure:
    """The validation confusion matrix at the model's threshold: truth in rows, prediction in columns."""
    z = [[m["tp"], m["fn"]], [m["fp"], m["tn"]]]
    labels = [[_("true positive"), _("missed mine")], [_("false positive"), _("true negative")]]
    text = [[f"{labels[i][j]}<br><b>{number(z[i][j])}</b>" for j in range(2)] for i in range(2)]
    fig = go.Figure(go.Heatmap(
        z=z, x=[_("mine"), _("not a mine")], y=[_("mine"), _("not a mine")], text=text, texttemplate="%{text}",
        colorscale=[[0, "#F7F7F7"], [1, "#44AA99"]], showscale=False, hoverinfo="skip",
    ))
    fig.update_xaxes(title_text=_("Model says (score ≥ threshold)"), side="bottom")
    fig.update_yaxes(title_text=_("Label says"), autorange="reversed")
    return _layout(fig, _("Validation confusion matrix at {threshold:g}").format(threshold=m["threshold"]), height=360)


def pr_chart(pr: dict[str, list[float]], threshold: float | None = None) -> go.Figure:
    """The validation precision-recall curve, with the point of the chosen threshold."""
    fig = go.Figure()
    if pr.get("recall"):
        fig.add_scatter(x=pr["recall"], y=pr["precision"], mode="lines+markers", line={"shape": "hv", "color": VAL_COLOR},
                        marker={"size": 4}, name=_("validation"), customdata=pr["threshold"],
                        hovertemplate=_("threshold") + " %{customdata:.3f}<br>" + _("recall") + " %{x:.3f}<br>" + _("precision")
                        + " %{y:.3f}<extra></extra>")
        if threshold is not None:
            kept = [i for i, t in enumerate(pr["threshold"]) if t >= threshold]
            if kept:
                i = kept[-1]
                fig.add_scatter(x=[pr["recall"][i]], y=[pr["precision"][i]], mode="markers", name=_("threshold {threshold:g}").format(threshold=threshold),
                                marker={"size": 12, "color": TRAIN_COLOR, "symbol": "diamond"})
    fig.update_xaxes(title_text=_("Recall"), range=[0, 1.02])
    fig.update_yaxes(title_text=_("Precision"), range=[0, 1.02])
    return _layout(fig, _("Validation precision–recall"), height=360)


def fmt(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else number(x, ".3f")


def models_table(specs: dict[str, ModelSpec], reports: dict[str, dict | None], default: str) -> pd.DataFrame:
    """One row per registered model: published or trained here, inputs, threshold, validation F1."""
    rows = []
    for name, spec in specs.items():
        rep = reports.get(name) or {}
        val = (rep.get("metrics") or {}).get("validation") or {}
        rows.append({
            _("model"): name + (" " + _("(default)") if name == default else ""),
            _("kind"): _("trained here") if spec.trained else _("published") if spec.published else _("local file"),
            _("inputs"): _("{n} bands").format(n=len(spec.bands)) + (f" + {', '.join(spec.indices)}" if spec.indices else ""),
            _("members"): spec.ensemble,
            _("threshold"): spec.threshold,
            _("validation F1"): fmt(val.get("f1")) if val else "",
            _("trained"): (rep.get("created") or "")[:10],
            _("description"): spec.description,
        })
    return pd.DataFrame(rows)


def metrics_table(report: dict) -> pd.DataFrame:
    """Validation at the chosen threshold and at 0.5, and the training part, side by side."""
    parts = {_("validation (chosen threshold)"): "validation", _("validation at 0.5"): "validation_at_0.5",
             _("training part (chosen threshold)"): "train"}
    rows = []
    for label, key in parts.items():
        m = report["metrics"].get(key)
        if not m:
            continue
        rows.append({_("part"): label, _("threshold"): m["threshold"], _("patches"): m["n"], _("mines"): m["mines"],
                     _("precision"): fmt(m["precision"]), _("recall"): fmt(m["recall"]), "F1": fmt(m["f1"]),
                     _("average precision"): fmt(m["average_precision"]), "TP": m["tp"], "FP": m["fp"], "FN": m["fn"],
                     "TN": m["tn"]})
    return pd.DataFrame(rows)
