"""What costwatch accepts before it stores a record (README, "Accepted bounds").

Every writer — the ingest API, every importer, provider sync — goes through
usage.ingest.record_usage, which checks each record here; the API checks its events here
first, so that a refusal names the event's index and field.

- timestamps from 2000-01-01 00:00 UTC to one day after now, and not before the raw
  retention horizon (usage.retention, when USAGE_RAW_RETENTION_MONTHS is set);
- counts (tokens, requests) whole numbers from 0 to 10^15;
- a record's cost (computed or reported) at most $10,000,000 (10^16 nano-USD) in size;
- text without NUL characters and within its column's length; metadata a JSON object of at
  most 16 KB.

Within these bounds no sum a rollup takes can overflow a 64-bit integer in practice, and a
rollup that fails anyway is recorded on its day mark without stopping the others
(usage.rollups.rollup_dirty).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import chain
from operator import attrgetter, gt, le

from django.conf import settings
from django.utils import timezone

from billing.pricing.classes import FEE_COLUMNS, TOKEN_COLUMNS
from usage.models import UsageRecord
from usage.retention import horizon_problem

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE = timedelta(days=1)
MAX_COUNT = 10**15
MAX_COST_NANO = 10**16
MAX_METADATA_BYTES = 16 * 1024
# the days a report may ask about (nothing is stored outside the timestamp window anyway)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)

COUNT_FIELDS = ["requests", *TOKEN_COLUMNS, *FEE_COLUMNS]
TEXT_FIELDS = ["model", "provider", "feature", "end_user", "api_key", "workspace", "service_tier",
               "speed", "region", "external_id"]


class OutOfBounds(ValueError):
    """A value outside the accepted bounds. `origin`: where the record came from (the API's
    event index, an importer's (file, line)), set by whoever knows it."""

    def __init__(self, field: str, message: str, origin=None):
        self.field, self.message, self.origin = field, message, origin
        super().__init__(f"{field}: {message}")


def max_length(field: str) -> int:
    return UsageRecord._meta.get_field(field).max_length


def time_problem(ts: datetime, now: datetime | None = None) -> str | None:
    """Why `ts` (an aware datetime) is refused, or None."""
    latest = (now or timezone.now()) + FUTURE
    try:
        utc = ts.astimezone(UTC)
    except (OverflowError, ValueError):
        return "expected a time from 2000-01-01 to one day from now (UTC), got one out of range"
    if not EARLIEST <= utc <= latest:
        return (f"expected a time from 2000-01-01 to one day from now (UTC), got "
                f"{utc.isoformat().replace('+00:00', 'Z')}")
    return None


def count_problem(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"expected a whole number, got {value!r}"
    if not 0 <= value <= MAX_COUNT:
        return f"expected a whole number from 0 to 10^15, got {value}"
    return None


def text_problem(value, field: str) -> str | None:
    if not isinstance(value, str):
        return f"expected text, got {value!r}"
    if "\x00" in value:
        return "expected text without NUL characters"
    limit = max_length(field)
    if len(value) > limit:
        return f"expected at most {limit} characters, got {len(value)}"
    return None


def period_problem(start: date, end: date) -> tuple[str, str] | None:
    """(field, message) when a report's period is outside FIRST_DAY…LAST_DAY, or None."""
    for name, day in (("start", start), ("end", end)):
        if not FIRST_DAY <= day <= LAST_DAY:
            return name, f"expected a day from {FIRST_DAY} to {LAST_DAY}, got {day}"
    return None


def cost_problem(cost_nano: int | None) -> str | None:
    if cost_nano is not None and abs(cost_nano) > MAX_COST_NANO:
        return (f"expected a cost of at most $10,000,000 per record, got "
                f"${abs(cost_nano) // 10**9:,}")
    return None


def metadata_problem(metadata) -> str | None:
    if not isinstance(metadata, dict):
        return "expected a JSON object"
    try:
        text = json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return "expected JSON values (finite numbers, text, lists and objects)"
    if "\\u0000" in text:
        return "expected text without NUL characters"
    if len(text.encode()) > MAX_METADATA_BYTES:
        return f"expected at most {MAX_METADATA_BYTES // 1024} KB of JSON"
    return None


_counts = attrgetter(*COUNT_FIELDS)
_texts = attrgetter(*TEXT_FIELDS)


@cache
def _text_limits() -> tuple[int, ...]:
    return tuple(max_length(f) for f in TEXT_FIELDS)


def _within(record, now: datetime | None) -> bool:
    """Whether every bound holds, in a few C-level passes (an ingest batch checks 1,000
    records twice): False sends the record through `problems`' field-by-field messages."""
    counts, texts = _counts(record), _texts(record)
    if set(map(type, counts)) != {int} or min(counts) < 0 or max(counts) > MAX_COUNT:
        return False
    if set(map(type, texts)) != {str} or not all(map(le, map(len, texts), _text_limits())) \
            or "\x00" in "".join(texts):
        return False
    if record.reasoning_tokens > record.output_tokens:
        return False
    if record.reported_cost_nano is not None and cost_problem(record.reported_cost_nano) is not None:
        return False
    metadata = record.metadata
    if (metadata or type(metadata) is not dict) and metadata_problem(metadata) is not None:
        return False
    ts = record.timestamp
    try:
        if not EARLIEST <= ts <= (now or timezone.now()) + FUTURE:
            return False
    except (TypeError, OverflowError, ValueError):  # naive, or out of range: the messages say
        return False
    # older than the raw retention horizon (when USAGE_RAW_RETENTION_MONTHS is set)
    return not (settings.USAGE_RAW_RETENTION_MONTHS and horizon_problem(ts.astimezone(UTC).date()))


_reasoning, _output = attrgetter("reasoning_tokens"), attrgetter("output_tokens")
_timestamps, _reported, _metadata = attrgetter("timestamp"), attrgetter("reported_cost_nano"), attrgetter("metadata")


def all_within(records: list, now: datetime | None = None) -> bool:
    """Whether every bound holds for every record, column by column over the batch (C-level
    passes over 1,000 values instead of a dozen calls per record: 8 µs a record for
    `_within`, under 2 for this). False says nothing of which: `problems` tells, per record."""
    if not records:
        return True
    counts = list(chain.from_iterable(map(_counts, records)))
    if set(map(type, counts)) != {int} or min(counts) < 0 or max(counts) > MAX_COUNT:
        return False
    for column, limit in zip(zip(*map(_texts, records), strict=True), _text_limits(), strict=True):
        if set(map(type, column)) != {str} or max(map(len, column)) > limit or "\x00" in "".join(column):
            return False
    if any(map(gt, map(_reasoning, records), map(_output, records))):
        return False
    reported = list(map(_reported, records))
    if reported.count(None) != len(reported) and not all(_within(r, now) for r in records):
        return False
    metadata = list(map(_metadata, records))
    if set(map(type, metadata)) != {dict} or (any(metadata) and any(
            metadata_problem(m) is not None for m in metadata if m)):
        return False
    timestamps = list(map(_timestamps, records))
    try:
        first, last = min(timestamps), max(timestamps)
        if first < EARLIEST or last > (now or timezone.now()) + FUTURE:
            return False
    except (TypeError, OverflowError, ValueError):  # naive, or out of range: the messages say
        return False
    return not (settings.USAGE_RAW_RETENTION_MONTHS and horizon_problem(first.astimezone(UTC).date()))


def problems(record, now: datetime | None = None) -> list[tuple[str, str]]:
    """(field, message) for every value of a usage.records.Record out of bounds."""
    if _within(record, now):
        return []
    found = []
    message = time_problem(record.timestamp, now) or horizon_problem(record.timestamp.astimezone(UTC).date())
    if message is not None:
        found.append(("timestamp", message))
    for name in COUNT_FIELDS:
        if (message := count_problem(getattr(record, name))) is not None:
            found.append((name, message))
    for name in TEXT_FIELDS:
        if (message := text_problem(getattr(record, name), name)) is not None:
            found.append((name, message))
    counts_ok = not {"reasoning_tokens", "output_tokens"} & {name for name, _ in found}
    if counts_ok and record.reasoning_tokens > record.output_tokens:
        found.append(("reasoning_tokens", "expected at most output_tokens (reasoning is part of output)"))
    if (message := cost_problem(record.reported_cost_nano)) is not None:
        found.append(("reported_cost", message))
    if (message := metadata_problem(record.metadata)) is not None:
        found.append(("metadata", message))
    return found


def check(record, now: datetime | None = None) -> None:
    """Raise OutOfBounds for the first value of `record` out of bounds."""
    found = problems(record, now)
    if found:
        raise OutOfBounds(*found[0], origin=getattr(record, "origin", None))
