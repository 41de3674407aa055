"""Rows -> Plotly figure dicts (pure). Templates embed them with json_script; static/js/charts.js
draws them. Plain dicts rather than plotly.graph_objects: the same JSON, without the
validation cost on every page render."""

from __future__ import annotations

import copy
from collections import defaultdict
from datetime import date, timedelta

from billing.pricing.classes import LABELS
from billing.pricing.money import usd_amount
from usage.reports.queries import period_start, periods

PALETTE = ["#4c6ef5", "#12b886", "#fab005", "#f76707", "#be4bdb", "#15aabf", "#e64980",
           "#82c91e", "#868e96", "#7950f2"]
OTHER_COLOR = "#adb5bd"

LAYOUT = {
    "margin": {"l": 56, "r": 12, "t": 8, "b": 36},
    "hovermode": "x unified",
    "legend": {"orientation": "h", "y": -0.18, "x": 0, "traceorder": "normal"},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    "xaxis": {"type": "date", "tickformat": "%b %-d", "hoverformat": "%a %b %-d, %Y (UTC day)",
              "showgrid": False},
    "yaxis": {"tickprefix": "$", "rangemode": "tozero", "tickformat": ",.2~f", "gridcolor": "rgba(128,128,128,.2)"},
    "barmode": "stack",
    "bargap": 0.25,
}
CLASS_NAMES = LABELS


def layout(**overrides) -> dict:
    out = copy.deepcopy(LAYOUT)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


# x-axis labels per granularity (every period is named by its first day, a UTC date)
PERIOD_AXIS = {
    "day": {"tickformat": "%b %-d", "hoverformat": "%a %b %-d, %Y (UTC day)"},
    "week": {"tickformat": "%b %-d", "hoverformat": "Week of %b %-d, %Y (Mon–Sun, UTC)"},
    "month": {"tickformat": "%b %Y", "hoverformat": "%B %Y (UTC)", "dtick": "M1"},
}


# the first column of the table behind a chart (static/js/charts.js)
PERIOD_LABEL = {"day": "Day (UTC)", "week": "Week from Monday (UTC)", "month": "Month (UTC)"}


def period_layout(granularity: str, **overrides) -> dict:
    xaxis = {**PERIOD_AXIS[granularity], **overrides.pop("xaxis", {})}
    return layout(xaxis=xaxis, meta={"x_label": PERIOD_LABEL[granularity]}, **overrides)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _dollars(nano: int) -> float:
    return float(usd_amount(nano))


def _text(value: str) -> str:
    # Plotly renders a subset of HTML (links included) in names and labels: escape it.
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def label(value) -> str:
    if value is True:
        return "batch"
    if value is False:
        return "interactive"
    return str(value) if value not in (None, "") else "(none)"


def stacked_daily(rows: list[dict], *, key: str, start: date, end: date, top: int = 8,
                  granularity: str = "day") -> dict:
    """Cost per day (or week, month) stacked by `key`; the smallest series beyond `top`
    become "other"."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[label(row[key])] += row["cost_nano"]
    # "other" (given by the caller or folded here) always comes last, in grey
    ranked = sorted((k for k in totals if k != "other"), key=lambda k: -totals[k])
    keep = set(ranked[:top])
    series: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        name = label(row[key])
        series[name if name in keep else "other"][period_start(row["day"], granularity)] += row["cost_nano"]
    days = periods(start, end, granularity)
    x = [d.isoformat() for d in days]
    data = []
    for i, name in enumerate([*ranked[:top], "other"]):
        if name not in series:
            continue
        safe = _text(name)
        data.append({
            "type": "bar",
            "name": safe,
            "meta": name,  # the raw value, for drill-down links
            "x": x,
            "y": [_dollars(series[name].get(d, 0)) for d in days],
            "marker": {"color": OTHER_COLOR if name == "other" else PALETTE[i % len(PALETTE)]},
            "hovertemplate": "%{y:$,.2f}<extra>" + safe + "</extra>",
        })
    return {"data": data, "layout": period_layout(granularity)}


def cumulative_vs_budget(days: list[dict], *, month_start: date, month_end: date, today: date,
                         budget_nano: int | None, projected_nano: int | None) -> dict:
    """This month's cumulative spend, the projection to month end, and the budget line."""
    running, x, y = 0, [], []
    for row in days:
        if month_start <= row["day"] <= today:
            running += row["cost_nano"]
            x.append(row["day"].isoformat())
            y.append(_dollars(running))
    data = [{
        "type": "scatter", "mode": "lines+markers", "name": "Spend to date", "x": x, "y": y,
        "line": {"color": PALETTE[0], "width": 3}, "marker": {"size": 4},
        "fill": "tozeroy", "fillcolor": "rgba(76,110,245,.12)",
        "hovertemplate": "%{y:$,.2f}<extra>to date</extra>",
    }]
    if projected_nano is not None and today < month_end:
        data.append({
            "type": "scatter", "mode": "lines", "name": "Projected",
            "x": [today.isoformat(), month_end.isoformat()],
            "y": [y[-1] if y else 0.0, _dollars(projected_nano)],
            "line": {"color": PALETTE[0], "dash": "dot", "width": 2},
            "hovertemplate": "%{y:$,.2f}<extra>projected</extra>",
        })
    if budget_nano:
        data.append({
            "type": "scatter", "mode": "lines", "name": "Budget",
            "x": [month_start.isoformat(), month_end.isoformat()],
            "y": [_dollars(budget_nano)] * 2,
            "line": {"color": "#e03131", "dash": "dash", "width": 2},
            "hovertemplate": "%{y:$,.2f}<extra>budget</extra>",
        })
    return {"data": data, "layout": layout(
        barmode="group",
        xaxis={"range": [(month_start - timedelta(hours=12)).isoformat(),
                         (month_end + timedelta(days=1)).isoformat()]},
    )}


