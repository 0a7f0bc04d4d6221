"""Figures of outcomes: Kaplan-Meier curves, safety signals, adverse events by grade, forest plots,
group-sequential boundaries, arm comparisons. No Streamlit.

Colours: an arm is drawn in its trial.toml colour (labels.arm_colors) and nothing else is; adverse
event grades in an ordered (sequential) scale."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.i18n import _, number
from dashboard.i18n import percent as as_percent
from dashboard.outputs import escape
from dashboard.outputs import labels as words
from dashboard.outputs.figures.common import (
    DESIGN,
    FLAG,
    MAX_TICK_LINES,
    OK,
    PLANNED,
    POOLED,
    _alpha,
    _layout,
    wrapped_ticks,
)

# Curves that are not an arm (pooled, hand-made test curves): never an arm's colour.
OTHER_COLORS = [POOLED, "#555555", "#b35806"]
# Worst grade 1..5: light yellow to dark red (ColorBrewer RdYlGn/YlOrRd steps), an ordered scale; not the arms.
GRADE_COLORS = {1: "#fee08b", 2: "#fdae61", 3: "#f46d43", 4: "#d73027", 5: "#7f0000"}
THRESHOLD = "#333333"
ANY_EVENT = "any event"  # i18n: verbatim (a code: views.safety's flag_rule)
"""The flag rule of a signal with flag_any (trial.toml): any event flags it, whatever the threshold."""


def _arm_color(label: str) -> str | None:
    return words.arm_colors().get(label)


def kaplan_meier(
    curves: dict[str, pd.DataFrame],
    days_per_month: float,
    design: pd.DataFrame | None = None,
    design_label: str | None = None,
    title: str | None = None,
    colors: dict[str, str] | None = None,
) -> go.Figure:
    """Step curves with their confidence bands, time in months; the design curve dashed. A curve
    named after an arm (key, code or label) is drawn in the arm's colour unless `colors` says.
    `design_label`: the design curve's legend entry ("design assumption" in the reader's language)."""
    fig = go.Figure()
    palette = colors or {}
    others = iter(OTHER_COLORS * (len(curves) + 1))
    for label, c in curves.items():
        color = palette.get(label) or _arm_color(label) or next(others)
        months = c["time"] / days_per_month
        fig.add_trace(
            go.Scatter(x=months, y=c["upper"], line=dict(width=0, shape="hv"), showlegend=False, hoverinfo="skip")
        )
        fig.add_trace(
            go.Scatter(
                x=months,
                y=c["lower"],
                line=dict(width=0, shape="hv"),
                fill="tonexty",
                fillcolor=_alpha(color, 0.15),
                showlegend=False,
                hoverinfo="skip",
            )
        )
        fig.add_trace(go.Scatter(x=months, y=c["survival"], name=label, line=dict(color=color, width=2.5, shape="hv")))
    if design is not None:
        fig.add_trace(
            go.Scatter(
                x=design["time"] / days_per_month,
                y=design["survival"],
                name=design_label or _("design assumption"),
                line=dict(color=DESIGN, dash="dash"),
            )
        )
    fig.update_yaxes(range=[0, 1.02], title=_("survival probability"), tickformat=".0%")
    fig.update_xaxes(title=_("months from randomization"), rangemode="tozero")
    return _layout(fig, title, 420)


def flag_rule(row: dict) -> str | None:
    """Which rule flagged a signal row (views.safety.signals): "threshold", "any event", both
    joined by " and ", or None when it is not flagged."""
    if not row.get("flagged"):
        return None
    if row.get("flag_rule"):
        return row["flag_rule"]
    th, obs = row.get("threshold"), row.get("observed")
    above = th is not None and obs is not None and obs > th
    return "threshold" if above else ANY_EVENT


def _threshold_segments(fig: go.Figure, thresholds: list, row=None, col=None) -> int:
    """A short vertical line at each row's threshold (rows are the categories of the y axis, in
    order); returns how many were drawn. A legend entry names them."""
    drawn = 0
    for i, th in enumerate(thresholds):
        if th is None or (isinstance(th, float) and math.isnan(th)):
            continue
        kw = {} if row is None else dict(row=row, col=col)
        fig.add_shape(
            type="line",
            x0=th,
            x1=th,
            y0=i - 0.38,
            y1=i + 0.38,
            line=dict(color=THRESHOLD, width=3),
            name="threshold",  # i18n: verbatim (a shape's name, not shown)
            **kw,
        )
        drawn += 1
    if drawn:
        trace = go.Scatter(
            x=[None],
            y=[None],
            mode="lines",
            line=dict(color=THRESHOLD, width=3),
            name=_("threshold (assumed)"),
            showlegend=True,
        )
        fig.add_trace(trace, **({} if row is None else dict(row=row, col=col)))
    return drawn


def signals(rows: list[dict]) -> go.Figure:
    """Observed rate with its 95% CI against each signal's threshold, one row per signal.

    The threshold is drawn on the signal's own row (a vertical bar). The marker says which rule
    flagged it: red circle above the threshold; a red diamond labelled "flagged: any event" for a
    signal that any event flags (trial.toml flag_any), whatever the threshold; green within."""
    fig = go.Figure()
    labels = [r["label"] for r in rows]
    groups = [
        (_("within threshold"), lambda r: not r.get("flagged"), dict(color=OK, symbol="circle")),
        (
            _("flagged: above threshold"),
            lambda r: (flag_rule(r) or "").startswith("threshold"),
            dict(color=FLAG, symbol="circle"),
        ),
        (
            _("flagged: any event (whatever the rate)"),
            lambda r: flag_rule(r) == ANY_EVENT,
            dict(color=FLAG, symbol="diamond-open", line=dict(width=2.5)),
        ),
    ]
    for name, member, marker in groups:
        chosen = [r for r in rows if member(r) and r.get("observed") is not None]
        if not chosen:
            continue
        obs = [r["observed"] for r in chosen]
        fig.add_trace(
            go.Scatter(
                x=obs,
                y=[r["label"] for r in chosen],
                mode="markers",
                marker=dict(size=12, **marker),
                error_x=dict(
                    type="data",
                    array=[(r["upper"] or o) - o for r, o in zip(chosen, obs, strict=True)],
                    arrayminus=[o - (r["lower"] or 0) for r, o in zip(chosen, obs, strict=True)],
                    color="#555",
                ),
                name=name,
            )
        )
    # the categories in the rows' order, as escaped as the trace's y values will be (_layout)
    fig.update_yaxes(categoryorder="array", categoryarray=escape.plotly_values(labels), autorange="reversed")
    _threshold_segments(fig, [r.get("threshold") for r in rows])
    for i, r in enumerate(rows):
        # the rule that flagged it, written on its row beside the interval and the threshold
        rule = flag_rule(r)
        if rule is None or r.get("observed") is None:
            continue
        th = r.get("threshold")
        if rule == ANY_EVENT:
            if th is None:
                text = _("flagged: any event (no threshold)")
            else:
                text = _("flagged: any event, not the {threshold} threshold").format(threshold=as_percent(th, 1))
        elif ANY_EVENT in rule:
            text = _("flagged: above the threshold and any event")
        else:
            text = _("flagged: above the threshold")
        fig.add_annotation(
            x=max(r.get("upper") or 0, th or 0),
            y=i,
            xref="x",
            yref="y",
            text=text,
            showarrow=False,
            xanchor="left",
            xshift=10,
            font=dict(size=12, color=FLAG),
        )
    upper = max([r.get("upper") or 0 for r in rows] + [r.get("threshold") or 0 for r in rows] + [0.05])
    # room on the right for the flag's words
    fig.update_xaxes(tickformat=".0%", range=[0, upper * 1.45], title=_("subjects with the event (95% exact CI)"))
    return _layout(fig, None, 150 + 56 * len(rows))


def soc_by_grade(table: pd.DataFrame, top: int = 15) -> go.Figure:
    """Subjects per system organ class by their worst grade in it (views.safety.soc_by_grade), as
    stacked bars in an ordered colour scale, Grade 1 (light) to Grade 5 (dark)."""
    shown = table.head(top)
    fig = go.Figure(
        [
            go.Bar(
                y=shown["soc"].tolist(),
                x=shown[g].tolist(),
                name=_("Grade {g}").format(g=g),
                orientation="h",
                marker=dict(color=GRADE_COLORS[g], line=dict(color="#666", width=0.5)),
                # the whole class name on hover (its tick label may be cut); escaped by _layout
                hovertext=shown["soc"].tolist(),
                # plotly's %{...} fields stay as they are, outside the message
                hovertemplate="%{hovertext}<br>" + _("Grade {g}: {n}").format(g=g, n="%{x}") + "<extra></extra>",
            )
            for g in (1, 2, 3, 4, 5)
        ]
    )
    fig.update_layout(barmode="stack", legend_traceorder="normal")
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=_("subjects (by their worst grade in the class)"), rangemode="tozero")
    # class names come from the data: wrapped and bounded, so a long one cannot squeeze the bars away
    return wrapped_ticks(_layout(fig, None, 120 + 34 * len(shown)), "y", shown["soc"].tolist(), 40, MAX_TICK_LINES)


def _log_ticks(values: list[float], margin: float) -> tuple[float, float, list[float]]:
    """A log axis from 0.25 to 4, widened by powers of two only when an interval needs it."""
    finite = [v for v in values + [margin] if v is not None and np.isfinite(v) and v > 0]
    lo = 2.0 ** math.floor(math.log2(min([0.25] + finite)))
    hi = 2.0 ** math.ceil(math.log2(max([4.0] + finite)))
    ticks = [2.0**k for k in range(int(math.log2(lo)), int(math.log2(hi)) + 1)]
    while len(ticks) > 9:
        ticks = ticks[::2] if 1.0 in ticks[::2] else ticks[1::2]
    return lo, hi, ticks


def _tick_text(v: float) -> str:
    return f"{v:g}" if v >= 0.01 else f"{v:.3g}"


def forest(
    rows: list[dict],
    margin: float,
    title: str,
    log: bool = False,
    favours: tuple[str, str] = ("", ""),
    percent: bool = False,
    empty_text: str | None = None,
) -> go.Figure:
    """Estimates with their 95% CIs as horizontal intervals, with the non-inferiority margin line.

    `log`: a ratio on a log axis from 0.25 to 4 (ticks 0.25 0.5 1 2 4), widened only when an
    interval needs it. When no row has an estimate the chart says so (`empty_text`, or "not
    estimable yet") instead of drawing empty axes."""
    fig = go.Figure()
    labels = [r["label"] for r in rows]
    est = [r["estimate"] if r["estimate"] is not None else np.nan for r in rows]
    if all(np.isnan(e) for e in est):
        fig.add_annotation(
            text=empty_text or _("Not estimable yet"),
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            showarrow=False,
            font=dict(size=14, color="#555"),
        )
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return _layout(fig, title, 150 + 40 * len(rows))
    lo = [e - r["lower"] if r.get("lower") is not None else 0 for e, r in zip(est, rows, strict=True)]
    hi = [r["upper"] - e if r.get("upper") is not None else 0 for e, r in zip(est, rows, strict=True)]
    fig.add_trace(
        go.Scatter(
            x=est,
            y=labels,
            mode="markers",
            marker=dict(size=12, color=POOLED, symbol="square"),
            error_x=dict(type="data", array=hi, arrayminus=lo, thickness=2, color=POOLED),
            name=_("estimate (95% CI)"),
        )
    )
    fig.add_vline(x=margin, line=dict(color=FLAG, dash="dash"))
    # an annotation on a log axis is placed in log10 units (a shape in data units)
    fig.add_annotation(
        x=math.log10(margin) if log else margin,
        xref="x",
        y=1,
        yref="y domain",
        yanchor="top",
        xanchor="left",
        xshift=4,
        showarrow=False,
        text=_("margin {value}").format(value=as_percent(margin, 0) if percent else number(margin)),
        font=dict(color=FLAG),
    )
    fig.add_vline(x=1.0 if log else 0.0, line=dict(color="#777", width=1))
    if log:
        bounds = [r.get(k) for r in rows for k in ("lower", "upper", "estimate")]
        low, high, ticks = _log_ticks(bounds, margin)
        fig.update_xaxes(
            type="log",
            range=[math.log10(low) - 0.05, math.log10(high) + 0.05],
            tickvals=ticks,
            ticktext=[_tick_text(v) for v in ticks],
            minor=dict(showgrid=False, ticks=""),
        )
    if percent:
        fig.update_xaxes(tickformat=".0%")
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=" ← ".join(favours) if any(favours) else None)
    return _layout(fig, title, 150 + 40 * len(rows))


