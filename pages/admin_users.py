"""Users: who has an account, with which role and site, and who is locked out (read-only:
accounts are managed with `python -m dashboard users`, which is on the audit log). In the
reader's language; user names, sites and times as recorded."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.access import accounts
from dashboard.config import load_trial
from dashboard.i18n import LANGUAGES, _, fact

viewer = ui.page("users")
st.title(_("Users"))
st.caption(
    _("Users file: {path} · manage with `python -m dashboard users add|remove|list|passwd`").format(
        path=ui.md(accounts.users_path())
    )
)
users = pd.DataFrame(accounts.list_users())
if users.empty:
    st.write(_("No local accounts yet."))
else:
    roles = {key: fact(role, "label") for key, role in load_trial().roles.items()}
    users["role"] = users.role.map(lambda r: roles.get(r, r))
    if "language" in users:  # each language named in itself, as the switch names it; none: the browser's
        users["language"] = users.language.map(lambda v: LANGUAGES.get(v, v))
    for col in users.columns:
        if users[col].dtype == object:
            users[col] = users[col].map(ui.readable)
    ui.table(
        users,
        column_config={
            "username": _("User"),
            "role": _("Role"),
            "site": _("Site"),
            "created": _("Created (UTC)"),
            "failed": st.column_config.NumberColumn(_("Failed sign-ins"), format="%d"),
            "locked_until": _("Slowed until (UTC)"),
            "last_sign_in": _("Last sign-in (UTC)"),
            "disabled": _("Disabled"),
            "language": _("Language"),
        },
    )
