"""The Review page's pieces: who reviews, the item shown large, the decision buttons, progress, agreement.

Every decision is one append to the label store made in a button callback bound to the item the
button was drawn for; undo appends too (see :mod:`detector.labels`). Nothing a reviewer did lives
only in the session: a reload, a second tab or a crash loses nothing but the skipped list.
"""
from __future__ import annotations

import io
import time
import zipfile

import geopandas as gpd
import pandas as pd
import shapely
import streamlit as st

from detector import catalog, evaluate
from detector.errors import DetectorError
from detector.labels import CATEGORIES, Label, LabelStore, check_reviewer_name

from .. import identity
from ..i18n import N_, _, ngettext, number, text_of
from ..map.basemaps import basemap
from . import layers as review_layers
from . import maps as review_maps

NOTE, NAME, SKIPPED, LOG, MESSAGE = "review_note", "review_name", "review_skipped", "review_log", "review_message"
OPEN = "review_open"  # a patch opened from the disagreements table, shown before the queue
MINE = "review_session_labels"  # ids of the labels this browser session made: what its Undo may take back
#: The key each decision answers to, and the tag its button's label carries.
DECISIONS = {"m": ("yes", None, N_("Mine [M]")), "n": ("no", None, N_("Not a mine [N]")),
             "u": ("unsure", None, N_("Unsure [U]"))}
LOOKALIKE_KEYS = {str(i + 1): key for i, key in enumerate(CATEGORIES)}
KEYS = {"m": "[M]", "y": "[M]", "n": "[N]", "u": "[U]", "z": "[Z]", "backspace": "[Z]", "s": "[S]",
        **{k: f"[{k}]" for k in LOOKALIKE_KEYS}}
#: Short button labels (the full names are in the buttons' help and in the saved message).
BUTTON_TEXT = {"aquaculture": N_("Aquaculture"), "riverbank": N_("Riverbank/sandbar"), "farm_pond": N_("Farm pond"),
               "landslide": N_("Landslide"), "industrial": N_("Industrial"), "cloud": N_("Cloud/haze"),
               "other": N_("Other")}
MAP_HEIGHT = 380
CONTEXT_HEIGHT = 330
#: The queue orders' words (detector.review_queue.ORDERS), for the catalogue.
ORDER_WORDS = (N_("Most uncertain first (score nearest the threshold)"), N_("Highest score first"),
               N_("Random sample (for an unbiased precision estimate)"), N_("Within a region (highest score first)"))
GUIDE_TABS = {"gallery_mines": "Mines", "gallery_dredge_mining": "Dredges", "gallery_aquaculture": "Ponds",
              "gallery_riverbank": "Riverbanks", "gallery_landslide": "Landslides", "gallery_industrial": "Industrial"}


# ---------------------------------------------------------------- who is reviewing

def ask_for_reviewer() -> None:
    """What to do before any patch is shown: sign in (with sign-in configured) or say who you are."""
    if identity.auth_configured():
        st.info(_("Sign in (above) with an account the operator lists as a reviewer to label: every label keeps "
                  "its reviewer."))
    else:
        st.info(_("Say who you are (above) to start: every label keeps its reviewer."))


def reviewer() -> str | None:
    """The reviewer: the signed-in user where login is configured, else the name they type."""
    if identity.auth_configured():
        if not st.user.get("is_logged_in"):
            st.button(_("Log in to review"), on_click=st.login, icon=":material/login:")
            return None
        who = identity.email() or ""
        st.caption(_("Signed in as **{who}**").format(who=who))
        st.button(_("Log out"), on_click=st.logout, icon=":material/logout:")
        ok, why = identity.may("label")
        if not ok:
            st.warning(why)
            return None
        return who or None
    # Never taken from (or put in) the URL: a link must not make its opener label as someone else.
    name = st.text_input(_("Your name"), key=NAME, placeholder=_("e.g. ana.silva"),
                         help=_("Saved with every label you make; the queue skips what you have labelled.")).strip()
    st.caption(_("Labels here are not authenticated: the name is what you type. An operator can turn on sign-in "
                 "(Streamlit's [auth]) so labels carry a verified identity."))
    if not name:
        return None
    try:
        return check_reviewer_name(name)
    except DetectorError as exc:
        st.error(text_of(exc))
        return None


# ---------------------------------------------------------------- decisions

