"""Anthropic Console exports: the Usage CSV (tokens) and the Cost CSV (dollars).

Both describe the same spend and have one natural key (docs/formats.md §1):
day × model × workspace × api key × usage type × context window × speed × inference geo,
plus the hour for sub-daily usage rows. The cost file's token-type rows of one key are
summed into one cost-only row (its key prefixed "cost"), which usage.billed matches to the
token rows of the same scope and model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

from billing.pricing.money import usd_to_nano
from usage.importers.base import (
    SEP,
    CsvRow,
    ImportFormatError,
    InputFile,
    ParseStats,
    context_is_long,
    cw_key,
    key,
    model_key,
    parse_day_or_time,
    read_csv,
)
from usage.models import LEDGER_BILLED
from usage.records import Record

SOURCE = "anthropic_console"

USAGE_REQUIRED = ["usage_date_utc", "model_version"]
# Token columns by layout: current (14 columns), mid-2025 (11), pre-1h-TTL (single
# cache_write column). A file with none of them is not a usage export.
TOKEN_COLUMNS = [
    "usage_input_tokens_no_cache",
    "usage_input_tokens_cache_write_5m",
    "usage_input_tokens_cache_write_1h",
    "usage_input_tokens_cache_write",
    "usage_input_tokens_cache_read",
    "usage_output_tokens",
]
COST_REQUIRED = ["usage_date_utc", "model", "token_type", "cost_usd"]

TOKEN_TYPES = {
    "input_no_cache", "input_cache_read", "input_cache_write", "input_cache_write_5m",
    "input_cache_write_1h", "output",
}


def _tier(usage_type: str) -> tuple[str, bool]:
    """(service tier, batch). The usage file says 'standard', the cost file 'message'."""
    value = usage_type.strip().lower()
    if value in {"", "standard", "message", "messages"}:
        return "standard", False
    if value == "batch":
        return "batch", True
    return value, False


def _workspace(value: str) -> str:
    # 2024 cost files leave the default workspace empty; later files say 'Default'.
    return value or "Default"


def workspace_ref(name: str) -> str:
    """UsageRecord.workspace: `Default` is the API's workspace_id null."""
    return "" if _workspace(name) == "Default" else name


def natural_key(*, day: str, model: str, workspace: str, api_key: str, tier: str,
                context_window: str, speed: str, geo: str) -> str:
    return key(day, model_key(model), _workspace(workspace), api_key, tier, cw_key(context_window),
               speed or "standard", geo)


def parse_usage(files: Iterable[InputFile], stats: ParseStats) -> Iterator[Record]:
    for file in files:
        rows = read_csv(file, stats, required=USAGE_REQUIRED, format_label="Anthropic Console usage export")
        first = True
        for row in rows:
            if first:
                first = False
                if not any(c in row.values for c in TOKEN_COLUMNS):
                    raise ImportFormatError(
                        file.name, "no token columns (usage_input_tokens_no_cache, usage_output_tokens, …)",
                        line=1,
                    )
            record = _usage_record(row)
            if record is None:
                stats.rows_skipped += 1
                continue
            yield record


