"""Anthropic Admin API pages: usage_report/messages (tokens) and cost_report (cents).

The cost report cannot be grouped by API key, so a cost row is per day × workspace × model
× tier × context window; usage.billed lets the token rows of the same scope and model
cover it (never both counted).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from billing.pricing.money import usd_to_nano
from usage.importers.base import (
    SEP,
    ImportFormatError,
    InputFile,
    ParseStats,
    context_is_long,
    cw_key,
    key,
    model_key,
)
from usage.importers.json_pages import bucket_results, read_pages, token_int
from usage.models import LEDGER_BILLED
from usage.records import Record

SOURCE = "anthropic_admin"
TOKEN_TYPES = {
    "uncached_input_tokens", "output_tokens", "cache_read_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens", "cache_creation.ephemeral_1h_input_tokens",
}


def _time(file: InputFile, where: int, bucket: dict) -> tuple[datetime, str]:
    raw = bucket.get("starting_at")
    try:
        ts = datetime.fromisoformat(str(raw).replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ImportFormatError(file.name, f"expected an RFC 3339 time, got {raw!r}", line=where,
                                column="starting_at") from None
    sub_daily = ts.hour or ts.minute
    try:
        end = datetime.fromisoformat(str(bucket.get("ending_at")).replace("Z", "+00:00"))
        sub_daily = sub_daily or (end - ts).total_seconds() < 86400
    except ValueError:
        pass
    return ts, ts.strftime("%H:%M") if sub_daily else ""


def _tier(value) -> tuple[str, bool]:
    tier = (value or "standard").lower()
    return tier, tier == "batch"


def parse_usage(files: Iterable[InputFile], stats: ParseStats) -> Iterator[Record]:
    for file in files:
        for where, page in read_pages(file, stats):
            for bucket, r in bucket_results(file, page, where, stats):
                ts, hour = _time(file, where, bucket)
                model = r.get("model") or ""
                creation = r.get("cache_creation") or {}
                if not isinstance(creation, dict):
                    raise ImportFormatError(file.name, "expected an object", line=where, column="cache_creation")
                tokens = {
                    "input_tokens": token_int(file, where, r.get("uncached_input_tokens"), "uncached_input_tokens"),
                    "cache_write_5m_tokens": token_int(file, where, creation.get("ephemeral_5m_input_tokens"),
                                                       "cache_creation.ephemeral_5m_input_tokens"),
                    "cache_write_1h_tokens": token_int(file, where, creation.get("ephemeral_1h_input_tokens"),
                                                       "cache_creation.ephemeral_1h_input_tokens"),
                    "cache_read_tokens": token_int(file, where, r.get("cache_read_input_tokens"),
                                                   "cache_read_input_tokens"),
                    "output_tokens": token_int(file, where, r.get("output_tokens"), "output_tokens"),
                }
                searches = token_int(file, where, (r.get("server_tool_use") or {}).get("web_search_requests"),
                                     "server_tool_use.web_search_requests")
                if not any(tokens.values()) and not searches:
                    stats.rows_skipped += 1
                    continue
                if not model:
                    raise ImportFormatError(file.name, "usage without a model: fetch the report with "
                                            "group_by[]=model", line=where, column="model")
                tier, batch = _tier(r.get("service_tier"))
                speed = "fast" if (r.get("speed") or "") == "fast" else ""
                workspace = r.get("workspace_id") or ""
                ext = key(ts.date().isoformat(), workspace, model_key(model), tier, cw_key(r.get("context_window")),
                          r.get("api_key_id"), r.get("inference_geo"), speed, r.get("account_id"),
                          r.get("service_account_id"))
                if hour:
                    ext = ext + SEP + key(hour)
                metadata = {"workspace_id": workspace}
                yield Record(
                    external_id=ext, timestamp=ts, model=model, provider="anthropic", ledger=LEDGER_BILLED,
                    api_key=r.get("api_key_id") or "", end_user=r.get("account_id") or "",
                    workspace=workspace, batch=batch, service_tier=tier, speed=speed,
                    long_context=context_is_long(r.get("context_window")), requests=0,
                    region=r.get("inference_geo") or "", web_search_requests=searches,
                    metadata=metadata, **tokens,
                )


def parse_cost(files: Iterable[InputFile], stats: ParseStats) -> Iterator[Record]:
    """`amount` is a decimal string in cents. Token costs of one (day, workspace, model,
    tier, context window) are summed into one cost-only record."""
    for file in files:
        totals: dict[str, Record] = {}
        for where, page in read_pages(file, stats):
            for bucket, r in bucket_results(file, page, where, stats):
                ts, _ = _time(file, where, bucket)
                raw = r.get("amount")
                try:
                    cents = Decimal(str(raw)) if isinstance(raw, str | int) else None
                except InvalidOperation:
                    cents = None
                if cents is None or not cents.is_finite():
                    raise ImportFormatError(file.name, f"expected an amount in cents as a decimal string, got {raw!r}",
                                            line=where, column="amount")
                currency = (r.get("currency") or "USD").upper()
                if currency != "USD":
                    raise ImportFormatError(file.name, f"expected USD, got {currency!r}", line=where, column="currency")
                day = ts.date().isoformat()
                workspace = r.get("workspace_id") or ""
                model = r.get("model") or ""
                cost_type = (r.get("cost_type") or "").lower()
                tier, batch = _tier(r.get("service_tier"))
                if cost_type in {"", "tokens"} and model:
                    ext, covers = key("cost", day, workspace, model_key(model), tier,
                                      cw_key(r.get("context_window"))), "model"
                elif not cost_type and not model:
                    # not grouped by description: the workspace's whole day
                    ext, covers = key("cost", day, workspace), "all"
                else:
                    ext, covers = key("cost", day, workspace, f"~{cost_type or 'other'}",
                                      model_key(model) if model else ""), "none"
                record = totals.get(ext)
                if record is None:
                    record = totals[ext] = Record(
                        external_id=ext, timestamp=ts, model=model or cost_type or "unattributed",
                        provider="anthropic", ledger=LEDGER_BILLED, workspace=workspace, batch=batch,
                        service_tier=tier, long_context=context_is_long(r.get("context_window")), requests=0,
                        reported_cost_nano=0, cost_only=True, covers=covers,
                        metadata={"workspace_id": workspace, "cost_type": cost_type or "all"},
                    )
                    record.metadata["_cents"] = Decimal(0)
                record.metadata["_cents"] += cents
        for record in totals.values():
            record.reported_cost_nano = usd_to_nano(record.metadata.pop("_cents") / 100)
            yield record
