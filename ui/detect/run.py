"""Running the detector from the page through the workspace: progress, the run index, reopening.

The workspace (:func:`ui.workspace.current`) keeps one detector per model and file version for the
whole server process, so a model loads once whichever session asks; their ``patches_scored``
counters add up to the model work shown on the page (the proof that a threshold change never runs
the model).
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from detector import runs
from detector.errors import DetectorError
from detector.pipeline import TileProgress
from detector.region import area_km2
from detector.rule import DEFAULT as DEFAULT_RULE
from detector.workspace import DetectRequest

from .. import identity, workspace
from ..format import period_label
from ..i18n import _, ngettext, number, text_of
from .results import Result

RESULT = "detect_result"
_MESSAGE = "detect_message"
RUN_PARAM = "run"  # ?run=<id> in the URL reopens that run


def model_work() -> int:
    """Patches the models of this server process have scored so far."""
    return workspace.current().model_work()


@st.cache_resource(show_spinner=False)
def device() -> str:
    from detector.models import describe_device

    return describe_device()


def progress_text(p: TileProgress, device_name: str | None = None) -> str:
    done = _("Tile {done:,} of {total:,}: {stored:,} from the store, {computed:,} computed").format(
        done=p.done, total=p.total, stored=p.from_store, computed=p.computed)
    return done + (" " + _("on {device}").format(device=device_name) if device_name and p.computed else "")


def recommended_threshold(record: runs.RunRecord) -> float:
    """The run's model's recommended threshold (the published default where the model is gone)."""
    for ref in (record.model_ref, record.model):
        try:
            return float(workspace.current().model(ref).threshold)
        except DetectorError:
            continue
    return DEFAULT_RULE.threshold


def title(record: runs.RunRecord) -> str:
    """Region · year · model · imagery (the imagery left out where the region already names it)."""
    parts = [record.region_label, period_label(record.the_period), record.model]
    if record.source_label not in record.region_label:
        parts.append(record.source_label)
    return " · ".join(parts)


def summary_text(result: Result) -> str:
    s = result.summary
    if result.reopened:
        return _("Reopened from the score store in {seconds:.2f} s; the model did not run.").format(seconds=s.seconds)
    if not s.scored_now:
        return ngettext("The {n:,} tile came from the score store: {patches:,} patches in {seconds:.2f} s, nothing "
                        "computed.", "All {n:,} tiles came from the score store: {patches:,} patches in {seconds:.2f} "
                        "s, nothing computed.", s.tiles).format(n=s.tiles, patches=s.patches, seconds=s.seconds)
    parts = [ngettext("{n:,} tile ({stored:,} from the store): {now:,} patches scored now on {device}, {from_store:,} "
                      "from the store, in {seconds:.1f} s.", "{n:,} tiles ({stored:,} from the store): {now:,} patches "
                      "scored now on {device}, {from_store:,} from the store, in {seconds:.1f} s.", s.tiles).format(
        n=s.tiles, stored=s.tiles_from_store, now=s.scored_now, device=s.device, from_store=s.from_store,
        seconds=s.seconds)]
    if getattr(s, "partly_covered", 0):
        parts.append(_("{n:,} of them partly lack imagery (filled with 0, as the published pipeline does).").format(
            n=s.partly_covered))
    if s.not_covered:
        parts.append(_("{n:,} patches have no imagery at all and were not scored.").format(n=s.not_covered))
    if s.damaged:
        parts.append(ngettext("{n:,} stored tile was damaged and scored again.",
                              "{n:,} stored tiles were damaged and scored again.", s.damaged).format(n=s.damaged))
    return " ".join(parts)


def markdown(text: str) -> str:
    """A DetectorError's message for st.error: its line breaks kept."""
    return text.replace("\n", "  \n")


def run(req, where) -> Result | None:
    """Run the detector for a ready request, with a progress bar in ``where``; errors are shown there."""
    bar = where.progress(0.0, text=_("Starting (the model loads on its first use in this server)…"))
    last = {"computed": 0}

    def on_progress(p: TileProgress) -> None:
        last["computed"] = p.computed
        bar.progress(p.done / p.total if p.total else 1.0,
                     text=progress_text(p, device() if p.computed else None))

    ws = workspace.current()
    try:
        with ws.gate.slot(identity.user_key(), area_km2(req.region.geometry), on_wait=identity.queued(bar)):
            res = ws.detect(DetectRequest(req.region.geometry, req.year, req.source, req.model_ref),
                            on_progress=on_progress).result
    except DetectorError as exc:
        bar.empty()
        resume = ("\n\n" + ngettext("{n:,} tile finished before this is saved in the score store: run again to "
                                    "resume from there.", "{n:,} tiles finished before this are saved in the score "
                                    "store: run again to resume from there.", last["computed"]).format(
            n=last["computed"]) if last["computed"] else "")
        where.error(markdown(text_of(exc)) + resume)
        return None
    bar.empty()
    record = ws.remember(res, req.region.geometry, req.region.name, req.model_ref, req.source_label)
    return _keep(Result.of(res, record, req.geotiff))


