"""Read side: spend grouped by any dimension, always from the rollup tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from billing.pricing import nano_to_usd
from usage.models import LEDGER_BILLED, LEDGER_METERED, DailyModelUsage, DailyUsage, Project

DIMENSIONS = ["day", "model", "provider", "feature", "user", "api_key", "batch"]
# API / URL names -> rollup column names
COLUMN = {"day": "day", "model": "model", "provider": "provider", "feature": "feature",
          "user": "end_user", "api_key": "api_key", "batch": "batch"}
COARSE = {"day", "model", "provider"}
METRICS = [
    "requests",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "cost_nano",
    "cost_no_cache_nano",
    "cost_no_batch_nano",
    "reported_cost_nano",
    "unpriced_requests",
    "unpriced_records",
]


@dataclass
class SpendQuery:
    project: Project
    start: date
    end: date  # inclusive
    ledger: str = ""
    group_by: list[str] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)


def default_ledger(project: Project, start: date, end: date) -> str:
    """metered when the period has metered data, else billed."""
    has_metered = DailyModelUsage.objects.filter(
        project=project, ledger=LEDGER_METERED, day__gte=start, day__lte=end
    ).exists()
    if has_metered:
        return LEDGER_METERED
    has_billed = DailyModelUsage.objects.filter(
        project=project, ledger=LEDGER_BILLED, day__gte=start, day__lte=end
    ).exists()
    return LEDGER_BILLED if has_billed else LEDGER_METERED


def rollup_queryset(q: SpendQuery):
    dims = set(q.group_by) | set(q.filters)
    table = DailyModelUsage if dims <= COARSE else DailyUsage
    ledger = q.ledger or default_ledger(q.project, q.start, q.end)
    qs = table.objects.filter(project=q.project, ledger=ledger, day__gte=q.start, day__lte=q.end)
    for name, value in q.filters.items():
        column = COLUMN[name]
        if column == "batch":
            value = str(value).lower() in {"1", "true", "yes"}
        qs = qs.filter(**{column: value})
    return qs, ledger


def _metrics(sums: dict) -> dict:
    out = {m: int(sums.get(m) or 0) for m in METRICS}
    prompt = (out["input_tokens"] + out["cache_read_tokens"] + out["cache_write_5m_tokens"]
              + out["cache_write_1h_tokens"])
    out["cache_hit_rate"] = round(out["cache_read_tokens"] / prompt, 4) if prompt else None
    return out


def aggregate(qs, group_by: list[str]) -> tuple[list[dict], dict]:
    """Rows grouped by the given dimension names (API names), and the total."""
    columns = [COLUMN[g] for g in group_by]
    annotations = {m: Sum(m) for m in METRICS}
    rows = []
    if columns:
        for values in qs.values(*columns).annotate(**annotations).order_by(*columns):
            row = {g: values[COLUMN[g]] for g in group_by}
            row.update(_metrics(values))
            rows.append(row)
    total = _metrics(qs.aggregate(**annotations))
    return rows, total


def spend(q: SpendQuery) -> tuple[list[dict], dict, str]:
    qs, ledger = rollup_queryset(q)
    rows, total = aggregate(qs, q.group_by)
    return rows, total, ledger


def money(nano: int | None) -> str | None:
    usd = nano_to_usd(nano)
    return None if usd is None else format(usd, "f")


def as_api(row: dict) -> dict:
    """Cost fields as decimal-dollar strings for the JSON API."""
    out = {k: v for k, v in row.items() if not k.endswith("_nano")}
    for key in ("day",):
        if isinstance(out.get(key), date):
            out[key] = out[key].isoformat()
    out["cost_usd"] = money(row["cost_nano"])
    out["cost_without_caching_usd"] = money(row["cost_no_cache_nano"])
    out["cost_without_batch_usd"] = money(row["cost_no_batch_nano"])
    out["cache_savings_usd"] = money(row["cost_no_cache_nano"] - row["cost_nano"])
    out["batch_savings_usd"] = money(row["cost_no_batch_nano"] - row["cost_nano"])
    out["reported_cost_usd"] = money(row["reported_cost_nano"])
    return out


def usd(nano: int) -> Decimal:
    return nano_to_usd(nano) or Decimal(0)
