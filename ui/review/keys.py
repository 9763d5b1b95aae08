"""One key per decision on the Review page.

A tiny script (``st.html`` with its JavaScript allowed) listens to key presses on the app's document and clicks
the Streamlit button whose label carries that key (``[M]``, ``[1]`` …). The button's callback is
bound to the item it was drawn for, so a key never labels a patch the reviewer has not seen. Keys
are ignored while the reviewer types (a note, their name), with Ctrl/Alt/Cmd held, when held down
(auto-repeat), and while the page is still running after the last decision.
"""
from __future__ import annotations

import json

_SCRIPT = """
<script>
(function () {
  const doc = window.document;
  const keys = KEYS;
  if (doc.__reviewKeys) { doc.removeEventListener("keydown", doc.__reviewKeys, true); }
  function typing(el) {
    if (!el) { return false; }
    const tag = (el.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable;
  }
  function busy() {
    const app = doc.querySelector("[data-testid=stApp]");
    return app && app.getAttribute("data-test-script-state") === "running";
  }
  doc.__reviewKeys = function (e) {
    if (typing(e.target)) {
      if (e.key === "Escape") { e.target.blur(); }  // leave the note field: the keys work again
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) { return; }
    const tag = keys[e.key.toLowerCase()] || keys[e.key];
    if (!tag) { return; }
    const btn = Array.from(doc.querySelectorAll("button")).find(
      b => b.innerText && b.innerText.indexOf(tag) !== -1 && !b.disabled);
    if (!btn) { return; }
    e.preventDefault();
    if (busy()) { return; }  // the last decision is still being saved: this press would hit the old item
    btn.click();
  };
  doc.addEventListener("keydown", doc.__reviewKeys, true);
})();
</script>
"""


def listen(keys: dict[str, str]) -> None:
    """Map keys (``"m"``, ``"1"``, ``"Backspace"``) to the tag a button's label carries (``"[M]"``)."""
    import streamlit as st

    st.html(_SCRIPT.replace("KEYS", json.dumps(keys)), unsafe_allow_javascript=True)

