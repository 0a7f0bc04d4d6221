"""Plotly figures: data frames in, figures out, no Streamlit. plotly.graph_objects only (px is
two orders of magnitude slower to build), and data aggregated before it is drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from dashboard.outputs import escape

FONT = "Noto Sans CJK SC, Noto Sans, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"
POOLED = "#1f5f8b"
PLANNED = "#9a9a9a"
DESIGN = "#d08c1b"
FLAG = "#c0392b"
OK = "#2e7d32"

# The house template, set once as plotly's default: naming it in every update_layout validated
# and copied the whole template each time (11 ms a figure, 9% of the server's CPU under load);
# the default is applied when the figure is serialized, in about 1 ms.
pio.templates.default = "plotly_white"


def _layout(fig: go.Figure, title: str | None = None, height: int = 380) -> go.Figure:
    """The house layout, and every label escaped (`escaped`): each figure passes here once, last."""
    fig.update_layout(
        title=title,
        height=height,
        margin=dict(l=48, r=16, t=48 if title else 16, b=40),
        font=dict(family=FONT, size=13),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
    )
    return escaped(fig)


_TRACE_TEXT = ("name", "text", "hovertext", "x", "y", "labels", "ids")


def _escaped_values(values):
    """A trace's strings or array escaped for plotly; numbers, dates and typed arrays unchanged."""
    if values is None:
        return None
    if isinstance(values, str):
        return escape.plotly(values)
    if isinstance(values, np.ndarray) and values.dtype.kind not in "OUS":
        return values
    try:
        seq = list(values)
    except TypeError:
        return values
    if not any(isinstance(v, str) for v in seq):
        return values
    return escape.plotly_values(seq)


def escaped(fig: go.Figure) -> go.Figure:
    """Every piece of text plotly renders with its HTML subset, escaped once (escape.plotly): trace
    names, text and hover text, category values (tick labels), legend group titles, the title, axis
    titles and tick texts, annotations. Markup in the data is then shown as typed: an `<a href>`
    in an adverse-event term is no link, a `<b>` in a site name no bold."""
    for trace in fig.data:
        for attr in _TRACE_TEXT:
            if attr in trace and trace[attr] is not None:
                new = _escaped_values(trace[attr])
                if new is not trace[attr]:
                    trace[attr] = new
        if "legendgrouptitle" in trace and trace.legendgrouptitle.text:
            trace.legendgrouptitle.text = escape.plotly(trace.legendgrouptitle.text)
    layout = fig.layout
    if layout.title.text:
        layout.title.text = escape.plotly(layout.title.text)
    if layout.legend.title.text:
        layout.legend.title.text = escape.plotly(layout.legend.title.text)
    for name in list(layout):
        if name.startswith(("xaxis", "yaxis")):
            axis = layout[name]
            if axis.title.text:
                axis.title.text = escape.plotly(axis.title.text)
            if axis.ticktext is not None:
                axis.ticktext = escape.plotly_values(list(axis.ticktext))
    for note in layout.annotations:
        if note.text:
            note.text = escape.plotly(note.text)
    return fig


def accrual(
    cumulative: pd.DataFrame, planned: pd.DataFrame | None, target: int | None, projection: dict | None = None
) -> go.Figure:
    """Cumulative randomized against the planned line and the target, with the projection."""
    fig = go.Figure()
    if planned is not None and len(planned):
        fig.add_trace(
            go.Scatter(x=planned["date"], y=planned["planned"], name="planned", line=dict(color=PLANNED, dash="dash"))
        )
    fig.add_trace(
        go.Scatter(
            x=cumulative["date"],
            y=cumulative["randomized"],
            name="randomized",
            line=dict(color=POOLED, width=3, shape="hv"),
        )
    )
    if target:
        fig.add_hline(y=target, line=dict(color="#555", dash="dot"), annotation_text=f"target {target}")
    if projection and cumulative is not None and len(cumulative):
        last = cumulative.iloc[-1]
        fig.add_trace(
            go.Scatter(
                x=[last["date"], projection["completion_date"]],
                y=[last["randomized"], target],
                name="projected",
                line=dict(color=DESIGN, dash="dot"),
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[projection["lower"], projection["upper"]],
                y=[target, target],
                mode="lines+markers",
                name=f"{int(projection['level'] * 100)}% prediction interval",
                line=dict(color=DESIGN, width=6),
                opacity=0.5,
            )
        )
    fig.update_yaxes(title="patients", rangemode="tozero")
    return _layout(fig)


def bars(
    labels, values, title: str | None = None, horizontal: bool = True, color: str = POOLED, height: int | None = None
) -> go.Figure:
    labels, values = list(labels), list(values)
    if horizontal:
        trace = go.Bar(y=labels, x=values, orientation="h", marker_color=color, text=values, textposition="auto")
    else:
        trace = go.Bar(x=labels, y=values, marker_color=color, text=values, textposition="auto")
    fig = go.Figure(trace)
    if horizontal:
        fig.update_yaxes(autorange="reversed", type="category")
    return _layout(fig, title, height or max(220, 28 * len(labels) + 80))


