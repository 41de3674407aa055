"""Anthropic Console exports: the Usage CSV (tokens) and the Cost CSV (dollars).

Both describe the same spend and have one natural key (docs/formats.md §1):
day × model × workspace × api key × usage type × context window × speed × inference geo,
plus the hour for sub-daily usage rows. The cost file's token-type rows of one key are
summed into one cost-only row (its key prefixed "cost"), which usage.billed matches to the
token rows of the same scope and model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter

from billing.pricing.money import usd_to_nano
from usage.bounds import MAX_COUNT
from usage.importers.base import (
    KEY_LENGTH,
    SEP,
    CsvRow,
    ImportFormatError,
    InputFile,
    ParseStats,
    context_is_long,
    csv_lines,
    cw_key,
    key,
    model_key,
    parse_day_or_time,
    read_csv,
    unhashed_key,
)
from usage.models import LEDGER_BILLED
from usage.records import Batch, Record

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


def _scope_cells(row: CsvRow) -> tuple[str, bool, str, str, str, str]:
    """(tier, batch, speed, context window, workspace, inference geo) of a row of either export."""
    tier, batch = _tier(row.get("usage_type"))
    speed = "fast" if row.get("speed").lower() == "fast" else ""
    return tier, batch, speed, row.get("context_window"), _workspace(row.get("workspace")), row.get("inference_geo")


def workspace_ref(name: str) -> str:
    """UsageRecord.workspace: `Default` is the API's workspace_id null."""
    return "" if _workspace(name) == "Default" else name


def natural_key(*, day: str, model: str, workspace: str, api_key: str, tier: str,
                context_window: str, speed: str, geo: str) -> str:
    return key(day, model_key(model), _workspace(workspace), api_key, tier, cw_key(context_window),
               speed or "standard", geo)


def parse_usage(files: Iterable[InputFile], stats: ParseStats) -> Iterator[Record]:
    for batch in parse_usage_batches(files, stats):
        yield from batch.records()


BATCH_ROWS = 10_000  # usage rows per Batch: a COPY each (usage.bulk)


def parse_usage_batches(files: Iterable[InputFile], stats: ParseStats, size: int | None = None) -> Iterator[Batch]:
    """The usage exports' records in batches of `size` rows (BATCH_ROWS; fewer at the end
    of a file), each row a scope's shared record with its id, time and counts."""
    for file in files:
        yield from _usage_batches(file, stats, size or BATCH_ROWS)


# The cells a usage row is read by: its scope (what it is the usage of; the values derived
# from it are computed once per distinct scope), and its counts. A missing column reads as
# an empty cell.
SCOPE_COLUMNS = ["model_version", "workspace", "api_key", "usage_type", "context_window", "speed",
                 "inference_geo"]
COUNT_COLUMNS = ["usage_input_tokens_no_cache", "usage_input_tokens_cache_write_5m",
                 "usage_input_tokens_cache_write", "usage_input_tokens_cache_write_1h",
                 "usage_input_tokens_cache_read", "usage_output_tokens", "web_search_count"]
_BLANKS = ("", "0")
# ASCII digits in a row's count cells up to which int() takes them (its limit is 4,300 a cell)
FAST_DIGITS = 15 * len(COUNT_COLUMNS)


@dataclass(frozen=True)
class _Scope:
    """What a usage row's scope cells give its record (`shared`: the record of every row of
    the scope, see usage.records.Batch), and its natural key after the day."""

    shared: Record
    key_parts: tuple[str, ...]  # natural_key's parts after the day
    key_rest: str  # the same, joined: "|model|workspace|…"

    @classmethod
    def of(cls, row: CsvRow, ts: datetime) -> _Scope:
        model = row.get("model_version")
        if not model:
            raise row.error("model_version", "expected a model id, got an empty cell")
        tier, batch, speed, context_window, workspace, geo = _scope_cells(row)
        api_key = row.get("api_key")
        parts = (model_key(model), workspace, api_key, tier, cw_key(context_window), speed or "standard", geo)
        shared = Record(
            external_id="",
            timestamp=ts,
            model=model,
            provider="anthropic",
            ledger=LEDGER_BILLED,
            api_key=api_key,
            workspace=workspace_ref(workspace),
            batch=batch,
            service_tier=tier,
            speed=speed,
            long_context=context_is_long(context_window),
            region=geo,
            requests=0,  # the export has no request counts
            metadata={"workspace": workspace, "inference_geo": geo} if geo else {"workspace": workspace},
        )
        return cls(shared=shared, key_parts=parts, key_rest=SEP + unhashed_key(*parts))

    def natural_key(self, day: str) -> str:
        """natural_key() of this scope on `day` (an ISO date: nothing in it to escape)."""
        text = day + self.key_rest
        return text if len(text) <= KEY_LENGTH else key(day, *self.key_parts)


