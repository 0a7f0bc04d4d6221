"""Figures of accrual, screening flow, deviations and per-site rates (funnel plots). No Streamlit.

House rules here: counts on whole-number axes from 0 (common.count_axis), bar counts written
horizontally, category labels wrapped at word boundaries (common.wrapped_ticks), arms only ever in
their trial.toml colours (passed in by the page) and nothing else in them (common.CATEGORIES)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.i18n import _, number, percent
from dashboard.outputs.figures.common import (
    CATEGORIES,
    DESIGN,
    FLAG,
    OK,
    PLANNED,
    POOLED,
    _layout,
    count_axis,
    is_counts,
    wrap,
    wrapped_ticks,
)


def accrual(
    cumulative: pd.DataFrame, planned: pd.DataFrame | None, target: int | None, projection: dict | None = None
) -> go.Figure:
    """Cumulative randomized against the planned line and the target, with the projection."""
    fig = go.Figure()
    if planned is not None and len(planned):
        fig.add_trace(
            go.Scatter(
                x=planned["date"],
                y=planned["planned"],
                name=_("planned"),
                line=dict(color=PLANNED, dash="dash"),
            )
        )
    fig.add_trace(
        go.Scatter(
            x=cumulative["date"],
            y=cumulative["randomized"],
            name=_("randomized"),
            line=dict(color=POOLED, width=3, shape="hv"),
        )
    )
    top = [float(target or 0)]
    if len(cumulative):
        top.append(float(cumulative["randomized"].max()))
    if target:
        fig.add_hline(
            y=target,
            line=dict(color="#555", dash="dot"),
            annotation_text=_("target {n}").format(n=number(target)),
            annotation_position="bottom right",
        )
    if projection and cumulative is not None and len(cumulative):
        last = cumulative.iloc[-1]
        fig.add_trace(
            go.Scatter(
                x=[last["date"], projection["completion_date"]],
                y=[last["randomized"], target],
                name=_("projected"),
                line=dict(color=DESIGN, dash="dot"),
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[projection["lower"], projection["upper"]],
                y=[target, target],
                mode="lines+markers",
                name=_("{level} prediction interval").format(level=percent(projection["level"], 0)),
                line=dict(color=DESIGN, width=6),
                opacity=0.5,
            )
        )
    count_axis(fig, "y", top, title=_("patients"))
    fig.update_xaxes(nticks=6)
    return _layout(fig)


def bars(
    labels,
    values,
    title: str | None = None,
    horizontal: bool = True,
    color: str = POOLED,
    height: int | None = None,
    wrap_width: int = 28,
) -> go.Figure:
    """Counts as bars, each with its count written beside it, horizontally; horizontal bars' labels
    wrapped at word boundaries (`wrap_width` characters a line), never cut."""
    labels, values = [str(v) for v in labels], list(values)
    text = [f"{v:g}" if isinstance(v, float) else str(v) for v in values]
    common = dict(marker_color=color, text=text, textposition="outside", textangle=0, cliponaxis=False)
    if horizontal:
        trace = go.Bar(y=labels, x=values, orientation="h", **common)
    else:
        trace = go.Bar(x=labels, y=values, **common)
    fig = go.Figure(trace)
    if horizontal:
        fig.update_yaxes(autorange="reversed", type="category")
        lines = [len(wrap(v, wrap_width)) for v in labels]
        auto_height = max(200, sum(max(28, 18 * n + 14) for n in lines) + 70 + (40 if title else 0))
        if is_counts(values):
            count_axis(fig, "x", [v * 1.15 for v in values])  # room for the count beside the longest bar
    else:
        fig.update_xaxes(type="category")
        auto_height = 320
        if is_counts(values):
            count_axis(fig, "y", [v * 1.15 for v in values])
    fig.update_layout(showlegend=False)
    fig = _layout(fig, title, height or auto_height)
    if horizontal:
        wrapped_ticks(fig, "y", labels, wrap_width)
    return fig


def grouped_bars(
    frame: pd.DataFrame,
    category: str,
    series: list[str],
    names: list[str],
    title: str | None = None,
    colors: list[str] | None = None,
    y_title: str | None = None,
) -> go.Figure:
    """Series side by side per category. `colors`: one per series (the arms' trial.toml colours
    when the series are arms); otherwise the non-arm palette."""
    colors = colors or CATEGORIES
    fig = go.Figure(
        [
            go.Bar(
                x=frame[category].astype(str),
                y=frame[s],
                name=n,
                marker_color=colors[i % len(colors)],
            )
            for i, (s, n) in enumerate(zip(series, names, strict=True))
        ]
    )
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    values = [v for s in series for v in frame[s].tolist()]
    if is_counts(values):
        count_axis(fig, "y", values, title=y_title)
    elif y_title:
        fig.update_yaxes(title=y_title, rangemode="tozero")
    fig = _layout(fig, title)
    if frame[category].astype(str).str.len().max() > 6 if len(frame) else False:
        wrapped_ticks(fig, "x", frame[category].astype(str).tolist(), 14)
    return fig


def lines(
    frame: pd.DataFrame,
    x: str,
    series: list[str],
    names: list[str],
    title: str | None = None,
    shape: str = "hv",
    colors: list[str] | None = None,
    y_title: str | None = None,
) -> go.Figure:
    """Series over `x`. `colors`: one per series (the arms' colours when the series are arms)."""
    colors = colors or CATEGORIES
    fig = go.Figure(
        [
            go.Scatter(x=frame[x], y=frame[s], name=n, line=dict(shape=shape, color=colors[i % len(colors)], width=2.5))
            for i, (s, n) in enumerate(zip(series, names, strict=True))
        ]
    )
    values = [v for s in series for v in frame[s].tolist()]
    if is_counts(values):
        count_axis(fig, "y", values, title=y_title)
    elif y_title:
        fig.update_yaxes(title=y_title)
    fig.update_xaxes(nticks=6)
    return _layout(fig, title)


def funnel_range(frame: pd.DataFrame, p0: float, limits: pd.DataFrame | None) -> tuple[float, float]:
    """The rate axis of a funnel plot, fitted to the sites' rates, the pooled rate and the 95%
    limits over the sites' denominators (not the limits at n = 1, which reach 100%): from 0 to a
    little above the highest of these, and never above 100%."""
    rates = frame["rate"].dropna() if "rate" in frame else pd.Series(dtype=float)
    top = [float(rates.max()) if len(rates) else 0.0]
    if p0 == p0:
        top.append(float(p0))
    ns = frame.loc[frame["rate"].notna(), "n"].dropna() if "rate" in frame and "n" in frame else pd.Series(dtype=float)
    if limits is not None and len(limits) and len(ns) and "upper_95" in limits:
        within = limits[(limits["n"] >= ns.min()) & (limits["n"] <= ns.max())]
        if len(within):
            top.append(float(within["upper_95"].max()))
    high = max(top) if top else 0.0
    return 0.0, min(1.0, max(0.05, high * 1.12))


def _funnel_hover(flag: str) -> str:
    """A funnel point's hover text, by its flag ("above", "below" or within the limits)."""
    if flag == "above":
        return _("{site}: {rate} of {n} (above the limits)")
    if flag == "below":
        return _("{site}: {rate} of {n} (below the limits)")
    return _("{site}: {rate} of {n}")


def funnel(
    frame: pd.DataFrame, p0: float, limits: pd.DataFrame | None, title: str | None = None, label: str = "siteid"
) -> go.Figure:
    """Sites' rates against their denominators, with exact binomial control limits around p0.

    The rate axis is fitted to the data and the limits (`funnel_range`); only flagged sites (above
    or below the limits) are labelled on the plot, every site is named in its hover text, so labels
    of sites close together never overlap."""
    fig = go.Figure()
    shown = frame[frame["rate"].notna()] if "rate" in frame else frame.iloc[0:0]
    n_top = float(shown["n"].max()) if len(shown) else 1.0
    if limits is not None and len(limits):
        limits = limits[limits["n"] <= max(n_top * 1.08, 2)]
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
                            name=_("{level} limits").format(
                                level=percent(0.95, 0) if col == "95" else percent(0.998, 1)
                            ),
                            line=dict(color=PLANNED, dash=dash, width=1),
                            hoverinfo="skip",
                        )
                    )
    if not np.isnan(p0):
        fig.add_hline(
            y=p0,
            line=dict(color=POOLED, width=1),
            annotation_text=_("pooled {rate}").format(rate=percent(p0, 1)),
            annotation_position="top left",
        )
    flags = list(shown["flag"]) if "flag" in shown else ["within"] * len(shown)
    flagged = [f in ("above", "below") for f in flags]
    names = shown[label].astype(str).tolist() if label in shown else [""] * len(shown)
    hover = [
        _funnel_hover(f if fl else "within").format(site=name, rate=percent(r, 1), n=number(int(n)))
        for name, r, n, f, fl in zip(names, shown["rate"], shown["n"], flags, flagged, strict=True)
    ]
    fig.add_trace(
        go.Scatter(
            x=shown["n"],
            y=shown["rate"],
            mode="markers+text",
            text=[name if fl else "" for name, fl in zip(names, flagged, strict=True)],
            textposition="top center",
            textfont=dict(color=FLAG),
            hovertext=hover,
            hoverinfo="text",
            marker=dict(size=10, color=[FLAG if fl else OK for fl in flagged]),
            name=_("sites (red: outside the limits)"),
            cliponaxis=False,
        )
    )
    low, high = funnel_range(frame, p0, limits)
    fig.update_yaxes(tickformat=".0%", range=[low, high], nticks=6)
    fig.update_xaxes(title=_("subjects"), rangemode="tozero", nticks=6)
    return _layout(fig, title)


