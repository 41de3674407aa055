"""THE period-end forecast: the Overview's "projected month end", the Budgets page, the
budgets API, alert e-mails and the weekly digest all show this one figure.

Method (README, "Forecast"): the burn rate is the mean daily spend of the period's
*complete* days after dropping the single highest and the single lowest day (with 4 or
more days), so one spiky day (a runaway batch job, a backfill) neither doubles the
projection nor is ignored in the spend itself. While the period has fewer than 3 complete
days (every day budget, the first days of a week or month) the last 7 complete days before
today are used instead, so a new period is never extrapolated from a partial day. Today
counts as max(spent so far today, the rate); every day after today adds the rate.
Periods are UTC days, like the rollups; money is integer nano-USD.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

MIN_PERIOD_DAYS = 3
FALLBACK_DAYS = 7


def period_bounds(period: str, today: date) -> tuple[date, date]:
    """First and last day (inclusive) of the day / week (Monday) / month containing `today`."""
    if period == "day":
        return today, today
    if period == "week":
        start = today - timedelta(days=today.weekday())
        return start, start + timedelta(days=6)
    last = calendar.monthrange(today.year, today.month)[1]
    return today.replace(day=1), today.replace(day=last)


def history_start(start: date, today: date) -> date:
    """The first day the daily spend passed to forecast() must cover."""
    return min(start, today - timedelta(days=FALLBACK_DAYS))


def burn_rate(days: list[int]) -> int:
    """Mean daily spend, dropping the highest and lowest day when there are 4 or more."""
    if not days:
        return 0
    values = sorted(days)
    if len(values) >= 4:
        values = values[1:-1]
    return sum(values) // len(values)


@dataclass(frozen=True)
class Forecast:
    start: date
    end: date
    today: date
    spend_nano: int  # in the period through today
    rate_nano: int
    projected_nano: int

    def day_spend(self, day: date, spent_today: int) -> int:
        """What the projection counts for a day from today on."""
        return max(spent_today, self.rate_nano) if day == self.today else self.rate_nano


def forecast(daily: dict[date, int], *, start: date, end: date, today: date) -> Forecast:
    """The projection for the period start..end from spend per day (nano-USD, days without
    spend may be missing) covering history_start(start, today)..today."""
    spend = sum(v for d, v in daily.items() if start <= d <= today)
    complete = [start + timedelta(days=i) for i in range((today - start).days)]
    if len(complete) < MIN_PERIOD_DAYS:
        complete = [today - timedelta(days=i) for i in range(FALLBACK_DAYS, 0, -1)]
    rate = burn_rate([daily.get(d, 0) for d in complete])
    spent_today = daily.get(today, 0)
    projected = spend - spent_today + max(spent_today, rate) + rate * (end - today).days
    return Forecast(start=start, end=end, today=today, spend_nano=spend, rate_nano=rate,
                    projected_nano=projected)
