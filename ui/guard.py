"""What a visitor sees when a page fails: a message with a reference, never the traceback.

The full error goes to the server's log under the same reference, so the operator can find it;
the visitor is told what to do. Streamlit's own error display is off too (``client.showErrorDetails
= "none"`` in .streamlit/config.toml) for anything outside a page.
"""
from __future__ import annotations

import logging
import uuid

import streamlit as st

from .i18n import _

log = logging.getLogger("detector.app")


def run_page(page) -> None:
    """Run a page; an unexpected error becomes a message with a reference id (st.stop and st.rerun pass)."""
    try:
        page.run()
    except Exception:  # noqa: BLE001 - every unexpected error: logged in full, shown without detail
        ref = uuid.uuid4().hex[:10]
        log.exception("page %s failed; reference %s", getattr(page, "url_path", "?"), ref)
        st.error(_("Something went wrong on the server (reference **{ref}**). Nothing you entered is lost: try "
                   "again, or reload the page. If it keeps happening, tell the server's operator this reference; "
                   "their log has the details.").format(ref=ref), icon=":material/error:")
