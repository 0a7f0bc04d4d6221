"""Trends across data cuts: the trial's accrual, events and information fraction at each retained
cut, and each site's safety signals at each cut (small multiples and a table), every cut's figures
exactly as that cut's own pages show them (dashboard/views/trends.py)."""

import duckdb
import streamlit as st

from app import ui
from dashboard import i18n
from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.i18n import _
from dashboard.outputs.figures import trends as figures
from dashboard.views import trends

cfg = load_trial()
current = ui.current_viewer()
# the closed session reads the closed files of every cut (counts by arm): recorded as a closed view
viewer = ui.closed_page("trends") if current is not None and current.closed else ui.page("trends")
ui.header(_("Trends across cuts"), viewer, cfg)


@st.cache_data(show_spinner=False, max_entries=256)
def _one_cut(path: str, role: str, site: str | None, lang: str) -> tuple[dict, dict, object]:
    """One cut file's trial row and site rows, keyed by the file, the role, the site and the
    language: a cut's files never change, so a cut is computed once whatever the other cuts."""
    con = duckdb.connect(path, read_only=True)
    try:
        with i18n.using(lang):
            who = Viewer(role, site)
            return trends.data_cut(con), trends.trial_row(con, who, cfg), trends.site_rows(con, who, cfg)
    finally:
        con.close()


# every retained cut up to the one in view (a reopened pinned cut shows its trend as it stood)
in_view = ui.viewed_build().name
retained = [c for c in ui.cut_list() if c.build_id <= in_view]
trial_rows, site_parts = [], []
for cut in retained:
    path = str(trends.cut_file(cut.build_dir, viewer))
    stamp, trial_row, site_rows = _one_cut(path, viewer.role, viewer.site_filter, i18n.language())
    trial_rows.append({"cut": cut.label, **stamp, **trial_row})
    site_parts.append(trends.labelled(site_rows, cut.label, stamp))
trial_df = trends.combine_trial(trial_rows)
site_df = trends.combine_sites(site_parts)

if len(retained) < 2:
    st.info(_("The warehouse holds one data cut so far: a trend needs two or more."))

scope = _("Site {site}").format(site=ui.md(viewer.site)) if viewer.site_filter else _("The trial")
st.subheader(_("{scope}: accrual and events across cuts").format(scope=scope))
ui.chart(figures.trial(trial_df, cfg), key="trends-trial")
ui.table(trends.trial_table(trial_df, cfg))
if viewer.site_filter:
    st.caption(
        _(
            "Randomized subjects, deaths and disease-free survival events of your site at each data cut. "
            "The information fraction is the trial's and is not shown for one site."
        )
    )
else:
    st.caption(
        _(
            "Randomized subjects, deaths and disease-free survival events at each data cut, both arms "
            "together; the information fraction is the deaths over the {expected} the design expects at the "
            "final analysis (assumed), the dashed lines the planned looks."
        ).format(expected=cfg.design.expected_deaths_final)
    )

if viewer.site_filter:
    st.subheader(_("Your site's safety signals across cuts"))
else:
    st.subheader(_("Sites: safety signals across cuts"))
signals = {s.name: s for s in cfg.safety_signals}
chosen = st.multiselect(
    _("Signals"), list(signals), default=list(signals), format_func=lambda n: i18n.fact(signals[n], "label")
)
shown = site_df[site_df.signal.isin(chosen)]
if len(shown):
    mark = "rule" if viewer.site_filter else "funnel"
    ui.chart(figures.sites(shown, trends.site_order(shown), chosen, mark=mark), key="trends-sites")
    ui.table(trends.site_table(shown, cfg))
    if viewer.site_filter:
        st.caption(
            _(
                "Each signal of your site at each data cut: subjects with the event over its denominator, "
                "a circle where the signal's own rule flags it (its threshold, or any event)."
            )
        )
    else:
        st.caption(
            _(
                "Each site's signals at each data cut, as that cut's safety page showed them: a circle marks "
                "a site outside that cut's 99.8% funnel limits. Sites that are one arm or too small are "
                "suppressed or merged at each cut by that cut's own allocation."
            )
        )
    hidden = trends.withheld(shown)
    if hidden:
        st.caption(
            _("Withheld under the blinding rule: {cells}").format(
                cells=_("; ").join(
                    _("{cut}, {site} ({reason})").format(
                        cut=ui.md(h["cut"]), site=ui.md(h["site"]), reason=ui.md(h["reason"])
                    )
                    for h in hidden
                )
            )
        )
else:
    st.info(_("No signal chosen."))
