"""Arm balance: is the randomization doing its job, overall, by site, by stratum and over time.

In the reader's language (dashboard.i18n): the arms by their trial.toml names in that language,
the sentences whole per case (a stratum or a site and stratum), numbers by its conventions."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard import i18n
from dashboard.config import load_trial
from dashboard.i18n import _
from dashboard.outputs import figures
from dashboard.outputs import labels as labels_
from dashboard.views import enrollment

cfg = load_trial()
viewer = ui.page("balance")
ui.header(_("Arm balance"), viewer, cfg)
st.caption(
    _(
        "Allocation counts are not outcomes: every role sees them. Baseline characteristics "
        "below are pooled over both arms."
    )
)

a = ui.cached(enrollment.allocation, viewer)
labels = {arm.code: i18n.fact(arm, "label") for arm in cfg.arms}
arm_names = [labels[arm.code] for arm in cfg.arms]
colors = [arm.color for arm in cfg.arms]  # trial.toml: the arms' colours, and no other category's
cols = st.columns(len(cfg.arms) + 1)
for col, arm in zip(cols[:-1], cfg.arms, strict=True):  # the last column holds the total
    n = a["by_arm"][arm.code]
    col.metric(labels[arm.code], _("withheld") if n is None else n)
imb = ui.cached(enrollment.imbalance, viewer)
check = imb["check"]
size, bound = imb["block_size"], imb["stratum_bound"]
if imb["unit"] == "stratum":
    unit_text = _("permuted blocks of {size} within each stratum, across all sites").format(size=size)
else:
    unit_text = _("permuted blocks of {size} within each site and stratum").format(size=size)
if check is None:
    cols[-1].metric(
        _("Largest difference within a stratum (this site)"),
        imb["stratum"]["difference"],
        help=_(
            "The randomization uses {unit} (trial.toml, assumed): a stratum's blocks are shared by "
            "all sites, so one site's difference within a stratum has no bound and is no sign of a problem. "
            "The check against the blocks is made on the trial-wide counts."
        ).format(unit=unit_text),
    )
    st.caption(
        _(
            "Blocks run within each stratum across all sites: a single site's difference within a stratum "
            "says nothing about the randomization, so no check is made on it here."
        )
    )
else:
    cols[-1].metric(
        _("Largest difference within a site and stratum")
        if imb["unit"] == "site_stratum"
        else _("Largest difference within a stratum"),
        check["difference"],
        help=_(
            "The randomization uses {unit} (trial.toml, assumed): within one such block the arms "
            "differ by at most {bound}."
        ).format(unit=unit_text, bound=bound),
    )
    if imb["alert"]:
        place = labels_.stratum(check["stratum"], cfg)
        if check.get("site"):
            place = _("site {site}, {stratum}").format(site=check["site"], stratum=place)
        st.error(
            _(
                "{place}: the arms are {difference} apart, more than {unit} allow (at most {bound}): "
                "check the randomization."
            ).format(place=ui.md(place), difference=check["difference"], unit=unit_text, bound=bound)
        )

DIFFERENCE = _("Difference")


def _group(g: str, strata: bool) -> str:
    """A stratum's labels, or a site's ID; the cell rule's merged row in words (labels.code)."""
    return labels_.stratum(g, cfg) if strata else labels_.code(g, cfg)


def _frame(groups: dict, key: str, strata: bool = False) -> pd.DataFrame:
    """Counts by arm of the cells shown; cells the cell rule withholds (no counts) are left out of
    the chart and named in the caption."""
    rows = [
        {key: _group(g, strata), **{labels[c]: n for c, n in counts.items()}}
        for g, counts in groups.items()
        if None not in counts.values()
    ]
    df = pd.DataFrame(rows)
    if len(df):
        df[DIFFERENCE] = (df[labels[cfg.arms[0].code]] - df[labels[cfg.arms[1].code]]).abs()
    return df


def _withheld(groups: dict, strata: bool = False) -> None:
    hidden = [_group(g, strata) for g, counts in groups.items() if None in counts.values()]
    if hidden:
        text = (
            _(
                "Withheld by the cell rule (strata): {cells}. Their counts by arm would give some subjects' "
                "arms away; together they are the merged row, when that is safe."
            )
            if strata
            else _(
                "Withheld by the cell rule (sites): {cells}. Their counts by arm would give some subjects' "
                "arms away; together they are the merged row, when that is safe."
            )
        )
        st.caption(text.format(cells=ui.md(_(", ").join(hidden))))


STRATUM, SITE = _("Stratum"), _("Site")
left, right = st.columns(2)
with left:
    st.subheader(_("By stratum"))
    strata = _frame(a["by_stratum"], STRATUM, strata=True)
    if len(strata):
        ui.chart(figures.grouped_bars(strata, STRATUM, arm_names, arm_names, colors=colors))
        ui.static_table(strata.assign(**{STRATUM: strata[STRATUM].map(ui.md)}))
    _withheld(a["by_stratum"], strata=True)
with right:
    st.subheader(_("By site"))
    by_site = _frame(a["by_site"], SITE)
    if len(by_site):
        ui.chart(figures.grouped_bars(by_site, SITE, arm_names, arm_names, colors=colors))
        st.caption(
            _(
                "Largest difference within a site: {difference} (site {site}); sites are not a stratification factor."
            ).format(difference=imb["site"]["difference"], site=ui.md(imb["site"]["group"]))
        )
    _withheld(a["by_site"])

if not viewer.site_filter:
    st.subheader(_("Over time"))
    over = ui.cached(enrollment.allocation_over_time, viewer)
    if len(over):
        ui.chart(
            figures.lines(over, "month", [c.code for c in cfg.arms], arm_names, colors=colors, y_title=_("randomized"))
        )

st.subheader(_("Baseline characteristics (randomized, pooled)"))
b = ui.cached(enrollment.baseline, viewer)
AS_RECORDED = ("ecog", "stage_computed")  # numbers and stages shown as recorded, not as code labels
if b["n"]:
    age = b["age"]
    st.write(
        _("**{n}** randomized · age at consent median **{median}** (IQR {q1}-{q3}, range {low}-{high})").format(
            n=b["n"],
            median=i18n.number(age["median"], 0),
            q1=i18n.number(age["q1"], 0),
            q3=i18n.number(age["q3"], 0),
            low=age["min"],
            high=age["max"],
        )
    )
    items = [(k, v) for k, v in b.items() if isinstance(v, dict) and "counts" in v]
    grid = st.columns(3)
    for i, (key, item) in enumerate(items):
        with grid[i % 3]:
            total = sum(item["counts"].values())
            name = item["label"]
            label = _(name)  # the view's N_() name in the reader's language (or as the view gave it)
            st.markdown(f"**{ui.md(label)}**")
            ui.table(
                pd.DataFrame(
                    [
                        {
                            label: _("Missing")
                            if k == "missing"
                            else k
                            if key in AS_RECORDED
                            else labels_.code(k, cfg),
                            _("Subjects"): v,
                            "%": ui.pct(v / total if total else None),
                        }
                        for k, v in item["counts"].items()
                    ]
                )
            )
