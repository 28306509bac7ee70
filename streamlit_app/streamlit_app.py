"""StreamPulse analyst dashboard: `streamlit run streamlit_app/streamlit_app.py`."""

import sys
from pathlib import Path

import streamlit as st

# Streamlit runs this file as a script: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="StreamPulse", page_icon="📈", layout="wide")
st.logo(str(Path(__file__).parent / "assets" / "logo.svg"), size="large")


def page(name: str, title: str, icon: str, **kwargs: bool) -> st.Page:
    return st.Page(str(PAGES / f"{name}.py"), title=title, icon=icon, url_path=name, **kwargs)


navigation = st.navigation(
    {
        "Live": [
            page("overview", "Overview", ":material/monitoring:", default=True),
            page("trending", "Trending", ":material/trending_up:"),
            page("content", "Content", ":material/movie:"),
            page("regions", "Regions", ":material/public:"),
            page("cdn", "CDN health", ":material/lan:"),
        ],
        "Reporting": [page("bi", "BI", ":material/insights:")],
        "Operations": [page("pipeline", "Pipeline", ":material/account_tree:")],
    }
)
st.sidebar.caption("Times are UTC. Live parts refresh in place every few seconds.")
navigation.run()
