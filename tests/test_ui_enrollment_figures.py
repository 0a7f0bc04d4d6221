"""Issue 13, the house style of the charts (figures/common.py) and the accrual, balance and
deviation charts (figures/enrollment.py): no colour an arm could be taken for on anything that is
not an arm, whole-number count axes from 0, bar counts written horizontally, category labels
wrapped at word boundaries (never cut), the legend below the plot (never under the title), and
funnel plots fitted to their data with only the flagged sites labelled."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.outputs import figures, labels
from dashboard.outputs.figures import common
from dashboard.stats.rates import funnel_limits


def _lab(hex_color: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour."""
    h = hex_color.lstrip("#")
    rgb = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047
    y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883

    def f(t):
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def _delta_e(a: str, b: str) -> float:
    return sum((p - q) ** 2 for p, q in zip(_lab(a), _lab(b), strict=True)) ** 0.5


ARMS = sorted(set(labels.arm_colors().values()))


def test_the_arm_colours_are_the_trial_toml_pair():
    assert ARMS == ["#1b9e77", "#762a83"]


@pytest.mark.parametrize(
    "name", ["POOLED", "PLANNED", "DESIGN", "FLAG", "OK", *[f"CATEGORIES[{i}]" for i in range(len(common.CATEGORIES))]]
)
def test_no_other_category_is_drawn_in_an_arm_colour(name):
    color = eval(name, vars(common))  # noqa: S307 - a constant of the module, by name
    for arm in ARMS:
        # CIE76 distance: under about 30 the two read as the same hue family (the old OK green
        # #2e7d32 was 25 from the teal arm; plotly's default #00cc96, 20)
        assert _delta_e(color, arm) > 30, (name, color, arm)


def test_a_trace_without_a_colour_never_takes_an_arm_colour():
    import plotly.io as pio

    colorway = pio.templates[pio.templates.default].layout.colorway
    assert all(_delta_e(c, arm) > 30 for c in colorway for arm in ARMS), colorway


def test_count_bars_whole_numbers_horizontal_text_and_wrapped_labels():
    long = "I03 AJCC 8th clinical stage III-IVA (p16-positive oropharynx: stage III only), before immunotherapy"
    fig = figures.bars([long, "I04 ECOG performance status 0 or 1"], [3, 1])
    bar = fig.data[0]
    assert bar.textangle == 0 and bar.textposition == "outside"  # never rotated to fit inside
    x = fig.layout.xaxis
    assert x.tickformat == "d" and x.rangemode == "tozero" and float(x.dtick).is_integer() and x.dtick >= 1
    y = fig.layout.yaxis
    assert list(y.tickvals) == [long, "I04 ECOG performance status 0 or 1"]
    lines = y.ticktext[0].split("<br>")
    assert len(lines) > 1 and " ".join(lines) == long  # every word whole, none cut
    assert all(len(line) <= 34 or " " not in line for line in lines)


def test_count_step_is_a_whole_number():
    for top in (1, 2, 3, 7, 12, 33, 87, 150, 356, 1000):
        step = common.count_step(top)
        assert isinstance(step, int) and step >= 1 and top / step <= 6


def test_legend_below_the_plot_and_title_above_it():
    fig = figures.grouped_bars(
        pd.DataFrame({"site": ["01", "02"], "a": [1, 2], "b": [2, 0]}), "site", ["a", "b"], ["A", "B"], title="By site"
    )
    legend = fig.layout.legend
    assert legend.yref == "container" and legend.yanchor == "bottom" and legend.y == 0
    assert fig.layout.title.text == "By site" and fig.layout.margin.t >= 40
    assert fig.layout.yaxis.tickformat == "d"  # counts: whole numbers


def test_balance_charts_take_the_arm_colours_passed():
    frame = pd.DataFrame({"Stratum": ["Partial response · Oral cavity"], "A": [3], "B": [4]})
    fig = figures.grouped_bars(frame, "Stratum", ["A", "B"], ["A", "B"], colors=["#762a83", "#1b9e77"])
    assert [t.marker.color for t in fig.data] == ["#762a83", "#1b9e77"]
    over = pd.DataFrame({"month": ["2026-01", "2026-02"], "A": [1, 2], "B": [1, 3]})
    fig = figures.lines(over, "month", ["A", "B"], ["A", "B"], colors=["#762a83", "#1b9e77"])
    assert [t.line.color for t in fig.data] == ["#762a83", "#1b9e77"]
    # a chart of non-arm series gets none of them
    fig = figures.grouped_bars(pd.DataFrame({"s": ["01"], "x": [0.1], "y": [0.2]}), "s", ["x", "y"], ["x", "y"])
    assert not {t.marker.color for t in fig.data} & set(ARMS)


def _sites(rates: list[float], ns: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "siteid": [f"{k + 1:02d}" for k in range(len(ns))],
            "n": ns,
            "rate": rates,
            "flag": ["within"] * (len(ns) - 1) + ["above"],
        }
    )


def test_funnel_axis_fits_the_data_and_labels_only_flagged_sites():
    ns = [87, 40, 17, 23, 44, 16, 29, 24, 15, 60]
    rates = [0.046, 0.125, 0.059, 0.0, 0.068, 0.0, 0.069, 0.042, 0.0, 0.2]
    p0 = 0.06
    fig = figures.funnel(_sites(rates, ns), p0, funnel_limits(p0, range(1, 88)))
    low, high = fig.layout.yaxis.range
    assert low == 0 and 0.2 < high < 0.35  # not 0-100% for rates under 25%
    sites = next(t for t in fig.data if t.name.startswith("sites"))
    assert list(sites.text) == [""] * 9 + ["10"]  # only the flagged one is written on the plot
    assert all(s.startswith(f"{k + 1:02d}: ") for k, s in enumerate(sites.hovertext))  # every site in the hover
    # the limits are drawn over the sites' range only (not down to n = 1, where they reach 100%)
    assert max(max(t.x) for t in fig.data if t.name.endswith("limits")) <= 87 * 1.08 + 1


def test_accrual_count_axis():
    cumulative = pd.DataFrame({"date": pd.to_datetime(["2026-02-01", "2026-03-01"]), "randomized": [1, 3]})
    fig = figures.accrual(cumulative, None, 356)
    y = fig.layout.yaxis
    assert y.tickformat == "d" and y.rangemode == "tozero" and y.dtick == 100
