"""The audit log, read-only: sign-ins, failed sign-ins, sign-outs, closed-session views, exports
and user changes, and whether the keyed chain, its head and its anchors (the build manifests)
are intact. A torn last line (an interrupted write) is a notice here, not a failure. Details and
data cuts read as text ("Listing: ... · Rows: 10"), not as Python dicts. The page is in the
reader's language; the entries themselves (actions, details) are records, shown as they were written."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.access import audit
from dashboard.config import load_trial
from dashboard.i18n import _, fact

viewer = ui.page("audit")
roles = {key: fact(role, "label") for key, role in load_trial().roles.items()}
st.title(_("Audit log"))
check = audit.check()
if not check.ok:
    st.error(_("TAMPERED: {message}").format(message=ui.md(check.message)))  # it may quote a tampered line
elif check.torn:
    st.warning(_("Chain intact, with a torn last line: {message}").format(message=ui.md(check.message)))
else:
    st.success(_("Chain intact: {message}").format(message=ui.md(check.message)))
entries = audit.read(lenient=True)  # what precedes a malformed line, shown beside the failure above
if entries:
    df = pd.DataFrame(entries).reindex(columns=["seq", "time", "user", "role", "site", "action", "detail", "data_cut"])
    action = st.multiselect(_("Actions"), sorted(df.action.dropna().astype(str).unique()))
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
            "seq": st.column_config.NumberColumn(_("Entry"), format="%d", width=50),
            "time": st.column_config.TextColumn(_("Time (UTC)"), width=135),
            "user": st.column_config.TextColumn(_("User"), width=95),
            "role": st.column_config.TextColumn(_("Role"), width=95),
            "site": st.column_config.TextColumn(_("Site"), width=40),
            "action": st.column_config.TextColumn(_("Action"), width=140),
            "detail": st.column_config.TextColumn(_("Detail"), width=240),
            "data_cut": st.column_config.TextColumn(_("Data cut"), width=170),
        },
    )
else:
    st.write(_("No entries yet."))
