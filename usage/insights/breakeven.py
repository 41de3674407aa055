"""Subscription break-even: flat-rate plans against the metered API cost of the usage they
would cover.

The covered usage is the metered ledger (app events and Claude Code logs) on the plan's
models (name prefixes) and, if the plan names them, features. Its API cost is linear in
volume at the observed cost per unit (per message = request, or per token). A plan costs
its weekly price (a monthly price × 12 / 52) up to its weekly allowance (per seat; a 5-hour
allowance × the windows a seat uses a week); usage beyond it is priced at API rates (extra
usage or the API). So the plan is cheaper above the crossover volume

    crossover = weekly plan price / API cost per unit

and never cheaper if the crossover lies above the allowance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from billing.models import Plan
from billing.pricing.classes import PRICED_COLUMNS
from billing.pricing.money import usd_to_nano
from costwatch.tenant.models import Project
from usage.importers import claude_code
from usage.models import LEDGER_METERED, UsageRecord
from usage.reports.queries import SpendQuery, grouped

WEEKS = 4

EXAMPLES = [
    # Example terms to edit: vendors change prices and limits, and state limits loosely.
    {"name": "Claude Pro (example)", "price_usd": 20, "allowance": 45},
    {"name": "Claude Max 5x (example)", "price_usd": 100, "allowance": 225},
    {"name": "Claude Max 20x (example)", "price_usd": 200, "allowance": 900},
]


def add_examples(project: Project, *, features: str = "") -> list[Plan]:
    return [Plan.objects.create(project=project, per="month", allowance_unit="messages", allowance_window="5h",
                                windows_per_week=10, covers_models="claude-", features=features,
                                is_example=True, **e) for e in EXAMPLES]


def _split(value: str) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


@dataclass
class Week:
    start: date
    messages: int = 0
    tokens: int = 0
    cost_nano: int = 0

    def volume(self, unit: str) -> int:
        return self.tokens if unit == "tokens" else self.messages


def covered_weeks(rows: list[dict], *, prefixes: list[str], features: list[str], weeks: list[date]) -> list[Week]:
    """Per-week sums (weeks start on the given Mondays) of (day, model, feature) rollup rows
    on the covered models and features."""
    out = {w: Week(start=w) for w in weeks}
    for row in rows:
        if prefixes and not any(row["model"].startswith(p) for p in prefixes):
            continue
        if features and (row["feature"] or "") not in features:
            continue
        week = row["day"] - timedelta(days=row["day"].weekday())
        if week not in out:
            continue
        w = out[week]
        w.messages += row["requests"]
        w.tokens += sum(row[c] for c in PRICED_COLUMNS)
        w.cost_nano += row["cost_nano"]
    return [out[w] for w in weeks]


@dataclass
class Verdict:
    plan: Plan
    unit: str
    volume: Fraction  # average per week
    api_week_nano: Fraction
    plan_week_nano: Fraction  # at this volume: price, plus overflow at API rates
    price_week_nano: Fraction
    allowance_week: int | None
    unit_cost_nano: Fraction | None  # API cost per message / token
    crossover: Fraction | None  # weekly volume where both cost the same

    @property
    def cheaper(self) -> str:
        return "plan" if self.plan_week_nano < self.api_week_nano else "api"

    @property
    def saving_week_nano(self) -> int:
        return int(self.api_week_nano - self.plan_week_nano)

    @property
    def crossover_within_allowance(self) -> bool:
        return self.crossover is not None and (self.allowance_week is None or self.crossover <= self.allowance_week)

    def plan_cost_at(self, volume: Fraction) -> Fraction:
        over = 0 if self.allowance_week is None else max(Fraction(0), volume - self.allowance_week)
        return self.price_week_nano + (self.unit_cost_nano or 0) * over


def price_per_week_nano(plan: Plan) -> Fraction:
    price = Fraction(usd_to_nano(plan.price_usd)) * plan.seats
    return price * 12 / 52 if plan.per == "month" else price


def allowance_per_week(plan: Plan) -> int | None:
    if plan.allowance is None:
        return None
    per_window = plan.windows_per_week if plan.allowance_window == "5h" else 1
    return plan.allowance * plan.seats * per_window


def verdict(plan: Plan, weeks: list[Week]) -> Verdict:
    unit = plan.allowance_unit
    n = len(weeks) or 1
    volume = Fraction(sum(w.volume(unit) for w in weeks), n)
    cost = Fraction(sum(w.cost_nano for w in weeks), n)
    unit_cost = cost / volume if volume else None
    price = price_per_week_nano(plan)
    v = Verdict(plan=plan, unit=unit, volume=volume, api_week_nano=cost, plan_week_nano=price,
                price_week_nano=price, allowance_week=allowance_per_week(plan), unit_cost_nano=unit_cost,
                crossover=price / unit_cost if unit_cost else None)
    v.plan_week_nano = v.plan_cost_at(volume)
    return v


def last_weeks(today: date, count: int = WEEKS) -> list[date]:
    """The Mondays of the last `count` complete weeks (Monday–Sunday, UTC days)."""
    this_monday = today - timedelta(days=today.weekday())
    return [this_monday - timedelta(weeks=i) for i in range(count, 0, -1)]


def breakeven(project: Project, *, today: date) -> tuple[list[Verdict], list[date], dict[int, list[Week]]]:
    weeks = last_weeks(today)
    rows = grouped(SpendQuery(project=project, start=weeks[0], end=weeks[-1] + timedelta(days=6),
                              ledger=LEDGER_METERED, group_by=["day", "model", "feature"]))
    verdicts, per_plan = [], {}
    for plan in project.plans.all():
        covered = covered_weeks(rows, prefixes=_split(plan.covers_models), features=_split(plan.features),
                                weeks=weeks)
        per_plan[plan.pk] = covered
        verdicts.append(verdict(plan, covered))
    return verdicts, weeks, per_plan


def claude_code_features(project: Project) -> str:
    """The features (repositories) Claude Code logs were imported under, comma-separated:
    what a Claude subscription would replace."""
    names = (UsageRecord.objects.filter(project=project, source=claude_code.SOURCE).order_by()
             .values_list("feature", flat=True).distinct()[:20])
    return ",".join(sorted(n for n in names if n))