def item_of(layer: gpd.GeoDataFrame, pos: int, source: str) -> dict:
    row = layer.iloc[pos]
    c = row.geometry.centroid
    return {"item": row["patch_id"], "patch_id": row["patch_id"], "source": source, "lon": float(c.x),
            "lat": float(c.y), "geometry": row.geometry.wkt, "score": float(row["score"])}


def decide(store: LabelStore, who: str, item: dict, queue: str, is_mine: str, category: str | None) -> None:
    """A button's callback: append the label (with the note), log it, clear the note."""
    note = (st.session_state.get(NOTE) or "").strip()
    try:
        label_id = store.add(Label(is_mine=is_mine, category=category, note=note, reviewer=who, queue=queue, **item))
    except DetectorError as exc:
        st.session_state[MESSAGE] = ("error", text_of(exc))
        return
    st.session_state[NOTE] = ""
    if st.session_state.get(OPEN) == item["item"]:
        st.session_state.pop(OPEN)  # answered: back to the queue
    st.session_state.setdefault(LOG, []).append(time.time())
    st.session_state.setdefault(MINE, []).append(label_id)
    what = {"yes": _("mine"), "no": _("not a mine"), "unsure": _("unsure")}[is_mine]
    if category:
        what += f" ({CATEGORIES[category].lower()})"
    st.session_state[MESSAGE] = ("ok", _("Saved: **{what}** for patch `{patch}`.").format(what=what, patch=item["patch_id"]))


def undo(store: LabelStore, who: str) -> None:
    """Take back this browser session's latest label (never another session's, whatever the name)."""
    mine = st.session_state.get(MINE, [])
    rec = store.undo(who, within=mine)
    if rec is None:
        st.session_state[MESSAGE] = ("info", _("Nothing to undo."))
        return
    log = st.session_state.get(LOG, [])
    if log:
        log.pop()
    if rec["undone"]["id"] in mine:
        mine.remove(rec["undone"]["id"])
    back = _("back in the queue") if rec["action"] == "retract" else _("back to {answer}").format(answer=rec["is_mine"])
    st.session_state[MESSAGE] = ("ok", _("Undone: patch `{patch}` is {back}.").format(patch=rec["item"], back=back))


def skip(item_id: str) -> None:
    st.session_state.setdefault(SKIPPED, []).append(item_id)


def buttons(store: LabelStore, who: str, item: dict, queue: str) -> None:
    """Mine / not a mine / unsure, the look-alikes (numbered), undo and skip: each with its key."""
    for row in (("m",), ("n", "u")):
        for col, key in zip(st.columns(len(row)), row):
            answer, cat, text = DECISIONS[key]
            col.button(_(text), key=f"review_{key}", on_click=decide, args=(store, who, item, queue, answer, cat),
                       type="primary" if answer == "yes" else "secondary", width="stretch")
    st.markdown(_("**Not a mine — a look-alike:**"))
    nums = list(LOOKALIKE_KEYS.items())
    for pair in (nums[i:i + 2] for i in range(0, len(nums), 2)):  # 1 2 / 3 4 / …: read across
        for col, (num, cat) in zip(st.columns(2), pair):
            col.button(f"[{num}] {_(BUTTON_TEXT[cat])}", key=f"review_cat_{cat}", width="stretch",
                       help=CATEGORIES[cat], on_click=decide, args=(store, who, item, queue, "no", cat))
    c1, c2 = st.columns(2)
    c1.button(_("Undo [Z]"), key="review_undo", on_click=undo, args=(store, who), icon=":material/undo:",
              width="stretch")
    c2.button(_("Skip [S]"), key="review_skip", on_click=skip, args=(item["item"],), width="stretch")
    st.text_input(_("Note (optional, saved with the next decision)"), key=NOTE,
                  placeholder=_("e.g. pond edges too straight"),
                  help=_("Press Esc to leave the field and use the keys again."))
    st.caption(_("Keys: **M** mine · **N** not a mine · **U** unsure · **1–7** look-alike · **Z** undo · **S** skip"))


def message() -> None:
    msg = st.session_state.pop(MESSAGE, None)
    if msg:
        kind, text = msg
        {"ok": st.success, "error": st.error, "info": st.info}[kind](text)


# ---------------------------------------------------------------- progress

