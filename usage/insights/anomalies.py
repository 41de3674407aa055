"""Anomalies: days whose spend is far above the scope's own trailing baseline.

Robust rule (median and MAD, so one earlier spike does not hide the next): for each day,
the baseline is the median of the previous 28 days' spend (days without spend count as $0,
from the first day the project has data) and the spread is their median absolute deviation
(MAD). A day is an anomaly when its modified z-score 0.6745 × (spend − median) / MAD is
above 3.5 (Iglewicz and Hoaglin's cut-off) AND it is at least the minimum amount
(default $5) above the median, so that noise on tiny amounts never alerts. With a MAD of 0
(a flat baseline) the minimum amount alone decides. The day must also be the minimum amount
above the median of the same weekday in the previous four weeks, so that a weekly job or
the weekday/weekend rhythm is not an anomaly every week. A scope needs 14 days of history.
Scopes: the whole project, each model, each feature."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from statistics import median

from costwatch.tenant.models import Project
from usage.models import DailyModelUsage
from usage.reports.queries import SpendQuery, default_ledger, grouped

WINDOW = 28
MIN_HISTORY = 14
Z_CUTOFF = Fraction(35, 10)
Z_FACTOR = Fraction(6745, 10000)
MIN_EXCESS_NANO = 5 * 1_000_000_000
SCOPES = ("project", "model", "feature")


@dataclass(frozen=True)
class Anomaly:
    day: date
    scope: str
    value: str
    spend_nano: int
    baseline_nano: int  # the larger of the 28-day and same-weekday medians, rounded down
    mad_nano: int

    @property
    def excess_nano(self) -> int:
        return self.spend_nano - self.baseline_nano


def detect(series: dict[date, int], *, start: date, end: date, first_day: date,
           min_excess_nano: int = MIN_EXCESS_NANO) -> list[tuple[date, int, Fraction, Fraction]]:
    """(day, spend, baseline, MAD) of each anomalous day in [start, end] of a daily series;
    the baseline is the larger of the 28-day and the same-weekday median."""
    out = []
    day = start
    while day <= end:
        window = [day - timedelta(days=i) for i in range(1, WINDOW + 1)]
        window = [d for d in window if d >= first_day]
        if len(window) >= MIN_HISTORY:
            values = [Fraction(series.get(d, 0)) for d in window]
            mid = Fraction(median(values))
            mad = Fraction(median([abs(v - mid) for v in values]))
            spend = series.get(day, 0)
            excess = spend - mid
            weekly = [Fraction(series.get(d, 0)) for d in window[6::7]]  # 7, 14, 21, 28 days before
            same_weekday = Fraction(median(weekly)) if len(weekly) >= 2 else mid
            if (excess >= min_excess_nano and Z_FACTOR * excess > Z_CUTOFF * mad
                    and spend - same_weekday >= min_excess_nano):
                out.append((day, spend, max(mid, same_weekday), mad))
        day += timedelta(days=1)
    return out


def anomalies(project: Project, *, start: date, end: date, ledger: str = "",
              min_excess_nano: int = MIN_EXCESS_NANO, scopes=SCOPES) -> tuple[list[Anomaly], str]:
    """Every anomalous (day, scope) in [start, end], by day then largest excess."""
    ledger = ledger or default_ledger(project, start, end)
    first_day = (DailyModelUsage.objects.filter(project=project, ledger=ledger)
                 .order_by("day").values_list("day", flat=True).first())
    if first_day is None:
        return [], ledger
    since = start - timedelta(days=WINDOW)
    out: list[Anomaly] = []
    for scope in scopes:
        key = None if scope == "project" else scope
        rows = grouped(SpendQuery(project=project, start=since, end=end, ledger=ledger,
                                  group_by=["day"] + ([key] if key else [])))
        series: dict[str, dict[date, int]] = {}
        for row in rows:
            name = row[key] if key else ""
            series.setdefault(name or "", {})
            series[name or ""][row["day"]] = series[name or ""].get(row["day"], 0) + row["cost_nano"]
        for name, daily in series.items():
            for day, spend, mid, mad in detect(daily, start=start, end=end, first_day=first_day,
                                               min_excess_nano=min_excess_nano):
                out.append(Anomaly(day=day, scope=scope, value=name, spend_nano=spend,
                                   baseline_nano=int(mid), mad_nano=int(mad)))
    out.sort(key=lambda a: (a.day, SCOPES.index(a.scope), -a.excess_nano, a.value))
    return out, ledger


def baseline_medians(series: dict[date, int], *, start: date, end: date, first_day: date) -> dict[date, int]:
    """The 28-day median of each day in [start, end] (for the chart's baseline line)."""
    out = {}
    day = start
    while day <= end:
        window = [day - timedelta(days=i) for i in range(1, WINDOW + 1)]
        values = [series.get(d, 0) for d in window if d >= first_day]
        out[day] = int(median(values)) if values else 0
        day += timedelta(days=1)
    return out


def project_series(project: Project, *, start: date, end: date, ledger: str) -> tuple[dict[date, int], date | None]:
    """Daily project spend from WINDOW days before start, and the first day with data."""
    first_day = (DailyModelUsage.objects.filter(project=project, ledger=ledger)
                 .order_by("day").values_list("day", flat=True).first())
    rows = grouped(SpendQuery(project=project, start=start - timedelta(days=WINDOW), end=end, ledger=ledger,
                              group_by=["day"]))
    return {r["day"]: r["cost_nano"] for r in rows}, first_day
