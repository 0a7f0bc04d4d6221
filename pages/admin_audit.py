"""The audit log, read-only: sign-ins, failed sign-ins, sign-outs, closed-session views, exports
and user changes, and whether the keyed chain, its head and its anchors (the build manifests)
are intact. A torn last line (an interrupted write) is a notice here, not a failure."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.access import audit

viewer = ui.page("audit")
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
    ui.table(df.iloc[::-1].astype({"detail": str, "data_cut": str}))
else:
    st.write("No entries yet.")
