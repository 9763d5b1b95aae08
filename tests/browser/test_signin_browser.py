"""Signing in through Streamlit's st.login in a real browser, against a stub OpenID Connect provider.

The app runs with an [auth] section naming the stub and [roles] listing a reviewer: the signed-in
reviewer labels under their identity (no name box), a signed-in visitor who is not listed may not
label, and signing out brings the login button back.
"""
from __future__ import annotations

import sqlite3

import pytest
from oidc_stub import OIDCStub
from streamlit_page import free_port, start_app, wait_settled

MAIN = "[data-testid=stMain]"


@pytest.fixture(scope="module")
def stub():
    s = OIDCStub()
    yield s
    s.close()


@pytest.fixture(scope="module")
def signin_app(tmp_path_factory, mirror, stub):
    data = tmp_path_factory.mktemp("signin-data")
    port = free_port()
    secrets = f"""
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "a-long-random-cookie-secret-for-the-test-only"
client_id = "{stub.client_id}"
client_secret = "{stub.client_secret}"
server_metadata_url = "{stub.metadata_url}"

[roles]
reviewers = ["ana@example.org"]
admins = ["boss@example.org"]
"""
    env = {"DETECTOR_MIRROR": str(mirror), "DETECTOR_DATA_DIR": str(data)}
    proc, url = start_app(env, tmp_path_factory.mktemp("signin-log") / "streamlit.log", secrets=secrets, port=port)
    yield url, data
    proc.terminate()
    proc.wait(timeout=20)


def _sign_in(page, url: str) -> None:
    page.goto(f"{url}/review")
    wait_settled(page, timeout_s=60)
    main = page.locator(MAIN)
    assert main.get_by_role("textbox", name="Your name").count() == 0, "with sign-in there is no name box"
    main.get_by_role("button", name="Log in to review").click()
    # To the provider, straight back to /oauth2callback, and from there to the app's front page.
    page.wait_for_url(lambda u: u.startswith(url) and "/review" not in u and "/auth" not in u, timeout=30_000)
    page.wait_for_load_state()
    page.goto(f"{url}/review")
    wait_settled(page, timeout_s=60)


def test_a_listed_reviewer_signs_in_and_labels_as_their_identity(page, signin_app, stub, screenshot_dir):
    url, data = signin_app
    stub.email = "ana@example.org"
    issued = stub.tokens_issued
    _sign_in(page, url)
    main = page.locator(MAIN)
    main.get_by_text("Signed in as").first.wait_for(timeout=30_000)
    assert "ana@example.org" in main.inner_text()
    assert stub.tokens_issued == issued + 1, "the code was exchanged for a signed ID token"
    page.screenshot(path=str(screenshot_dir / "signin-reviewer.png"))
    main.locator("[data-testid=stButton] button", has_text="Mine").first.click()
    main.get_by_text("Saved: mine for patch").first.wait_for(timeout=30_000)
    wait_settled(page)
    with sqlite3.connect(data / "labels.sqlite") as db:
        who = {r[0] for r in db.execute("select reviewer from labels")}
    assert who == {"ana@example.org"}, who
    with page.expect_navigation(timeout=30_000):  # /auth/logout, then back to the app
        main.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    page.goto(f"{url}/review")
    wait_settled(page, timeout_s=60)
    assert page.locator(MAIN).get_by_role("button", name="Log in to review").is_visible()


def test_a_signed_in_visitor_who_is_not_listed_may_not_label(page, signin_app, stub, screenshot_dir):
    url, _ = signin_app
    stub.email = "visitor@example.net"
    _sign_in(page, url)
    main = page.locator(MAIN)
    main.get_by_text("who may not label patches").first.wait_for(timeout=30_000)
    page.screenshot(path=str(screenshot_dir / "signin-visitor.png"))
    assert main.locator("[data-testid=stButton] button", has_text="Mine").count() == 0
    assert "Say who you are" not in main.inner_text(), "signed in, the page does not ask for a name"


def test_a_signed_in_admin_imports_sampling_files_onto_the_layer(page, signin_app, stub, tmp_path, screenshot_dir):
    import json
    import re

    url, data = signin_app
    stub.email = "boss@example.org"
    _sign_in(page, url)
    main = page.locator(MAIN)
    header = main.locator("[data-testid=stMarkdown]", has_text=re.compile(r"^Patch ")).first
    header.wait_for(timeout=30_000)
    lat, lon = map(float, re.findall(r"(-?\d+\.\d+), (-?\d+\.\d+)", header.inner_text())[-1])
    pts = tmp_path / "mines_positives_field_team.geojson"
    pts.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [lon, lat]}}]}))
    main.get_by_text("Import labels (sampling-location files)").click()
    main.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(pts))
    button = main.get_by_role("button", name="Import", exact=True)  # offered once a file is there
    button.wait_for(timeout=30_000)
    wait_settled(page)
    button.click()
    main.get_by_text(re.compile(r"Imported \d+ new labels? from 1 file\.")).first.wait_for(timeout=30_000)
    wait_settled(page)
    page.screenshot(path=str(screenshot_dir / "signin-admin-import.png"), full_page=True)
    with sqlite3.connect(data / "labels.sqlite") as db:
        rows = db.execute("select reviewer, is_mine, patch_id from labels where reviewer like 'import:%'").fetchall()
    assert rows and {r[:2] for r in rows} == {("import:mines_positives_field_team", "yes")}
    assert all(r[2] for r in rows), "the point labels the layer's patches it falls in"
