"""Mining detector dashboard: the entry point (`streamlit run app.py`).

Navigation over the pages in app_pages/, and the sidebar every page shares (period, basemap,
threshold), mirrored in the URL so a copied link reopens the same view. The folder is not
called pages/: Streamlit treats a folder of that name as an old-style multipage app until
st.navigation first runs, so a deep link opened first would skip this file.
"""
import streamlit as st

from ui import i18n, state, workspace
from ui.guard import run_page
from ui.i18n import _

st.set_page_config(page_title="Mining detector", page_icon=":material/landscape:", layout="wide")
i18n.current()  # the language first: page titles are in it

pages = [
    st.Page("app_pages/explore.py", title=_("Explore"), icon=":material/map:", default=True),
    st.Page("app_pages/detect.py", title=_("Detect"), icon=":material/search:"),
    st.Page("app_pages/change.py", title=_("Change"), icon=":material/history:", url_path="change"),
    st.Page("app_pages/trends.py", title=_("Trends"), icon=":material/trending_up:"),
    st.Page("app_pages/review.py", title=_("Review"), icon=":material/fact_check:"),
    st.Page("app_pages/tune.py", title=_("Tune"), icon=":material/tune:"),
    st.Page("app_pages/models.py", title=_("Models"), icon=":material/model_training:", url_path="models"),
    st.Page("app_pages/overview.py", title=_("About"), icon=":material/info:", url_path="about"),
]
page = st.navigation(pages)
i18n.picker()
state.sidebar(show_threshold=page.url_path in {"detect", "tune"})
try:
    run_page(page)
    state.share_link()
finally:  # also when a page stops early: after a page's first model load, Streamlit's GC after each run stays cheap
    workspace.settle_after_model_load()
