"""The audit log, read-only: sign-ins, failed sign-ins, sign-outs, closed-session views, exports
and user changes, and whether the hash chain is intact."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.access import audit

viewer = ui.page("audit")
st.title("Audit log")
ok, message = audit.verify()
(st.success if ok else st.error)(("Chain intact: " if ok else "TAMPERED: ") + message)
entries = audit.read()
if entries:
    df = pd.DataFrame(entries)[["seq", "time", "user", "role", "site", "action", "detail", "data_cut"]]
    action = st.multiselect("Actions", sorted(df.action.unique()))
    if action:
        df = df[df.action.isin(action)]
    ui.table(df.iloc[::-1].astype({"detail": str, "data_cut": str}))
else:
    st.write("No entries yet.")
