"""A generic CSV for everything else: one row per request or per day.

Columns (by name, any order, unknown columns ignored):
  required  model; and timestamp (ISO 8601, UTC unless it has an offset) or date (YYYY-MM-DD)
  optional  id (idempotency key; without it a date row's dimensions are its key, so a later
            file restating a day replaces it, and a timestamp row — one request — is keyed by
            its dimensions and its line, so two requests in the same second stay two), provider, feature, user, api_key, batch,
            service_tier, speed, requests, input_tokens (uncached), output_tokens,
            cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
            cache_write_30m_tokens, cache_write_12h_tokens, audio_input_tokens,
            reasoning_tokens, web_search_requests, web_fetch_requests, file_search_requests,
            grounding_requests, region, cost_usd (what the provider billed), long_context,
            ledger (metered — the default — or billed)
A row with cost_usd and no tokens is stored at that cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime

from billing.pricing.classes import FEE_COLUMNS, TOKEN_COLUMNS
from billing.pricing.money import usd_to_nano
from usage.importers.base import (
    CsvRow,
    ImportFormatError,
    InputFile,
    ParseStats,
    exact_id,
    key,
    parse_iso,
    read_csv,
)
from usage.models import LEDGER_BILLED, LEDGER_METERED
from usage.records import Record, guess_provider

SOURCE = "generic_csv"
TOKENS = TOKEN_COLUMNS


def parse(files: Iterable[InputFile], stats: ParseStats) -> Iterator[Record]:
    for file in files:
        first = True
        for row in read_csv(file, stats, required=["model"], format_label="generic usage CSV"):
            if first:
                first = False
                if "timestamp" not in row.values and "date" not in row.values:
                    raise ImportFormatError(file.name, "missing column timestamp (or date)", line=1)
            yield _record(row)


def _timestamp(row: CsvRow) -> datetime:
    if row.get("timestamp"):
        ts = parse_iso(row.get("timestamp"))
        if ts is None:
            raise row.error("timestamp", f"expected an ISO 8601 time, got {row.get('timestamp')!r}")
        return ts
    try:
        d = date.fromisoformat(row.get("date"))
    except ValueError:
        raise row.error("date", f"expected a date YYYY-MM-DD, got {row.get('date')!r}") from None
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _record(row: CsvRow) -> Record:
    ts = _timestamp(row)
    model = row.get("model")
    if not model:
        raise row.error("model", "expected a model id, got an empty cell")
    ledger = row.get("ledger").lower() or LEDGER_METERED
    if ledger not in {LEDGER_METERED, LEDGER_BILLED}:
        raise row.error("ledger", f"expected metered or billed, got {row.get('ledger')!r}")
    tokens = {name: row.int(name) for name in TOKENS}
    tools = {name: row.int(name) for name in FEE_COLUMNS}
    usd = row.decimal("cost_usd", required=False)
    tier = row.get("service_tier").lower()
    batch = row.bool("batch") or tier == "batch"
    provider = row.get("provider").lower() or guess_provider(model)
    long_context = row.bool("long_context") if row.get("long_context") else None
    dims = [ts.isoformat(), model, provider, row.get("feature"), row.get("user"), row.get("api_key"),
            "batch" if batch else "", tier, row.get("speed").lower()]
    region = row.get("region").lower()
    if region:
        dims.append(region)  # (keys of rows without a region stay what they were)
    if row.get("timestamp"):
        dims.append(f"line {row.line}")
    return Record(
        external_id=exact_id(row.get("id")) if row.get("id") else key(*dims),
        timestamp=ts,
        model=model,
        provider=provider,
        ledger=ledger,
        feature=row.get("feature"),
        end_user=row.get("user"),
        api_key=row.get("api_key"),
        batch=batch,
        service_tier=tier,
        speed=row.get("speed").lower(),
        region=region,
        long_context=long_context,
        requests=row.int("requests") if row.get("requests") else 1,
        reported_cost_nano=usd_to_nano(usd) if usd is not None else None,
        cost_only=usd is not None and not any(tokens.values()) and not any(tools.values()),
        **tokens,
        **tools,
    )