def progress(mine: pd.DataFrame, layer_size: int, pending: int) -> None:
    """This reviewer's counts on this layer, what is left, and the session's pace."""
    done = len(mine)
    st.progress(min(1.0, done / layer_size) if layer_size else 0.0,
                text=_("{done} of {size} patches of this layer labelled by you; {pending} left in this queue").format(
                    done=number(done), size=number(layer_size), pending=number(pending)))
    c = st.columns(2) + st.columns(3)
    c[0].metric(_("Labelled by you"), number(done))
    c[1].metric(_("Left in queue"), number(pending))
    c[2].metric(_("Mines"), number(int((mine['is_mine'] == 'yes').sum()), ","))
    c[3].metric(_("Not mines"), number(int((mine['is_mine'] == 'no').sum()), ","))
    c[4].metric(_("Unsure"), number(int((mine['is_mine'] == 'unsure').sum()), ","))
    log = st.session_state.get(LOG, [])
    if len(log) >= 2:
        minutes = max((log[-1] - log[0]) / 60, 1e-9)
        st.caption(_("This session: {n} labels, {rate:.0f} a minute.").format(n=len(log), rate=len(log) / minutes))


# ---------------------------------------------------------------- the item, shown large

def item_header(layer: gpd.GeoDataFrame, pos: int, info: review_layers.LayerInfo) -> None:
    row = layer.iloc[pos]
    c = row.geometry.centroid
    share = row.get("valid_fraction")
    imagery = " · " + _("imagery on {share:.0%} of it").format(share=share) if pd.notna(share) and share < 1 else ""
    st.markdown(_("**Patch `{patch}`** · score **{score:.3f}**").format(patch=row["patch_id"], score=row["score"])
                + f"{imagery} · {info.year} · {c.y:.5f}, {c.x:.5f}")


def item_maps(layer: gpd.GeoDataFrame, pos: int, info: review_layers.LayerInfo) -> None:
    """High resolution and Sentinel-2 of the layer's year side by side, the wider context below."""
    geom = layer.geometry.iloc[pos]
    period = str(info.year)
    left, right = st.columns(2)
    with left:
        review_maps.show(review_maps.patch_map(geom, "esri", period), "review_map_hires", MAP_HEIGHT)
        st.caption(_("High resolution (Esri World Imagery; its date varies)"))
    with right:
        review_maps.show(review_maps.patch_map(geom, "s2cloudless", period), "review_map_s2", MAP_HEIGHT)
        st.caption(_("{name} (EOX), the closest mosaic to {period}").format(name=basemap("s2cloudless", period).name,
                                                                          period=period))
    b = geom.bounds
    pad = (b[2] - b[0]) * 8
    near = layer.cx[b[0] - pad:b[2] + pad, b[1] - pad:b[3] + pad]
    ctx, guide = st.columns(2)
    with ctx:
        review_maps.show(review_maps.context_map(geom, near[["score", "geometry"]].round({"score": 3}), period),
                         "review_map_context", CONTEXT_HEIGHT)
        st.caption(_("Context: this layer's other patches nearby (amber). Patches: {credit}.").format(
            credit=review_layers.credit(info)))
    with guide:
        guides()


def guides() -> None:
    """The published training chips of mines and look-alikes, to compare against."""
    shown = [catalog.get(n) for n in GUIDE_TABS if catalog.is_available(n)]
    if not shown:
        st.caption(_("Guide images are not here (`python -m detector data fetch gallery_mines …`)."))
        return
    tabs = st.tabs([GUIDE_TABS.get(d.name, d.name) for d in shown])
    for tab, ds in zip(tabs, shown):
        with tab:
            st.image(str(ds.path(progress=False)), width="stretch")
            st.caption(_("Guide — {description} Published training chips: {credit}.").format(description=ds.description,
                                                                                            credit=ds.attribution))


def regions_over(layer: gpd.GeoDataFrame, *tables: gpd.GeoDataFrame | None) -> dict[str, tuple[str, object]]:
    """Countries and territories holding some of the layer's patches, most patches first: key → (label, geometry)."""
    centres = gpd.GeoDataFrame(geometry=shapely.centroid(layer.geometry.to_numpy()), crs=layer.crs)
    out = []
    kinds = {"country": _("country"), "territory": _("territory")}
    for kind, table in zip(("country", "territory"), tables):
        if table is None or table.empty:
            continue
        hits = gpd.sjoin(centres, table[["region_id", "region_name", "geometry"]], predicate="within")
        for (rid, name), n in hits.groupby(["region_id", "region_name"]).size().items():
            geom = table.loc[table["region_id"] == rid].geometry.iloc[0]
            label = ngettext("{name} ({kind}, {n:,} patch)", "{name} ({kind}, {n:,} patches)", n).format(
                name=name, kind=kinds[kind], n=n)
            out.append((n, f"{kind}:{rid}", label, geom))
    out.sort(key=lambda r: (-r[0], r[2]))
    return {key: (label, geom) for _n, key, label, geom in out}


