"""The Models page (AppTest): the registered models, a trained model's report, and on to Detect with it."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from training_helpers import install, make_mining, train_on

APP = str(Path(__file__).resolve().parent.parent / "app.py")
NAME = "page-test-model"


@pytest.fixture(scope="module")
def quick_model(tmp_path_factory):
    mining = make_mining(tmp_path_factory.mktemp("page_mining"))
    return train_on(mining, NAME, tmp_path_factory.mktemp("page_data"), epochs=3)


def test_models_page_shows_the_training_report_and_sends_the_model_to_detect(quick_model, data_dir, mirror):
    install(quick_model, data_dir)
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page("app_pages/models.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    row = table[table["model"] == NAME].iloc[0]
    assert row["kind"] == "trained here" and row["inputs"] == "12 bands"
    assert set(table.loc[table["kind"] == "published", "model"]) >= {"48px_v3.2-3.7ensemble (default)", "48px_v3.7"}
    assert at.selectbox(key="models_pick").value == NAME  # a trained model opens first
    assert at.query_params["model"] in (NAME, [NAME])  # a copied link reopens this report
    labels = {m.label: m.value for m in at.metric}
    val = quick_model.report["metrics"]["validation"]
    assert labels["Validation F1"] == f"{val['f1']:.3f}" and labels["Best threshold"] == f"{val['threshold']:g}"
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # learning curves, confusion matrix, precision-recall
    assert any(f"--model {NAME}" in c.value for c in at.code)

    at.button(key="models_use").click().run()
    assert not at.exception
    assert at.selectbox(key="detect_model").value == NAME  # Detect opens with the model picked
    assert NAME in at.selectbox(key="detect_model").options


def test_models_page_for_a_published_model(mirror):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["model"] = "48px_v3.7"
    at.run()
    at.switch_page("app_pages/models.py").run()
    assert not at.exception
    assert any("fine-tune it" in i.value.lower() or "Fine-tune it" in i.value for i in at.info)


def test_the_ensembles_hint_does_not_offer_what_it_then_refuses_and_no_server_path_shows(mirror, data_dir):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["model"] = "48px_v3.2-3.7ensemble"
    at.run()
    at.switch_page("app_pages/models.py").run()
    assert not at.exception
    hint = " ".join(i.value for i in at.info)
    assert "--base 48px_v3.2-3.7ensemble" not in hint and "--base 48px_v3.7" in hint and "cannot be fine-tuned" in hint
    shown = " ".join(c.value for c in at.caption) + " ".join(m.value for m in at.markdown)
    assert str(data_dir) not in shown, "the server's folders are not the visitor's business"
