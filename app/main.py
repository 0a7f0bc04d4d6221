"""The dashboard's entrypoint. It stands apart from the page files (pages/) on purpose:
Streamlit serves a `pages/` folder beside its entrypoint by URL, before any role check.
"""
from __future__ import annotations

import os

import streamlit as st

from dashboard import enrollment, warehouse
from dashboard.access import Viewer
from dashboard.config import load_trial

WAREHOUSE = os.environ.get("NEO_MARGIN_WAREHOUSE", "data/warehouse")

cfg = load_trial()
st.set_page_config(page_title=f"{cfg.trial.name} monitor", layout="wide")
st.title(f"{cfg.trial.name} ({cfg.trial.registry_id}) trial monitor")

try:
    con = warehouse.connect(WAREHOUSE)          # the blinded warehouse only
except warehouse.NoWarehouse as exc:
    st.error(str(exc))
    st.stop()
try:
    viewer = Viewer("steering")
    cut = enrollment.data_cut(con)
    st.caption(f"Data cut-off {cut['cutoff']} · exported {cut['exported']} · {cut['source']}")
    if cut["is_demo"]:
        st.info("Synthetic demo trial: no real patient data.")
    e = enrollment.enrollment(con, viewer, cfg)
    a = enrollment.allocation(con, viewer, cfg)
    c1, c2, c3 = st.columns(3)
    c1.metric("Randomized", f"{e['randomized']} / {e['target']}")
    c2.metric("Screened", e["screened"])
    c3.metric("Screen failures", e["screen_failures"])
    st.subheader("Allocation by arm")
    st.table({cfg_arm.label: [a["by_arm"][cfg_arm.code]] for cfg_arm in cfg.arms})
    st.subheader("Load history")
    st.dataframe(warehouse.load_history(WAREHOUSE)[::-1], hide_index=True)
finally:
    con.close()
