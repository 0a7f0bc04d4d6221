"""Figures of trends across data cuts (issue 16): the trial's accrual, events and information
fraction at each cut, and the sites' safety signals at each cut as small multiples (a panel per
site, a line per signal, the flagged cuts marked). No Streamlit.

The data are views/trends.py's frames, whose every cut obeys that cut's blinding rule; nothing
here computes across cuts. Signals are drawn in the house colours that are not the arms'
(common.CATEGORIES); only the closed session's deaths by arm are drawn in the arms' colours."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.i18n import _, fact, percent
from dashboard.outputs import labels as words
from dashboard.outputs.figures.common import CATEGORIES, FLAG, PLANNED, POOLED, _layout, count_step

OUTSIDE = ("above", "below")
PANEL_HEIGHT = 190
"""Height of one row of site panels (px)."""


def _count_axis(fig: go.Figure, row: int, values) -> None:
    numbers = [float(v) for v in values if v is not None and not pd.isna(v)]
    fig.update_yaxes(
        rangemode="tozero", tickformat="d", tick0=0, dtick=count_step(max(numbers + [1.0])), row=row, col=1
    )


def trial(df: pd.DataFrame, cfg=None, title: str | None = None) -> go.Figure:
    """Accrual (randomized), events (deaths, DFS events) and, for the whole trial, the information
    fraction with the design's interim fractions, one panel each, against each cut's cut-off. In a
    closed session (columns deaths_<arm key>) the deaths by arm too, in the arms' colours."""
    from dashboard.config import load_trial

    cfg = cfg or load_trial()
    fraction = "information_fraction" in df and df.information_fraction.notna().any()
    titles = [_("Randomized"), _("Deaths and DFS events")] + ([_("Information fraction")] if fraction else [])
    fig = make_subplots(rows=len(titles), cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.09)
    x = list(df.cutoff)
    hover = list(df.cut)

    def line(y, name, color, row, dash=None, width=3):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[None if v is None or pd.isna(v) else float(v) for v in y],
                name=name,
                mode="lines+markers",
                line=dict(color=color, width=width, dash=dash),
                text=hover,
                hovertemplate="%{text}<br>%{y}",  # the trace name beside it, escaped
            ),
            row=row,
            col=1,
        )

    line(df.randomized, _("randomized"), POOLED, 1)
    _count_axis(fig, 1, df.randomized)
    line(df.deaths, _("deaths"), CATEGORIES[2], 2)
    line(df.dfs_events, _("DFS events"), CATEGORIES[3], 2)
    events = list(df.deaths) + list(df.dfs_events)
    colors = words.arm_colors(cfg)
    for arm in cfg.arms:
        if f"deaths_{arm.key}" in df:
            name = _("deaths: {arm}").format(arm=fact(arm, "label"))
            line(df[f"deaths_{arm.key}"], name, colors[arm.key], 2, dash="dot", width=2)
            events += list(df[f"deaths_{arm.key}"])
    _count_axis(fig, 2, events)
    if fraction:
        line(df.information_fraction, _("information fraction"), POOLED, 3)
        for t in list(cfg.design.interim_fractions) + [1.0]:
            fig.add_hline(
                y=t,
                line=dict(color=PLANNED, dash="dash", width=1),
                annotation_text=_("look at {fraction}").format(fraction=percent(t, 0))
                if t < 1
                else _("final analysis"),
                annotation_position="top left",
                row=3,
                col=1,
            )
        top = max([1.05] + [float(v) for v in df.information_fraction.dropna()])
        fig.update_yaxes(range=[0, top], tickformat=".0%", row=3, col=1)
    _date_axis(fig, df)
    return _layout(fig, title, height=250 * len(titles) + 60)


def _y(value) -> float | None:
    return None if value is None or pd.isna(value) else 100 * float(value)