def _usage_record(row: CsvRow) -> Record | None:
    ts, hour = parse_day_or_time(row, "usage_date_utc")
    model = row.get("model_version")
    if not model:
        raise row.error("model_version", "expected a model id, got an empty cell")
    w5 = row.int("usage_input_tokens_cache_write_5m") + row.int("usage_input_tokens_cache_write")
    tokens = {
        "input_tokens": row.int("usage_input_tokens_no_cache"),
        "cache_write_5m_tokens": w5,
        "cache_write_1h_tokens": row.int("usage_input_tokens_cache_write_1h"),
        "cache_read_tokens": row.int("usage_input_tokens_cache_read"),
        "output_tokens": row.int("usage_output_tokens"),
    }
    web_searches = row.int("web_search_count")
    if not any(tokens.values()) and not web_searches:
        return None
    tier, batch = _tier(row.get("usage_type"))
    speed = row.get("speed").lower()
    speed = "fast" if speed == "fast" else ""
    context_window = row.get("context_window")
    workspace = _workspace(row.get("workspace"))
    geo = row.get("inference_geo")
    ext = natural_key(day=ts.date().isoformat(), model=model, workspace=workspace,
                      api_key=row.get("api_key"), tier=tier, context_window=context_window,
                      speed=speed, geo=geo)
    if hour:
        ext = ext + SEP + key(hour)
    metadata = {"workspace": workspace}
    if geo:
        metadata["inference_geo"] = geo
    return Record(
        external_id=ext,
        timestamp=ts,
        model=model,
        provider="anthropic",
        ledger=LEDGER_BILLED,
        api_key=row.get("api_key"),
        workspace=workspace_ref(workspace),
        batch=batch,
        service_tier=tier,
        speed=speed,
        long_context=context_is_long(context_window),
        region=geo,
        requests=0,  # the export has no request counts
        web_search_requests=web_searches,
        metadata=metadata,
        **tokens,
    )


def parse_cost(files: Iterable[InputFile], stats: ParseStats) -> Iterator[Record]:
    """Cost rows are summed per natural key (a cost file is small: at most six token
    types per key and day), then yielded as cost-only records."""
    for file in files:
        totals: dict[str, Record] = {}
        rows = read_csv(file, stats, required=COST_REQUIRED, format_label="Anthropic Console cost export")
        for row in rows:
            ts, _ = parse_day_or_time(row, "usage_date_utc")
            model = row.get("model")
            amount = row.decimal("cost_usd")
            cost_type = row.get("cost_type").lower() or "token"
            token_type = row.get("token_type").lower()
            if cost_type in {"token", "tokens"}:
                if token_type not in TOKEN_TYPES:
                    raise row.error("token_type", f"expected one of {', '.join(sorted(TOKEN_TYPES))}, "
                                    f"got {row.get('token_type')!r}")
                if not model:
                    raise row.error("model", "expected a model name, got an empty cell")
            tier, batch = _tier(row.get("usage_type"))
            speed = "fast" if row.get("speed").lower() == "fast" else ""
            context_window = row.get("context_window")
            workspace = _workspace(row.get("workspace"))
            geo = row.get("inference_geo")
            day = ts.date().isoformat()
            # "cost|…": a cost row never shares a key with a token row; usage.billed
            # matches the two views of the same usage by scope and model instead.
            if cost_type in {"token", "tokens"}:
                ext = "cost" + SEP + natural_key(day=day, model=model, workspace=workspace,
                                                 api_key=row.get("api_key"), tier=tier,
                                                 context_window=context_window, speed=speed, geo=geo)
            else:
                # Web search / code execution: not priced from tokens, so never covered by
                # token rows; it adds to the bill.
                ext = key("cost", day, model_key(model) if model else "", workspace, row.get("api_key"), tier,
                          f"~{cost_type}")
            record = totals.get(ext)
            if record is None:
                metadata = {"workspace": workspace, "cost_type": cost_type}
                if row.get("api_key_id"):
                    metadata["api_key_id"] = row.get("api_key_id")
                record = totals[ext] = Record(
                    external_id=ext,
                    timestamp=ts,
                    model=model_key(model) if model else cost_type,
                    provider="anthropic",
                    ledger=LEDGER_BILLED,
                    api_key=row.get("api_key"),
                    workspace=workspace_ref(workspace),
                    batch=batch,
                    service_tier=tier,
                    speed=speed,
                    long_context=context_is_long(context_window),
                    requests=0,
                    reported_cost_nano=0,
                    cost_only=True,
                    covers="model" if cost_type in {"token", "tokens"} else "none",
                    metadata=metadata,
                )
                record.metadata["_usd"] = Decimal(0)
            record.metadata["_usd"] += amount
        for record in totals.values():
            record.reported_cost_nano = usd_to_nano(record.metadata.pop("_usd"))
            yield record
