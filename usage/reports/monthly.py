"""The monthly report: one UTC month's figures (the Overview's, usage.reports.overview) and
its top movers against the month before."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from usage.reports.forecast import period_bounds
from usage.reports.overview import overview
from usage.reports.queries import SpendQuery, grouped, ranked, total_of

MOVER_KEYS = ("model", "feature")
MOVERS = 5


def previous_month(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def month_report(q: SpendQuery, *, today: date) -> dict:
    """q spans one month (q.start its first day, q.end its last, or today for the current
    month): the Overview's figures for it, last month's total and the movers."""
    figures = overview(q, today=today)
    prev_start, prev_end = period_bounds("month", previous_month(q.start))
    prev = replace(q, start=prev_start, end=prev_end)
    prev_total = total_of(grouped(replace(prev, group_by=["day"])))["cost_nano"]
    total = figures["total"]["cost_nano"]
    return {
        **figures,
        "prev_start": prev_start,
        "prev_total_nano": prev_total,
        "change_nano": total - prev_total,
        "change": (total - prev_total) / prev_total if prev_total else None,
        "movers": {key: movers(q, prev, key) for key in MOVER_KEYS},
    }


def movers(q: SpendQuery, prev: SpendQuery, key: str, limit: int = MOVERS) -> list[dict]:
    """The values of `key` whose cost changed most from prev to q (up or down)."""
    now = {r[key]: r["cost_nano"] for r in ranked(replace(q, group_by=[key]), cost_only=True)}
    before = {r[key]: r["cost_nano"] for r in ranked(replace(prev, group_by=[key]), cost_only=True)}
    rows = [{key: value, "cost_nano": now.get(value, 0), "prev_nano": before.get(value, 0),
             "change_nano": now.get(value, 0) - before.get(value, 0)}
            for value in set(now) | set(before)]
    rows = [r for r in rows if r["change_nano"]]
    rows.sort(key=lambda r: (-abs(r["change_nano"]), str(r[key])))
    for row in rows:
        row["change"] = row["change_nano"] / row["prev_nano"] if row["prev_nano"] else None
    return rows[:limit]
