"""The reports: one self-contained HTML file (plotly.js inlined once) and a PDF printed from it by
headless Chromium. The open report holds the pooled pages; the closed report adds every closed
page and is marked CONFIDENTIAL. Both are made by the same code from the same figure functions
the dashboard and the summary use, with the pages' words for codes (dashboard.outputs.labels).

Blinding: the open report holds nothing by arm, not even the allocation counts the Arm balance page
shows (they are in the closed report, with the baseline characteristics by arm). Every PDF page
carries a header and a footer ("page N of M", and CONFIDENTIAL on every page of the closed report),
printed through Chromium's DevTools protocol (html_to_pdf)."""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import html as html_module
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd

from dashboard import i18n
from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig, load_trial
from dashboard.i18n import N_, _, fact, long_date, number, percent
from dashboard.outputs import escape, figures, labels
from dashboard.store.data import fetch
from dashboard.views import deviations, enrollment, outcomes, quality, safety

CONFIDENTIAL = N_("CONFIDENTIAL - DSMB CLOSED SESSION")
"""The closed report's mark (its banners, and the band of every PDF page), translated where shown."""
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
MISSING = labels.MISSING
AT_RISK_EVERY_MONTHS = 6  # the at-risk tables' step, as outcomes.at_risk_table is called by the views

# word-break: keep-all: a Chinese term in a cell (事件, 受试者, 任一事件) is not broken between its
# characters when a wide column squeezes the others; a cell breaks at spaces and punctuation
# (，、（), as its English does at spaces.
CSS = """
body { font-family: 'Noto Sans CJK SC', 'Noto Sans', 'PingFang SC', 'Microsoft YaHei', sans-serif;
       margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { border-bottom: 2px solid #1f5f8b; padding-bottom: .2em;
margin-top: 2em; page-break-before: auto; } h3 { margin-top: 1.4em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .85em; } th, td { border: 1px solid #ccc;
padding: 3px 7px; text-align: right; } th { background: #eef4f8; } td:first-child, th:first-child { text-align: left; }
th, td { word-break: keep-all; } td.interval { white-space: nowrap; }
table.at-risk { margin-top: 0; } table.at-risk caption { caption-side: top; text-align: left; font-weight: bold;
padding: .2em 0; }
.banner { background: #c0392b; color: white; font-weight: bold; padding: .6em 1em; text-align: center;
letter-spacing: .05em; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.meta { color: #555; font-size: .9em; } .note { color: #555; font-size: .85em; }
.toc { border: 1px solid #ccc; padding: .4em 1.2em; margin: 1em 0; } .toc-title { font-weight: bold; margin: .3em 0; }
.toc ol { margin: .3em 0; } .toc li { margin: .1em 0; }
.figure { page-break-inside: avoid; }
@media print { body { margin: 0 auto; } h2, h3 { page-break-after: avoid; } table { page-break-inside: avoid; }
  .figure { zoom: .72; } }
"""


def _num(x: float) -> str:
    return MISSING if pd.isna(x) else f"{x:.3g}"


def _pct(x) -> str:
    return MISSING if labels.is_missing(x) else f"{x:.1%}"


def _range(lower, upper, fmt=_pct) -> str:
    """An interval as "a to b" ("a～b" in Chinese), or the dash when either end is missing (never
    "— to —")."""
    if labels.is_missing(lower) or labels.is_missing(upper):
        return MISSING
    return _("{lower} to {upper}").format(lower=fmt(lower), upper=fmt(upper))


def _n_of(n, d) -> str:
    """A count with its percentage of the denominator: "12 (8.0%)"."""
    if labels.is_missing(n):
        return MISSING
    return f"{int(n)} ({n / d:.1%})" if d else str(int(n))


def _zh() -> bool:
    return i18n.language() == "zh"


def _sentences(*parts: str) -> str:
    """Sentences one after another: a space between English ones, none between Chinese ones."""
    return ("" if _zh() else " ").join(p for p in parts if p)


def _ended(text: str) -> str:
    """`text` with its full stop (。 in Chinese) unless it ends in one already."""
    text = text.rstrip()
    if text.endswith((".", "。", "!", "?", "！", "？")):
        return text
    return text + ("。" if _zh() else ".")


def _list(items) -> str:
    """Items of a list in a sentence: "a, b" ("a、b" in Chinese)."""
    return ("、" if _zh() else ", ").join(items)


# a cell that is an interval ("7.4% to 15.2%", "7.4%～15.2%") is kept on one line (td.interval)
_INTERVAL_CELL = re.compile(r"<td>(-?[\d.,]+%? (?:to) -?[\d.,]+%?|-?[\d.,]+%?～-?[\d.,]+%?)</td>")


