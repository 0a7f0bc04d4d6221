"""CLOSED: the pooled safety signals split by arm, with risk differences (Harrell's dot chart)."""

import streamlit as st

from app import ui
from dashboard import i18n
from dashboard.config import load_trial
from dashboard.i18n import N_, _
from dashboard.outputs import figures
from dashboard.views import closed

cfg = load_trial()
viewer = ui.closed_page("closed_safety")
ui.header(_("Safety by arm"), viewer, cfg)
labels = {a.code: i18n.fact(a, "label") for a in cfg.arms}
saf = ui.cached(closed.safety_by_arm, viewer)
exp, ref = saf["labels"]["experimental"], saf["labels"]["reference"]

for code, n in saf["n"].items():
    if n == 0:
        st.info(
            _("{arm}: no subjects in this arm, so its rates and the differences are not estimable.").format(
                arm=ui.md(labels[code])
            )
        )
st.subheader(_("Subjects with each event, by arm"))
ui.table(closed.count_table(saf, cfg))
st.caption(
    _(
        "Subjects, not events; each percentage is of the count named in 'Of' in the same arm (the arm's "
        "subjects, the operated, or those with pathology)."
    )
)

st.subheader(_("Signals by arm against their thresholds"))
sig = saf["signal_differences"]
ui.chart(figures.dot_chart(sig.assign(label=sig.signal), labels[exp], labels[ref]))
st.caption(
    _(
        "Left: each arm's proportion, with the signal's threshold (assumed) as a bar on its row; right: "
        "{experimental} minus {reference}. 'Any event' in Flagged: any event flags the signal (trial.toml), "
        "whatever the threshold."
    ).format(experimental=ui.md(labels[exp]), reference=ui.md(labels[ref]))
)
# a static table: its cells wrap, so every column (the flag too) is read whole at any width
st.table(closed.signal_table(saf, cfg), hide_index=True)

st.subheader(_("Adverse events by system organ class"))
# the grades are values of the view's table (soc_differences.grade): shown translated, kept as they are
GRADES = {"any grade": N_("any grade"), "grade 3+": N_("grade 3+")}
grade = (
    st.segmented_control(
        _("Grade"), list(GRADES), default="any grade", format_func=lambda g: _(GRADES[g]), key="closed_grade"
    )
    or "any grade"
)
soc = saf["soc_differences"]
soc = soc[soc.grade == grade]
if len(soc):
    ui.chart(figures.dot_chart(soc.assign(label=soc.soc), labels[exp], labels[ref]))
    st.caption(
        _(
            "Risk difference with Newcombe's hybrid score 95% interval; subjects, not events (the "
            "layout of Harrell's DSMB adverse-event chart)."
        )
    )
else:
    st.info(_("No adverse events ({grade}) recorded in either arm.").format(grade=_(GRADES[grade])))
