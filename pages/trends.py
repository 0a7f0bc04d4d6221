"""Trends across data cuts: the trial's accrual, events and information fraction at each retained
cut, and each site's safety signals at each cut (small multiples of the sites that matter most,
and a table of every site), every cut's figures as that cut's own pages show them, less what the
cuts side by side would give a blinded role (dashboard/views/trends.py: the step and merge rules)."""

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
viewer = ui.page("trends")
WITHHELD_LISTED = 20
"""Up to this many withheld points are listed one by one under the table; more are counted by reason."""


@st.cache_data(show_spinner=False, max_entries=256)
def _one_cut(path: str, role: str, site: str | None, lang: str) -> dict:
    """One cut file's part of a trend (trends.read_cut), keyed by the file, the role, the site and
    the language: a cut's files never change, so a cut is read once whatever the other cuts."""
    con = duckdb.connect(path, read_only=True)
    try:
        with i18n.using(lang):
            return trends.read_cut(con, Viewer(role, site), cfg)
    finally:
        con.close()


@st.cache_data(show_spinner=False, max_entries=32)
def _trends(paths: tuple[str, ...], labels: tuple[str, ...], role: str, site: str | None, lang: str):
    """(trial trends, site trends) of these cut files, oldest first, under the trend's rules: keyed by
    every file, their labels, the role, the site and the language (the rules look across the cuts)."""
    parts = [(label, _one_cut(p, role, site, lang)) for p, label in zip(paths, labels, strict=True)]
    with i18n.using(lang):
        return trends.combine(parts, Viewer(role, site), cfg)


@st.cache_data(show_spinner=False, max_entries=32)
def _view(paths: tuple[str, ...], labels: tuple[str, ...], role: str, site: str | None, lang: str, chosen: tuple):
    """What the page draws of the trends for the chosen signals: the figures, the tables, the sites
    with a panel and what was withheld (the same key as `_trends`, and the signals)."""
    trial_df, site_df = _trends(paths, labels, role, site, lang)
    with i18n.using(lang):
        shown = site_df[site_df.signal.isin(chosen)]
        panels, flagged = trends.panel_sites(shown)
        mark = "rule" if site else "funnel"
        return {
            "trial_figure": figures.trial(trial_df, cfg),
            "trial_table": trends.trial_table(trial_df, cfg),
            "rows": len(shown),
            "site_figure": figures.sites(shown, panels, list(chosen), mark=mark) if len(shown) else None,
            "site_table": trends.site_table(shown, cfg),
            "sites": trends.site_order(shown),
            "panels": panels,
            "flagged": flagged,
            "labels": dict(zip(shown.siteid, shown.site_label, strict=False)),
            "withheld": trends.withheld(shown),
        }


# every retained cut up to the one in view (a reopened pinned cut shows its trend as it stood)
in_view = ui.viewed_build().name
retained = [c for c in ui.cut_list() if c.build_id <= in_view]
if viewer.closed:
    # the closed session reads the closed file (counts by arm) of every cut: all of them on the record,
    # once per visit of the page
    visit = ("trends", tuple(c.build_id for c in retained))
    if st.session_state.get("_closed_visit") != visit:
        from app.auth import on_record

        on_record(
            "closed view: trends",
            user=viewer.user,
            role=viewer.role,
            site=viewer.site,
            detail={"cuts": [c.build_id for c in retained]},
            data_cut=ui.data_cut(),
        )
        st.session_state["_closed_visit"] = visit
    st.markdown(_(":red-background[**CONFIDENTIAL - DSMB CLOSED SESSION**] outcomes by arm"))
ui.header(_("Trends across cuts"), viewer, cfg)

paths = tuple(str(trends.cut_file(c.build_dir, viewer)) for c in retained)
labels = tuple(c.label for c in retained)
lang = i18n.language()
key = (paths, labels, viewer.role, viewer.site_filter, lang)

if len(retained) < 2:
    st.info(_("The warehouse holds one data cut so far: a trend needs two or more."))

signals = {s.name: s for s in cfg.safety_signals}
everything = _view(*key, tuple(signals))

scope = _("Site {site}").format(site=ui.md(viewer.site)) if viewer.site_filter else _("The trial")
st.subheader(_("{scope}: accrual and events across cuts").format(scope=scope))
ui.chart(everything["trial_figure"], key="trends-trial")
# one row per cut: wrapped to the page (the DSMB's has a column per arm), the cut's name escaped
ui.static_table(everything["trial_table"].map(lambda v: ui.md(v) if isinstance(v, str) else v))
if viewer.site_filter:
    st.caption(
        _(
            "Randomized subjects, deaths and disease-free survival events of your site at each data cut. "
            "The information fraction is the trial's and is not shown for one site. A cut's events are "
            "withheld where the site's allocation from it to the next cut shown breaks the cell rule."
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
chosen = st.multiselect(
    _("Signals"), list(signals), default=list(signals), format_func=lambda n: i18n.fact(signals[n], "label")
)
view = everything if tuple(chosen) == tuple(signals) else _view(*key, tuple(chosen))
if view["rows"]:
    if view["site_figure"] is not None and view["panels"]:
        ui.chart(view["site_figure"], key="trends-sites")
    names = view["labels"]
    if not viewer.site_filter and len(view["panels"]) < len(view["sites"]):
        st.caption(
            _(
                "Panels for {shown} of the {total} sites of the table below (the merged sites count as one): "
                "those outside the funnel limits at any cut ({flagged}), then those with the most events "
                "({others})."
            ).format(
                shown=len(view["panels"]),
                total=len(view["sites"]),
                flagged=ui.md(_(", ").join(str(names.get(s) or s) for s in view["flagged"])) or _("none"),
                others=ui.md(_(", ").join(str(names.get(s) or s) for s in view["panels"] if s not in view["flagged"]))
                or _("none"),
            )
        )
    ui.table(view["site_table"])
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
    if not viewer.closed:
        st.caption(
            _(
                "Two cuts side by side give their difference too: an earlier point is shown only where the "
                "site's allocation from it to the next point shown gained subjects of both arms, at least "
                "{min_cell}, or none, and the signal's denominator moved by none or at least {min_cell}; the "
                "latest point is the cut's own. A site merged with others at one cut is not shown alone at "
                "another."
            ).format(min_cell=cfg.blinding.min_cell_size)
        )
    hidden = view["withheld"]
    if 0 < len(hidden) <= WITHHELD_LISTED:
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
    elif hidden:
        reasons: dict[str, int] = {}
        for h in hidden:
            reasons[h["reason"]] = reasons.get(h["reason"], 0) + 1
        st.caption(
            _(
                "Withheld under the blinding rule: {n} points of a site at a cut ({reasons}); the table says which."
            ).format(
                n=len(hidden),
                reasons=_("; ").join(
                    _("{reason}: {n}").format(reason=ui.md(r), n=n) for r, n in sorted(reasons.items())
                ),
            )
        )
else:
    st.info(_("No signal chosen."))