# ---------------------------------------------------------------- agreement and export

def agreement(current: pd.DataFrame) -> None:
    """Cohen's kappa for each pair of reviewers on the items both labelled, and where they disagree."""
    imported = st.toggle(_("Include the imported sampling sets"), key="review_agree_imports",
                         help=_("Compare reviewers with the curated training points too."))
    cur = current if imported else current[~current["reviewer"].str.startswith("import:")]
    pairs, differ = evaluate.agreement(cur)
    if pairs.empty:
        st.caption(_("No item has been labelled by two reviewers yet. The random queue gives every reviewer the "
                     "same order, so reviewers working through it overlap."))
        return
    st.dataframe(pairs.assign(agree=(pairs["agree"] * 100).round(1), kappa=pairs["kappa"].round(3))
                 .rename(columns={"agree": "agree %", "kappa": "Cohen's kappa"}), hide_index=True, width="stretch")
    st.caption(_("Kappa is agreement on mine / not a mine / unsure beyond what chance gives: 1 perfect, 0 chance, "
                 "above 0.6 substantial."))
    if differ.empty:
        st.caption(_("No disagreements."))
    else:
        st.markdown(_("**{n} disagreements**: pick a row to open that patch above.").format(n=len(differ)))
        shown = differ.fillna("")
        event = st.dataframe(shown, hide_index=True, width="stretch", key="review_differ", on_select="rerun",
                             selection_mode="single-row")
        rows = event.selection.rows if event is not None else []
        picked = str(shown.iloc[rows[0]]["item"]) if rows and rows[0] < len(shown) else None
        # Only a new pick opens a patch: once answered, the row still selected does not open it again.
        if picked is not None and st.session_state.get(OPEN + "_picked") != picked:
            st.session_state[OPEN + "_picked"] = picked
            st.session_state[OPEN] = picked
            st.rerun()


def opened_first(todo, layer: gpd.GeoDataFrame):
    """The queue with the patch opened from the disagreements in front (while it is in this layer)."""
    import numpy as np

    item = st.session_state.get(OPEN)
    if not item:
        return todo
    at = np.flatnonzero(layer["patch_id"].to_numpy() == item)
    if not len(at):
        return todo
    c1, c2 = st.columns([3, 1], vertical_alignment="center")
    c1.info(_("Opened from the disagreements: patch `{patch}`. Your answer replaces your earlier one.").format(patch=item))
    c2.button(_("Back to the queue"), key="review_close_open", on_click=lambda: st.session_state.pop(OPEN, None))
    return np.concatenate([at[:1], np.asarray(todo)[np.asarray(todo) != at[0]]]).astype(int)


def export(store: LabelStore) -> None:
    """The current labels as sampling-location GeoJSON (zip), for the training step."""
    import tempfile
    from pathlib import Path

    ok, why = identity.may("export")
    if not ok:
        st.caption(why)
        return
    if not st.button(_("Prepare the export"), key="review_export"):
        st.caption(_("Positives and negatives (one file per look-alike) as CRS84 points, in the published "
                     "sampling-location format. Also: `python -m detector labels export --out DIR`."))
        return
    with tempfile.TemporaryDirectory() as tmp:
        res = store.export(tmp)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for path in res.files.values():
                z.write(path, Path(path).name)
    st.caption(" · ".join(f"{name}: {number(n)}" for name, n in res.counts.items()) or _("No labels yet."))
    if res.left_out():
        st.warning(res.left_out())
    st.download_button(_("Download labels for training (zip of GeoJSON)"), buf.getvalue(), file_name="labels.zip",
                       mime="application/zip", on_click="ignore", icon=":material/download:",
                       disabled=not res.counts)
    st.caption(_("Positives and negatives (one file per look-alike) as CRS84 points, in the published "
                 "sampling-location format; where reviewers disagree the majority decides, unsure is left out. "
                 "Also: `python -m detector labels export --out DIR`."))