def grouped_bars(
    frame: pd.DataFrame, category: str, series: list[str], names: list[str], title: str | None = None
) -> go.Figure:
    fig = go.Figure(
        [go.Bar(x=frame[category].astype(str), y=frame[s], name=n) for s, n in zip(series, names, strict=True)]
    )
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    return _layout(fig, title)


def lines(
    frame: pd.DataFrame, x: str, series: list[str], names: list[str], title: str | None = None, shape: str = "hv"
) -> go.Figure:
    fig = go.Figure(
        [go.Scatter(x=frame[x], y=frame[s], name=n, line=dict(shape=shape)) for s, n in zip(series, names, strict=True)]
    )
    return _layout(fig, title)


def kaplan_meier(
    curves: dict[str, pd.DataFrame],
    days_per_month: float,
    design: pd.DataFrame | None = None,
    design_label: str = "design assumption",
    title: str | None = None,
    colors: dict[str, str] | None = None,
) -> go.Figure:
    """Step curves with their confidence bands, time in months; the design curve dashed."""
    fig = go.Figure()
    palette = colors or {}
    for i, (label, c) in enumerate(curves.items()):
        color = palette.get(label, [POOLED, "#8e44ad", "#16a085"][i % 3])
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
                name=design_label,
                line=dict(color=DESIGN, dash="dash"),
            )
        )
    fig.update_yaxes(range=[0, 1.02], title="survival probability", tickformat=".0%")
    fig.update_xaxes(title="months from randomization", rangemode="tozero")
    return _layout(fig, title, 420)


def _alpha(hex_color: str, a: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{a})"


def signals(rows: list[dict]) -> go.Figure:
    """Observed rate with its 95% CI against the threshold, one row per signal."""
    fig = go.Figure()
    labels = [r["label"] for r in rows]
    obs = [r["observed"] if r["observed"] is not None else np.nan for r in rows]
    lo = [o - (r["lower"] or 0) if r["observed"] is not None else 0 for o, r in zip(obs, rows, strict=True)]
    hi = [(r["upper"] or 0) - o if r["observed"] is not None else 0 for o, r in zip(obs, rows, strict=True)]
    colors = [FLAG if r["flagged"] else OK for r in rows]
    fig.add_trace(
        go.Scatter(
            x=obs,
            y=labels,
            mode="markers",
            marker=dict(size=11, color=colors),
            error_x=dict(type="data", array=hi, arrayminus=lo, color="#555"),
            name="observed (95% CI)",
        )
    )
    th = [r["threshold"] if r["threshold"] is not None else np.nan for r in rows]
    fig.add_trace(
        go.Scatter(
            x=th,
            y=labels,
            mode="markers",
            marker=dict(symbol="line-ns-open", size=22, color=DESIGN, line=dict(width=3)),
            name="threshold",
        )
    )
    fig.update_xaxes(tickformat=".0%", rangemode="tozero", title="subjects with the event")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, None, 90 + 52 * len(rows))


def funnel(
    frame: pd.DataFrame, p0: float, limits: pd.DataFrame | None, title: str | None = None, label: str = "siteid"
) -> go.Figure:
    """Sites' rates against their denominators, with exact binomial control limits around p0."""
    fig = go.Figure()
    if limits is not None and len(limits):
        for col, dash in (("95", "dash"), ("998", "dot")):
            for side in ("lower", "upper"):
                name = f"{side}_{col}"
                if name in limits:
                    fig.add_trace(
                        go.Scatter(
                            x=limits["n"],
                            y=limits[name],
                            mode="lines",
                            showlegend=side == "upper",
                            name=f"{'95' if col == '95' else '99.8'}% limits",
                            line=dict(color=PLANNED, dash=dash, width=1),
                        )
                    )
    if not np.isnan(p0):
        fig.add_hline(y=p0, line=dict(color=POOLED, width=1), annotation_text=f"pooled {p0:.1%}")
    shown = frame[frame["rate"].notna()] if "rate" in frame else frame.iloc[0:0]
    colors = [FLAG if f in ("above", "below") else POOLED for f in shown.get("flag", ["within"] * len(shown))]
    fig.add_trace(
        go.Scatter(
            x=shown["n"],
            y=shown["rate"],
            mode="markers+text",
            text=shown[label].astype(str),
            textposition="top center",
            marker=dict(size=10, color=colors),
            name="sites",
        )
    )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(title="subjects", rangemode="tozero")
    return _layout(fig, title)


