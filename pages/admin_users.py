"""Users: who has an account, with which role and site, and who is locked out (read-only:
accounts are managed with `python -m dashboard users`, which is on the audit log)."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.access import accounts
from dashboard.config import load_trial

viewer = ui.page("users")
st.title("Users")
st.caption(
    f"Users file: {ui.md(accounts.users_path())} · manage with `python -m dashboard users add|remove|list|passwd`"
)
users = pd.DataFrame(accounts.list_users())
if users.empty:
    st.write("No local accounts yet.")
else:
    roles = {key: role.label for key, role in load_trial().roles.items()}
    users["role"] = users.role.map(lambda r: roles.get(r, r))
    for col in users.columns:
        if users[col].dtype == object:
            users[col] = users[col].map(ui.readable)
    ui.table(
        users,
        column_config={
            "username": "User",
            "role": "Role",
            "site": "Site",
            "created": "Created (UTC)",
            "failed": st.column_config.NumberColumn("Failed sign-ins", format="%d"),
            "locked_until": "Slowed until (UTC)",
        },
    )
