"""OpenAI organization usage and costs: the dashboard CSV exports and the Usage / Costs
API pages (docs/formats.md §4).

Costs are per line item ("<model>, input"), never per API key, user, batch or tier; so a
cost record is per day × project × model, and the token rows of that scope and model
cover it (usage.billed), so the same spend is never counted twice. Costs with no model
(file search, …) are never covered: tokens don't price them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from billing.pricing.money import usd_to_nano
from usage.bounds import EARLIEST, OutOfBounds
from usage.importers.base import (
    SEP,
    CsvRow,
    ImportFormatError,
    InputFile,
    ParseStats,
    key,
    read_csv,
)
from usage.importers.json_pages import bucket_results, read_pages, token_int
from usage.models import LEDGER_BILLED
from usage.records import Record

SOURCE = "openai_org"
LATEST_EPOCH = 253402214400  # 9999-12-31; later times are refused by usage.bounds
USAGE_CSV_REQUIRED = ["start_time", "end_time", "model", "input_tokens", "output_tokens"]
COST_CSV_REQUIRED = ["start_time", "end_time", "amount_value"]


def _bucket(start: int, end: int | None) -> tuple[datetime, str]:
    if not EARLIEST.timestamp() <= start <= LATEST_EPOCH:
        raise OutOfBounds("start_time", f"expected unix seconds from 2000-01-01 on, got {start}")
    ts = datetime.fromtimestamp(start, tz=UTC)
    sub_daily = ts.hour or ts.minute or (end is not None and end - start < 86400)
    return ts, ts.strftime("%H:%M") if sub_daily else ""


def _tier(value) -> str:
    tier = (value or "").strip().lower()
    return "" if tier in {"default", "none", "null"} else tier


def usage_key(ts: datetime, hour: str, project, model: str, batch: bool, tier: str, user, api_key) -> str:
    ext = key(ts.date().isoformat(), project or "", model.lower(), "batch" if batch else "", tier,
              user or "", api_key or "")
    return ext + SEP + key(hour) if hour else ext


# Parts of input_tokens with classes of their own (GPT-5.6+ cache writes; audio, less its
# cached part, which input_cached_tokens already holds).
INPUT_PARTS = {"cache_write_30m_tokens": "input_cache_write_30m_tokens",
               "cache_write_12h_tokens": "input_cache_write_12h_tokens"}


def _input_parts(get) -> dict[str, int]:
    """The classes inside input_tokens besides cached: `get(column)` reads a count."""
    parts = {ours: get(theirs) for ours, theirs in INPUT_PARTS.items()}
    parts["audio_input_tokens"] = max(0, get("input_audio_tokens") - get("input_cached_audio_tokens"))
    return parts


def _usage_record(*, ts, hour, project, model, batch, tier, user, api_key, input_tokens, cached,
                  output_tokens, requests, parts: dict[str, int]) -> Record:
    return Record(
        external_id=usage_key(ts, hour, project, model, batch, tier, user, api_key),
        timestamp=ts, model=model, provider="openai", ledger=LEDGER_BILLED,
        end_user=user or "", api_key=api_key or "", workspace=project or "", batch=batch, service_tier=tier,
        long_context=False, requests=requests,
        input_tokens=input_tokens - cached - sum(parts.values()), cache_read_tokens=cached,
        output_tokens=output_tokens, metadata={"project_id": project} if project else {}, **parts,
    )


def parse_usage_csv(files: Iterable[InputFile], stats: ParseStats) -> Iterator[Record]:
    for file in files:
        for row in read_csv(file, stats, required=USAGE_CSV_REQUIRED,
                            format_label="OpenAI completions usage export"):
            start = _epoch(row, "start_time")
            model = row.get("model")
            if not model:
                if any(row.get(c) for c in ("input_tokens", "output_tokens", "num_model_requests")):
                    raise row.error("model", "expected a model id for a row with usage")
                stats.rows_skipped += 1  # an empty bucket
                continue
            ts, hour = _bucket(start, _epoch(row, "end_time"))
            input_tokens, cached = row.int("input_tokens"), row.int("input_cached_tokens")
            if cached > input_tokens:
                raise row.error("input_cached_tokens", f"expected at most input_tokens ({input_tokens}), got {cached}")
            parts = _input_parts(row.int)
            if cached + sum(parts.values()) > input_tokens:
                raise row.error("input_tokens", "expected at least cached + cache-write + audio tokens")
            yield _usage_record(
                ts=ts, hour=hour, project=row.get("project_id"), model=model, batch=row.bool("batch"),
                tier=_tier(row.get("service_tier")), user=row.get("user_id"), api_key=row.get("api_key_id"),
                input_tokens=input_tokens, cached=cached, output_tokens=row.int("output_tokens"),
                requests=row.int("num_model_requests"), parts=parts,
            )


def parse_usage_api(files: Iterable[InputFile], stats: ParseStats) -> Iterator[Record]:
    for file in files:
        for where, page in read_pages(file, stats):
            for bucket, r in bucket_results(file, page, where, stats):
                start = token_int(file, where, bucket.get("start_time"), "start_time")
                ts, hour = _bucket(start, bucket.get("end_time"))
                model = r.get("model")
                input_tokens = token_int(file, where, r.get("input_tokens"), "input_tokens")
                cached = token_int(file, where, r.get("input_cached_tokens"), "input_cached_tokens")
                output_tokens = token_int(file, where, r.get("output_tokens"), "output_tokens")
                if not (input_tokens or output_tokens):
                    stats.rows_skipped += 1
                    continue
                if not model:
                    raise ImportFormatError(file.name, "usage without a model: fetch with group_by=model",
                                            line=where, column="model")
                if cached > input_tokens:
                    raise ImportFormatError(file.name, "input_cached_tokens larger than input_tokens",
                                            line=where, column="input_cached_tokens")
                parts = _input_parts(lambda c: token_int(file, where, r.get(c), c))  # noqa: B023 (called here)
                if cached + sum(parts.values()) > input_tokens:
                    raise ImportFormatError(file.name, "cached + cache-write + audio tokens larger than input_tokens",
                                            line=where, column="input_tokens")
                yield _usage_record(
                    ts=ts, hour=hour, project=r.get("project_id"), model=model, batch=bool(r.get("batch")),
                    tier=_tier(r.get("service_tier")), user=r.get("user_id"), api_key=r.get("api_key_id"),
                    input_tokens=input_tokens, cached=cached, output_tokens=output_tokens,
                    requests=token_int(file, where, r.get("num_model_requests"), "num_model_requests"),
                    parts=parts,
                )


def line_item_model(line_item: str) -> str:
    """'gpt-4o-mini-2024-07-18, input' -> the model; 'evals | gpt-4o, output' -> gpt-4o;
    'assistants api | file search' -> '' (not a token cost)."""
    text = line_item.strip()
    if " | " in text:
        text = text.rsplit(" | ", 1)[1]
    if ", " not in text:
        return ""
    return text.split(", ", 1)[0].strip().lower()


def cost_key(ts: datetime, project: str, line_item: str) -> tuple[str, str, str]:
    """(key, model, covers: see Record.covers). Org-level rows (no project, no line item)
    key on the day alone. Keys start with "cost": never a token row's key."""
    day = ts.date().isoformat()
    if not line_item:
        return (key("cost", day, project) if project else key("cost", day)), "", "all"
    model = line_item_model(line_item)
    if model:
        return key("cost", day, project, model), model, "model"
    return key("cost", day, project, f"~{line_item.strip().lower()}"), "", "none"


