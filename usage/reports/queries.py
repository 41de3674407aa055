"""Read side: spend grouped by any dimension, always from the rollup tables."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import BigIntegerField, F, Q, Sum
from django.db.models.functions import Cast

from billing.pricing.classes import (
    CACHE_WRITE_COLUMNS,
    METRICS,
    PRICED_COLUMNS,
    PROMPT_COLUMNS,
    TOOLS,
    rate_class,
)
from billing.pricing.money import decimal_string
from billing.pricing.rates import PriceBook
from costwatch.tenant.models import Project
from usage.models import (
    LEDGER_BILLED,
    LEDGER_METERED,
    DailyModelUsage,
    DailyUsage,
    DimensionUsage,
    DirectoryEntry,
)
from usage.reports.forecast import forecast, period_bounds
from usage.rollups import blocks

DIMENSIONS = ["day", "model", "provider", "feature", "user", "api_key", "workspace", "batch"]
# API / URL names -> rollup column names
COLUMN = {"day": "day", "model": "model", "provider": "provider", "feature": "feature",
          "user": "end_user", "api_key": "api_key", "workspace": "workspace", "batch": "batch"}
COARSE = {"day", "model", "provider"}


@dataclass
class SpendQuery:
    project: Project
    start: date
    end: date  # inclusive
    ledger: str = ""
    group_by: list[str] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)
    granularity: str = "day"  # with "day" in group_by: per day, week or month (GRANULARITIES)


def directory_names(project: Project) -> dict[str, dict[str, str]]:
    """Names of API key and workspace ids (the directory), per dimension: {"api_key":
    {id: name}, "workspace": {id: name}}; the default workspace ('' ⇔ workspace_id null)
    is "Default"."""
    names: dict[str, dict[str, str]] = {DirectoryEntry.API_KEY: {}, DirectoryEntry.WORKSPACE: {"": "Default"}}
    for kind, ident, name in DirectoryEntry.objects.filter(project=project).values_list("kind", "ident", "name"):
        names[kind][ident] = name
    return names


def named(rows: list[dict], key: str, names: dict[str, dict[str, str]]) -> list[dict]:
    """Copies of rows with ids of `key` replaced by their names (for chart labels)."""
    mapping = names.get(key)
    if not mapping:
        return rows
    return [{**row, key: mapping.get(row[key], row[key])} for row in rows]


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


# Grouping or filtering by exactly one of these (and at most by day besides) can read the
# per-dimension rollup (ledger × one dimension × day or block of days).
SINGLE_DIMENSION = {"feature", "user", "api_key", "workspace"}


# Text dimensions also take a pattern: `code*` starts with, `*code` ends with, `*code*`
# contains (case-insensitive); anything else is the exact value.
PATTERN_DIMENSIONS = {"feature", "user", "api_key", "workspace"}


def match(column: str, value) -> Q:
    """The filter `column = value`, or the pattern it spells (see PATTERN_DIMENSIONS)."""
    text = str(value)
    core = text.strip("*")
    if "*" not in text or "*" in core:
        return Q(**{column: value})
    if not core:
        return Q()  # "*": anything
    if text.startswith("*") and text.endswith("*"):
        return Q(**{f"{column}__icontains": core})
    lookup = "istartswith" if text.endswith("*") else "iendswith"
    return Q(**{f"{column}__{lookup}": core})


def known_values(project: Project, *, ledger: str, dimension: str, start: date, end: date,
                 limit: int = 5000) -> list[str]:
    """The values one dimension took in [start, end] (for the filter bar's suggestions),
    read from the per-dimension rollup's blocks: a few rows per value, not one per day."""
    qs = (DimensionUsage.objects.filter(project=project, ledger=ledger, dimension=COLUMN[dimension])
          .filter(_blocks_q(start, end)).exclude(value="")
          .values_list("value", flat=True).distinct().order_by("value"))
    return list(qs[:limit])


def _blocks_q(start: date, end: date) -> Q:
    starts: dict[int, list[date]] = {}
    for span, first in blocks(start, end):
        starts.setdefault(span, []).append(first)
    match = Q(pk__in=[])
    for span, days in sorted(starts.items()):
        match |= Q(span=span, day__in=days)
    return match


def rollup_queryset(q: SpendQuery):
    """The rollup rows behind q, and the ledger. Group them by q.group_by only: without "day"
    in it, a per-dimension query reads blocks of days, whose `day` is the block's first."""
    dims = set(q.group_by) | set(q.filters)
    ledger = q.ledger or default_ledger(q.project, q.start, q.end)
    single = dims - {"day"}
    if len(single) == 1 and single <= SINGLE_DIMENSION:
        # The detailed rollup grows with users × features × keys per day; this one only
        # with the values of one dimension per day. Per day when grouping by day, else the
        # range as a few aligned blocks of days (usage.rollups.blocks).
        column = COLUMN[single.pop()]
        qs = DimensionUsage.objects.filter(project=q.project, ledger=ledger, dimension=column)
        if "day" in dims:
            qs = qs.filter(span=1, day__gte=q.start, day__lte=q.end)
        else:
            qs = qs.filter(_blocks_q(q.start, q.end))
        qs = qs.annotate(**{column: F("value")})
        for value in q.filters.values():
            qs = qs.filter(match("value", value))
        return qs, ledger
    table = DailyModelUsage if dims <= COARSE else DailyUsage
    qs = table.objects.filter(project=q.project, ledger=ledger, day__gte=q.start, day__lte=q.end)
    for name, value in q.filters.items():
        column = COLUMN[name]
        if column == "batch":
            value = str(value).lower() in {"1", "true", "yes"}
        qs = qs.filter(match(column, value) if name in PATTERN_DIMENSIONS else Q(**{column: value}))
    return qs, ledger


def _metrics(sums: dict) -> dict:
    out = {m: int(sums.get(m) or 0) for m in METRICS}
    prompt = sum(out[c] for c in PROMPT_COLUMNS)
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
    if "day" in q.group_by and q.granularity != "day":
        rows = regrouped(rows, q.group_by, q.granularity)
    return rows, total, ledger


def regrouped(rows: list[dict], group_by: list[str], granularity: str) -> list[dict]:
    """Rows grouped by day (and more) summed per week or month: "day" becomes the first
    day of the period."""
    sums: dict[tuple, list[dict]] = {}
    for row in in_periods(rows, granularity):
        sums.setdefault(tuple(row[g] for g in group_by), []).append(row)
    out = [{**dict(zip(group_by, key, strict=True)), **total_of(members)} for key, members in sums.items()]
    return sorted(out, key=lambda r: tuple("" if r[g] is None else str(r[g]) for g in group_by))


def as_api(row: dict) -> dict:
    """Cost fields as decimal-dollar strings for the JSON API."""
    out = {k: v for k, v in row.items() if not k.endswith("_nano")}
    if isinstance(out.get("day"), date):
        out["day"] = out["day"].isoformat()
    out["cost_usd"] = decimal_string(row["cost_nano"])
    out["cost_without_caching_usd"] = decimal_string(row["cost_no_cache_nano"])
    out["cost_without_batch_usd"] = decimal_string(row["cost_no_batch_nano"])
    out["cache_savings_usd"] = decimal_string(row["cost_no_cache_nano"] - row["cost_nano"])
    out["batch_savings_usd"] = decimal_string(row["cost_no_batch_nano"] - row["cost_nano"])
    out["reported_cost_usd"] = decimal_string(row["reported_cost_nano"])
    out["fees_usd"] = decimal_string(row["fees_nano"])  # tool fees, part of cost_usd
    return out


# --- dashboard read side -------------------------------------------------------------------
# Everything below reads the rollups only; the records page alone reads UsageRecord.

def _sums(metrics: list[str] = METRICS) -> dict:
    # PostgreSQL's SUM(bigint) is numeric, which psycopg turns into Decimal (slow to build
    # and to add up in Python); bigint is exact up to $9.2B in nano-USD.
    return {m: Cast(Sum(m), BigIntegerField()) for m in metrics}


def _fetch(qs) -> list[dict]:
    """The rows of a values() queryset as plain dicts, skipping Django's per-value converters
    (a breakdown by end user is thousands of rows × 13 sums). SQLite returns dates as text."""
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    if rows and isinstance(rows[0].get("day"), str):
        for row in rows:
            row["day"] = date.fromisoformat(row["day"])
    return rows


def grouped(q: SpendQuery) -> list[dict]:
    """Rows only (one query), grouped by q.group_by."""
    qs, _ = rollup_queryset(q)
    return aggregate_rows(qs, q.group_by)


def aggregate_rows(qs, group_by: list[str]) -> list[dict]:
    columns = [COLUMN[g] for g in group_by]
    out = []
    for values in _fetch(qs.values(*columns).annotate(**_sums()).order_by(*columns)):
        row = {g: values[COLUMN[g]] for g in group_by}
        row.update(_metrics(values))
        out.append(row)
    return out


def total_of(rows: list[dict]) -> dict:
    """The sum of grouped rows, with its derived fields, without another query."""
    return _metrics({m: sum(r[m] for r in rows) for m in METRICS})


def by_day(rows: list[dict], start: date, end: date) -> list[dict]:
    """One row per day in [start, end] (zeros where there was no usage), summing other keys."""
    days: dict[date, list[dict]] = {}
    for row in rows:
        days.setdefault(row["day"], []).append(row)
    out = []
    day = start
    while day <= end:
        row = total_of(days.get(day, []))
        row["day"] = day
        out.append(row)
        day += timedelta(days=1)
    return out


# Charts and tables per UTC day, ISO week (Monday to Sunday) or calendar month; a row's "day"
# is then the first day of its period.
GRANULARITIES = {"day": "Day", "week": "Week", "month": "Month"}


def period_start(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def periods(start: date, end: date, granularity: str) -> list[date]:
    """The first day of every period that meets [start, end]."""
    out, current = [], period_start(start, granularity)
    while current <= end:
        out.append(current)
        if granularity == "week":
            current += timedelta(days=7)
        elif granularity == "month":
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            current += timedelta(days=1)
    return out


def in_periods(rows: list[dict], granularity: str) -> list[dict]:
    """Copies of (day, …) rows with "day" moved to the first day of its period (the caller
    sums rows that then share a key)."""
    if granularity == "day":
        return rows
    return [{**row, "day": period_start(row["day"], granularity)} for row in rows]


def by_period(rows: list[dict], start: date, end: date, granularity: str) -> list[dict]:
    """One row per period meeting [start, end] (zeros where there was no usage): by_day's
    rows summed per week or month. A period cut by the range counts only its days inside."""
    buckets: dict[date, list[dict]] = {}
    for row in by_day(rows, start, end):
        buckets.setdefault(period_start(row["day"], granularity), []).append(row)
    out = []
    for first in periods(start, end, granularity):
        row = total_of(buckets.get(first, []))
        row["day"] = first
        out.append(row)
    return out


def derived(row: dict) -> dict:
    """Fields the tables show, computed from a metrics row (money stays in nano-USD)."""
    prompt = sum(row[c] for c in PROMPT_COLUMNS)
    return {
        **row,
        "prompt_tokens": prompt,
        "cache_write_tokens": sum(row[c] for c in CACHE_WRITE_COLUMNS),
        "avg_cost_nano": row["cost_nano"] // row["requests"] if row["requests"] else None,
        "cache_savings_nano": row["cost_no_cache_nano"] - row["cost_nano"],
        "batch_savings_nano": row["cost_no_batch_nano"] - row["cost_nano"],
    }


def with_shares(rows: list[dict]) -> list[dict]:
    total = sum(r["cost_nano"] for r in rows)
    return [{**derived(r), "share": r["cost_nano"] / total if total else None} for r in rows]


def _class_parts(row: dict, book) -> dict[str, Decimal] | None:
    """A (day, model) row's cost per token class: list rates, scaled so the classes add up
    to the row's token cost (which includes batch discounts, long-context and priority
    rates); its tool fees are the Tools class as they are. None for unpriced rows."""
    if not row["cost_nano"]:
        return None
    parts: dict[str, Decimal] = {TOOLS: Decimal(row["fees_nano"])}
    token_cost = row["cost_nano"] - row["fees_nano"]
    rates = book.rates_at(row["model"], row["day"]) if token_cost else None
    if rates is None:
        return parts
    per = rates.per_class()
    listed_parts = {c: row[c] * per[rate_class(c)] for c in PRICED_COLUMNS}
    listed = sum(listed_parts.values())
    if not listed:
        return parts
    # the same writes at the uncached input rate: what caching adds on top
    premium = sum(row[c] * (per[rate_class(c)] - per["input"]) for c in CACHE_WRITE_COLUMNS)
    scale = Decimal(token_cost) / listed
    parts.update({name: value * scale for name, value in listed_parts.items()})
    parts["write_premium"] = premium * scale
    return parts


def price_book():
    """The price book for display estimates: the process's current one (PriceBook.current)."""
    return PriceBook.current()


def prices_version() -> str:
    """The version of the price rows price_book() is loaded from (the page cache's key: a
    page priced with another book is another entry)."""
    return str(price_book().version)


def class_costs(rows: list[dict]) -> dict[str, int]:
    """Estimated cost per token class, the tool fees (TOOLS) and the cache-write premium
    (nano-USD) of (day, model) rows; see _class_parts."""
    book = price_book()
    out = dict.fromkeys([*PRICED_COLUMNS, TOOLS, "write_premium"], Decimal(0))
    for row in rows:
        parts = _class_parts(row, book)
        for name, value in (parts or {}).items():
            out[name] += value
    return {name: int(value) for name, value in out.items()}


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def month_summary(daily: dict[date, int], *, today: date) -> dict:
    """Month-to-date, the same point last month, and the projected month end (the one
    forecast, usage.reports.forecast), from daily cost (nano-USD) covering the previous
    month through today."""
    month_start, month_end = period_bounds("month", today)
    mtd = sum(v for d, v in daily.items() if month_start <= d <= today)
    prev_start = _month_start(month_start - timedelta(days=1))
    prev_end = min(prev_start + timedelta(days=today.day - 1),
                   prev_start.replace(day=_days_in_month(prev_start)))
    prev = sum(v for d, v in daily.items() if prev_start <= d <= prev_end)
    fc = forecast(daily, start=month_start, end=month_end, today=today)
    return {
        "mtd_nano": mtd,
        "prev_nano": prev,
        "prev_start": prev_start,
        "prev_end": prev_end,
        "change": (mtd - prev) / prev if prev else None,
        "projected_nano": fc.projected_nano,
        "run_rate_nano": fc.rate_nano,
        "month_start": month_start,
        "today": today,
        "month_end": month_end,
    }


def range_summary(days: list[dict]) -> dict:
    """Daily average and the cheapest / most expensive day of a by_day() series."""
    if not days:
        return {"avg_nano": 0, "min": None, "max": None}
    total = sum(d["cost_nano"] for d in days)
    cheapest = min(days, key=lambda d: (d["cost_nano"], d["day"]))
    dearest = max(days, key=lambda d: (d["cost_nano"], d["day"]))
    return {"avg_nano": total // len(days), "min": cheapest, "max": dearest}


def ranked(q: SpendQuery, *, limit: int | None = None, cost_only: bool = False) -> list[dict]:
    """Rows grouped by q.group_by, most expensive first (ties by name). `cost_only` sums
    just cost and requests (the top-N lists), which is cheaper over many groups."""
    qs, _ = rollup_queryset(q)
    columns = [COLUMN[g] for g in q.group_by]
    sums = _sums(["cost_nano", "requests"] if cost_only else METRICS)
    qs = qs.values(*columns).annotate(**sums).order_by("-cost_nano", *columns)
    if limit:
        qs = qs[:limit]
    out = []
    for values in _fetch(qs):
        row = {g: values[COLUMN[g]] for g in q.group_by}
        row.update(_metrics(values))
        out.append(row)
    return out


def daily_cost(q: SpendQuery, *, key: str, values: list) -> list[dict]:
    """Cost per (day, key) for the given key values only: the stacked chart's top series."""
    qs, _ = rollup_queryset(replace(q, group_by=["day", key]))
    column = COLUMN[key]
    qs = qs.filter(**{f"{column}__in": values}).values("day", column).annotate(
        **_sums(["cost_nano"])).order_by("day", column)
    return [{"day": r["day"], key: r[column], "cost_nano": int(r["cost_nano"] or 0)}
            for r in _fetch(qs)]


# ORDER BY expressions over the grouped rows of ranked_page(); {col} is the dimension.
ORDER_SQL = {
    "name": "LOWER({col})",
    "spend": "cost_nano",
    "share": "cost_nano",
    "requests": "requests",
    "input": "input_tokens",
    "cache_read": "cache_read_tokens",
    "cache_write": "(" + " + ".join(CACHE_WRITE_COLUMNS) + ")",
    "output": "output_tokens",
    "avg": "(cost_nano * 1.0 / NULLIF(requests, 0))",
    "hit": "(cache_read_tokens * 1.0 / NULLIF(" + " + ".join(PROMPT_COLUMNS) + ", 0))",
}


def ranked_page(q: SpendQuery, *, sort: str, desc: bool, limit: int) -> tuple[list[dict], dict, int]:
    """One page of rows grouped by a single dimension, sorted in the database, with the
    total over all groups and their count from the same scan (window functions): a
    breakdown by end user has thousands of groups, the page shows a few dozen."""
    qs, _ = rollup_queryset(q)
    column = COLUMN[q.group_by[0]]
    inner, params = qs.values(column).annotate(**_sums()).order_by().query.sql_with_params()
    totals = ", ".join(f"SUM({m}) OVER () AS total_{m}" for m in METRICS)
    order = ORDER_SQL[sort].format(col=column)
    direction = "DESC" if desc else "ASC"
    sql = (f"SELECT t.*, COUNT(*) OVER () AS group_count, {totals} FROM ({inner}) t "
           f"ORDER BY {order} {direction} NULLS LAST, {column} LIMIT %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        names = [c[0] for c in cursor.description]
        fetched = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    if not fetched:
        return [], _metrics({}), 0
    total = _metrics({m: fetched[0][f"total_{m}"] for m in METRICS})
    rows = []
    for values in fetched:
        row = {q.group_by[0]: values[column], **_metrics(values)}
        row = derived(row)
        row["share"] = row["cost_nano"] / total["cost_nano"] if total["cost_nano"] else None
        rows.append(row)
    return rows, total, int(fetched[0]["group_count"])
