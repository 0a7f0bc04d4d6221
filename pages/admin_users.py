"""Users: who has an account, with which role and site, and who is locked out (read-only:
accounts are managed with `python -m dashboard users`, which is on the audit log)."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.access import accounts

viewer = ui.page("users")
st.title("Users")
st.caption(
    f"Users file: {ui.md(accounts.users_path())} · manage with `python -m dashboard users add|remove|list|passwd`"
)
users = pd.DataFrame(accounts.list_users())
if users.empty:
    st.write("No local accounts yet.")
else:
    ui.table(users)
