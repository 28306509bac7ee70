"""StreamPulse analyst dashboard: `streamlit run streamlit_app/streamlit_app.py`."""

import sys
from pathlib import Path

import streamlit as st

# Streamlit runs this file as a script: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

st.set_page_config(page_title="StreamPulse", page_icon="📈", layout="wide")
pages = [st.Page(str(Path(__file__).parent / "pages" / "content.py"), title="Content", icon="🎬", default=True)]
st.navigation(pages).run()
