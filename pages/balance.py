"""Arm balance: is the randomization doing its job, overall, by site, by stratum and over time."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.config import load_trial
from dashboard.outputs import figures
from dashboard.views import enrollment

cfg = load_trial()
viewer = ui.page("balance")
ui.header("Arm balance", viewer, cfg)
st.caption(
    "Allocation counts are not outcomes: every role sees them. Baseline characteristics "
    "below are pooled over both arms."
)

a = ui.cached(enrollment.allocation, viewer)
labels = {arm.code: arm.label for arm in cfg.arms}
cols = st.columns(len(cfg.arms) + 1)
WITHHELD = "withheld"
for col, arm in zip(cols[:-1], cfg.arms, strict=True):  # the last column holds the total
    n = a["by_arm"][arm.code]
    col.metric(arm.label, WITHHELD if n is None else n)
imb = ui.cached(enrollment.imbalance, viewer)
cols[-1].metric(
    "Largest imbalance within a stratum",
    imb["stratum"]["difference"],
    help=f"Permuted blocks of {imb['block_size']} within strata keep it at most "
    f"{imb['stratum_bound']} (block size assumed)",
)
if imb["stratum"]["difference"] > imb["stratum_bound"]:
    st.error(
        f"Stratum {ui.md(imb['stratum']['group'])} is {imb['stratum']['difference']} apart, more than "
        f"blocks of {imb['block_size']} allow: check the randomization."
    )


def _frame(groups: dict, key: str) -> pd.DataFrame:
    """Counts by arm of the cells shown; cells the cell rule withholds (no counts) are left out of
    the chart and named in the caption."""
    rows = [
        {key: g, **{labels[c]: n for c, n in counts.items()}}
        for g, counts in groups.items()
        if None not in counts.values()
    ]
    df = pd.DataFrame(rows)
    if len(df):
        df["difference"] = (df[labels[cfg.arms[0].code]] - df[labels[cfg.arms[1].code]]).abs()
    return df


def _withheld(groups: dict, what: str) -> None:
    hidden = [g for g, counts in groups.items() if None in counts.values()]
    if hidden:
        st.caption(
            f"Withheld by the cell rule ({what}): {ui.md(', '.join(hidden))}. Their counts by arm would give "
            "some subjects' arms away; together they are the merged row, when that is safe."
        )


left, right = st.columns(2)
with left:
    st.subheader("By stratum")
    strata = _frame(a["by_stratum"], "stratum")
    if len(strata):
        ui.chart(
            figures.grouped_bars(strata, "stratum", [labels[c.code] for c in cfg.arms], [c.label for c in cfg.arms])
        )
        ui.table(strata)
    _withheld(a["by_stratum"], "strata")
with right:
    st.subheader("By site")
    by_site = _frame(a["by_site"], "site")
    if len(by_site):
        ui.chart(figures.grouped_bars(by_site, "site", [labels[c.code] for c in cfg.arms], [c.label for c in cfg.arms]))
        st.caption(
            f"Largest difference within a site: {imb['site']['difference']} (site "
            f"{ui.md(imb['site']['group'])}); sites are not a stratification factor."
        )
    _withheld(a["by_site"], "sites")

if not viewer.site_filter:
    st.subheader("Over time")
    over = ui.cached(enrollment.allocation_over_time, viewer)
    if len(over):
        ui.chart(figures.lines(over, "month", [c.code for c in cfg.arms], [c.label for c in cfg.arms]))

st.subheader("Baseline characteristics (randomized, pooled)")
b = ui.cached(enrollment.baseline, viewer)
if b["n"]:
    age = b["age"]
    st.write(
        f"**{b['n']}** randomized · age at consent median **{age['median']:.0f}** "
        f"(IQR {age['q1']:.0f}-{age['q3']:.0f}, range {age['min']}-{age['max']})"
    )
    items = [v for k, v in b.items() if isinstance(v, dict) and "counts" in v]
    grid = st.columns(3)
    for i, item in enumerate(items):
        with grid[i % 3]:
            total = sum(item["counts"].values())
            st.markdown(f"**{ui.md(item['label'])}**")
            ui.table(
                pd.DataFrame(
                    [{"": k, "n": v, "%": ui.pct(v / total if total else None)} for k, v in item["counts"].items()]
                )
            )
