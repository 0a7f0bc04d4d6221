"""Plotly figures: data frames in, figures out, no Streamlit. plotly.graph_objects only (px is
two orders of magnitude slower to build), and data aggregated before it is drawn.

By concern: `common` (house style, colours, escaping), `enrollment` (accrual, flow, bars,
funnel plots), `outcomes` (survival, safety signals, forest, boundaries, arm comparisons).
Pages use them as `figures.<name>`."""

from dashboard.outputs.figures.common import *  # noqa: F403
from dashboard.outputs.figures.common import _alpha, _layout, go  # noqa: F401
from dashboard.outputs.figures.enrollment import *  # noqa: F403
from dashboard.outputs.figures.outcomes import *  # noqa: F403