Z_AXIS_CAP = 8.0
"""The interim plot's z axis stops here: an early O'Brien-Fleming boundary (z 20 at 1% of the
information) is written beside its marker at the top instead of stretching the axis."""


def boundaries(planned: list[dict], actual: list[dict] | None, z: float | None, t: float | None) -> go.Figure:
    """The non-inferiority boundaries on the z scale against information, and the observed z.

    The planned boundary is the design's dashed line. The boundaries recomputed at the looks
    actually held (from the alpha they spent) are markers, not a line: a bar at the looks held
    (this one included), open circles at the looks still to come. The observed z is a diamond at this
    look: only this look's z is known (a look's z is not on the record). Non-inferiority is met
    at a look when its z reaches that look's boundary."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[b["fraction"] for b in planned],
            y=[b["z_boundary"] for b in planned],
            mode="lines+markers",
            name=_("boundary, planned looks (design)"),
            line=dict(color=PLANNED, dash="dash"),
            marker=dict(size=7),
        )
    )
    values = [b["z_boundary"] for b in planned]
    if actual:
        for held, name, symbol, size in (
            (True, _("boundary at this look (alpha spent so far)"), "line-ew", 26),
            (False, _("boundary at the looks to come"), "circle-open", 12),
        ):
            pts = [b for b in actual if bool(b.get("held", True)) is held and np.isfinite(b["z_boundary"])]
            if not pts:
                continue
            shown = [min(b["z_boundary"], Z_AXIS_CAP) for b in pts]
            values += shown
            fig.add_trace(
                go.Scatter(
                    x=[b["fraction"] for b in pts],
                    y=shown,
                    mode="markers+text" if held else "markers",
                    text=[_("boundary {z}").format(z=number(b["z_boundary"], 2)) for b in pts] if held else None,
                    textposition="middle right",
                    marker=dict(size=size, color=DESIGN, symbol=symbol, line=dict(width=3, color=DESIGN)),
                    name=name,
                )
            )
    if z is not None and t is not None:
        values.append(z)
        fig.add_trace(
            go.Scatter(
                x=[t],
                y=[z],
                mode="markers+text",
                text=[_("observed z = {z}").format(z=number(z, 2))],
                textposition="bottom center",
                marker=dict(size=14, color=POOLED, symbol="diamond"),
                name=_("observed z at this look"),
            )
        )
    fig.add_hline(y=0, line=dict(color="#bbb", width=1))
    finite = [v for v in values if v is not None and np.isfinite(v)]
    top = min(max(finite + [3.0]) + 0.7, Z_AXIS_CAP + 0.7)
    bottom = min(finite + [0.0]) - 0.7
    right = max([1.05] + ([t + 0.05] if t is not None else []))
    fig.update_xaxes(
        title=_("information fraction (deaths / deaths expected at the final analysis)"),
        range=[0, right],
        tickformat=".0%",
    )
    fig.update_yaxes(title=_("z-statistic for non-inferiority"), range=[bottom, top], zeroline=False)
    return _layout(fig, None, 440)


def dot_chart(frame: pd.DataFrame, label_a: str, label_b: str) -> go.Figure:
    """Harrell's DSMB adverse-event chart: proportions by arm (left) and the risk difference with
    its 95% CI (right), one row per category. Each arm in its trial.toml colour; a frame with a
    `threshold` column gets each row's threshold drawn in the left panel."""
    from plotly.subplots import make_subplots

    frame = frame.sort_values("difference", na_position="last").reset_index(drop=True)
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.5, 0.5],
        horizontal_spacing=0.03,
        subplot_titles=(_("proportion of subjects"), _("difference (95% CI)")),
    )
    y = frame["label"].tolist()
    fig.add_trace(
        go.Scatter(
            x=frame["p_exp"],
            y=y,
            mode="markers",
            name=label_a,
            marker=dict(color=_arm_color(label_a) or "#333333", size=10),
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(
            x=frame["p_ref"],
            y=y,
            mode="markers",
            name=label_b,
            marker=dict(color=_arm_color(label_b) or "#777777", size=10, symbol="circle-open", line=dict(width=2.5)),
        ),
        1,
        1,
    )
    if "threshold" in frame:
        _threshold_segments(fig, frame["threshold"].tolist(), row=1, col=1)
    fig.add_trace(
        go.Scatter(
            x=frame["difference"],
            y=y,
            mode="markers",
            showlegend=False,
            marker=dict(color="#333", size=8),
            error_x=dict(
                type="data",
                array=frame["upper"] - frame["difference"],
                arrayminus=frame["difference"] - frame["lower"],
                color="#555",
            ),
        ),
        1,
        2,
    )
    fig.add_vline(x=0, line=dict(color="#777", width=1), row=1, col=2)
    fig.update_yaxes(categoryorder="array", categoryarray=escape.plotly_values(y))  # as _layout escapes y
    fig.update_xaxes(tickformat=".0%", row=1, col=1, rangemode="tozero")
    # the panel's title stays short (it is cut at the panel's width); the arms' order is below it
    fig.update_xaxes(
        tickformat=".0%",
        row=1,
        col=2,
        title=dict(text=_("{a} minus {b}").format(a=label_a, b=label_b), font=dict(size=12)),
    )
    fig = _layout(fig, None, 160 + 30 * len(frame))
    fig.update_layout(margin=dict(t=36))  # room for the two panels' titles
    return fig
