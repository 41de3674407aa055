"""The Overview page's figures: KPIs, the month so far and its forecast, the per-class cost
estimate and the top lists, from one (day, provider, model) query over the range and the
month comparison window."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from billing.pricing.classes import LABELS, TOOLS, fee_count
from usage.reports.queries import (
    SpendQuery,
    by_day,
    class_costs,
    derived,
    grouped,
    month_summary,
    range_summary,
    ranked,
    total_of,
)

TOP_KEYS = ("model", "feature", "user")
TOP_ROWS = 5


def overview(q: SpendQuery, *, today: date) -> dict:
    """Figures for q's project, ledger and filters over q.start..q.end, and this month up
    to `today` (month to date, the same point last month, the projected month end)."""
    month_start = today.replace(day=1)
    prev_start = (month_start - timedelta(days=1)).replace(day=1)
    span_rows = grouped(replace(q, group_by=["day", "provider", "model"],
                                start=min(q.start, prev_start, today - timedelta(days=7)),
                                end=max(q.end, today)))
    range_rows = [r for r in span_rows if q.start <= r["day"] <= q.end]
    days = by_day(range_rows, q.start, q.end)
    total = derived(total_of(range_rows))
    daily_nano: dict[date, int] = {}
    for row in span_rows:
        daily_nano[row["day"]] = daily_nano.get(row["day"], 0) + row["cost_nano"]
    classes = class_costs(range_rows)
    top = {key: ranked(replace(q, group_by=[key]), limit=TOP_ROWS, cost_only=True) for key in TOP_KEYS}
    for rows in top.values():
        for row in rows:
            row["share"] = _share(row["cost_nano"], total["cost_nano"])
    return {
        "total": total,
        "days": days,
        "range_rows": range_rows,
        "range": range_summary(days),
        "month": month_summary(daily_nano, today=today),
        "daily_nano": daily_nano,
        "classes": classes,
        "output_share": _share(classes["output_tokens"], total["cost_nano"]),
        "token_rows": token_rows(total, classes),
        "net_cache_savings": total["cache_savings_nano"],
        "gross_cache_savings": total["cache_savings_nano"] + classes["write_premium"],
        "write_premium": classes["write_premium"],
        "top": top,
        "top_total": total["cost_nano"],
    }


def token_rows(total: dict, classes: dict) -> list[dict]:
    """Tokens, estimated cost and share of the total per token class, then the tool fees
    ("Tools": their request count instead of tokens) when there are any."""
    rows = [
        {"name": name, "tokens": total[column], "cost_nano": classes[column],
         "share": _share(classes[column], total["cost_nano"])}
        for column, name in LABELS.items()
        if total[column] or classes[column] or column in ALWAYS_SHOWN
    ]
    calls = fee_count(total)
    if calls or classes[TOOLS]:
        rows.append({"name": "Tools", "calls": calls, "cost_nano": classes[TOOLS],
                     "share": _share(classes[TOOLS], total["cost_nano"])})
    return rows


# The classes every project has; the others (OpenAI's 30m / 12h writes, audio) are listed
# when they have tokens.
ALWAYS_SHOWN = {"input_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
                "output_tokens"}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
