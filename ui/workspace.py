"""The server's application layer: one :class:`detector.workspace.Workspace` per configuration.

Every page reaches the detector through :func:`current`; it is kept in ``st.cache_resource``, so
loaded models, the label store and the run index are shared by every session of the process.
"""
from __future__ import annotations

import streamlit as st

from detector.config import Settings
from detector.workspace import Workspace


@st.cache_resource(show_spinner=False, max_entries=4)
def _workspace(settings: Settings) -> Workspace:
    return Workspace(settings)


def current() -> Workspace:
    """The workspace of the configuration in force (the environment, read now)."""
    return _workspace(Settings.from_env())
