"""Accrual and sites: are we recruiting on plan, which sites carry it, why do patients fail screening.

The first screen answers "are we on track" (on a phone too): randomized of the target and %, ahead
of or behind the planned line and by how many, the last 30 days against the plan's pace, the
projected completion against the planned end, and the fastest and slowest sites.

Every text is in the reader's language (dashboard.i18n): numbers, percentages and dates in prose
by its conventions (2028年12月11日), the criteria's texts from trial.toml's Chinese."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard import i18n
from dashboard.config import load_trial
from dashboard.i18n import _, ngettext
from dashboard.outputs import figures
from dashboard.outputs import labels as words
from dashboard.views import enrollment

cfg = load_trial()
viewer = ui.page("accrual")
ui.header(_("Accrual and sites"), viewer, cfg)

e = ui.cached(enrollment.enrollment, viewer)
acc = ui.cached(enrollment.accrual, viewer)
track = ui.cached(enrollment.on_track, viewer)
proj = acc.get("projection")
months = i18n.number(cfg.design.accrual_months)


def _interval(p: dict) -> str:
    """'90% prediction interval 6 November 2028 to 23 January 2029'."""
    return _("{level} prediction interval {lower} to {upper}").format(
        level=i18n.percent(p["level"], 0), lower=i18n.long_date(p["lower"]), upper=i18n.long_date(p["upper"])
    )


# ------------------------------------------------------------------ are we on track
c1, c2, c3, c4 = st.columns(4)
c1.metric(
    _("Randomized"),
    f"{e['randomized']}" + (f" / {acc['target']}" if acc["target"] else ""),
    delta=_("{percent} of the target").format(percent=i18n.percent(track["fraction"], 0)) if acc["target"] else None,
    delta_color="off",
    delta_arrow="off",
)
if "ahead_by" in track:
    ahead = track["ahead_by"]
    if ahead == 0:
        against = _("on plan")
    elif ahead > 0:
        against = _("{n} ahead").format(n=ahead)
    else:
        against = _("{n} behind").format(n=-ahead)
    c2.metric(
        _("Against the plan"),
        against,
        # the date is in the help and the page's stamp: a delta with a prose date did not fit a
        # quarter of the page (cut short with an ellipsis at 1440 px, in Chinese)
        delta=_("plan at the cut-off: {n}").format(n=i18n.number(track["planned_by_now"], 0)),
        delta_color="off",
        delta_arrow="off",
        help=_(
            "The planned line: {target} over {months} months from the first site activation (assumed), "
            "read at the data cut-off ({date})."
        ).format(target=acc["target"], months=months, date=i18n.long_date(track["cutoff"])),
    )
    c3.metric(
        _("Last {days} days").format(days=track["days"]),
        track["last_days"],
        delta=_("plan's pace: {n}").format(n=i18n.number(track["planned_last_days"], 0)),
        delta_color="off",
        delta_arrow="off",
        help=_(
            "Randomized in the {days} days up to the cut-off, against the planned line's {n} per {days} days."
        ).format(days=track["days"], n=i18n.number(track["planned_last_days"], 1)),
    )
else:
    c2.metric(_("Last {days} days").format(days=track["days"]), track["last_days"])
if proj:
    late = (pd.Timestamp(proj["completion_date"]) - pd.Timestamp(track["planned_end"])).days
    planned = i18n.long_date(track["planned_end"])
    if late > 0:
        delta = ngettext("planned {date} ({days} day late)", "planned {date} ({days} days late)", late)
    elif late < 0:
        delta = ngettext("planned {date} ({days} day early)", "planned {date} ({days} days early)", -late)
    else:
        delta = _("planned {date}")
    c4.metric(  # the month in the value: a date in prose is too wide for a quarter of the page
        _("Projected completion"),
        i18n.month(proj["completion_date"]),
        delta=delta.format(date=planned, days=abs(late)),
        delta_color="off",
        delta_arrow="off",
        help=_("Median projection {date}; {interval}.").format(
            date=i18n.long_date(proj["completion_date"]), interval=_interval(proj)
        ),
    )
if "fastest" in track:
    fast, slow = track["fastest"], track["slowest"]
    st.markdown(
        _("Fastest site **{fast}**: {fast_rate} a month · slowest **{slow}**: {slow_rate} a month").format(
            fast=ui.md(fast["siteid"]),
            fast_rate=i18n.number(fast["per_month"], 1),
            slow=ui.md(slow["siteid"]),
            slow_rate=i18n.number(slow["per_month"], 1),
        ),
        help=_(
            "Active sites, randomized per month since activation: fastest {fast} {fast_name}, "
            "slowest {slow} {slow_name}."
        ).format(
            fast=ui.md(fast["siteid"]),
            fast_name=ui.md(fast["name"]),
            slow=ui.md(slow["siteid"]),
            slow_name=ui.md(slow["name"]),
        ),
    )

st.subheader(_("Cumulative randomized against plan"))
ui.chart(figures.accrual(acc["cumulative"], acc.get("planned"), acc["target"], proj))
if proj:
    st.caption(
        _(
            "Projection: {model} Completion {date} ({interval}); posterior rate {rate} patients per month. "
            "Planned line: {target} over {months} months from the first activation (assumed)."
        ).format(
            model=proj["model"],
            date=i18n.long_date(proj["completion_date"]),
            interval=_interval(proj),
            rate=i18n.number(proj["rate_per_month"], 1),
            target=acc["target"],
            months=months,
        )
    )

# ------------------------------------------------------------------ sites
st.subheader(_("Sites"))
sites = ui.cached(enrollment.site_table, viewer)


def _number(value, digits: int = 0) -> str:
    return words.MISSING if words.is_missing(value) else i18n.number(value, digits)


# the per-site numbers in a table that wraps instead of scrolling sideways (a phone's 390 px)
ui.static_table(
    pd.DataFrame(
        {
            _("Site"): [f"{ui.md(r.siteid)} {ui.md(r.sitename)}" for r in sites.itertuples()],
            _("Randomized"): [
                f"{r.randomized}" + (f" / {int(r.target)}" if not words.is_missing(r.target) else "")
                for r in sites.itertuples()
            ],
            _("Per month"): [_number(v, 1) for v in sites.per_month],
            _("Days since last"): [_number(v) for v in sites.days_since_last],
        }
    )
)
st.caption(
    _(
        "Per month: randomized per month since the site's activation. Days since last: since its last "
        "randomization, at the cut-off."
    )
)
with st.expander(_("Site details: activation, screening, screen failures")):
    details = sites[
        [
            "siteid",
            "sitename",
            "city",
            "status",
            "activated",
            "screened",
            "randomized",
            "screen_failure_rate",
            "per_month",
            "days_since_last",
        ]
    ].assign(status=sites.status.map(lambda v: words.code(v, cfg)))
    ui.table(
        details,
        height=ui.table_height(len(details)),
        column_config={
            "siteid": st.column_config.TextColumn(_("Site"), width=48),
            "sitename": st.column_config.TextColumn(_("Hospital"), width=220),
            "city": st.column_config.TextColumn(_("City"), width=56),
            "status": st.column_config.TextColumn(_("Status"), width=70),
            "activated": st.column_config.DateColumn(_("Activated"), width=96),
            "screened": st.column_config.NumberColumn(_("Screened"), width=76),
            "randomized": st.column_config.NumberColumn(_("Randomized"), width=88),
            "screen_failure_rate": st.column_config.NumberColumn(
                _("Screen failures"),
                format="percent",
                width=100,
                help=_("Screening-log rows marked screen failure"),
            ),
            "per_month": st.column_config.NumberColumn(_("Per month"), format="%.2f", width=80),
            "days_since_last": st.column_config.NumberColumn(
                _("Days since last"), format="%d", width=100, help=_("Days since the last randomization")
            ),
        },
    )

ALL_SITES = "all sites"  # the option's value (kept across a change of language); shown translated
if len(sites) > 1:
    # every option's text made now, in this run's language (a format_func may be called outside it)
    shown_as = {ALL_SITES: _("all sites"), **{s: f"{s} {n}" for s, n in zip(sites.siteid, sites.sitename, strict=True)}}
    pick = st.selectbox(_("Site detail"), list(shown_as), key="site_detail", format_func=shown_as.get)
    if pick != ALL_SITES:
        row = sites.set_index("siteid").loc[pick]
        d1, d2, d3, d4 = st.columns(4)
        d1.metric(_("Site {site} randomized").format(site=ui.md(pick)), int(row.randomized))
        d2.metric(_("Screened"), int(row.screened))
        d3.metric(_("Per month since activation"), _number(row.per_month, 2))
        d4.metric(_("Days since last randomization"), _number(row.days_since_last))

# ------------------------------------------------------------------ screening and the flow
st.subheader(_("Screening"))
s1, s2, s3 = st.columns(3)
s1.metric(_("Screened"), e["screened"])
s2.metric(_("Screen failures"), e["screen_failures"], help=_("Screening-log rows whose outcome is screen failure"))
s3.metric(_("Screening pending"), e["screening_pending"])
left, right = st.columns(2)
with left:
    st.markdown(_("**Screen-failure reasons**"))
    reasons = e["screen_failure_reasons"]
    if reasons:
        criteria = {c.code: c for c in cfg.eligibility}
        ui.chart(
            figures.bars(
                [f"{k} {i18n.fact(criteria[k], 'text')}" if k in criteria else words.code(k, cfg) for k in reasons],
                list(reasons.values()),
            )
        )
    else:
        st.write(_("No screen failures."))
with right:
    st.markdown(_("**From screening to follow-up**"))
    f = ui.cached(enrollment.flow, viewer)
    st.graphviz_chart(figures.consort_dot(f), width="stretch")
    st.caption(
        _(
            "Every box is the sum of the boxes below it; grey boxes are the exclusions, with their reasons. "
            "Deaths and withdrawals before surgery are under not operated. No surgery more than "
            "{days} days after randomization: trial.toml schedule."
        ).format(days=cfg.schedule.never_operated_after_days)
    )
