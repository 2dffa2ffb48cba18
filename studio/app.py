"""The Tessera studio: `tessera up` runs this with Streamlit.

Pages live in studio/screens/ (a folder named pages/ would be listed by Streamlit itself).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from studio import ui

PAGES = Path(__file__).resolve().parent / "screens"

st.set_page_config(page_title="Tessera studio", page_icon=":material/extension:", layout="wide")
# Streamlit leaves 6rem above a page's title; under the top navigation 4rem is enough, and the designer's
# canvas and step panel gain the difference in the first viewport.
st.html("<style>[data-testid='stMainBlockContainer'] { padding-top: 4rem; }</style>")
ui.require_sign_in()
navigation = st.navigation(
    [
        st.Page(PAGES / "home.py", title="Home", icon=":material/home:", default=True),
        st.Page(PAGES / "store.py", title="Component store", icon=":material/extension:"),
        st.Page(PAGES / "designer.py", title="Designer", icon=":material/account_tree:"),
        st.Page(PAGES / "runs.py", title="Runs", icon=":material/play_circle:"),
        st.Page(PAGES / "models.py", title="Models", icon=":material/inventory_2:"),
        st.Page(PAGES / "endpoints.py", title="Endpoints", icon=":material/api:"),
        st.Page(PAGES / "monitoring.py", title="Monitoring", icon=":material/monitoring:"),
        st.Page(PAGES / "tuning.py", title="Tuning", icon=":material/tune:"),
    ],
    position="top",  # the page's whole width for the work: the designer's canvas above all
)
navigation.run()
