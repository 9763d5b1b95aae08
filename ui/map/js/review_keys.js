/* Review's keys: see ui/review/keys.py, which puts the key → button-tag map in place of the placeholder. */
(function () {
  const doc = window.document;
  const keys = __REVIEW_KEYS__;
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
