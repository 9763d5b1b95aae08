"""Who the visitor is, and what they may do: the signed-in identity (Streamlit's st.login, with an
[auth] section in the secrets) and the roles the secrets list (:mod:`detector.roles`)."""
from __future__ import annotations

import streamlit as st

from detector.roles import Roles, refusal

from . import workspace
from .i18n import N_, _, text_of

#: What an anonymous visitor of a public server (DETECTOR_PUBLIC=1, no sign-in) may not do, and why.
PUBLIC_REFUSED = {
    "earthengine": N_("This public server starts no Earth Engine run under its own account. Upload a GeoTIFF or "
                      "a Sentinel-2 product instead, or ask the operator to turn on sign-in."),
    "import": N_("On this public server, labels are imported by signed-in admins only; ask the operator."),
    "delete_run": N_("On this public server, runs are deleted by signed-in admins only; ask the operator."),
}


def auth_configured() -> bool:
    """Whether an identity provider is set up (an [auth] section in .streamlit/secrets.toml)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 — no secrets file at all
        return False


def roles() -> Roles:
    try:
        return Roles.from_secrets({"roles": dict(st.secrets.get("roles", {}))})
    except Exception:  # noqa: BLE001 — no secrets file at all
        return Roles()


def email() -> str | None:
    """The signed-in user's e-mail (None when signed out or when there is no sign-in)."""
    if not auth_configured() or not st.user.get("is_logged_in"):
        return None
    return str(st.user.get("email") or st.user.get("name") or "") or None


def may(action: str) -> tuple[bool, str]:
    """(allowed, why not) for the visitor. Without sign-in: labelling and export are open (labels are
    unauthenticated); Earth Engine runs, label import and run deletion are open except on a public server
    (its account and quota; anonymous visitors do not change what everyone sees)."""
    if not auth_configured():
        if action in PUBLIC_REFUSED and workspace.current().settings.public:
            return False, _(PUBLIC_REFUSED[action])
        return True, ""
    who = email()
    if who is None:
        return False, _("Sign in first (the button above) to do this.")
    if roles().may(who, action):
        return True, ""
    return False, text_of(refusal(who, action))


def user_key() -> str:
    """Whom fair-use limits count against: the signed-in e-mail, else this browser session."""
    who = email()
    if who:
        return who
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return f"session:{ctx.session_id if ctx else 'none'}"


def queued(bar):
    """An ``on_wait`` for the fair-use gate that says the run's place in line on a progress bar."""
    def on_wait(place: int) -> None:
        bar.progress(0.0, text=_("Your run is number {place} in line; it starts when a run ahead of it finishes.").format(
            place=place))

    return on_wait
