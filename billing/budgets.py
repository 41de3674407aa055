"""Budget status: period bounds, spend to date, the forecast, crossed thresholds, and
the one budget percent every surface shows.

Periods are UTC days like the rollups. Money stays integer nano-USD; only the percent
shown to people is a rounded Decimal. The projection is usage.reports.forecast (one method
for the Overview, the Budgets page, the API, e-mails and the digest), run to the end of the
budget's own period (week, day or month), not the calendar month.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum

from billing.models import AlertEvent, Budget
from billing.pricing.money import usd_to_nano
from costwatch import clock
from costwatch.tenant import generation
from costwatch.tenant.models import Project
from usage.models import DailyModelUsage, DailyUsage
from usage.reports.forecast import Forecast, forecast, history_start, period_bounds
from usage.reports.queries import SpendQuery, rollup_queryset

# Budget.scope -> the filter name usage.reports.queries understands.
SCOPE_FILTER = {"provider": "provider", "model": "model", "feature": "feature",
                "end_user": "user", "api_key": "api_key"}


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


def status(budget: Budget, *, now: datetime | None = None) -> Status:
    """Spend, percent and forecast of the budget's current period as of `now`."""
    today = clock.utc_today(now)
    start, end = period_bounds(budget.period, today)
    all_days = daily_spend(budget, start=history_start(start, today), end=today)
    fc = forecast(all_days, start=start, end=end, today=today)
    in_period = {d: v for d, v in all_days.items() if d >= start}
    amount = amount_nano(budget)
    return Status(budget=budget, today=today, period_start=start, period_end=end,
                  spend_nano=fc.spend_nano, amount_nano=amount, rate_nano=fc.rate_nano,
                  projected_nano=fc.projected_nano, runout_date=runout_date(fc, in_period, amount),
                  daily=in_period)


def runout_date(fc: Forecast, in_period: dict[date, int], amount: int) -> date | None:
    """The day spend reached the amount, or the day the forecast reaches it (None: not
    within the period)."""
    running = 0
    day = fc.start
    while day < fc.today:  # already exceeded: the day it happened
        running += in_period.get(day, 0)
        if amount and running >= amount:
            return day
        day += timedelta(days=1)
    spent_today = in_period.get(fc.today, 0)
    while day <= fc.end:
        running += fc.day_spend(day, spent_today)
        if running >= amount:
            return day
        day += timedelta(days=1)
    return None


def overview_budget(project: Project) -> Budget | None:
    """The whole-project monthly budget the Overview shows (the first active one)."""
    return (
        Budget.objects.filter(project=project, scope="project", period="month", is_active=True)
        .order_by("pk")
        .first()
    )


def fired_thresholds(budget: Budget, *, period_start: date) -> set[int]:
    """Thresholds that have fired this period and are not re-armed."""
    return set(AlertEvent.objects.filter(budget=budget, period_start=period_start, rearmed_at__isnull=True)
               .values_list("threshold", flat=True))


def active(project: Project):
    """The project's budgets that are not archived (deleted ones keep their history)."""
    return project.budgets.filter(archived_at__isnull=True)


def archive(budget: Budget, *, now: datetime) -> None:
    Budget.objects.filter(pk=budget.pk).update(archived_at=now, is_active=False)
    generation.bump(budget.project_id)


def budget_changed(sender, instance: Budget, **kwargs) -> None:
    """Receiver of Budget's post_save / post_delete: the Overview shows the budget, so the
    project's cached page data is stale (usage.web.pagecache)."""
    generation.bump(instance.project_id)


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