def reopen(rid: str) -> Result | None:
    """An earlier run, from the store only; a message says why when it cannot be."""
    try:
        record, res = workspace.current().reopen(rid)
    except DetectorError as exc:
        st.session_state[_MESSAGE] = markdown(_("Run {id} cannot be reopened: {reason}").format(
            id=rid, reason=text_of(exc)))
        return None
    result = _keep(Result.of(res, record, not record.source_key.startswith("ee-"), reopened=True))
    _form_follows(record)
    return result


def _form_follows(record: runs.RunRecord) -> None:
    """The form shows what the reopened run was made with (year, model, imagery kind): set before the
    widgets are drawn, so the page runs once more when they already were and differ."""
    from .inputs import _FORM, for_record

    wanted = for_record(record)
    st.session_state[_FORM] = {**st.session_state.get(_FORM, {}), **wanted}
    stale = [k for k, v in wanted.items() if k in st.session_state and st.session_state[k] != v]
    for key in stale:
        del st.session_state[key]
    if stale:
        st.rerun()


def _keep(result: Result) -> Result:
    st.session_state[RESULT] = result
    st.session_state[_MESSAGE] = None
    st.query_params[RUN_PARAM] = result.record.run_id
    return result


def current() -> Result | None:
    """The session's result; a link naming a run (``?run=…``) reopens it first."""
    wanted = st.query_params.get(RUN_PARAM)
    have: Result | None = st.session_state.get(RESULT)
    if wanted and (have is None or have.record.run_id != wanted):
        opened = reopen(wanted)
        if opened is None:  # said why; the link no longer names it
            del st.query_params[RUN_PARAM]
        have = opened or have
    elif have is not None and not wanted:
        st.query_params[RUN_PARAM] = have.record.run_id  # back from another page: the link names the run again
    return have


def message() -> str | None:
    return st.session_state.get(_MESSAGE)


def _on_reopen(key: str) -> None:
    rid = st.session_state.get(key)
    if rid:
        reopen(rid)


_DELETED = "detect_deleted_message"


def _on_delete(key: str) -> None:
    rid = st.session_state.get(key)
    if not rid or not identity.may("delete_run")[0]:
        return
    record = workspace.current().runs.get(rid)
    if workspace.current().runs.remove(rid):
        st.session_state[_DELETED] = _("Deleted the run {title}.").format(title=title(record) if record else rid)
        st.session_state.pop(key, None)
        if st.query_params.get(RUN_PARAM) == rid:
            del st.query_params[RUN_PARAM]


@st.cache_data(show_spinner=False, max_entries=8)
def _listed(root: str, version: int) -> list[runs.RunRecord]:
    return runs.RunIndex(root).list()


def earlier_runs() -> None:
    """The run list, newest first, with a Reopen action (instant: scores come from the store)."""
    index = workspace.current().runs
    records = _listed(str(index.root), index.version())
    with st.expander(_("Earlier runs ({n})").format(n=len(records)), expanded=bool(records) or _DELETED in st.session_state):
        if st.session_state.get(_DELETED):
            st.caption(st.session_state.pop(_DELETED))
        if not records:
            st.caption(_("Runs you make here are listed here, and reopen instantly from the score store."))
            return
        st.dataframe(pd.DataFrame([runs.describe(r) for r in records]), hide_index=True, width="stretch")
        labels = {r.run_id: f"{title(r)} · {runs.describe(r)['when (UTC)']}" for r in records}
        key = "detect_reopen_pick"
        pick, button, drop = st.columns([4, 1, 1], vertical_alignment="bottom")
        pick.selectbox(_("Run"), list(labels), format_func=labels.get, key=key)
        button.button(_("Reopen"), key="detect_reopen", on_click=_on_reopen, args=(key,), width="stretch")
        with drop.popover(_("Delete"), icon=":material/delete:", width="stretch"):
            ok, why = identity.may("delete_run")
            if not ok:
                st.caption(why)
            else:
                st.caption(_("Takes the run off this list for everyone. Its scores stay in the score store, so the "
                             "same region runs again from the store."))
                st.button(_("Delete this run"), key="detect_delete", type="primary", on_click=_on_delete, args=(key,))



def model_work_caption() -> None:
    """The model calls of this server process, for anyone checking that a re-filter costs no inference."""
    st.caption(_("Model work in this server process: **{n}** patches scored.").format(n=number(model_work())),
               help=_("Re-filtering by threshold or reopening a run never adds to this; only tiles not yet in the "
                      "score store do."))