def tokens_by_class(days: list[dict], granularity: str = "day") -> dict:
    x = [d["day"].isoformat() for d in days]
    data = []
    for i, (column, name) in enumerate(CLASS_NAMES.items()):
        values = [d[column] for d in days]
        if not any(values):
            continue
        data.append({
            "type": "bar", "name": name, "x": x, "y": values,
            "marker": {"color": PALETTE[i]},
            "hovertemplate": "%{y:,.4s}<extra>" + name + "</extra>",
        })
    return {"data": data, "layout": period_layout(granularity, yaxis={"tickprefix": "", "tickformat": "~s"})}


def hit_rate_daily(days: list[dict], granularity: str = "day") -> dict:
    x = [d["day"].isoformat() for d in days]
    y = [d["cache_hit_rate"] for d in days]
    return {
        "data": [{
            "type": "scatter", "mode": "lines+markers", "name": "Cache hit rate", "x": x, "y": y,
            "line": {"color": PALETTE[1], "width": 2}, "marker": {"size": 5}, "connectgaps": False,
            "hovertemplate": "%{y:.1%}<extra>hit rate</extra>",
        }],
        "layout": period_layout(granularity, yaxis={"tickprefix": "", "tickformat": ".0%", "range": [0, 1.02],
                                                    "rangemode": "normal"}, showlegend=False),
    }


def savings_daily(days: list[dict], granularity: str = "day") -> dict:
    x = [d["day"].isoformat() for d in days]
    data = []
    for i, (name, key) in enumerate([("Saved by caching", "cache_savings_nano"),
                                     ("Saved by batch", "batch_savings_nano")]):
        values = [_dollars(d[key]) for d in days]
        if not any(values):
            continue
        data.append({
            "type": "bar", "name": name, "x": x, "y": values,
            "marker": {"color": PALETTE[1 + i * 4]},
            "hovertemplate": "%{y:$,.2f}<extra>" + name + "</extra>",
        })
    return {"data": data, "layout": period_layout(granularity, barmode="relative")}


def ranked_bars(rows: list[dict], *, key: str, value: str = "cost_nano", top: int = 15,
                percent: bool = False) -> dict:
    """Horizontal bars of the top rows, largest on top."""
    ranked = [r for r in rows if r.get(value) is not None][:top]
    ranked.reverse()
    names = [_text(label(r[key])) for r in ranked]
    if percent:
        values = [r[value] for r in ranked]
        axis = {"tickprefix": "", "tickformat": ".0%", "rangemode": "tozero"}
        hover = "%{x:.1%}<extra></extra>"
    else:
        values = [_dollars(r[value]) for r in ranked]
        axis = {"tickprefix": "$", "tickformat": ",.2~f", "rangemode": "tozero"}
        hover = "%{x:$,.2f}<extra></extra>"
    height = max(180, 28 * len(ranked) + 60)
    return {
        "data": [{
            "type": "bar", "orientation": "h", "x": values, "y": names,
            "marker": {"color": PALETTE[0]}, "hovertemplate": hover,
        }],
        "layout": layout(
            height=height, hovermode="closest", showlegend=False,
            margin={"l": 8, "r": 12, "t": 8, "b": 30},
            xaxis={**axis, "type": "linear", "showgrid": True, "gridcolor": "rgba(128,128,128,.2)"},
            yaxis={"tickprefix": "", "tickformat": "", "automargin": True, "type": "category",
                   "gridcolor": "rgba(0,0,0,0)"},
        ),
    }


def reconcile_daily(days: list[dict]) -> dict:
    """Metered next to billed cost per day (the compared cells only)."""
    x = [d["day"].isoformat() for d in days]
    data = [
        {"type": "bar", "name": name, "x": x, "y": [_dollars(d[key]) for d in days],
         "marker": {"color": color}, "hovertemplate": "%{y:$,.2f}<extra>" + name + "</extra>"}
        for name, key, color in [("Metered (app)", "metered_nano", PALETTE[0]),
                                 ("Billed (console)", "billed_nano", PALETTE[3])]
    ]
    return {"data": data, "layout": layout(barmode="group", bargap=0.2)}


def hourly_cost(hours: list[dict]) -> dict:
    """Cost per UTC hour of one day (usage.reports.hourly)."""
    x = [h["hour"].strftime("%Y-%m-%dT%H:00:00") for h in hours]
    return {"data": [{
        "type": "bar", "name": "Cost", "x": x, "y": [_dollars(h["cost_nano"]) for h in hours],
        "marker": {"color": PALETTE[0]}, "hovertemplate": "%{y:$,.2f}<extra>cost</extra>",
    }], "layout": layout(showlegend=False, meta={"x_label": "Hour (UTC)"}, xaxis={"tickformat": "%H:00", "hoverformat": "%H:00–%H:59 UTC",
                                                  "dtick": 3 * 3600 * 1000})}