def consort_dot(flow: dict, never_operated_after_days: int) -> str:
    """The CONSORT-style flow as a Graphviz DOT graph; a subject randomized more than
    `never_operated_after_days` ago without surgery counts as not operated (trial.toml schedule)."""
    f = flow
    not_operated = f"Not operated (> {never_operated_after_days} days)"
    off_study = f"Died {f['died']} · Withdrew {f['withdrew']}\\nLost {f['lost']} · Off study {f['off_study']}"
    return f"""digraph {{
  rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#eef4f8", fontname="sans-serif"];
  s [label="Screened\\n{f["screened"]}"];
  sf [label="Screen failures {f["screen_failures"]}\\nPending {f["screening_pending"]}", fillcolor="#f6f6f6"];
  r [label="Randomized\\n{f["randomized"]}"];
  o [label="Operated\\n{f["operated"]}"];
  w [label="Awaiting surgery {f["awaiting_surgery"]}\\n{not_operated} {f["not_operated"]}", fillcolor="#f6f6f6"];
  fu [label="In follow-up\\n{f["in_follow_up"]}"];
  off [label="{off_study}", fillcolor="#f6f6f6"];
  s -> r; s -> sf; r -> o; r -> w; o -> fu; o -> off;
}}"""


ARM_COLORS = ["#c0392b", "#1f5f8b", "#16a085", "#8e44ad"]


def forest(
    rows: list[dict],
    margin: float,
    title: str,
    log: bool = False,
    favours: tuple[str, str] = ("", ""),
    percent: bool = False,
) -> go.Figure:
    """Estimates with their 95% CIs as horizontal intervals, with the non-inferiority margin line."""
    fig = go.Figure()
    labels = [r["label"] for r in rows]
    est = [r["estimate"] if r["estimate"] is not None else np.nan for r in rows]
    lo = [e - r["lower"] if r.get("lower") is not None else 0 for e, r in zip(est, rows, strict=True)]
    hi = [r["upper"] - e if r.get("upper") is not None else 0 for e, r in zip(est, rows, strict=True)]
    fig.add_trace(
        go.Scatter(
            x=est,
            y=labels,
            mode="markers",
            marker=dict(size=12, color=POOLED, symbol="square"),
            error_x=dict(type="data", array=hi, arrayminus=lo, thickness=2, color=POOLED),
            name="estimate (95% CI)",
        )
    )
    fig.add_vline(
        x=margin,
        line=dict(color=FLAG, dash="dash"),
        annotation_text=f"margin {margin:.0%}" if percent else f"margin {margin:g}",
        annotation_position="top",
    )
    fig.add_vline(x=1.0 if log else 0.0, line=dict(color="#777", width=1))
    if log:
        fig.update_xaxes(type="log")
    if percent:
        fig.update_xaxes(tickformat=".0%")
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=" ← ".join(favours) if any(favours) else None)
    return _layout(fig, title, 150 + 40 * len(rows))


def boundaries(planned: list[dict], actual: list[dict] | None, z: float | None, t: float | None) -> go.Figure:
    """Efficacy (non-inferiority) boundaries on the Z scale against information, with the current Z."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[b["fraction"] for b in planned],
            y=[b["z_boundary"] for b in planned],
            mode="lines+markers",
            name="boundary at the planned fractions",
            line=dict(color=PLANNED, dash="dash"),
        )
    )
    if actual:
        fig.add_trace(
            go.Scatter(
                x=[b["fraction"] for b in actual],
                y=[b["z_boundary"] for b in actual],
                mode="lines+markers",
                name="boundary at the actual fraction",
                line=dict(color=DESIGN),
            )
        )
    if z is not None and t is not None:
        fig.add_trace(
            go.Scatter(
                x=[t],
                y=[z],
                mode="markers+text",
                text=[f"Z = {z:.2f}"],
                textposition="top center",
                marker=dict(size=14, color=POOLED, symbol="diamond"),
                name="current Z",
            )
        )
    fig.update_xaxes(title="information fraction (deaths / deaths expected at the final analysis)", range=[0, 1.05])
    fig.update_yaxes(title="Z (non-inferiority)")
    return _layout(fig, None, 420)


def dot_chart(frame: pd.DataFrame, label_a: str, label_b: str) -> go.Figure:
    """Harrell's DSMB adverse-event chart: proportions by arm (left) and the risk difference with
    its 95% CI (right), one row per category."""
    from plotly.subplots import make_subplots

    frame = frame.sort_values("difference", na_position="last")
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.5, 0.5],
        horizontal_spacing=0.03,
        subplot_titles=("proportion of subjects", f"{label_a} minus {label_b} (95% CI)"),
    )
    y = frame["label"].tolist()
    fig.add_trace(
        go.Scatter(x=frame["p_exp"], y=y, mode="markers", name=label_a, marker=dict(color=ARM_COLORS[0], size=9)), 1, 1
    )
    fig.add_trace(
        go.Scatter(
            x=frame["p_ref"],
            y=y,
            mode="markers",
            name=label_b,
            marker=dict(color=ARM_COLORS[1], size=9, symbol="circle-open"),
        ),
        1,
        1,
    )
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
    fig.update_xaxes(tickformat=".0%", row=1, col=1, rangemode="tozero")
    fig.update_xaxes(tickformat=".0%", row=1, col=2)
    return _layout(fig, None, 120 + 26 * len(frame))
