"""Figures of accrual, screening flow, deviations and per-site rates (funnel plots). No Streamlit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.outputs.figures.common import DESIGN, FLAG, PLANNED, POOLED, _layout


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
