"""Spend per UTC hour of one day, from the records themselves (the rollups are per day)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.db.models import BigIntegerField, Count, Sum
from django.db.models.functions import Cast, TruncHour

HOUR_SUMS = ["cost_nano", "requests", "input_tokens", "output_tokens", "cache_read_tokens"]


def hourly(records, day: date) -> list[dict]:
    """24 rows (hour 00–23 UTC of `day`) of a UsageRecord queryset already limited to that
    day: cost (nano-USD, unpriced records count as 0), requests, tokens, records."""
    sums = {m: Cast(Sum(m), BigIntegerField()) for m in HOUR_SUMS}
    found = {}
    rows = (records.order_by().annotate(hour=TruncHour("timestamp", tzinfo=UTC))
            .values("hour").annotate(records=Count("id"), **sums))
    for row in rows:
        found[row["hour"].astimezone(UTC).hour] = row
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    out = []
    for hour in range(24):
        row = found.get(hour, {})
        out.append({"hour": start + timedelta(hours=hour), "records": row.get("records", 0),
                    **{m: int(row.get(m) or 0) for m in HOUR_SUMS}})
    return out
