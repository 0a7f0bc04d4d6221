"""Data quality: what is expected and what arrived, how late, and what the last build found.
Every table here reads as labels (no snake_case column, no "None", no midnight times), in the
reader's language (dashboard.i18n). A listing's export keeps its English name in the audit log."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.config import load_trial
from dashboard.i18n import N_, _
from dashboard.outputs import escape
from dashboard.outputs import labels as words
from dashboard.views import quality

cfg = load_trial()
viewer = ui.page("data_quality")
ui.header(_("Data quality"), viewer, cfg)
policy = viewer.policy(cfg)

st.subheader(_("Follow-up visits: expected against received"))
visits = ui.cached(quality.visits_by_site, viewer)
if len(visits):
    totals = visits.groupby("visit", sort=False)[["expected", "received", "missed", "out_of_window"]].sum()
    c1, c2, c3 = st.columns(3)
    c1.metric(_("Visits due by the cut-off"), int(totals.expected.sum()))
    c2.metric(_("Received"), int(totals.received.sum()))
    c3.metric(_("Missed (window closed)"), int(totals.missed.sum()))
    grid = visits.pivot_table(index="siteid", columns="visit", values="missed", aggfunc="sum", fill_value=0)
    grid = grid[[v for v in totals.index if v in grid.columns]]
    st.caption(_("Missed visits by site and visit"))
    grid = grid.reset_index()
    grid.columns = [words.column(str(c), cfg) if c == "siteid" else words.code(str(c), cfg) for c in grid.columns]
    ui.table(grid, height=ui.table_height(len(grid)))
else:
    st.write(_("No follow-up visit is due yet."))

if policy.subject_listings:
    with st.expander(_("Overdue follow-up visits (subject listing)")):
        overdue = ui.cached(quality.overdue, viewer)
        shown, names_shown = ui.for_people(overdue, cfg=cfg)
        ui.listing(shown, N_("overdue follow-up visits"), viewer, key="overdue", column_config=names_shown)

# one above the other: side by side, the lag table hid its last column at 1440 px
st.subheader(_("Data-entry lag by site"))
lag = ui.cached(quality.entry_lag, viewer)
ui.table(
    words.frame(lag, cfg),
    column_config={
        words.column("median_lag_days", cfg): st.column_config.NumberColumn(format="%.0f"),
        words.column("p90_lag_days", cfg): st.column_config.NumberColumn(format="%.0f"),
    },
)
st.subheader(_("Quality-of-life completion"))
qol = ui.cached(quality.qol_completion, viewer)
ui.table(
    words.frame(qol.assign(visit=qol.visit.map(lambda v: words.code(v, cfg))), cfg),
    column_config={
        words.column("completion", cfg): st.column_config.ProgressColumn(
            _("Completion"), format="percent", min_value=0, max_value=1
        )
    },
)

last = quality.last_refresh(ui.warehouse_dir())
if last is not None:  # only where the nightly refresh runs (docs/deployment.md)
    st.subheader(_("The last refresh"))
    said = _("{time}: {status}").format(time=last["time"] or words.MISSING, status=last["status_text"])
    if last["package"]:
        said += " · " + _("package {package}").format(package=escape.markdown(last["package"]))
    if last["status"] == "ok":
        st.success(said)
    elif last["status"] == "unchanged":
        st.info(said)
    else:
        st.error(said)
    if last["status"] != "ok" and last["reasons"]:
        st.markdown("\n".join(f"- {escape.markdown(r)}" for r in last["reasons"]))
    if last["serving_build_id"]:
        st.caption(
            _("The cut serving: build {build}, data cut-off {cutoff}.").format(
                build=escape.markdown(last["serving_build_id"]),
                cutoff=escape.markdown(last["serving_cutoff"] or words.MISSING),
            )
            + (
                " " + _("The last refresh that published a cut: {time}.").format(time=last["last_ok_time"])
                if last["status"] != "ok" and last["last_ok_time"]
                else ""
            )
        )
    if last["stale"]:
        st.warning(
            _("No refresh has run for more than {hours} hours: is the timer running? (docs/deployment.md)").format(
                hours=quality.STALE_HOURS
            )
        )

st.subheader(_("The last build"))
rep = quality.build_report(ui.connection(viewer)[0], viewer, ui.warehouse_dir())
f1, f2 = st.columns(2)
with f1:
    st.markdown(_("**Findings** (recorded, not refused)"))
    shown, names_shown = ui.for_people(rep["findings"], cfg=cfg)
    ui.listing(shown, N_("build findings"), viewer, key="findings", column_config=names_shown)
with f2:
    st.markdown(_("**Warnings**"))
    if len(rep["warnings"]):
        ui.table(words.frame(rep["warnings"], cfg))
    else:
        st.write(_("No warnings."))
st.markdown(_("**Rows per form**"))
forms = rep["forms"].copy()
if "extra_columns" in forms:
    forms["extra_columns"] = forms.extra_columns.map(lambda v: v or words.MISSING)
ui.table(words.frame(forms, cfg), height=ui.table_height(len(forms)))
st.subheader(_("Load history"))
history = rep["history"].copy()
for col in history.columns:
    if history[col].dtype == object:
        history[col] = history[col].map(ui.readable)
ui.table(pd.DataFrame(words.frame(history, cfg)))