def sites(
    df: pd.DataFrame,
    order: list[str],
    signals: list[str] | None = None,
    mark: str = "funnel",
    cols: int = 3,
    title: str | None = None,
) -> go.Figure:
    """Small multiples of views/trends.py's site rows: a panel per site of `order` (site IDs, the
    merged row last; the page passes views/trends.py panel_sites, a couple of dozen at most), a
    line per signal (rate in %, against each cut's cut-off; a cut whose figure is withheld or
    absent leaves a gap), and the flagged cuts marked: `mark` "funnel" marks a
    point outside the cut's funnel limits, "rule" a point flagged by the signal's own rule (a site
    investigator's page, which has no funnel)."""
    signals = signals or list(dict.fromkeys(df.signal))
    present = set(df.siteid)
    order = [s for s in order if s in present] or [None]
    cols = max(1, min(cols, len(order)))
    rows = math.ceil(len(order) / cols)
    labels = dict(zip(df.siteid.fillna(""), df.site_label.fillna(""), strict=False))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_xaxes=True,
        shared_yaxes=True,
        subplot_titles=[labels.get(s or "", "") or _("all sites") for s in order],
        vertical_spacing=min(0.12, 0.5 / rows),
        horizontal_spacing=0.04,
    )
    cut_order = list(dict.fromkeys(df.build_id))
    by_cut = df.drop_duplicates("build_id").set_index("build_id")
    cutoffs = list(by_cut.cutoff.reindex(cut_order))
    cuts = list(by_cut.cut.reindex(cut_order))
    signal_labels = dict(zip(df.signal, df.signal_label, strict=False))
    colors = {s: CATEGORIES[i % len(CATEGORIES)] for i, s in enumerate(signals)}
    marked_name = _("outside the funnel limits") if mark == "funnel" else _("flagged by the signal's rule")
    shown_mark = False
    traces, rows_at, cols_at = [], [], []  # added at once: one add_trace per trace is slow with many panels
    panels = df[df.siteid.isin(order)]
    for k, site in enumerate(order):
        r, c = k // cols + 1, k % cols + 1
        here = panels[panels.siteid == site] if site is not None else df[df.siteid.isna()]
        for s in signals:
            part = here[here.signal == s].set_index("build_id").reindex(cut_order)
            y = [_y(v) for v in part.rate]
            hover = [
                _("{cut}: {events}/{n}").format(cut=cut, events=int(e), n=int(n))
                if not pd.isna(n)
                else _("{cut}: not shown").format(cut=cut)
                for cut, e, n in zip(cuts, part.events, part.n, strict=True)
            ]
            traces.append(
                go.Scatter(
                    x=cutoffs,
                    y=y,
                    name=signal_labels.get(s, s),
                    legendgroup=s,
                    showlegend=k == 0,
                    mode="lines+markers",
                    line=dict(color=colors[s], width=2),
                    marker=dict(size=6),
                    text=hover,
                    hovertemplate="%{text}<br>%{y:.1f}%",
                )
            )
            rows_at.append(r)
            cols_at.append(c)
            if mark == "funnel":
                hit = part.flag.isin(OUTSIDE)
            else:
                hit = part.flagged.map(lambda v: v is True)
            if hit.any():
                traces.append(
                    go.Scatter(
                        x=[x for x, h in zip(cutoffs, hit, strict=True) if h],
                        y=[v for v, h in zip(y, hit, strict=True) if h],
                        name=marked_name,
                        legendgroup="flagged",
                        showlegend=not shown_mark,
                        mode="markers",
                        marker=dict(color=FLAG, size=13, symbol="circle-open", line=dict(width=3)),
                        hoverinfo="skip",
                    )
                )
                rows_at.append(r)
                cols_at.append(c)
                shown_mark = True
    if traces:
        fig.add_traces(traces, rows=rows_at, cols=cols_at)
    fig.update_yaxes(ticksuffix="%", rangemode="tozero")
    _date_axis(fig, df)
    return _layout(fig, title, height=PANEL_HEIGHT * rows + 120)


def _date_axis(fig: go.Figure, df) -> None:
    """Cut-off dates as dates (ISO, the same in both languages): never a time of day, also when the
    cuts span a day or less (one cut), where plotly would tick hours; then a month either side."""
    fig.update_xaxes(type="date", tickformat="%Y-%m-%d", hoverformat="%Y-%m-%d")
    days = pd.to_datetime(df["cutoff"]) if "cutoff" in df and len(df) else None
    if days is not None and days.nunique() == 1:
        day = days.iloc[0]
        fig.update_xaxes(range=[day - pd.Timedelta(days=31), day + pd.Timedelta(days=31)], dtick="M1")
