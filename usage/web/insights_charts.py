"""Insights rows -> Plotly figure dicts (pure), drawn by static/js/charts.js."""

from __future__ import annotations

from fractions import Fraction

from usage.web.charts import PALETTE, _dollars, _text, layout

UP, DOWN, TOTAL = "#e03131", "#2f9e44", "#4c6ef5"


def waterfall(*, previous_nano: int, current_nano: int, steps: list[tuple[str, int]],
              labels: tuple[str, str]) -> dict:
    """Previous total, each effect as a floating bar, current total (plotly-basic has no
    waterfall trace: an invisible base bar under each step)."""
    names = [labels[0], *[s[0] for s in steps], labels[1]]
    base, value, color = [0.0], [_dollars(previous_nano)], [TOTAL]
    running = previous_nano
    for _, delta in steps:
        low = min(running, running + delta)
        base.append(_dollars(low))
        value.append(_dollars(abs(delta)))
        color.append(UP if delta > 0 else DOWN)
        running += delta
    base.append(0.0)
    value.append(_dollars(current_nano))
    color.append(TOTAL)
    signed = [_dollars(previous_nano), *[_dollars(d) for _, d in steps], _dollars(current_nano)]
    # start the axis below the lowest step so that small effects are visible
    tops = [b + v for b, v in zip(base, value, strict=True)]
    lows = [*base[1:-1], value[0], value[-1]]
    low, high = min(lows), max(tops) or 1.0
    floor = max(0.0, low - (high - low) * 0.6)
    return {
        "data": [
            {"type": "bar", "x": names, "y": base, "marker": {"color": "rgba(0,0,0,0)"},
             "hoverinfo": "skip", "showlegend": False},
            {"type": "bar", "x": names, "y": value, "marker": {"color": color}, "customdata": signed,
             "hovertemplate": "%{customdata:$,.2f}<extra></extra>", "showlegend": False},
        ],
        "layout": layout(barmode="stack", hovermode="closest", showlegend=False,
                         xaxis={"type": "category", "tickformat": "", "hoverformat": ""},
                         yaxis={"range": [floor, high * 1.04], "rangemode": "normal"}),
    }


def actual_vs_whatif(rows, *, top: int = 12) -> dict:
    """Grouped horizontal bars: actual and what-if cost per name (largest actual on top)."""
    shown = list(rows[:top])
    shown.reverse()
    names = [_text(r["name"] or "(none)") for r in shown]
    data = [
        {"type": "bar", "orientation": "h", "name": name, "y": names,
         "x": [_dollars(r[key]) for r in shown], "marker": {"color": color},
         "hovertemplate": "%{x:$,.2f}<extra>" + name + "</extra>"}
        for name, key, color in (("Actual", "actual_nano", PALETTE[0]), ("What-if", "whatif_nano", PALETTE[1]))
    ]
    return {"data": data, "layout": layout(
        barmode="group", hovermode="closest", height=max(220, 44 * len(shown) + 80),
        margin={"l": 8, "r": 12, "t": 8, "b": 30},
        xaxis={"type": "linear", "tickprefix": "$", "tickformat": ",.2~f", "showgrid": True},
        yaxis={"type": "category", "tickprefix": "", "tickformat": "", "automargin": True})}


def mark_anomalies(fig: dict, marks) -> dict:
    """Add the project's anomalous days to a daily spend chart as markers above the bars."""
    if not marks:
        return fig
    fig["data"].append({
        "type": "scatter", "mode": "markers", "name": "Anomaly",
        # "other" makes a click open the day's records without a series filter (charts.js)
        "meta": "other",
        "x": [m.day.isoformat() for m in marks],
        "y": [_dollars(m.spend_nano) for m in marks],
        "customdata": [_dollars(m.baseline_nano) for m in marks],
        "marker": {"symbol": "triangle-down", "size": 13, "color": UP, "line": {"width": 1, "color": "#fff"}},
        "hovertemplate": "anomaly: %{y:$,.2f} vs baseline %{customdata:$,.2f}<extra></extra>",
    })
    return fig


def anomaly_series(days: list[dict], marks, baseline: dict) -> dict:
    """Daily spend bars, the baseline median line and the anomalous days marked."""
    x = [d["day"].isoformat() for d in days]
    data = [
        {"type": "bar", "name": "Spend", "x": x, "y": [_dollars(d["cost_nano"]) for d in days],
         "marker": {"color": PALETTE[0]}, "hovertemplate": "%{y:$,.2f}<extra>spend</extra>"},
        {"type": "scatter", "mode": "lines", "name": "Baseline (28-day median)", "x": x,
         "y": [_dollars(baseline.get(d["day"], 0)) for d in days],
         "line": {"color": PALETTE[2], "width": 2}, "hovertemplate": "%{y:$,.2f}<extra>baseline</extra>"},
    ]
    fig = {"data": data, "layout": layout(barmode="overlay")}
    return mark_anomalies(fig, marks)


def breakeven(verdicts, *, unit: str) -> dict:
    """Weekly cost against weekly volume: the API line, each plan's line (flat to its
    allowance, then API rates on top), and today's volume."""
    shown = [v for v in verdicts if v.unit == unit and v.unit_cost_nano]
    if not shown:
        return {"data": [], "layout": layout()}
    unit_cost = shown[0].unit_cost_nano
    volume = shown[0].volume
    # around today's volume and the crossovers; a plan line stays flat to its allowance
    top = max([volume * 2, Fraction(1)] + [v.crossover * Fraction(3, 2) for v in shown if v.crossover])
    xs = sorted({Fraction(0), top, volume, *[Fraction(v.allowance_week) for v in shown if v.allowance_week
                                                and v.allowance_week < top]})
    data = [{"type": "scatter", "mode": "lines", "name": "API (metered)", "x": [float(x) for x in xs],
             "y": [_dollars(int(unit_cost * x)) for x in xs], "line": {"color": UP, "width": 3},
             "hovertemplate": "%{y:$,.2f}/week<extra>API</extra>"}]
    for i, v in enumerate(shown):
        data.append({"type": "scatter", "mode": "lines", "name": _text(v.plan.name), "x": [float(x) for x in xs],
                     "y": [_dollars(int(v.plan_cost_at(x))) for x in xs],
                     "line": {"color": PALETTE[(i + 1) % len(PALETTE)], "width": 2, "dash": "dash"},
                     "hovertemplate": "%{y:$,.2f}/week<extra>" + _text(v.plan.name) + "</extra>"})
    data.append({"type": "scatter", "mode": "markers", "name": "You (last 4 weeks)", "x": [float(volume)],
                 "y": [_dollars(int(unit_cost * volume))],
                 "marker": {"size": 14, "color": TOTAL, "symbol": "diamond"},
                 "hovertemplate": "%{x:,.0f} " + unit + "/week: %{y:$,.2f}<extra>you</extra>"})
    return {"data": data, "layout": layout(
        hovermode="closest",
        xaxis={"type": "linear", "tickformat": "~s", "hoverformat": ",.0f", "showgrid": True,
               "title": {"text": f"{unit} per week"}},
        yaxis={"title": {"text": "cost per week"}})}