class _CostTotals:
    def __init__(self):
        self.records: dict[str, Record] = {}

    def add(self, ts: datetime, project: str, line_item: str, usd: Decimal, metadata: dict) -> None:
        ext, model, covers = cost_key(ts, project, line_item)
        record = self.records.get(ext)
        if record is None:
            record = self.records[ext] = Record(
                external_id=ext, timestamp=ts, model=model or (line_item.strip() or "openai (all models)"),
                provider="openai", ledger=LEDGER_BILLED, workspace=project, requests=0, reported_cost_nano=0,
                cost_only=True, covers=covers, metadata={k: v for k, v in metadata.items() if v},
            )
            record.metadata["_usd"] = Decimal(0)
        record.metadata["_usd"] += usd

    def __iter__(self) -> Iterator[Record]:
        for record in self.records.values():
            record.reported_cost_nano = usd_to_nano(record.metadata.pop("_usd"))
            yield record


def parse_cost_csv(files: Iterable[InputFile], stats: ParseStats) -> Iterator[Record]:
    """Both the 10-column (2025, org-level) and the 17-column (2026, line items) layouts."""
    for file in files:
        totals = _CostTotals()
        for row in read_csv(file, stats, required=COST_CSV_REQUIRED, format_label="OpenAI cost export"):
            start = _epoch(row, "start_time")
            amount = row.decimal("amount_value", required=False)
            if amount is None:
                stats.rows_skipped += 1  # an empty bucket
                continue
            currency = row.get("amount_currency").lower() or "usd"
            if currency != "usd":
                raise row.error("amount_currency", f"expected usd, got {row.get('amount_currency')!r}")
            ts, _ = _bucket(start, None)
            totals.add(ts, row.get("project_id"), row.get("line_item"), amount,
                       {"project_id": row.get("project_id"), "project_name": row.get("project_name")})
        yield from totals


def parse_costs_api(files: Iterable[InputFile], stats: ParseStats) -> Iterator[Record]:
    for file in files:
        totals = _CostTotals()
        for where, page in read_pages(file, stats):
            for bucket, r in bucket_results(file, page, where, stats):
                start = token_int(file, where, bucket.get("start_time"), "start_time")
                amount = r.get("amount") or {}
                value = amount.get("value") if isinstance(amount, dict) else None
                try:
                    # via repr: a JSON float like 0.04758999999999999 keeps its digits exactly
                    usd = Decimal(repr(value)) if isinstance(value, int | float) and not isinstance(value, bool) \
                        else Decimal(str(value))
                except InvalidOperation:
                    usd = None
                if usd is None or not usd.is_finite():
                    raise ImportFormatError(file.name, f"expected a dollar amount, got {value!r}", line=where,
                                            column="amount.value")
                if (amount.get("currency") or "usd").lower() != "usd":
                    raise ImportFormatError(file.name, f"expected usd, got {amount.get('currency')!r}", line=where,
                                            column="amount.currency")
                ts, _ = _bucket(start, None)
                totals.add(ts, r.get("project_id") or "", r.get("line_item") or "", usd,
                           {"project_id": r.get("project_id")})
        yield from totals


def _epoch(row: CsvRow, column: str) -> int:
    raw = row.get(column)
    try:
        value = Decimal(raw)
        if value != value.to_integral_value() or value < 0:
            raise InvalidOperation
        return int(value)
    except InvalidOperation:
        raise row.error(column, f"expected unix seconds, got {raw!r}") from None