def _usage_batches(file: InputFile, stats: ParseStats, size: int) -> Iterator[Batch]:
    """One usage export's records, `size` rows a batch. Per row only the day and the counts
    are parsed; a cell that is not plain digits (or a bad day) takes the general path of
    CsvRow, which names file, line and column."""
    lines = csv_lines(file, stats, required=USAGE_REQUIRED, format_label="Anthropic Console usage export")
    names = next(lines)
    if not any(c in names for c in TOKEN_COLUMNS):
        for _ in lines:  # refused at its first row (a header alone imports nothing)
            raise ImportFormatError(file.name, "no token columns (usage_input_tokens_no_cache, usage_output_tokens, "
                                    "…)", line=1)
        return
    at = {n: i for i, n in enumerate(names)}  # a repeated column: its last (as CsvRow reads it)
    blank = len(names)  # cells appended to every row: "" (a missing column), "0" (a missing count)
    scope_cells = itemgetter(*(at.get(c, blank) for c in SCOPE_COLUMNS))
    count_cells = itemgetter(*(at.get(c, blank + 1) for c in COUNT_COLUMNS))
    day_at = at["usage_date_utc"]
    scopes: dict[tuple[str, ...], _Scope] = {}
    # cell -> (time, UTC day, ISO day, "|HH:MM" or "")
    days: dict[str, tuple[datetime, date, str, str]] = {}
    rows: list = []
    for line, values in lines:
        values += _BLANKS
        stamp = days.get(values[day_at])
        if stamp is None:
            row = CsvRow(file.name, line, dict(zip(names, values, strict=False)))
            ts, hour = parse_day_or_time(row, "usage_date_utc")
            stamp = days[values[day_at]] = (ts, ts.date(), ts.date().isoformat(), SEP + key(hour) if hour else "")
        cells = scope_cells(values)
        scope = scopes.get(cells)
        if scope is None:
            scope = scopes[cells] = _Scope.of(CsvRow(file.name, line, dict(zip(names, values, strict=False))),
                                              stamp[0])
        counts = count_cells(values)
        digits = "".join(counts)
        ints = None
        if digits.isdigit() and digits.isascii() and len(digits) <= FAST_DIGITS:
            ints = list(map(int, counts)) if all(counts) else [int(c) if c else 0 for c in counts]
        if ints is not None and max(ints) <= MAX_COUNT:  # what CsvRow.int answers for these cells
            no_cache, w5, w5_legacy, w1, read, output, searches = ints
        else:
            row = CsvRow(file.name, line, dict(zip(names, values, strict=False)))
            w5, w5_legacy, no_cache, w1, read, output, searches = (row.int(c) for c in [
                "usage_input_tokens_cache_write_5m", "usage_input_tokens_cache_write", "usage_input_tokens_no_cache",
                "usage_input_tokens_cache_write_1h", "usage_input_tokens_cache_read", "usage_output_tokens",
                "web_search_count"])
        w5 += w5_legacy
        if not (no_cache or w5 or w1 or read or output or searches):
            stats.rows_skipped += 1
            continue
        ts, day, iso_day, hour = stamp
        # BATCH_COUNTS: input, output, cache read, 5m, 1h, 30m, 12h, audio, reasoning, tools
        rows.append((scope.shared, scope.natural_key(iso_day) + hour, ts, day,
                     (no_cache, output, read, w5, w1, 0, 0, 0, 0, searches, 0, 0, 0), line))
        if len(rows) >= size:
            yield Batch(file.name, rows)
            rows = []
    if rows:
        yield Batch(file.name, rows)


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
            tier, batch, speed, context_window, workspace, geo = _scope_cells(row)
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
