"""The server's application layer: one :class:`detector.workspace.Workspace` per configuration.

Every page reaches the detector through :func:`current`; it is kept in ``st.cache_resource``, so
loaded models, the label store and the run index are shared by every session of the process.
"""
from __future__ import annotations

import gc
import threading

import streamlit as st

from detector.config import Settings
from detector.workspace import Workspace


@st.cache_resource(show_spinner=False, max_entries=4)
def _workspace(settings: Settings) -> Workspace:
    return Workspace(settings)


def current() -> Workspace:
    """The workspace of the configuration in force (the environment, read now)."""
    return _workspace(Settings.from_env())


_GC_FROZEN = threading.Event()


def settle_after_model_load() -> None:
    """Once a model has scored, move what is alive (TensorFlow's half a million objects) out of the GC's sight.

    Streamlit runs a full garbage collection after every script run; with TensorFlow loaded it takes
    0.3–0.5 s, and every page waited for it after each click (a period switch on Change took 0.9 s for a
    0.1 s script run). Those objects live as long as the process anyway. Done once per process, at the end
    of the script run (app.py) in which the first model scored.
    """
    if _GC_FROZEN.is_set() or not st.get_option("runner.postScriptGC") or not current().model_work():
        return
    _GC_FROZEN.set()
    gc.freeze()