class _Doc:
    def __init__(self, cfg: TrialConfig):
        self.cfg = cfg
        self.parts: list[str] = []
        self.contents: list[str] = []
        self._contents_at: int | None = None
        self._plotly_included = False

    def h(self, level: int, text: str) -> None:
        if level == 2:
            self.contents.append(text)
        self.parts.append(f"<h{level}>{escape.html(text)}</h{level}>")

    def contents_here(self) -> None:
        """The table of contents goes here: the report's sections (h2), in order."""
        self._contents_at = len(self.parts)

    def p(self, text: str, cls: str = "") -> None:
        self.parts.append(f'<p class="{escape.html(cls)}">{escape.html(text)}</p>')

    def table(
        self,
        df: pd.DataFrame,
        codes: tuple[str, ...] = (),
        strata: tuple[str, ...] = (),
        cls: str = "",
        caption: str | None = None,
    ) -> None:
        """A table as people read it (labels.frame): the `codes` and `strata` columns labelled,
        dates as dates, column names labelled (in the reader's language: a column trial.toml does
        not name is looked up in the catalogue, labels.column), missing cells as the dash.
        escape=True (pandas' default, said here on purpose): cells and column names are text."""
        shown = labels.frame(df, self.cfg, codes=codes, strata=strata)
        shown.columns.name = None
        html = shown.to_html(index=False, na_rep=MISSING, float_format=_num, border=0, escape=True, classes=cls or None)
        if caption:
            html = html.replace(">", f"><caption>{escape.html(caption)}</caption>", 1)
        self.parts.append(_INTERVAL_CELL.sub(r'<td class="interval">\1</td>', html))

    def figure(self, fig, kind: str = "") -> None:
        include = "inline" if not self._plotly_included else False
        self._plotly_included = True
        fig.update_layout(width=1000)
        self.parts.append(
            f'<div class="figure {escape.html(kind)}">'
            + fig.to_html(full_html=False, include_plotlyjs=include, config={"staticPlot": True})
            + "</div>"
        )

    def km(self, curves: dict[str, dict], design: pd.DataFrame | None = None, colors: dict | None = None) -> None:
        """Kaplan-Meier curves and, right under them, their numbers at risk (one row per curve)."""
        dpm = self.cfg.trial.days_per_month
        self.figure(
            figures.kaplan_meier({k: km["curve"] for k, km in curves.items()}, dpm, design, colors=colors), "km"
        )
        self.table(at_risk_frame(curves), cls="at-risk", caption=_("Numbers at risk, by months from randomization"))

    def html(self, title: str, confidential: bool = False) -> str:
        parts = list(self.parts)
        if self._contents_at is not None and self.contents:
            items = "".join(f"<li>{escape.html(t)}</li>" for t in self.contents)
            heading = escape.html(_("Contents"))
            parts.insert(
                self._contents_at, f'<div class="toc"><p class="toc-title">{heading}</p><ol>{items}</ol></div>'
            )
        mark = '<meta name="pdf-confidential" content="yes">' if confidential else ""
        return (
            f'<!DOCTYPE html><html lang="{i18n.html_lang()}"><head><meta charset="utf-8">{mark}'
            f"<title>{escape.html(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(parts)
            + "</body></html>"
        )


def at_risk_frame(curves: dict[str, dict]) -> pd.DataFrame:
    """Numbers at risk of each curve (its `at_risk_table`: months, at_risk) side by side: one row per
    curve, one column per time; a curve whose follow-up ends earlier has the dash there."""
    rows, months = [], []
    for label, km in curves.items():
        t = km.get("at_risk_table")
        counts = {} if t is None else {int(m): int(n) for m, n in zip(t["months"], t["at_risk"], strict=True)}
        months += [m for m in counts if m not in months]
        rows.append((label, counts))
    months.sort()
    return pd.DataFrame(
        [{"": label, **{str(m): counts.get(m, MISSING) for m in months}} for label, counts in rows]
    ).astype(str)


def _landmarks(km: dict, name: str | None = None) -> list[dict]:
    """A curve's landmark estimates as table rows; `name`: the curve's (an arm's) in a first column.
    Column names in English, labelled (and translated) by _Doc.table."""
    return [
        {
            **({N_("arm"): name} if name is not None else {}),
            N_("months"): m,
            N_("survival"): _pct(v["survival"]),
            N_("95% CI"): _range(v["lower"], v["upper"]),
            N_("at risk"): v["at_risk"],
        }
        for m, v in km["landmarks"].items()
    ]


def _median(km: dict, cfg: TrialConfig) -> str:
    """The median in the words and by the rule of the pages (views.outcomes.median_text)."""
    if km.get("median_days") is None:
        return _("median not reached")
    value, note = outcomes.median_text(km, cfg)
    return _("median {value} ({note})").format(value=value, note=note.rstrip(".。"))


# categories that are their own words (stages: "III", "IVA"; ECOG grades), not codes to label
_VERBATIM_CATEGORIES = ("stage_computed", "ecog")


