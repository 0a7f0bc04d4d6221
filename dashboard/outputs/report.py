"""The reports: one self-contained HTML file (plotly.js inlined once) and a PDF printed from it by
headless Chromium. The open report holds the pooled pages; the closed report adds every closed
page and is marked CONFIDENTIAL. Both are made by the same code from the same figure functions
the dashboard and the summary use."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig, load_trial
from dashboard.outputs import escape, figures
from dashboard.views import deviations, enrollment, outcomes, quality, safety

CONFIDENTIAL = "CONFIDENTIAL - DSMB CLOSED SESSION"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")

CSS = """
body { font-family: 'Noto Sans CJK SC', 'Noto Sans', 'PingFang SC', 'Microsoft YaHei', sans-serif;
       margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { border-bottom: 2px solid #1f5f8b; padding-bottom: .2em;
margin-top: 2em; page-break-before: auto; } h3 { margin-top: 1.4em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .85em; } th, td { border: 1px solid #ccc;
padding: 3px 7px; text-align: right; } th { background: #eef4f8; } td:first-child, th:first-child { text-align: left; }
.banner { background: #c0392b; color: white; font-weight: bold; padding: .6em 1em; text-align: center;
letter-spacing: .05em; } .meta { color: #555; font-size: .9em; } .note { color: #555; font-size: .85em; }
.figure { page-break-inside: avoid; }
@media print { h2, h3 { page-break-after: avoid; } table { page-break-inside: avoid; } }
"""


class _Doc:
    def __init__(self):
        self.parts: list[str] = []
        self._plotly_included = False

    def h(self, level: int, text: str) -> None:
        self.parts.append(f"<h{level}>{escape.html(text)}</h{level}>")

    def p(self, text: str, cls: str = "") -> None:
        self.parts.append(f'<p class="{escape.html(cls)}">{escape.html(text)}</p>')

    def table(self, df: pd.DataFrame) -> None:
        # escape=True (pandas' default, said here on purpose): cells and column names are text
        self.parts.append(df.to_html(index=False, na_rep="—", float_format=lambda x: f"{x:.3g}", border=0, escape=True))

    def figure(self, fig) -> None:
        include = "inline" if not self._plotly_included else False
        self._plotly_included = True
        fig.update_layout(width=1000)
        self.parts.append(
            '<div class="figure">'
            + fig.to_html(full_html=False, include_plotlyjs=include, config={"staticPlot": True})
            + "</div>"
        )

    def html(self, title: str) -> str:
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape.html(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(self.parts)
            + "</body></html>"
        )


def _pct(x) -> str:
    return "—" if x is None or (isinstance(x, float) and pd.isna(x)) else f"{x:.1%}"


def _open_sections(doc: _Doc, con, viewer: Viewer, cfg: TrialConfig) -> None:
    e = enrollment.enrollment(con, viewer, cfg)
    acc = enrollment.accrual(con, viewer, cfg)
    doc.h(2, "Accrual and sites")
    proj = acc.get("projection")
    doc.p(
        f"Randomized {e['randomized']} of {e['target']}; screened {e['screened']}, screen failures "
        f"{e['screen_failures']}."
        + (
            f" Projected completion {proj['completion_date']} "
            f"({int(proj['level'] * 100)}% prediction interval {proj['lower']} to "
            f"{proj['upper']})."
            if proj
            else ""
        )
    )
    doc.figure(figures.accrual(acc["cumulative"], acc.get("planned"), acc["target"], proj))
    sites = enrollment.site_table(con, viewer, cfg)
    doc.table(sites[["siteid", "sitename", "activated", "screened", "randomized", "per_month", "days_since_last"]])
    doc.h(2, "Arm balance")
    a = enrollment.allocation(con, viewer, cfg)
    doc.table(
        pd.DataFrame(
            [{"group": "all", **a["by_arm"]}] + [{"group": f"stratum {k}", **v} for k, v in a["by_stratum"].items()]
        )
    )
    doc.h(2, "Protocol deviations")
    dv = deviations.deviations(con, viewer, cfg)
    doc.table(deviations.by_criterion(con, viewer)[["code", "text", "checked_by", "violated", "site_disagrees"]])
    doc.table(pd.DataFrame([{"window": k, "subjects": len(v)} for k, v in dv["windows"].items()]))
    doc.p(
        f"Site-reported deviations: {dv['reported']['total']} "
        f"({', '.join(f'{k} {v}' for k, v in dv['reported']['by_severity'].items())})."
    )
    doc.h(2, "Survival, pooled over both arms")
    pooled = outcomes.pooled(con, viewer, cfg)
    if "suppressed" in pooled:
        doc.p(f"Not shown: {pooled['suppressed']}.")
    else:
        for endpoint in outcomes.ENDPOINTS:
            km = pooled[endpoint]["pooled"]
            doc.h(3, outcomes.ENDPOINTS[endpoint][3])
            doc.figure(
                figures.kaplan_meier(
                    {"pooled": km["curve"]},
                    cfg.trial.days_per_month,
                    pooled["design"]["curve"] if endpoint == "os" else None,
                )
            )
            doc.table(
                pd.DataFrame(
                    [
                        {
                            "months": k,
                            "survival": _pct(v["survival"]),
                            "lower": _pct(v["lower"]),
                            "upper": _pct(v["upper"]),
                            "at risk": v["at_risk"],
                        }
                        for k, v in km["landmarks"].items()
                    ]
                )
            )
            doc.p(f"{km['n']} subjects, {km['events']} events. {outcomes.CONF_TEXT}.", "note")
        doc.p(
            f"Deaths {pooled['design']['observed_deaths']}; expected by now under the design "
            f"{pooled['design']['expected_deaths_by_now']:.1f}; expected at the final analysis "
            f"{pooled['design']['expected_deaths_final']}."
        )
    doc.h(2, "Safety signals, pooled over both arms")
    s = safety.pooled(con, viewer, cfg)
    if "suppressed" in s:
        doc.p(f"Not shown: {s['suppressed']}.")
    else:
        doc.figure(figures.signals(s["signals"]))
        doc.table(
            pd.DataFrame(
                [
                    {
                        "signal": x["label"],
                        "events": x["events"],
                        "n": x["n"],
                        "observed": _pct(x["observed"]),
                        "95% CI": f"{_pct(x['lower'])} to {_pct(x['upper'])}",
                        "threshold": _pct(x["threshold"]) if x["threshold"] is not None else "any",
                        "flagged": "yes" if x["flagged"] else "",
                    }
                    for x in s["signals"]
                ]
            )
        )
        doc.table(s["soc_by_grade"].head(15))
    doc.h(2, "Data quality")
    doc.table(quality.qol_completion(con, viewer, cfg))


def _closed_sections(doc: _Doc, con, viewer: Viewer, cfg: TrialConfig) -> None:
    from dashboard.views import closed

    labels = {a.code: a.label for a in cfg.arms}
    d = cfg.design
    doc.h(2, "CLOSED: non-inferiority")
    ni = closed.noninferiority(con, viewer, cfg)
    rows = []
    for key, name in closed.SETS.items():
        diff, hr = ni[key]["difference"], ni[key]["hazard_ratio"]
        rows.append(
            {
                "set": name,
                "n": ni[key]["n"],
                "OS difference": _pct(diff.get("difference")),
                "95% CI": f"{_pct(diff.get('lower'))} to {_pct(diff.get('upper'))}",
                "margin": f"-{d.noninferiority_margin:.0%}",
                "HR": "—" if hr.get("hazard_ratio") is None else f"{hr['hazard_ratio']:.2f}",
                "HR 95% CI": "—" if hr.get("lower") is None else f"{hr['lower']:.2f} to {hr['upper']:.2f}",
                "HR margin": d.hazard_ratio_margin,
                "deaths": hr.get("events"),
            }
        )
    doc.table(pd.DataFrame(rows))
    doc.figure(
        figures.forest(
            [
                {
                    "label": r["set"],
                    "estimate": ni[k]["difference"].get("difference"),
                    "lower": ni[k]["difference"].get("lower"),
                    "upper": ni[k]["difference"].get("upper"),
                }
                for k, r in zip(closed.SETS, rows, strict=True)
            ],
            -d.noninferiority_margin,
            f"{d.landmark_months}-month OS difference",
            percent=True,
        )
    )
    for key, name in closed.SETS.items():
        if ni[key]["n"] == 0:
            doc.p(f"{name}: no subjects in this set, so no difference, hazard ratio or log-rank test.", "empty")
        elif not ni[key]["hazard_ratio"].get("events"):
            doc.p(f"{name}: no deaths yet, so no hazard ratio or log-rank test of overall survival.", "empty")
    doc.h(2, "CLOSED: log-rank test by arm")
    doc.table(pd.DataFrame(closed.logrank_rows(closed.logrank(con, viewer, cfg), cfg)))
    strata_names = ", ".join(s.field for s in cfg.randomization.strata)
    doc.p(
        f"Observed and expected events per arm; stratified by the randomization strata ({strata_names}), the "
        "strata of the Cox model, as R's survdiff(Surv(t, e) ~ arm + strata(...)): each stratum's O - E and "
        "hypergeometric variance summed over strata; chi-square on 1 degree of freedom. Unstratified beside it."
    )
    doc.h(2, "CLOSED: survival by arm")
    surv = closed.survival_by_arm(con, viewer, cfg)
    for key, name in closed.SETS.items():
        doc.h(3, f"Overall survival, {name}")
        by_arm = surv[key]["os"]
        message = closed.empty_message(by_arm, labels)
        if message:
            doc.p(message, "empty")
        shown = {a: km for a, km in by_arm.items() if not km["empty"]}
        if not shown:
            continue
        doc.figure(figures.kaplan_meier({labels[a]: km["curve"] for a, km in shown.items()}, cfg.trial.days_per_month))
        doc.table(
            pd.DataFrame(
                [
                    {
                        "arm": labels[a],
                        "n": km["n"],
                        "events": km["events"],
                        "months": m,
                        "survival": _pct(v["survival"]),
                        "95% CI": f"{_pct(v['lower'])} to {_pct(v['upper'])}",
                        "at risk": v["at_risk"],
                    }
                    for a, km in by_arm.items()
                    for m, v in km["landmarks"].items()
                ]
            )
        )
    doc.h(2, "CLOSED: interim monitoring")
    it = closed.interim(con, viewer, cfg)
    doc.p(
        f"Deaths {it['observed_deaths']} of {it['expected_deaths_final']} expected: information fraction "
        f"{it['information_fraction']:.1%}. Z for non-inferiority "
        f"{'—' if it['z_statistic'] is None else format(it['z_statistic'], '.2f')}; conditional power "
        f"{_pct(it.get('conditional_power_trend'))} under the current trend, "
        f"{_pct(it.get('conditional_power_design'))} under the design assumption, "
        f"{_pct(it.get('conditional_power_margin'))} under the margin (against the remaining design)."
    )
    look = it.get("look") or {}
    if look.get("conclusion"):
        bound = look.get("current_boundary")
        primary = "the OS difference" if look["primary_criterion"] == "difference" else "the hazard ratio"
        doc.p(
            f"Conclusion at this look (look {look['look_number']}"
            f"{', on the record' if look.get('on_record') else ', not yet recorded as a look'}"
            f"{'' if bound is None else f'; boundary z >= {bound:.2f}'}): non-inferiority {look['conclusion']}. "
            f"Primary criterion: {primary}; "
            "judged with repeated confidence bounds at the look's boundary, not with the nominal 95% intervals."
        )
        rows = []
        for name, c in (("OS difference", look.get("difference")), ("hazard ratio", look.get("hazard_ratio"))):
            if c:
                nominal = c.get("nominal_lower", c.get("nominal_upper"))
                repeated = c.get("repeated_lower", c.get("repeated_upper"))
                rows.append(
                    {
                        "criterion": name,
                        "estimate": c["estimate"],
                        "nominal bound": nominal,
                        "repeated bound": repeated,
                        "margin": c["margin"],
                        "at this look": "met" if c["crossed"] else "not met",
                    }
                )
        if rows:
            doc.table(pd.DataFrame(rows))
    dc = it.get("design_check") or {}
    if dc.get("power_short") or dc.get("margins_disagree"):
        doc.p(
            f"Design check: power {dc['power']:.1%} with the looks kept (stated {dc['stated_power']:.0%}), "
            f"{dc['events_for_power']:.1f} deaths for it (configured {dc['events']:.0f}); the difference margin "
            f"is HR {dc['hr_implied_by_difference_margin']:.2f} against the HR margin. "
            "trial.toml [design] disagrees with itself."
        )
    doc.figure(figures.boundaries(it["planned"], it.get("actual"), it["z_statistic"], it["information_fraction"]))
    doc.table(pd.DataFrame(it["planned"]))
    doc.h(2, "CLOSED: safety by arm")
    saf = closed.safety_by_arm(con, viewer, cfg)
    doc.table(
        pd.DataFrame(
            {labels[a]: {k: v for k, v in c.items() if k != "by_soc"} for a, c in saf["by_arm"].items()}
        ).reset_index(names="subjects with")
    )
    sig = saf["signal_differences"]
    exp, ref = saf["labels"]["experimental"], saf["labels"]["reference"]
    doc.figure(figures.dot_chart(sig.assign(label=sig.signal), labels[exp], labels[ref]))
    soc = saf["soc_differences"]
    if len(soc):
        doc.figure(
            figures.dot_chart(soc[soc.grade == "any grade"].assign(label=lambda f: f.soc), labels[exp], labels[ref])
        )
    doc.h(2, "CLOSED: surgical quality")
    q = closed.surgical_quality(con, viewer, cfg)
    for label, table in q["markers"].items():
        doc.h(3, label)
        doc.table(table.rename(columns=labels).reset_index(names="recorded"))


def anchor_text(anchor: dict | None) -> str:
    """The audit anchor a closed report prints: `audit verify --anchor N:H` checks the log against it
    later, so a log cut back (or deleted with its head) to before this report is detected."""
    if not anchor:
        return "Audit log at seq 0 (empty) when this report was made."
    if "unavailable" in anchor:
        return f"Audit log anchor unavailable when this report was made ({anchor['unavailable']})."
    return f"Audit log at seq {anchor['seq']}, hash {anchor['hash']} when this report was made."


def build_html(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    cfg: TrialConfig | None = None,
    closed_report: bool | None = None,
    audit_anchor: dict | None = None,
) -> str:
    """The report for a viewer: the closed one for a closed role (unless asked for the open one).
    A closed report prints the audit log's anchor (`audit_anchor`, else the log's last entry now,
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
    doc = _Doc()
    title = f"{cfg.trial.name} ({cfg.trial.registry_id}) {'closed' if is_closed else 'open'} monitoring report"
    if is_closed:
        doc.parts.append(f'<div class="banner">{CONFIDENTIAL}</div>')
    doc.h(1, title)
    made = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    doc.p(
        f"Data cut-off {cut['cutoff']} · exported {cut['exported']} · source {cut['source']} · "
        f"made by {viewer.user or viewer.role} ({viewer.role}) on {made}",
        "meta",
    )
    if cut["is_demo"]:
        doc.p("Synthetic demo trial: no real patient data.", "meta")
    if is_closed:
        doc.p(anchor_text(audit_anchor), "meta anchor")
    if not is_closed:
        doc.p("Outcomes pooled over both arms (blinding rule of the monitoring plan).", "note")
    _open_sections(doc, con, viewer, cfg)
    if is_closed:
        _closed_sections(doc, con, viewer, cfg)
        doc.parts.append(f'<div class="banner">{CONFIDENTIAL}</div>')
    return doc.html(title)


def chromium() -> str | None:
    for name in CHROMIUM:
        path = shutil.which(name)
        if path:
            return path
    return None


def html_to_pdf(html_path: Path, pdf_path: Path, timeout: float = 120) -> Path:
    """Print the HTML report to PDF with headless Chromium (charts rendered before printing)."""
    exe = chromium()
    if exe is None:
        raise RuntimeError("no Chromium to print the PDF with (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                "--virtual-time-budget=20000",
                f"--print-to-pdf={pdf_path}",
                html_path.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise RuntimeError(f"Chromium did not print the PDF: {done.stderr[-500:]}")
    return pdf_path
