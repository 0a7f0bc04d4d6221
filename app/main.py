"""The dashboard's entrypoint: who is signed in, the page list for that role, and nothing else.

It stands apart from the page files (pages/ at the top of the project) on purpose: Streamlit
serves a `pages/` folder beside its entrypoint by URL, before any role check runs.
"""

from __future__ import annotations

import os

import streamlit as st

from app import auth, ui
from dashboard import i18n
from dashboard.access.roles import PAGES, pages_for
from dashboard.config import load_trial
from dashboard.i18n import _
from dashboard.store import warehouse

# Files this server writes (the audit log, reports, the users and throttle files) are the service
# user's only: no group or other bits, whatever the shell that started it had.
os.umask(0o077)

cfg = load_trial()
# the language of this run (the switch, the user's own, the browser's): a context variable of this
# session's script thread, read by every _() of the pages and the figures they call
i18n.set_language(ui.language(cfg))
# The icon is a file of ours: a Material icon as favicon made every browser fetch it from
# fonts.gstatic.com, a request to Google from a closed deployment (and a failure offline).
st.set_page_config(
    page_title=_("{trial} monitor").format(trial=cfg.trial.name),
    page_icon=str(ui.APP_DIR / "favicon.png"),
    layout="wide",
)

try:
    manifest = warehouse.manifest(ui.warehouse_dir())
except warehouse.NoWarehouse as exc:
    st.error(ui.md(str(exc)))
    st.stop()


def sign_in_page() -> None:
    ui.document_language()
    # the language before the sign-in: the browser's first guess, or this switch
    ui.language_switch(st.columns([3, 1])[1])
    auth.login_page(cfg, manifest)


viewer = auth.signed_in(cfg, manifest)
if viewer is None:
    # Only the sign-in page, and no navigation: the sidebar lists nothing (not the titles of the
    # pages of whoever was signed in before). Every page's URL is the sign-in page too (hidden), so a
    # typed or bookmarked URL, or the page a session expired on, shows the form instead of "page not
    # found", and after signing in the same URL opens that page if the role may open it.
    sign_in_pages = [st.Page(sign_in_page, title=_("Sign in"), default=True)] + [
        st.Page(sign_in_page, title=_("Sign in"), url_path=p.key, visibility="hidden") for p in PAGES
    ]
    st.navigation(sign_in_pages, position="hidden").run()
    st.stop()

pages = [
    st.Page(str(ui.PAGES_DIR / p.file), title=_(p.title), icon=p.icon, url_path=p.key) for p in pages_for(viewer, cfg)
]
if not pages:
    st.info(_("No pages for the role {role} yet.").format(role=ui.md(viewer.role)))
    st.stop()
with st.sidebar:
    role_label = ui.md(i18n.fact(cfg.roles[viewer.role], "label"))
    st.caption(role_label + (_(" · site {site}").format(site=ui.md(viewer.site)) if viewer.site_filter else ""))
    st.caption(_("signed in as {user}").format(user=ui.md(viewer.user or viewer.role)))
    if st.button(_("Sign out")):
        auth.sign_out(cfg, manifest)
    ui.language_switch()
    if viewer.role in cfg.cuts.committee_of_role or viewer.role in cfg.cuts.pin_roles:
        ui.cut_controls(viewer, cfg)  # the current cut, or a pinned one reopened as it was
    auth.set_cookie()  # right after a sign-in: the cookie that lets a reload resume this session
    auth.idle_watch(cfg, manifest)  # clears the screen when the session idles out, without a click
    ui.phone_navigation()
    ui.document_language()  # on a phone, the sidebar closes once a page is chosen
st.navigation(pages, expanded=True).run()  # every page listed: the DSMB has 15, past the "view more" fold
