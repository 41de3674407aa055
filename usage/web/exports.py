"""CSV downloads of the dashboard's tables, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.http import StreamingHttpResponse

from billing.pricing.classes import EXPORT_TOKEN_COLUMNS
from billing.pricing.money import nano_to_usd

# A cell starting with one of these is a formula to Excel / LibreOffice / Sheets (OWASP
# "CSV injection"); a leading apostrophe makes it text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")  # 0 is "0.000000000", never "0E-9"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _stream(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(v) for v in row])


def csv_response(header: list[str], rows: Iterable[list], *, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_stream(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _cost(nano: int | None) -> Decimal | None:
    # Numbers (a negative one too) are written as numbers, never escaped.
    return nano_to_usd(nano)


TOKEN_COLUMNS = EXPORT_TOKEN_COLUMNS


def breakdown_csv(rows: list[dict], *, by: str, filename: str,
                  names: dict[str, str] | None = None) -> StreamingHttpResponse:
    """`names`: the directory's names of `by`'s ids (API keys, workspaces), a column after the id."""
    named = names is not None
    header = [by, *([f"{by}_name"] if named else []), "cost_usd", "fees_usd", "share", "requests", *TOKEN_COLUMNS,
              "avg_cost_per_request_usd",
              "cache_hit_rate", "cache_savings_usd", "batch_savings_usd", "unpriced_records"]
    body = (
        [r[by], *([names.get(r[by] or "", "")] if named else []), _cost(r["cost_nano"]), _cost(r["fees_nano"]),
         "" if r["share"] is None else f"{r['share']:.4f}",
         r["requests"], *[r[c] for c in TOKEN_COLUMNS], _cost(r["avg_cost_nano"]),
         "" if r["cache_hit_rate"] is None else r["cache_hit_rate"],
         _cost(r["cache_savings_nano"]), _cost(r["batch_savings_nano"]), r["unpriced_records"]]
        for r in rows
    )
    return csv_response(header, body, filename=filename)


def daily_csv(days: list[dict], *, filename: str, granularity: str = "day") -> StreamingHttpResponse:
    """One row per UTC day, or per week (its Monday) or month (its first day)."""
    first = {"day": "day_utc", "week": "week_start_utc", "month": "month_start_utc"}[granularity]
    header = [first, "cost_usd", "fees_usd", "requests", *TOKEN_COLUMNS, "cache_hit_rate",
              "cache_savings_usd", "batch_savings_usd", "unpriced_records"]
    body = (
        [d["day"].isoformat(), _cost(d["cost_nano"]), _cost(d["fees_nano"]), d["requests"],
         *[d[c] for c in TOKEN_COLUMNS],
         "" if d["cache_hit_rate"] is None else d["cache_hit_rate"],
         _cost(d["cache_savings_nano"]), _cost(d["batch_savings_nano"]), d["unpriced_records"]]
        for d in days
    )
    return csv_response(header, body, filename=filename)


def records_csv(qs, *, zone, filename: str, names: dict[str, dict[str, str]]) -> StreamingHttpResponse:
    header = ["timestamp", "day_utc", "ledger", "source", "external_id", "provider", "model",
              "priced_model", "feature", "end_user", "api_key", "api_key_name", "workspace",
              "workspace_name", "batch", "service_tier", "region",
              "requests", *TOKEN_COLUMNS, "fees_usd", "cost_usd", "cost_without_caching_usd",
              "cost_without_batch_usd", "reported_cost_usd"]
    fields = ["timestamp", "day", "ledger", "source", "external_id", "provider", "model",
              "priced_model", "feature", "end_user", "api_key", "workspace", "batch", "service_tier", "region",
              "requests", *TOKEN_COLUMNS, "fees_nano", "cost_nano", "cost_no_cache_nano",
              "cost_no_batch_nano", "reported_cost_nano"]
    body = (
        [r["timestamp"].astimezone(zone).isoformat(), r["day"].isoformat(),
         *[r[c] for c in fields[2:7]], _priced_model(r), *[r[c] for c in fields[8:11]], names["api_key"].get(r["api_key"], ""), r["workspace"],
         names["workspace"].get(r["workspace"], "") if r["ledger"] == "billed" else "",
         *[r[c] for c in fields[12:-5]],
         *[_cost(r[c]) for c in fields[-5:]]]
        for r in qs.values(*fields).iterator(chunk_size=2000)
    )
    return csv_response(header, body, filename=filename)


def _priced_model(r: dict) -> str:
    """The model a priced record was priced as (stored only when it differs from `model`)."""
    return r["priced_model"] or (r["model"] if r["cost_nano"] is not None else "")


def reconcile_csv(cells, *, filename: str) -> StreamingHttpResponse:
    """Every (day, provider, model) cell of a usage.reports.reconcile.Reconciliation."""
    header = ["day_utc", "provider", "model", "metered_cost_usd", "billed_cost_usd",
              "difference_usd", "difference_share", "billed_reported_cost_usd",
              "metered_requests", "metered_tokens", "billed_tokens", "status", "metered_fees_usd",
              "billed_fees_usd"]
    body = (
        [c.day.isoformat(), c.provider, c.model,
         _cost(c.metered.cost_nano) if c.metered else "", _cost(c.billed.cost_nano) if c.billed else "",
         _cost(c.diff_nano),
         "" if c.diff_share is None else round(c.diff_share, 4),
         _cost(c.billed.reported_cost_nano) if c.billed and c.billed.reported_cost_nano else "",
         c.metered.requests if c.metered else "", c.metered.tokens if c.metered else "",
         c.billed.tokens if c.billed else "", c.status,
         _cost(c.metered.fees_nano) if c.metered else "", _cost(c.billed.fees_nano) if c.billed else ""]
        for c in cells
    )
    return csv_response(header, body, filename=filename)
