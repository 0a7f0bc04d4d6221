"""Arm balance: is the randomization doing its job, overall, by site, by stratum and over time."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.config import load_trial
from dashboard.outputs import figures
from dashboard.outputs import labels as labels_
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
arm_names = [arm.label for arm in cfg.arms]
colors = [arm.color for arm in cfg.arms]  # trial.toml: the arms' colours, and no other category's
cols = st.columns(len(cfg.arms) + 1)
WITHHELD = "withheld"
for col, arm in zip(cols[:-1], cfg.arms, strict=True):  # the last column holds the total
    n = a["by_arm"][arm.code]
    col.metric(arm.label, WITHHELD if n is None else n)
imb = ui.cached(enrollment.imbalance, viewer)
check = imb["check"]
size, bound = imb["block_size"], imb["stratum_bound"]
if imb["unit"] == "stratum":
    unit_text = f"permuted blocks of {size} within each stratum, across all sites"
else:
    unit_text = f"permuted blocks of {size} within each site and stratum"
if check is None:
    cols[-1].metric(
        "Largest difference within a stratum (this site)",
        imb["stratum"]["difference"],
        help=f"The randomization uses {unit_text} (trial.toml, assumed): a stratum's blocks are shared by "
        "all sites, so one site's difference within a stratum has no bound and is no sign of a problem. "
        "The check against the blocks is made on the trial-wide counts.",
    )
    st.caption(
        "Blocks run within each stratum across all sites: a single site's difference within a stratum "
        "says nothing about the randomization, so no check is made on it here."
    )
else:
    where = "a site and stratum" if imb["unit"] == "site_stratum" else "a stratum"
    cols[-1].metric(
        f"Largest difference within {where}",
        check["difference"],
        help=f"The randomization uses {unit_text} (trial.toml, assumed): within one such block the arms "
        f"differ by at most {bound}.",
    )
    if imb["alert"]:
        place = labels_.stratum(check["stratum"], cfg)
        if check.get("site"):
            place = f"site {check['site']}, {place}"
        st.error(
            f"{ui.md(place)}: the arms are {check['difference']} apart, more than {unit_text} allow "
            f"(at most {bound}): check the randomization."
        )


def _frame(groups: dict, key: str, strata: bool = False) -> pd.DataFrame:
    """Counts by arm of the cells shown; cells the cell rule withholds (no counts) are left out of
    the chart and named in the caption."""
    rows = [
        {key: labels_.stratum(g, cfg) if strata else g, **{labels[c]: n for c, n in counts.items()}}
        for g, counts in groups.items()
        if None not in counts.values()
    ]
    df = pd.DataFrame(rows)
    if len(df):
        df["Difference"] = (df[labels[cfg.arms[0].code]] - df[labels[cfg.arms[1].code]]).abs()
    return df


def _withheld(groups: dict, what: str, strata: bool = False) -> None:
    hidden = [labels_.stratum(g, cfg) if strata else g for g, counts in groups.items() if None in counts.values()]
    if hidden:
        st.caption(
            f"Withheld by the cell rule ({what}): {ui.md(', '.join(hidden))}. Their counts by arm would give "
            "some subjects' arms away; together they are the merged row, when that is safe."
        )


left, right = st.columns(2)
with left:
    st.subheader("By stratum")
    strata = _frame(a["by_stratum"], "Stratum", strata=True)
    if len(strata):
        ui.chart(figures.grouped_bars(strata, "Stratum", arm_names, arm_names, colors=colors))
        ui.static_table(strata.assign(Stratum=strata.Stratum.map(ui.md)))
    _withheld(a["by_stratum"], "strata", strata=True)
with right:
    st.subheader("By site")
    by_site = _frame(a["by_site"], "Site")
    if len(by_site):
        ui.chart(figures.grouped_bars(by_site, "Site", arm_names, arm_names, colors=colors))
        st.caption(
            f"Largest difference within a site: {imb['site']['difference']} (site "
            f"{ui.md(imb['site']['group'])}); sites are not a stratification factor."
        )
    _withheld(a["by_site"], "sites")

if not viewer.site_filter:
    st.subheader("Over time")
    over = ui.cached(enrollment.allocation_over_time, viewer)
    if len(over):
        ui.chart(
            figures.lines(over, "month", [c.code for c in cfg.arms], arm_names, colors=colors, y_title="randomized")
        )

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
            coded = item["label"] not in ("ECOG", "Stage (AJCC 8th, recomputed)")  # numbers and stages as recorded
            st.markdown(f"**{ui.md(item['label'])}**")
            ui.table(
                pd.DataFrame(
                    [
                        {
                            item["label"]: "Missing" if k == "missing" else labels_.code(k, cfg) if coded else k,
                            "Subjects": v,
                            "%": ui.pct(v / total if total else None),
                        }
                        for k, v in item["counts"].items()
                    ]
                )
            )
