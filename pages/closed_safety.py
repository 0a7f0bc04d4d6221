"""CLOSED: the pooled safety signals split by arm, with risk differences (Harrell's dot chart)."""

import pandas as pd
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
counts = pd.DataFrame({labels[a]: {k: v for k, v in c.items() if k != "by_soc"} for a, c in saf["by_arm"].items()})
st.subheader("Subjects with each event, by arm")
ui.table(counts.reset_index(names="count"))

st.subheader("Signals by arm against their thresholds")
sig = saf["signal_differences"]
ui.chart(figures.dot_chart(sig.assign(label=sig.signal), labels[exp], labels[ref]))
show = sig.assign(
    **{
        labels[exp]: [f"{e}/{n} ({ui.pct(p)})" for e, n, p in zip(sig.events_exp, sig.n_exp, sig.p_exp, strict=True)],
        labels[ref]: [f"{e}/{n} ({ui.pct(p)})" for e, n, p in zip(sig.events_ref, sig.n_ref, sig.p_ref, strict=True)],
        "difference (95% CI)": [
            f"{ui.pct(d)} ({ui.pct(lo)} to {ui.pct(hi)})"
            for d, lo, hi in zip(sig.difference, sig.lower, sig.upper, strict=True)
        ],
        "threshold": [ui.pct(t) if t == t and t is not None else "any event" for t in sig.threshold],
        "flag": [
            ", ".join(x for x, f in ((labels[exp], fe), (labels[ref], fr)) if f) or "—"
            for fe, fr in zip(sig.flagged_exp, sig.flagged_ref, strict=True)
        ],
    }
)
ui.table(show[["signal", labels[exp], labels[ref], "difference (95% CI)", "threshold", "flag"]])

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
