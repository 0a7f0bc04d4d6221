"""The dashboard's entrypoint: who is signed in, the page list for that role, and nothing else.

It stands apart from the page files (pages/ at the top of the project) on purpose: Streamlit
serves a `pages/` folder beside its entrypoint by URL, before any role check runs.
"""

from __future__ import annotations

import streamlit as st

from app import auth, ui
from dashboard.access.roles import pages_for
from dashboard.config import load_trial
from dashboard.store import warehouse

cfg = load_trial()
# The icon is a file of ours: a Material icon as favicon made every browser fetch it from
# fonts.gstatic.com, a request to Google from a closed deployment (and a failure offline).
st.set_page_config(page_title=f"{cfg.trial.name} monitor", page_icon=str(ui.APP_DIR / "favicon.png"), layout="wide")

try:
    manifest = warehouse.manifest(ui.warehouse_dir())
except warehouse.NoWarehouse as exc:
    st.error(str(exc))
    st.stop()

viewer = auth.signed_in(cfg, manifest)
if viewer is None:
    auth.login_page(cfg, manifest)
    st.stop()

pages = [
    st.Page(str(ui.PAGES_DIR / p.file), title=p.title, icon=p.icon, url_path=p.key) for p in pages_for(viewer, cfg)
]
if not pages:
    st.info(f"No pages for the role {viewer.role} yet.")
    st.stop()
with st.sidebar:
    st.caption(f"{cfg.roles[viewer.role].label}" + (f" · site {viewer.site}" if viewer.site_filter else ""))
    st.caption(f"signed in as {viewer.user or viewer.role}")
    if st.button("Sign out"):
        auth.sign_out(cfg, manifest)
st.navigation(pages).run()
