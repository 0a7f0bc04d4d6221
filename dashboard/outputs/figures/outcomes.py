"""Figures of outcomes: Kaplan-Meier curves, safety signals, forest plots, group-sequential
boundaries, arm comparisons. No Streamlit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.outputs.figures.common import DESIGN, FLAG, OK, PLANNED, POOLED, _alpha, _layout


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
