"""StreamPulse analyst dashboard: `streamlit run streamlit_app/streamlit_app.py`; one module per page in `views/`."""

import sys
from pathlib import Path

import streamlit as st

# Streamlit runs this file as a script and puts its folder first on sys.path, where `streamlit_app` would
# name this very file instead of the package: import from the repository root instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() not in (HERE, HERE.parent)]
if getattr(sys.modules.get("streamlit_app"), "__file__", None) == __file__:
    del sys.modules["streamlit_app"]

PAGES = HERE / "views"  # not `pages/`: that folder name turns on Streamlit's legacy multipage mode

st.set_page_config(page_title="StreamPulse", page_icon="📈", layout="wide")
st.logo(str(HERE / "assets" / "logo.svg"), size="large")


def page(name: str, title: str, icon: str, **kwargs: bool) -> st.Page:
    return st.Page(str(PAGES / f"{name}.py"), title=title, icon=icon, url_path=name, **kwargs)


# Streamlit serves the default page only at the root URL (its own path, here `home`, answers "Page not found"),
# so the Overview is registered a second time, hidden, at /overview: every page has a URL of its own.
overview_alias = st.Page(str(PAGES / "overview.py"), title="Overview", url_path="overview", visibility="hidden")
navigation = st.navigation(
    {
        "Live": [
            st.Page(
                str(PAGES / "overview.py"),
                title="Overview",
                icon=":material/monitoring:",
                url_path="home",
                default=True,
            ),
            page("trending", "Trending", ":material/trending_up:"),
            page("content", "Content", ":material/movie:"),
            page("regions", "Regions", ":material/public:"),
            page("cdn", "CDN health", ":material/lan:"),
        ],
        "Reporting": [page("bi", "BI", ":material/insights:")],
        "Operations": [page("pipeline", "Pipeline", ":material/account_tree:"), overview_alias],
    }
)
st.sidebar.caption("Times are UTC. Live parts refresh in place every few seconds.")
navigation.run()