def _dot_text(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


def consort_dot(flow: dict, never_operated_after_days: int | None = None) -> str:
    """The CONSORT flow (`views.enrollment.flow`: boxes and the arrows between them, each box the
    sum of its arrows and its parts) as a Graphviz DOT graph. Main boxes are blue; exclusion boxes
    grey, with their parts (e.g. screen failure, pending) one per line. `never_operated_after_days`
    is unused (the view's labels name the trial.toml schedule); kept for callers."""
    lines = [
        "digraph {",
        '  rankdir=TB; nodesep=0.25; ranksep=0.35; node [shape=box, style="rounded,filled", fillcolor="#eef4f8", '
        'fontname="sans-serif", fontsize=12, margin="0.12,0.06"]; edge [arrowsize=0.6];',
    ]
    for key, box in flow["boxes"].items():
        text = wrap(box["label"], 22) + [f"n = {box['n']}"]
        text += [f"{label}: {n}" for label, n in box.get("parts", [])]
        label = "\\n".join(_dot_text(t) for t in text)
        fill = "" if box.get("main") else ', fillcolor="#f6f6f6"'
        lines.append(f'  {key} [label="{label}"{fill}];')
    for a, b, _n in flow["edges"]:
        lines.append(f"  {a} -> {b};")
    lines.append("}")
    return "\n".join(lines)
