"""Protocol deviations: eligibility computed from the data beside the sites' answers, recorded
against recomputed stage, windows, and the deviations sites reported.

In the reader's language (dashboard.i18n): the criteria's texts from trial.toml's Chinese, every
heading, label and rule through the catalogue. A listing's export keeps its English name in the
audit log (a record, read the same whoever made it)."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard import i18n
from dashboard.access import blinding
from dashboard.config import load_trial
from dashboard.i18n import N_, _
from dashboard.outputs import figures
from dashboard.outputs import labels as words
from dashboard.views import deviations

cfg = load_trial()
viewer = ui.page("deviations")
ui.header(_("Protocol deviations"), viewer, cfg)
policy = viewer.policy(cfg)

d = ui.cached(deviations.deviations, viewer)
crit = ui.cached(deviations.by_criterion, viewer)
c1, c2, c3, c4 = st.columns(4)
c1.metric(
    _("Subjects breaking a criterion"),
    len({s for k, v in d["eligibility"].items() if k not in ("STAGE_MISMATCH", "IE_DISAGREES") for s in v}),
)
c2.metric(_("Site answer contradicts data"), len(d["eligibility"]["IE_DISAGREES"]))
c3.metric(_("Recorded stage differs"), len(d["eligibility"]["STAGE_MISMATCH"]))
c4.metric(
    _("Site-reported deviations"),
    d["reported"]["total"],
    help=_("Major {major}, minor {minor}").format(
        major=d["reported"]["by_severity"].get("MAJOR", 0), minor=d["reported"]["by_severity"].get("MINOR", 0)
    ),
)

st.subheader(_("Eligibility, criterion by criterion"))
st.caption(
    _(
        "Checked from the data where the data can decide (age, histology, recomputed AJCC 8th "
        "stage, ECOG, neoadjuvant drug and cycles, response, prior treatment, consent date, "
        "recurrence, cardiac history, pregnancy, other malignancy); the other criteria are the "
        "investigator's answer in IE.csv."
    )
)
criteria = {c.code: c for c in cfg.eligibility}
KIND = {"inclusion": _("Inclusion"), "exclusion": _("Exclusion")}
CHECKED_BY = {"data": _("Data"), "investigator": _("Investigator")}
crit = crit.assign(
    text=[i18n.fact(criteria[c], "text") if c in criteria else t for c, t in zip(crit.code, crit.text, strict=True)],
    kind=crit.kind.map(lambda v: KIND.get(v, str(v).capitalize())),
    checked_by=crit.checked_by.map(lambda v: CHECKED_BY.get(v, str(v).capitalize())),
)
ui.chart(figures.bars([f"{r.code} {r.text}" for r in crit.itertuples()], crit.violated.tolist(), wrap_width=34))
shown_crit = words.frame(crit, cfg)
shown_crit.columns = crit.columns  # the values as people read them, under the columns' own names
ui.table(
    shown_crit,
    height=ui.table_height(len(crit)),
    column_config={
        "code": st.column_config.TextColumn(_("Criterion"), width=66),
        "kind": st.column_config.TextColumn(_("Kind"), width=76),
        "text": st.column_config.TextColumn(_("Text"), width=340),
        "checked_by": st.column_config.TextColumn(_("Checked by"), width=88),
        "violated": st.column_config.NumberColumn(
            _("Breaking it"), format="%d", width=88, help=_("Subjects breaking the criterion")
        ),
        "site_disagrees": st.column_config.NumberColumn(
            _("Site contradicts"), format="%d", width=104, help=_("The site's answer contradicts the data")
        ),
        "undecided": st.column_config.NumberColumn(
            _("Undecided"), format="%d", width=84, help=_("The data cannot decide the criterion")
        ),
        "unanswered": st.column_config.NumberColumn(_("Unanswered"), format="%d", width=90, help=_("No site answer")),
    },
)

st.subheader(_("Windows"))
w = d["windows"]
sch = cfg.schedule
window_text = {
    "response_imaging": _("last cycle to response imaging > {days} days").format(
        days=sch.response_imaging_max_days_after_last_cycle
    ),
    "consent_to_randomization": _("consent after randomization"),
    "randomization_to_surgery": _("randomization to surgery > {days} days, or none yet").format(
        days=sch.randomization_to_surgery_max_days
    ),
    "surgery_to_adjuvant": _("surgery to adjuvant radiotherapy > {days} days").format(
        days=sch.surgery_to_adjuvant_rt_max_days
    ),
    "followup_visit": _("follow-up visit outside +-{days} days (+-{late} after M{month})").format(
        days=sch.followup_window_days, late=sch.followup_window_days_late, month=sch.followup_window_switch_month
    ),
}
ui.table(
    pd.DataFrame(
        [
            {_("Window"): words.column(k, cfg), _("Rule (assumed schedule)"): window_text[k], _("Subjects"): len(v)}
            for k, v in w.items()
        ]
    )
)

st.subheader(_("By site, per randomized subject"))
site_rates = ui.cached(deviations.by_site, viewer)
# a site as people read it (the merged row in words, views/text.py); `siteid` stays the code
LABEL = "site_label" if "site_label" in site_rates else "siteid"
left, right = st.columns(2)
with left:
    shown = site_rates[site_rates.suppressed.isna()]
    ui.chart(
        figures.grouped_bars(
            shown.assign(siteid=shown[LABEL].astype(str)),
            "siteid",
            ["reported_per_subject", "window_rate"],
            [_("site-reported deviations per subject"), _("share of subjects with a window deviation")],
        )
    )
with right:
    p0 = float(site_rates.window_p0.iloc[0]) if len(site_rates) else 0.0
    n_max = int(site_rates.randomized.dropna().max()) if site_rates.randomized.notna().any() else 1
    limits = ui.funnel_limits(p0, n_max) if 0 < p0 < 1 else None
    ui.chart(
        figures.funnel(
            site_rates.rename(columns={"randomized": "n", "window_rate": "rate", "window_flag": "flag"}),
            p0,
            limits,
            title=_("Window deviations: funnel plot"),
            label=LABEL,
        )
    )
hidden = site_rates[site_rates.suppressed.notna()]
if len(hidden):
    st.caption(
        _("Suppressed under the blinding rule: {sites}").format(
            sites=_("; ").join(
                _("{site}: {reason}").format(site=ui.md(getattr(r, LABEL)), reason=ui.md(r.suppressed))
                for r in hidden.itertuples()
            )
        )
    )
merged = site_rates[site_rates.siteid == blinding.MERGED]
if len(merged) and "merged_groups" in merged:
    st.caption(
        _(
            "Merged: sites {sites} (one arm or fewer than {n} subjects, with the smallest other site where "
            "the total would reveal them)."
        ).format(sites=ui.md(merged.merged_groups.iloc[0]), n=cfg.blinding.min_cell_size)
    )

st.subheader(_("Site-reported deviations"))
rep = d["reported"]
l2, r2 = st.columns(2)
with l2:
    ui.chart(
        figures.bars(
            [words.code(k, cfg) for k in rep["by_category"]],
            list(rep["by_category"].values()),
            title=_("By category"),
        )
    )
with r2:
    ui.chart(
        figures.bars(
            [words.code(k, cfg) for k in rep["by_severity"]],
            list(rep["by_severity"].values()),
            title=_("By severity"),
        )
    )

if policy.subject_listings:
    st.subheader(_("Listings"))
    lst = ui.cached(deviations.listings, viewer)
    # (tab, the listing's name on its export and in the audit log: English, a record's words)
    names = {
        "eligibility": (N_("Eligibility"), N_("deviation listing: eligibility")),
        "disagreements": (N_("Site disagrees"), N_("deviation listing: site disagrees")),
        "stage": (N_("Stage"), N_("deviation listing: stage")),
        "windows": (N_("Windows"), N_("deviation listing: windows")),
        "reported": (N_("Reported"), N_("deviation listing: reported")),
    }
    codes = {
        "eligibility": ["checked_by", "site_answer"],
        "disagreements": ["site_answer"],
        "stage": ["primary_site", "p16"],
        "windows": ["window_name"],
        "reported": ["dvcat", "dvsev"],
    }
    tabs = st.tabs([_(tab) for tab, _listing in names.values()])
    for tab, key in zip(tabs, names, strict=True):
        with tab:
            frame = lst[key]
            if "window_name" in frame:
                frame = frame.assign(window_name=frame.window_name.map(lambda v: words.column(v, cfg)))
            shown, names_shown = ui.for_people(frame, codes=[c for c in codes[key] if c != "window_name"], cfg=cfg)
            ui.listing(shown, names[key][1], viewer, key=f"deviations-{key}", column_config=names_shown)
