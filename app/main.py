"""The dashboard's entrypoint: who is signed in, the page list for that role, and nothing else.

It stands apart from the page files (pages/ at the top of the project) on purpose: Streamlit
serves a `pages/` folder beside its entrypoint by URL, before any role check runs.
"""
from __future__ import annotations

import streamlit as st

from app import ui
from dashboard import warehouse
from dashboard.access import Viewer, pages_for
from dashboard.config import load_trial

cfg = load_trial()
st.set_page_config(page_title=f"{cfg.trial.name} monitor", page_icon=":material/monitoring:", layout="wide")

try:
    manifest = warehouse.manifest(ui.warehouse_dir())
except warehouse.NoWarehouse as exc:
    st.error(str(exc))
    st.stop()

viewer = ui.current_viewer()
if viewer is None:
    # Sign-in arrives with the accounts issue; until then only the demo trial can be opened,
    # by choosing a role, and a real export is refused.
    st.title(f"{cfg.trial.name} ({cfg.trial.registry_id}) trial monitor")
    if not manifest.get("is_demo"):
        st.error("Sign-in is not configured: this warehouse holds a real export.")
        st.stop()
    st.caption("Synthetic demo trial: choose a role to look around.")
    role = st.selectbox("Role", [r for r in cfg.roles if not cfg.roles[r].closed and r != "admin"])
    site = None
    if cfg.roles[role].site_restricted:
        site = st.text_input("Site number", value="01")
    if st.button("Open", type="primary"):
        st.session_state["viewer"] = Viewer(role, site or None).validated(cfg)
        st.rerun()
    st.stop()

pages = [st.Page(str(ui.PAGES_DIR / p.file), title=p.title, icon=p.icon, url_path=p.key)
         for p in pages_for(viewer, cfg)]
if not pages:
    st.info(f"No pages for the role {viewer.role} yet.")
    st.stop()
with st.sidebar:
    st.caption(f"{cfg.roles[viewer.role].label}" + (f" · site {viewer.site}" if viewer.site_filter else ""))
    if st.button("Sign out"):
        st.session_state.clear()
        st.rerun()
st.navigation(pages).run()
