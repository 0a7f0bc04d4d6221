"""The audit log, read-only: sign-ins, failed sign-ins, sign-outs, closed-session views, exports
and user changes, and whether the keyed chain, its head and its anchors (the build manifests)
are intact. A torn last line (an interrupted write) is a notice here, not a failure. Details and
data cuts read as text ("Listing: ... · Rows: 10"), not as Python dicts."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.access import audit
from dashboard.config import load_trial

viewer = ui.page("audit")
roles = {key: role.label for key, role in load_trial().roles.items()}
st.title("Audit log")
check = audit.check()
if not check.ok:
    st.error("TAMPERED: " + check.message)
elif check.torn:
    st.warning("Chain intact, with a torn last line: " + check.message)
else:
    st.success("Chain intact: " + check.message)
entries = audit.read(lenient=True)  # what precedes a malformed line, shown beside the failure above
if entries:
    df = pd.DataFrame(entries).reindex(columns=["seq", "time", "user", "role", "site", "action", "detail", "data_cut"])
    action = st.multiselect("Actions", sorted(df.action.dropna().astype(str).unique()))
    if action:
        df = df[df.action.isin(action)]
    shown = df.iloc[::-1].copy()
    shown["role"] = shown.role.map(lambda r: roles.get(r, r))
    for col in ("time", "user", "role", "site", "action", "detail", "data_cut"):
        shown[col] = shown[col].map(ui.readable)
    ui.table(
        shown,
        column_config={
            # widths that add up to the page's width at 1440 px: no column hidden to the right
            "seq": st.column_config.NumberColumn("Entry", format="%d", width=50),
            "time": st.column_config.TextColumn("Time (UTC)", width=135),
            "user": st.column_config.TextColumn("User", width=95),
            "role": st.column_config.TextColumn("Role", width=95),
            "site": st.column_config.TextColumn("Site", width=40),
            "action": st.column_config.TextColumn("Action", width=140),
            "detail": st.column_config.TextColumn("Detail", width=240),
            "data_cut": st.column_config.TextColumn("Data cut", width=170),
        },
    )
else:
    st.write("No entries yet.")