def _baseline_rows(df: pd.DataFrame, b: dict, cfg: TrialConfig, groups: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Baseline characteristics in the order and words of enrollment.baseline (`b`), one column per
    group: n (%) per category, age as median (IQR)."""
    characteristic, category = N_("characteristic"), N_("category")
    rows = [{characteristic: _("Subjects"), category: "", **{g: str(len(f)) for g, f in groups.items()}}]
    ages = {}
    for g, f in groups.items():
        age = f.age_at_consent.dropna()
        ages[g] = f"{age.median():.0f} ({age.quantile(0.25):.0f}-{age.quantile(0.75):.0f})" if len(age) else MISSING
    rows.append({characteristic: _("Age at consent"), category: _("median (IQR)"), **ages})
    for col, item in b.items():
        if not (isinstance(item, dict) and "counts" in item):
            continue
        for value in item["counts"]:
            cells = {}
            for g, f in groups.items():
                series = f[col]
                if col == "p16":
                    series = f.loc[f.primary_site.isin(cfg.trial.p16_staged_sites), col]
                series = series.fillna("missing").astype(str)
                cells[g] = _n_of(int((series == value).sum()), len(series))
            if value == "missing":
                shown = _("not recorded")
            elif col in _VERBATIM_CATEGORIES:
                shown = value
            else:
                shown = labels.code(value, cfg)
            name = item["label"]  # the view's words (a variable: a literal in _() would be extracted)
            rows.append({characteristic: _(name), category: shown, **cells})
    out = pd.DataFrame(rows)
    out.loc[out[characteristic].duplicated(), characteristic] = ""
    return out


# columns and values the views name in English with no trial.toml label (labels.column and
# labels.code find them in the catalogue)
_VIEW_COLUMNS = (
    N_("activated"),
    N_("screened"),
    N_("expected"),
    N_("received"),
    N_("completion"),
    N_("operated"),
    N_("total"),
    N_("other (merged)"),  # blinding.MERGED_ROW: strata merged by the cell rule (labels.code finds it)
)

# who checks a criterion (views/eligibility_by_criterion's checked_by): the data or the investigator
_CHECKED_BY = {"data": N_("data"), "investigator": N_("investigator")}


def _count_label(key: str, cfg: TrialConfig) -> str:
    """A safety count's name (death_30d: "Death within 30 days of surgery"), as the closed page names it."""
    if key.startswith("death_") and key.endswith("d") and key[6:-1].isdigit() and not labels.is_labelled(key, cfg):
        return _("Death within {days} days of surgery").format(days=key[6:-1])
    return labels.column(key, cfg)


def _suppressed(result: dict) -> str:
    """Why a view withheld its result (its `suppressed`), in the reader's language, without its stop."""
    reason = result["suppressed"]
    return _(reason).rstrip(".。")


def _open_sections(doc: _Doc, con, viewer: Viewer, cfg: TrialConfig) -> None:
    e = enrollment.enrollment(con, viewer, cfg)
    acc = enrollment.accrual(con, viewer, cfg)
    doc.h(2, _("Accrual and sites"))
    proj = acc.get("projection")
    doc.p(
        _sentences(
            _("Randomized {randomized} of {target}; screened {screened}, screen failures {failures}.").format(
                randomized=number(e["randomized"]),
                target=number(e["target"]),
                screened=number(e["screened"]),
                failures=number(e["screen_failures"]),
            ),
            _("Projected completion {date} ({level} prediction interval {lower} to {upper}).").format(
                date=long_date(proj["completion_date"]),
                level=percent(proj["level"], 0),
                lower=long_date(proj["lower"]),
                upper=long_date(proj["upper"]),
            )
            if proj
            else "",
        )
    )
    doc.figure(figures.accrual(acc["cumulative"], acc.get("planned"), acc["target"], proj))
    sites = enrollment.site_table(con, viewer, cfg)
    doc.table(
        sites[["siteid", "sitename", "activated", "screened", "randomized", "per_month", "days_since_last"]].rename(
            columns={
                "per_month": N_("randomized per month"),
                "days_since_last": N_("days since the last randomization"),
            }
        )
    )
    doc.h(2, _("Randomization by stratum"))
    a = enrollment.allocation(con, viewer, cfg)
    doc.table(
        pd.DataFrame(
            [
                {
                    "stratum": k,
                    "randomized": MISSING if None in v.values() else sum(v.values()),
                }
                for k, v in a["by_stratum"].items()
            ]
        ),
        strata=("stratum",),
    )
    doc.p(
        _(
            "Pooled over both arms: the report holds nothing by arm. The allocation by arm is on the Arm balance "
            "page and in the closed report."
        ),
        cls="note",
    )
    doc.h(2, _("Baseline characteristics (randomized, pooled)"))
    b = enrollment.baseline(con, viewer, cfg)
    if b["n"]:
        df = fetch(con, "views/baseline_randomized", site=viewer.site_filter)
        doc.table(_baseline_rows(df, b, cfg, {_("all randomized"): df}), cls="baseline")
    else:
        doc.p(_("No subject randomized yet."), cls="empty")
    doc.h(2, _("Protocol deviations"))
    dv = deviations.deviations(con, viewer, cfg)
    criteria = deviations.by_criterion(con, viewer)[["code", "text", "checked_by", "violated", "site_disagrees"]]
    texts = {c.code: fact(c, "text") for c in cfg.eligibility}  # the criterion in the reader's language
    criteria = criteria.assign(
        text=[texts.get(c, t) for c, t in zip(criteria["code"], criteria["text"], strict=True)],
        checked_by=[_(_CHECKED_BY[v]) if v in _CHECKED_BY else v for v in criteria["checked_by"]],
    )
    doc.table(
        criteria.rename(
            columns={
                "code": N_("criterion"),
                "text": N_("text"),
                "checked_by": N_("checked by"),
                "violated": N_("not met (from the data)"),
                "site_disagrees": N_("site's answer differs"),
            }
        ),
    )
    doc.table(
        pd.DataFrame(
            [{N_("window"): labels.column(k, cfg), N_("subjects outside it"): len(v)} for k, v in dv["windows"].items()]
        )
    )
    severity = dv["reported"]["by_severity"]
    by_severity = _list(
        _("{severity} {n}").format(severity=labels.code(k, cfg) if _zh() else labels.code(k, cfg).lower(), n=v)
        for k, v in severity.items()
    )
    total = dv["reported"]["total"]
    doc.p(
        _("Site-reported deviations: {total} ({by_severity}).").format(total=total, by_severity=by_severity)
        if by_severity
        else _("Site-reported deviations: {total}.").format(total=total)
    )
    doc.h(2, _("Survival, pooled over both arms"))
    pooled = outcomes.pooled(con, viewer, cfg)
    if "suppressed" in pooled:
        doc.p(_("Not shown: {reason}.").format(reason=_suppressed(pooled)))
    else:
        for endpoint in outcomes.ENDPOINTS:
            km = pooled[endpoint]["pooled"]
            doc.h(3, _(outcomes.ENDPOINTS[endpoint][3]))
            doc.km({_("pooled"): km}, pooled["design"]["curve"] if endpoint == "os" else None)
            doc.table(pd.DataFrame(_landmarks(km)))
            doc.p(
                _sentences(
                    _("{n} subjects, {events} events, {median}.").format(
                        n=number(km["n"]), events=number(km["events"]), median=_median(km, cfg)
                    ),
                    _ended(outcomes.conf_text(cfg)),  # the pages' caption, in the reader's language
                ),
                cls="note",
            )
        doc.p(
            _(
                "Deaths {observed}; expected by now under the design {expected}; expected at the final analysis "
                "{final}."
            ).format(
                observed=number(pooled["design"]["observed_deaths"]),
                expected=number(pooled["design"]["expected_deaths_by_now"], 1),
                final=number(pooled["design"]["expected_deaths_final"]),
            )
        )
    doc.h(2, _("Safety signals, pooled over both arms"))
    s = safety.pooled(con, viewer, cfg)
    if "suppressed" in s:
        doc.p(_("Not shown: {reason}.").format(reason=_suppressed(s)))
    else:
        doc.figure(figures.signals(s["signals"]))
        doc.table(
            pd.DataFrame(
                [
                    {
                        N_("signal"): x["label"],
                        N_("events"): x["events"],
                        N_("subjects"): x["n"],
                        N_("observed"): _pct(x["observed"]),
                        N_("95% CI"): _range(x["lower"], x["upper"]),
                        N_("threshold"): _pct(x["threshold"]) if x["threshold"] is not None else _("any event"),
                        N_("flagged"): (x.get("flag_reason") or _("yes")) if x["flagged"] else "",
                    }
                    for x in s["signals"]
                ]
            )
        )
        soc = s["soc_by_grade"].head(15).copy()
        soc.columns = [c if not str(c).isdigit() else _("grade {g}").format(g=c) for c in soc.columns]
        doc.table(soc.rename(columns={"soc": N_("system organ class (worst grade per subject)")}))
    doc.h(2, _("Data quality"))
    qol = quality.qol_completion(con, viewer, cfg).copy()
    if "completion" in qol:
        qol["completion"] = qol["completion"].map(_pct)
    doc.table(qol.rename(columns={"visit": N_("quality of life, visit")}), codes=("quality of life, visit",))


# the closed safety table's rows: each count's denominator (a key of the same arm's counts)
_SAFETY_DENOMINATOR = {
    "clavien_3a_plus_30d": "operated",
    "death_30d": "operated",
    "death_90d": "operated",
    "positive_margin": "with_pathology",
}
_SAFETY_TOTALS = ("subjects", "operated", "with_pathology")
# GLOSSEXT's NONE is "no glossectomy"; trial.toml [labels.codes] has no word for it, and NONE is also
# an AEREL code ("not related"), so it cannot have one meaning there (translated where shown)
_SURGERY_CODES = {("glossext", "NONE"): N_("No glossectomy")}

# the look's conclusion (views.monitoring: MET, NOT_MET, NOT_ESTIMABLE, codes) as the report says it
_CONCLUSION = {
    "met at this look": N_("non-inferiority met at this look"),
    "not met at this look": N_("non-inferiority not met at this look"),
    "not estimable at this look": N_("non-inferiority not estimable at this look"),
}


def _look_head(look: dict) -> str:
    """ "Conclusion at this look (look N, on the record; boundary z >= c)": one sentence per case."""
    bound = look.get("current_boundary")
    n = look["look_number"]
    if look.get("on_record"):
        if bound is None:
            return _("Conclusion at this look (look {n}, on the record)").format(n=n)
        return _("Conclusion at this look (look {n}, on the record; boundary z >= {bound})").format(
            n=n, bound=number(bound, 2)
        )
    if bound is None:
        return _("Conclusion at this look (look {n}, not yet recorded as a look)").format(n=n)
    return _("Conclusion at this look (look {n}, not yet recorded as a look; boundary z >= {bound})").format(
        n=n, bound=number(bound, 2)
    )


def _closed_sections(doc: _Doc, con, viewer: Viewer, cfg: TrialConfig) -> None:
    from dashboard.views import closed

    arm_label = labels.arm_labels(cfg)
    colors = {fact(a, "label"): a.color for a in cfg.arms}
    sets = {key: _(name) for key, name in closed.SETS.items()}
    d = cfg.design
    doc.h(2, _("CLOSED: allocation and baseline by arm"))
    a = enrollment.allocation(con, viewer, cfg)
    doc.table(
        pd.DataFrame(
            [{"stratum": _("all randomized"), **{arm_label[c]: n for c, n in a["by_arm"].items()}}]
            + [
                {"stratum": labels.stratum(k, cfg), **{arm_label[c]: n for c, n in v.items()}}
                for k, v in a["by_stratum"].items()
            ]
        )
    )
    b = enrollment.baseline(con, viewer, cfg)
    if b["n"]:
        df = fetch(con, "views/baseline_randomized", site=viewer.site_filter).merge(
            closed.arms(con, viewer)[["subjid", "arm"]], on="subjid", how="left"
        )
        groups = {arm_label[arm.code]: df[df.arm == arm.code] for arm in cfg.arms}
        doc.table(_baseline_rows(df, b, cfg, {**groups, _("all randomized"): df}), cls="baseline by-arm")
    doc.h(2, _("CLOSED: non-inferiority"))
    ni = closed.noninferiority(con, viewer, cfg)
    difference = _("{months}-month OS difference").format(months=d.landmark_months)
    rows = []
    for key, name in sets.items():
        diff, hr = ni[key]["difference"], ni[key]["hazard_ratio"]
        rows.append(
            {
                N_("set"): name,
                N_("subjects"): ni[key]["n"],
                difference: _pct(diff.get("difference")),
                N_("95% CI"): _range(diff.get("lower"), diff.get("upper")),
                N_("margin"): f"-{d.noninferiority_margin:.0%}",
                N_("hazard ratio"): MISSING if hr.get("hazard_ratio") is None else f"{hr['hazard_ratio']:.2f}",
                N_("HR 95% CI"): _range(hr.get("lower"), hr.get("upper"), lambda x: f"{x:.2f}"),
                N_("HR margin"): f"{d.hazard_ratio_margin:g}",
                N_("deaths"): MISSING if hr.get("events") is None else hr["events"],
            }
        )
    doc.table(pd.DataFrame(rows))
    for key, name in sets.items():
        message = closed.difference_message(ni[key], cfg)  # the page's words, with the arms' labels
        if message:
            doc.p(_("{set}: {message}").format(set=name, message=message), cls="note")
    exp = next(x for x in cfg.arms if x.experimental)
    ref = next(x for x in cfg.arms if not x.experimental)
    doc.figure(
        figures.forest(
            [
                {
                    "label": name,
                    "estimate": ni[k]["hazard_ratio"].get("hazard_ratio"),
                    "lower": ni[k]["hazard_ratio"].get("lower"),
                    "upper": ni[k]["hazard_ratio"].get("upper"),
                }
                for k, name in sets.items()
            ],
            d.hazard_ratio_margin,
            _("Hazard ratio of death, {experimental} against {reference} (stratified Cox, 95% CI)").format(
                experimental=fact(exp, "label"), reference=fact(ref, "label")
            ),
            log=True,
        ),
        "forest-hr",
    )
    doc.p(
        _(
            "Below 1 favours {experimental}. Non-inferior by the hazard ratio when the upper bound is below the "
            "margin {margin}."
        ).format(experimental=fact(exp, "label"), margin=number(d.hazard_ratio_margin)),
        cls="note",
    )
    doc.figure(
        figures.forest(
            [
                {
                    "label": name,
                    "estimate": ni[k]["difference"].get("difference"),
                    "lower": ni[k]["difference"].get("lower"),
                    "upper": ni[k]["difference"].get("upper"),
                }
                for k, name in sets.items()
            ],
            -d.noninferiority_margin,
            difference,
            percent=True,
        ),
        "forest-difference",
    )
    for key, name in sets.items():
        if ni[key]["n"] == 0:
            doc.p(
                _("{set}: no subjects in this set, so no difference, hazard ratio or log-rank test.").format(set=name),
                cls="empty",
            )
        elif not ni[key]["hazard_ratio"].get("events"):
            doc.p(
                _("{set}: no deaths yet, so no hazard ratio or log-rank test of overall survival.").format(set=name),
                cls="empty",
            )
    doc.h(2, _("CLOSED: log-rank test by arm"))
    doc.table(pd.DataFrame(closed.logrank_rows(closed.logrank(con, viewer, cfg), cfg)))
    doc.p(
        _(
            "Observed and expected events per arm; stratified by the randomization strata ({strata}), the "
            "strata of the Cox model, as R's survdiff(Surv(t, e) ~ arm + strata(...)): each stratum's O - E and "
            "hypergeometric variance summed over strata; chi-square on 1 degree of freedom. Unstratified beside it."
        ).format(strata=_list(fact(s, "label") for s in cfg.randomization.strata))
    )
    doc.h(2, _("CLOSED: survival by arm"))
    surv = closed.survival_by_arm(con, viewer, cfg)
    for endpoint in outcomes.ENDPOINTS:
        for key, name in sets.items():
            doc.h(3, _("{endpoint}, {set}").format(endpoint=_(outcomes.ENDPOINTS[endpoint][3]), set=name))
            by_arm = surv[key][endpoint]
            message = closed.empty_message(by_arm, arm_label)
            if message:
                doc.p(message, cls="empty")
            shown = {arm_label[a]: km for a, km in by_arm.items() if not km["empty"]}
            if not shown:
                continue
            doc.km(shown, colors=colors)
            doc.table(pd.DataFrame([row for label, km in shown.items() for row in _landmarks(km, label)]))
            doc.p(
                _ended(
                    ("；" if _zh() else "; ").join(
                        _("{arm}: {n} subjects, {events} events, {median}").format(
                            arm=label, n=number(km["n"]), events=number(km["events"]), median=_median(km, cfg)
                        )
                        for label, km in shown.items()
                    )
                ),
                cls="note",
            )
    doc.h(2, _("CLOSED: interim monitoring"))
    it = closed.interim(con, viewer, cfg)
    doc.p(
        _sentences(
            _("Deaths {observed} of {expected} expected: information fraction {fraction}.").format(
                observed=number(it["observed_deaths"]),
                expected=number(it["expected_deaths_final"]),
                fraction=percent(it["information_fraction"], 1),
            ),
            _(
                "Z for non-inferiority {z}; conditional power {trend} under the current trend, {design} under the "
                "design assumption, {margin} under the margin (against the remaining design)."
            ).format(
                z=MISSING if it["z_statistic"] is None else number(it["z_statistic"], 2),
                trend=_pct(it.get("conditional_power_trend")),
                design=_pct(it.get("conditional_power_design")),
                margin=_pct(it.get("conditional_power_margin")),
            ),
            _("Boundaries: {spending} spending of one-sided alpha {alpha}.").format(
                spending=labels.code(it["spending"], cfg), alpha=number(it["alpha"])
            ),
        )
    )
    look = it.get("look") or {}
    if look.get("conclusion"):
        code = look["conclusion"]
        result = _(_CONCLUSION[code]) if code in _CONCLUSION else look.get("conclusion_text") or _(code)
        primary = (
            _(
                "Primary criterion: the OS difference; judged with repeated confidence bounds at the look's boundary, "
                "not with the nominal 95% intervals."
            )
            if look["primary_criterion"] == "difference"
            else _(
                "Primary criterion: the hazard ratio; judged with repeated confidence bounds at the look's boundary, "
                "not with the nominal 95% intervals."
            )
        )
        doc.p(_sentences(_("{head}: {result}.").format(head=_look_head(look), result=result), primary))
        rows = []
        for name, c in ((_("OS difference"), look.get("difference")), (_("hazard ratio"), look.get("hazard_ratio"))):
            if c:
                nominal = c.get("nominal_lower", c.get("nominal_upper"))
                repeated = c.get("repeated_lower", c.get("repeated_upper"))
                rows.append(
                    {
                        N_("criterion"): name,
                        N_("estimate"): c["estimate"],
                        N_("nominal bound"): nominal,
                        N_("repeated bound"): repeated,
                        N_("margin"): c["margin"],
                        N_("at this look"): _("met") if c["crossed"] else _("not met"),
                    }
                )
        if rows:
            doc.table(pd.DataFrame(rows))
    dc = it.get("design_check") or {}
    if dc.get("power_short") or dc.get("margins_disagree"):
        doc.p(
            _(
                "Design check: power {power} with the looks kept (stated {stated}), {events} deaths for it "
                "(configured {configured}); the difference margin is HR {hr} against the HR margin. "
                "trial.toml [design] disagrees with itself."
            ).format(
                power=percent(dc["power"], 1),
                stated=percent(dc["stated_power"], 0),
                events=number(dc["events_for_power"], 1),
                configured=number(dc["events"], 0),
                hr=number(dc["hr_implied_by_difference_margin"], 2),
            )
        )
    doc.figure(figures.boundaries(it["planned"], it.get("actual"), it["z_statistic"], it["information_fraction"]))
    doc.table(
        pd.DataFrame(
            [
                {
                    N_("information fraction"): f"{p['fraction']:.0%}",
                    "z_boundary": f"{p['z_boundary']:.2f}",
                    N_("cumulative alpha"): f"{p['cumulative_alpha']:.4f}",
                    N_("nominal p"): f"{p['nominal_p']:.4f}",
                }
                for p in it["planned"]
            ]
        )
    )
    doc.h(2, _("CLOSED: safety by arm"))
    saf = closed.safety_by_arm(con, viewer, cfg)
    counts = {a: {k: v for k, v in c.items() if k != "by_soc"} for a, c in saf["by_arm"].items()}
    keys = list(next(iter(counts.values()), {}))
    doc.table(
        pd.DataFrame(
            [
                {
                    N_("subjects with"): _count_label(k, cfg),
                    **{
                        arm_label[a]: str(c[k])
                        if k in _SAFETY_TOTALS
                        else _n_of(c[k], c.get(_SAFETY_DENOMINATOR.get(k, "subjects")))
                        for a, c in counts.items()
                    },
                }
                for k in keys
            ]
        )
    )
    doc.p(
        _(
            "Percentages of the arm's subjects; surgical complications and deaths after surgery of those operated, "
            "positive margins of those with pathology."
        ),
        cls="note",
    )
    sig = saf["signal_differences"]
    exp_code, ref_code = saf["labels"]["experimental"], saf["labels"]["reference"]
    doc.figure(figures.dot_chart(sig.assign(label=sig.signal), arm_label[exp_code], arm_label[ref_code]))
    soc = saf["soc_differences"]
    if len(soc):
        doc.figure(
            figures.dot_chart(
                soc[soc.grade == "any grade"].assign(label=lambda f: f.soc), arm_label[exp_code], arm_label[ref_code]
            )
        )
    doc.h(2, _("CLOSED: surgical quality"))
    q = closed.surgical_quality(con, viewer, cfg)
    for label, table in q["markers"].items():
        doc.h(3, label)
        field = str(table.index.name or "")
        shown = table.rename(columns=arm_label).reset_index(names="recorded")
        shown["recorded"] = [
            _(_SURGERY_CODES[(field, v)])
            if (field, v) in _SURGERY_CODES
            else _(v)
            if v == closed.NOT_RECORDED
            else labels.code(v, cfg)
            for v in shown["recorded"]
        ]
        doc.table(shown.rename(columns={"recorded": N_("recorded")}))


# ---------------------------------------------------------------- since the last meeting (issue 16)
SINCE_VALUES_SHOWN = 50
"""The closed report lists this many changed values; every report counts all of them by form and
column (the open report lists no subject: listings are the app's, exported on the record)."""


def _cut_of(con) -> tuple[Path, Path] | None:
    """(warehouse folder, build folder) of the file the report reads, when it is a cut of a
    warehouse (WAREHOUSE/builds/<build_id>/*.duckdb); None otherwise."""
    from dashboard.store.data import scalar

    path = scalar(con, "changes/database_path")
    if not path:
        return None
    build_dir = Path(path).resolve().parent
    if build_dir.parent.name != "builds":
        return None
    return build_dir.parent.parent, build_dir


def _since_section(doc: _Doc, con, viewer: Viewer, cfg: TrialConfig, is_closed: bool) -> None:
    """What is new since the role's committee last met: from the last cut pinned for it
    (dashboard.store.cuts.baseline) to the cut the report reads, as dashboard.views.changes gives
    it to the role: blinded (pooled, no arm) in the open report, by arm in the closed one."""
    from dashboard.store import cuts
    from dashboard.views import changes as diff

    where = _cut_of(con)
    if where is None:
        return
    wh, build_dir = where
    doc.h(2, _("Since the last meeting"))
    if viewer.closed and not is_closed:
        doc.p(_("The difference since the last meeting is in the closed report."), cls="note")
        return
    try:
        to = next(c for c in cuts.cuts(wh) if c.build_dir.resolve() == build_dir)
    except StopIteration:
        doc.p(_("This data cut is not among the warehouse's retained cuts: nothing to compare it with."), cls="empty")
        return
    since = cuts.baseline(wh, viewer.role, cfg, to=to)
    if since is None:
        doc.p(_("This is the first data cut: nothing to compare it with."), cls="empty")
        return
    from dashboard.access import pins

    changed = [x for c in (since, to) for p in c.pins for x in pins.verify(c.build_dir, p)]
    if changed:  # a pinned cut whose files changed is never compared as that cut
        doc.p(
            _("Not compared: a pinned cut's files changed since it was pinned ({problems}).").format(
                problems="; ".join(changed)
            ),
            cls="empty",
        )
        return
    d = diff.changes(since.build_dir, to.build_dir, viewer, cfg)
    if since.pins:
        doc.p(
            _("From {since} (data cut-off {old}) to data cut-off {new}.").format(
                since=since.pins[0]["name"], old=long_date(d["from"]["cutoff"]), new=long_date(d["to"]["cutoff"])
            )
        )
    else:
        doc.p(
            _("From data cut-off {old} (build {build}) to data cut-off {new}.").format(
                old=long_date(d["from"]["cutoff"]), build=since.build_id, new=long_date(d["to"]["cutoff"])
            )
        )
    rand = d["randomized"]
    doc.h(3, _("New randomizations"))
    doc.p(_("Randomized between the two cuts: {n}.").format(n=number(rand["total"])))
    if rand["by_site"]:
        doc.table(
            pd.DataFrame({"siteid": list(rand["by_site"]), N_("new randomizations"): list(rand["by_site"].values())})
        )
    doc.h(3, _("New events"))
    ev = d["events"]
    if is_closed:
        arm_label = labels.arm_labels(cfg)
        rows = [
            {
                N_("event"): _(w),
                **{arm_label[a]: ev[k]["by_arm"].get(a, 0) for a in arm_label},
                N_("total"): ev[k]["pooled"],
            }
            for k, w in diff.EVENT_WORDS.items()
        ]
    else:
        rows = [
            {N_("event"): _(w), N_("both arms pooled"): MISSING if ev[k]["pooled"] is None else ev[k]["pooled"]}
            for k, w in diff.EVENT_WORDS.items()
        ]
    doc.table(pd.DataFrame(rows))
    dev, fin = d["deviations"], d["findings"]

    def count(x) -> int:
        return x if isinstance(x, int) else len(x)

    doc.h(3, _("Deviations and data findings"))
    doc.p(
        _sentences(
            _("Protocol deviations: {new} new, {resolved} resolved.").format(
                new=number(count(dev["new"])), resolved=number(count(dev["resolved"]))
            ),
            _("Data findings: {new} new, {resolved} resolved.").format(
                new=number(len(fin["new"])), resolved=number(len(fin["resolved"]))
            ),
        )
    )
    if is_closed and not isinstance(dev["new"], int) and dev["new"]:  # subject rows: the closed report only
        doc.table(pd.DataFrame(dev["new"]), codes=("dvcat", "dvsev"), caption=_("New deviations"))
    doc.h(3, _("Sites newly outside the funnel limits"))
    signals = {s.name: s for s in cfg.safety_signals}
    outside = d["funnel"]["newly_outside"]
    if outside:
        doc.table(
            pd.DataFrame(
                [
                    {
                        "siteid": r["siteid"],
                        N_("signal"): fact(signals[r["signal"]], "label") if r["signal"] in signals else r["signal"],
                    }
                    for r in outside
                ]
            )
        )
    elif viewer.site_filter:
        doc.p(_("A single site's view has no funnel plot."), cls="empty")
    else:
        doc.p(_("No site is newly outside the funnel limits."), cls="empty")
    doc.h(3, _("Changed values in records both cuts hold"))
    changed, counted = d["changed"], d["changed_counts"]
    totals: dict[tuple[str, str], int] = {}
    for c in changed:
        totals[(c["form"], c["column"])] = totals.get((c["form"], c["column"]), 0) + 1
    for c in counted:
        totals[(c["form"], c["column"])] = totals.get((c["form"], c["column"]), 0) + c["n"]
    if not totals:
        doc.p(_("No value changed."), cls="empty")
    else:
        doc.table(
            pd.DataFrame([{N_("form"): f, N_("column"): c, N_("records"): n} for (f, c), n in sorted(totals.items())])
        )
    if changed and is_closed:  # subject rows: the closed report only (the open one counts them)
        shown = pd.DataFrame(changed[:SINCE_VALUES_SHOWN])[["form", "subjid", "key", "column", "old", "new"]]
        shown["key"] = shown.key.map(diff.key_text)
        doc.table(
            shown.rename(columns={"key": N_("record"), "old": N_("before"), "new": N_("after")}),
            caption=_("The first {n} of {total} changed values").format(n=len(shown), total=len(changed))
            if len(changed) > SINCE_VALUES_SHOWN
            else None,
        )
    if counted:
        doc.p(_("Outcome forms: changed values counted by form and column, without values or subjects."), cls="note")
    if d["withheld"]:
        doc.p(
            _("Withheld under the blinding rule: {reasons}.").format(
                reasons=_list(diff.withheld_text(w) for w in d["withheld"])
            ),
            cls="note",
        )


def anchor_text(anchor: dict | None) -> str:
    """The audit anchor a closed report prints: `audit verify --anchor N:H` checks the log against it
    later, so a log cut back (or deleted with its head) to before this report is detected."""
    if not anchor:
        return _("Audit log at seq 0 (empty) when this report was made.")
    if "unavailable" in anchor:
        return _("Audit log anchor unavailable when this report was made ({why}).").format(why=anchor["unavailable"])
    return _("Audit log at seq {seq}, hash {hash} when this report was made.").format(
        seq=anchor["seq"], hash=anchor["hash"]
    )


def build_html(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    cfg: TrialConfig | None = None,
    closed_report: bool | None = None,
    audit_anchor: dict | None = None,
) -> str:
    """The report for a viewer, in the current language (dashboard.i18n: `using("zh")` for
    Chinese): the closed one for a closed role (unless asked for the open one). A closed report
    prints the audit log's anchor (`audit_anchor`, else the log's last entry now,
    dashboard.access.audit.anchor): record the report's export on the log first, then build it."""
    cfg = cfg or load_trial()
    is_closed = viewer.closed if closed_report is None else closed_report
    if is_closed:
        viewer.require_closed()
        if audit_anchor is None:
            from dashboard.access import audit

            try:
                audit_anchor = audit.anchor()
            except OSError as exc:  # the log unreadable here: say so rather than print a wrong anchor
                audit_anchor = {"unavailable": f"{type(exc).__name__}: {exc.strerror or exc}"}
    cut = enrollment.data_cut(con)
    doc = _Doc(cfg)
    names = dict(name=cfg.trial.name, registry=cfg.trial.registry_id)
    if is_closed:
        title = _("{name} ({registry}) closed monitoring report").format(**names)
        doc.parts.append(f'<div class="banner">{escape.html(_(CONFIDENTIAL))}</div>')
    else:
        title = _("{name} ({registry}) open monitoring report").format(**names)
    doc.h(1, title)
    made = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    doc.p(
        _("Data cut-off {cutoff} · exported {exported} · source {source} · made by {user} ({role}) on {made}").format(
            # the report's stamp, beside the time it was made: ISO dates, as the audit log and exports write them
            cutoff=labels.date(cut["cutoff"]),
            exported=labels.date(cut["exported"]),
            source=labels.text(cut["source"]),
            user=viewer.user or viewer.role,
            role=viewer.role,
            made=made,
        ),
        cls="meta",
    )
    if cut["is_demo"]:
        doc.p(_("Synthetic demo trial: no real patient data."), cls="meta")
    if is_closed:
        doc.p(anchor_text(audit_anchor), cls="meta anchor")
    if not is_closed:
        doc.p(_("Outcomes pooled over both arms (blinding rule of the monitoring plan)."), cls="note")
    doc.contents_here()
    _since_section(doc, con, viewer, cfg, is_closed)
    _open_sections(doc, con, viewer, cfg)
    if is_closed:
        _closed_sections(doc, con, viewer, cfg)
        doc.parts.append(f'<div class="banner">{escape.html(_(CONFIDENTIAL))}</div>')
    return doc.html(title, confidential=is_closed)


def chromium() -> str | None:
    for name in CHROMIUM:
        path = shutil.which(name)
        if path:
            return path
    return None


# Waits, in the page, until every plotly chart has drawn (its main SVG is there) and the fonts are
# loaded, then two frames more: the PDF is printed only after that.
_CHARTS_DRAWN = """new Promise(resolve => {
  const start = Date.now();
  const drawn = () => [...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('.main-svg'));
  const check = () => {
    if ((drawn() && document.readyState === 'complete') || Date.now() - start > %d) {
      document.fonts.ready.then(() => requestAnimationFrame(() => requestAnimationFrame(() => resolve(drawn()))));
    } else { setTimeout(check, 50); }
  };
  check();
})"""

# Chromium's print header and footer (DevTools Page.printToPDF): HTML whose spans of class
# pageNumber and totalPages it fills in on every page. Their font size must be set: the default is
# too small to read. The CLI's --print-to-pdf has no way to set them, and CSS @page margin boxes
# (@top-center { content: counter(page) }) are not supported by Chromium.
_BAND = (
    '<div style="width:100%%; margin:0 10mm; font-family:{font}; font-size:8pt; color:#444; '
    '-webkit-print-color-adjust:exact; display:flex; justify-content:space-between;">%s</div>'
)


def _band(left: str, middle: str, right: str, font: str, strong: bool = False) -> str:
    style = "color:#c0392b; font-weight:bold; letter-spacing:.05em;" if strong else ""
    return (_BAND.replace("{font}", font)) % (
        f"<span>{left}</span><span style='{style}'>{middle}</span><span>{right}</span>"
    )


def pdf_bands(title: str, confidential: bool) -> tuple[str, str]:
    """The header and footer of every PDF page, in the current language: the report's title,
    CONFIDENTIAL on every page of the closed report (机密 - DSMB 闭门会议), and "page N of M"
    (第 N 页，共 M 页)."""
    font = "'Noto Sans CJK SC', 'Noto Sans', sans-serif"  # i18n: verbatim
    mark = escape.html(_(CONFIDENTIAL)) if confidential else ""
    header = _band(escape.html(title), mark, "", font, strong=True)
    # Chromium fills the two spans in on every page; the words around them are the catalogue's
    page = escape.html(_("page {page} of {pages}")).format(
        page='<span class="pageNumber"></span>', pages='<span class="totalPages"></span>'
    )
    footer = _band(mark, "", page, font, strong=False)
    return header, footer


# The child's side of the pipes moved onto fds 3 and 4, where Chromium looks for them, then Chromium
# itself (a small Python trampoline: subprocess cannot renumber fds, and dash's redirections take
# one-digit fds only).
_ONTO_3_AND_4 = (
    "import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); os.dup2(r, 3); os.dup2(w, 4); "
    "os.close(r); os.close(w); os.execv(sys.argv[3], sys.argv[3:])"
)


class PdfFailed(RuntimeError):
    """Chromium could not print the report (absent, refused, crashed or out of time)."""


class _DevTools:
    """Chromium's DevTools protocol over the pipe `--remote-debugging-pipe` opens (the child reads
    commands on fd 3 and writes answers on fd 4, each a JSON message ended by a NUL byte), as
    Playwright and Puppeteer drive it. No port is opened, so no other local process can reach the
    browser (and the confidential report in it) while it prints."""

    def __init__(self, exe: str, profile: str, deadline: float):
        self.deadline = deadline
        # Chromium's messages to a file, not a pipe nobody reads while it prints (a full pipe blocks it)
        self._log = open(Path(profile) / "chromium.log", "w+b")  # noqa: SIM115 (closed in close())
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # the child's ends above fd 9, so that moving them onto 3 and 4 cannot overwrite one with the other
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_child_r, from_child_w)]
        for fd in (to_child_r, from_child_w):
            os.close(fd)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _ONTO_3_AND_4,
                str(high[0]),
                str(high[1]),
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-extensions",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=high,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        for fd in high:
            os.close(fd)
        self._buffer = b""
        self._next = 0
        self.events: list[dict] = []

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(_("Chromium did not answer in time"))
            ready, _w, _x = select.select([self._from_child], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self._from_child, 1 << 16)
                if not chunk:
                    raise RuntimeError(_("Chromium closed the DevTools pipe"))
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode("utf-8") + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise RuntimeError(
                        _("Chromium refused {method}: {message}").format(
                            method=method, message=answer["error"].get("message")
                        )
                    )
                return answer.get("result", {})
            self.events.append(answer)

    def wait_event(self, method: str, session: str) -> dict:
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self.events.pop(i)
            self.events.append(self._read())

    def close(self) -> str:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close")
                except (RuntimeError, TimeoutError, OSError):
                    pass
        finally:
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")[-500:]
        self._log.close()
        return text


