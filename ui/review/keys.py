"""One key per decision on the Review page.

A tiny script (``st.html`` with its JavaScript allowed) listens to key presses on the app's document and clicks
the Streamlit button whose label carries that key (``[M]``, ``[1]`` …). The button's callback is
bound to the item it was drawn for, so a key never labels a patch the reviewer has not seen. Keys
are ignored while the reviewer types (a note, their name), with Ctrl/Alt/Cmd held, when held down
(auto-repeat), and while the page is still running after the last decision.
"""
from __future__ import annotations

import json

from ..map.kernel import asset


def listen(keys: dict[str, str]) -> None:
    """Map keys (``"m"``, ``"1"``, ``"Backspace"``) to the tag a button's label carries (``"[M]"``)."""
    import streamlit as st

    script = asset("review_keys.js").replace("__REVIEW_KEYS__", json.dumps(keys))
    st.html(f"<script>\n{script}</script>", unsafe_allow_javascript=True)

