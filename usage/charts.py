"""Rows -> Plotly figure dicts (pure). Templates embed them with json_script."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import plotly.graph_objects as go

from usage.queries import usd

LAYOUT = {
    "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
    "hovermode": "x unified",
    "legend": {"orientation": "h", "y": -0.15},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "yaxis": {"tickprefix": "$", "rangemode": "tozero"},
    "barmode": "stack",
}


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def stacked_daily(rows: list[dict], *, key: str, start: date, end: date, top: int = 8) -> dict:
    """Daily cost stacked by `key`; the smallest series beyond `top` become "other"."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[str(row[key] or "(none)")] += row["cost_nano"]
    ranked = sorted(totals, key=lambda k: -totals[k])
    keep = set(ranked[:top])
    series: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        name = str(row[key] or "(none)")
        series[name if name in keep else "other"][row["day"]] += row["cost_nano"]
    days = days_between(start, end)
    fig = go.Figure(layout=LAYOUT)
    for name in [*ranked[:top], "other"]:
        if name not in series:
            continue
        fig.add_bar(
            name=name,
            x=[d.isoformat() for d in days],
            y=[float(usd(series[name].get(d, 0))) for d in days],
            hovertemplate="%{y:$,.2f}<extra>" + name + "</extra>",
        )
    return fig.to_plotly_json()