def html_to_pdf(
    html_path: Path,
    pdf_path: Path,
    timeout: float = 120,
    title: str | None = None,
    confidential: bool | None = None,
) -> Path:
    """Print the HTML report to an A4 PDF with headless Chromium, once its charts have drawn, with a
    header and footer on every page: the title, CONFIDENTIAL on every page of the closed report,
    and "page N of M". The title and the mark are read from the report itself (its <title> and
    its `pdf-confidential` meta) unless given; the bands are in the report's language (its
    `<html lang>`), whatever the language of the caller."""
    exe = chromium()
    if exe is None:
        raise PdfFailed(_("no Chromium to print the PDF with (apt-get install chromium)"))
    text = Path(html_path).read_text(encoding="utf-8")
    if title is None:
        found = re.search(r"<title>(.*?)</title>", text, re.S)
        title = html_module.unescape(found.group(1)) if found else ""
    if confidential is None:
        confidential = '<meta name="pdf-confidential" content="yes">' in text
    lang = re.search(r'<html lang="([^"]*)"', text)
    with i18n.using(i18n.normalize(lang.group(1)) if lang else i18n.language()):
        header, footer = pdf_bands(title, confidential)
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory() as profile:
        try:
            browser = _DevTools(exe, profile, deadline)
        except OSError as exc:
            raise PdfFailed(_("Chromium did not start ({error})").format(error=exc)) from exc
        try:
            target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            browser.send("Page.enable", session=session)
            browser.send("Page.navigate", {"url": Path(html_path).resolve().as_uri()}, session=session)
            browser.wait_event("Page.loadEventFired", session)
            wait_ms = int(max(1.0, min(30.0, deadline - time.monotonic() - 5)) * 1000)
            browser.send(
                "Runtime.evaluate",
                {"expression": _CHARTS_DRAWN % wait_ms, "awaitPromise": True, "returnByValue": True},
                session=session,
            )
            printed = browser.send(
                "Page.printToPDF",
                {
                    "printBackground": True,
                    "displayHeaderFooter": True,
                    "headerTemplate": header,
                    "footerTemplate": footer,
                    "paperWidth": 8.27,  # A4
                    "paperHeight": 11.69,
                    "marginTop": 0.6,
                    "marginBottom": 0.6,
                    "marginLeft": 0.4,
                    "marginRight": 0.4,
                },
                session=session,
            )
            pdf_path.write_bytes(base64.b64decode(printed["data"]))
        except (OSError, TimeoutError, RuntimeError, KeyError, ValueError) as exc:
            log = browser.close()
            raise PdfFailed(
                _("Chromium did not print the PDF ({error}) {log}")
                .format(error=f"{type(exc).__name__}: {exc}", log=log)
                .strip()
            ) from exc
        else:
            browser.close()
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise PdfFailed(_("Chromium did not print the PDF"))
    return pdf_path
