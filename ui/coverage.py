"""The one control for how much of a patch must lie under imagery for it to count (Detect, Tune, Review)."""
from __future__ import annotations

import streamlit as st

from .i18n import _

#: Detect and Tune share one setting (it is part of the rule); Review has its own.
RULE_KEY = "rule_min_valid"


def imagery_share(key: str) -> float:
    """The least share of a patch under imagery (cloud-free pixels) for it to count; 0: every scored patch."""
    st.session_state.setdefault(key, 0)
    pct = st.slider(_("Least imagery per patch (%)"), 0, 100, step=5, key=key,
                    help=_("Patches at the edge of an image or under clouds are scored on the pixels they have (the "
                           "rest filled as the published pipeline does). Raise this to set aside patches with less "
                           "imagery than that; published layers have no such figure and always count."))
    return pct / 100.0
