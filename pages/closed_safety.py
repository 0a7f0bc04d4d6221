"""CLOSED: the pooled safety signals split by arm, with risk differences (Harrell's dot chart)."""

import streamlit as st

from app import ui
from dashboard.config import load_trial
from dashboard.outputs import figures
from dashboard.views import closed

cfg = load_trial()
viewer = ui.closed_page("closed_safety")
ui.header("Safety by arm", viewer, cfg)
labels = {a.code: a.label for a in cfg.arms}
saf = ui.cached(closed.safety_by_arm, viewer)
exp, ref = saf["labels"]["experimental"], saf["labels"]["reference"]

for code, n in saf["n"].items():
    if n == 0:
        st.info(f"{ui.md(labels[code])}: no subjects in this arm, so its rates and the differences are not estimable.")
st.subheader("Subjects with each event, by arm")
ui.table(closed.count_table(saf, cfg))
st.caption(
    "Subjects, not events; each percentage is of the count named in 'Of' in the same arm (the arm's "
    "subjects, the operated, or those with pathology)."
)

st.subheader("Signals by arm against their thresholds")
sig = saf["signal_differences"]
ui.chart(figures.dot_chart(sig.assign(label=sig.signal), labels[exp], labels[ref]))
st.caption(
    "Left: each arm's proportion, with the signal's threshold (assumed) as a bar on its row; right: "
    f"{ui.md(labels[exp])} minus {ui.md(labels[ref])}. 'Any event' in Flagged: any event flags the "
    "signal (trial.toml), whatever the threshold."
)
# a static table: its cells wrap, so every column (the flag too) is read whole at any width
st.table(closed.signal_table(saf, cfg), hide_index=True)

st.subheader("Adverse events by system organ class")
grade = st.segmented_control("Grade", ["any grade", "grade 3+"], default="any grade", key="closed_grade") or "any grade"
soc = saf["soc_differences"]
soc = soc[soc.grade == grade]
if len(soc):
    ui.chart(figures.dot_chart(soc.assign(label=soc.soc), labels[exp], labels[ref]))
    st.caption(
        "Risk difference with Newcombe's hybrid score 95% interval; subjects, not events (the "
        "layout of Harrell's DSMB adverse-event chart)."
    )
else:
    st.info(f"No adverse events ({grade}) recorded in either arm.")
