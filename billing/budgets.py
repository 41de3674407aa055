"""Budget arithmetic: period bounds, spend to date, the forecast, crossed thresholds.

Periods are UTC days like the rollups. Money stays integer nano-USD; only the percent
shown to people is a rounded Decimal.

Forecast: the burn rate is the mean daily spend of the period's *complete* days after
dropping the single highest and the single lowest day (with 4 or more days), so one
spiky day (a runaway batch job, a backfill) neither doubles the projection nor is
ignored in the spend itself. While the period has fewer than 3 complete days (every
day budget, the first days of a week or month) the last 7 complete days before today
are used instead, so a new period is never extrapolated from a partial day. Today
counts as max(spent so far today, the rate); the projection runs to the end of the
budget's own period (week, day or month), not the calendar month.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum

from billing.models import AlertEvent, Budget
from billing.pricing.money import usd_to_nano
from costwatch import clock
from costwatch.tenant.models import Project
from usage.models import DailyModelUsage, DailyUsage
from usage.queries import SpendQuery, rollup_queryset

# Budget.scope -> the filter name usage.queries understands.
SCOPE_FILTER = {"provider": "provider", "model": "model", "feature": "feature",
                "end_user": "user", "api_key": "api_key"}
MIN_PERIOD_DAYS = 3
FALLBACK_DAYS = 7


def period_bounds(period: str, today: date) -> tuple[date, date]:
    """First and last day (inclusive) of the period containing `today`."""
    if period == "day":
        return today, today
    if period == "week":
        start = today - timedelta(days=today.weekday())
        return start, start + timedelta(days=6)
    last = calendar.monthrange(today.year, today.month)[1]
    return today.replace(day=1), today.replace(day=last)


def scope_filters(budget: Budget) -> dict[str, str]:
    name = SCOPE_FILTER.get(budget.scope)
    return {name: budget.scope_value} if name else {}


def daily_spend(budget: Budget, *, start: date, end: date) -> dict[date, int]:
    """Spend per day (nano-USD) in the budget's scope and ledger, from the rollups."""
    q = SpendQuery(project=budget.project, start=start, end=end, ledger=budget.ledger,
                   group_by=["day"], filters=scope_filters(budget))
    qs, _ = rollup_queryset(q)
    return {row["day"]: int(row["cost"] or 0)
            for row in qs.values("day").annotate(cost=Sum("cost_nano")).order_by("day")}


def spend_to_date(budget: Budget, *, today: date) -> int:
    start, _ = period_bounds(budget.period, today)
    return sum(daily_spend(budget, start=start, end=today).values())


def amount_nano(budget: Budget) -> int:
    return usd_to_nano(budget.amount_usd)


def crossed(thresholds: Iterable[int], *, spend_nano: int, amount: int) -> list[int]:
    """Thresholds (percent) that spend has reached, exact in integers."""
    if amount <= 0:
        return sorted(set(thresholds))
    return sorted({t for t in thresholds if spend_nano * 100 >= t * amount})


def percent(spend_nano: int, amount: int) -> Decimal | None:
    if amount <= 0:
        return None
    return (Decimal(spend_nano) * 100 / Decimal(amount)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def burn_rate(days: list[int]) -> int:
    """Mean daily spend, dropping the highest and lowest day when there are 4 or more."""
    if not days:
        return 0
    values = sorted(days)
    if len(values) >= 4:
        values = values[1:-1]
    return sum(values) // len(values)


@dataclass
class Status:
    budget: Budget
    today: date
    period_start: date
    period_end: date
    spend_nano: int
    amount_nano: int
    rate_nano: int
    projected_nano: int
    runout_date: date | None
    daily: dict[date, int] = field(default_factory=dict)

    @property
    def percent(self) -> Decimal | None:
        return percent(self.spend_nano, self.amount_nano)

    @property
    def projected_percent(self) -> Decimal | None:
        return percent(self.projected_nano, self.amount_nano)

    @property
    def crossed(self) -> list[int]:
        return crossed(self.budget.thresholds, spend_nano=self.spend_nano, amount=self.amount_nano)

    @property
    def over_forecast(self) -> bool:
        """Projected to pass the amount before the period ends, not there yet."""
        return self.spend_nano < self.amount_nano <= self.projected_nano

    @property
    def days_left(self) -> int:
        return (self.period_end - self.today).days + 1


def status(budget: Budget, *, now: datetime) -> Status:
    today = clock.utc_today(now)
    start, end = period_bounds(budget.period, today)
    history_start = min(start, today - timedelta(days=FALLBACK_DAYS))
    all_days = daily_spend(budget, start=history_start, end=today)
    in_period = {d: v for d, v in all_days.items() if d >= start}
    spend_nano = sum(in_period.values())
    complete = [start + timedelta(days=i) for i in range((today - start).days)]
    if len(complete) < MIN_PERIOD_DAYS:
        complete = [today - timedelta(days=i) for i in range(FALLBACK_DAYS, 0, -1)]
    rate = burn_rate([all_days.get(d, 0) for d in complete])
    amount = amount_nano(budget)

    spent_today = in_period.get(today, 0)
    cumulative = spend_nano - spent_today
    projected = cumulative + max(spent_today, rate) + rate * (end - today).days
    runout = None
    day = start
    running = 0
    while day < today:  # already exceeded: the day it happened
        running += in_period.get(day, 0)
        if amount and running >= amount:
            runout = day
            break
        day += timedelta(days=1)
    day = today
    while runout is None and day <= end:
        cumulative += max(spent_today, rate) if day == today else rate
        if cumulative >= amount:
            runout = day
        day += timedelta(days=1)
    return Status(budget=budget, today=today, period_start=start, period_end=end,
                  spend_nano=spend_nano, amount_nano=amount, rate_nano=rate,
                  projected_nano=projected, runout_date=runout, daily=in_period)


def fired_thresholds(budget: Budget, *, period_start: date) -> set[int]:
    return set(AlertEvent.objects.filter(budget=budget, period_start=period_start)
               .values_list("threshold", flat=True))


SUGGEST_DAYS = 31
SUGGEST_LIMIT = 100


def scope_suggestions(project: Project, *, today: date) -> list[tuple[str, str]]:
    """(value, scope label) pairs seen in the last month, to pick a scope value from."""
    since = today - timedelta(days=SUGGEST_DAYS)
    out: list[tuple[str, str]] = []
    coarse = DailyModelUsage.objects.filter(project=project, day__gte=since)
    detail = DailyUsage.objects.filter(project=project, day__gte=since)
    for label, qs, column in [("model", coarse, "model"), ("provider", coarse, "provider"),
                              ("feature", detail, "feature"), ("end user", detail, "end_user"),
                              ("API key", detail, "api_key")]:
        values = (qs.exclude(**{column: ""}).values_list(column, flat=True)
                  .distinct().order_by(column)[:SUGGEST_LIMIT])
        out += [(v, label) for v in values]
    return out
