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

from billing.pricing.classes import BATCH_COUNTS, FEE_COLUMNS, TOKEN_COLUMNS
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
    if _small_text_object(metadata):
        return None
    return _serialised_metadata_problem(metadata)


def _serialised_metadata_problem(metadata) -> str | None:
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


# json.dumps writes a character as at most 12 bytes (an astral one as two \uXXXX escapes)
# and a key-value pair with 8 more (quotes, ': ', ', ')
_JSON_BYTES_PER_CHAR, _JSON_BYTES_PER_PAIR = 12, 8


def _small_text_object(metadata) -> bool:
    """Whether metadata is an object of text keys and values that metadata_problem accepts,
    known without serialising it (an importer's {"workspace": …, "format": …}): no NUL,
    no backslash (so its JSON can't hold "\\u0000" either), and short enough that even
    fully escaped its JSON stays within MAX_METADATA_BYTES. False: serialise it to know."""
    if type(metadata) is not dict or len(metadata) > 16:
        return False
    parts = [*metadata, *metadata.values()]
    if not all(type(part) is str for part in parts):
        return False
    text = "".join(parts)
    return ("\x00" not in text and "\\" not in text
            and _JSON_BYTES_PER_CHAR * len(text) + _JSON_BYTES_PER_PAIR * len(metadata) + 2 <= MAX_METADATA_BYTES)


_counts = attrgetter(*COUNT_FIELDS)
_texts = attrgetter(*TEXT_FIELDS)
# what a record of a usage.records.Batch shares with the batch's other rows
SHARED_TEXT_FIELDS = [f for f in TEXT_FIELDS if f != "external_id"]
_shared_texts = attrgetter(*SHARED_TEXT_FIELDS)
_REASONING, _OUTPUT = BATCH_COUNTS.index("reasoning_tokens"), BATCH_COUNTS.index("output_tokens")


@cache
def _text_limits(fields: tuple[str, ...] = tuple(TEXT_FIELDS)) -> tuple[int, ...]:
    return tuple(max_length(f) for f in fields)


def _within(record, now: datetime | None) -> bool:
    """Whether every bound holds, in a few C-level passes (an ingest batch checks 1,000
    records twice): False sends the record through `problems`' field-by-field messages."""
    if not _counts_within(_counts(record)) or not _texts_within(_texts(record), _text_limits()):
        return False
    if record.reasoning_tokens > record.output_tokens or not _extras_within(record):
        return False
    return _time_within(record.timestamp, (now or timezone.now()) + FUTURE)


def batch_within(batch, now: datetime | None = None) -> bool:
    """Whether every record of a usage.records.Batch is within bounds (problems() of each
    is empty), checked once per shared record and per distinct time, and over all the
    rows' ids and counts at once. False: check its records one by one for the message."""
    latest = (now or timezone.now()) + FUTURE
    rows = batch.rows
    if not all(_counts_within((shared.requests,)) and _texts_within(_shared_texts(shared),
                                                                   _text_limits(tuple(SHARED_TEXT_FIELDS)))
               and _extras_within(shared) for shared in batch.shared()):
        return False
    ids = [row[1] for row in rows]
    if ids and not _texts_within(ids, [max_length("external_id")] * len(ids)):
        return False
    counts = [row[4] for row in rows]
    if counts and not (_counts_within(list(chain.from_iterable(counts)))
                       and all(c[_REASONING] <= c[_OUTPUT] for c in counts)):
        return False
    return all(_time_within(ts, latest) for ts in {row[2] for row in rows})


def _counts_within(counts) -> bool:
    return set(map(type, counts)) == {int} and min(counts) >= 0 and max(counts) <= MAX_COUNT


def _texts_within(texts, limits) -> bool:
    return (set(map(type, texts)) == {str} and all(map(le, map(len, texts), limits))
            and "\x00" not in "".join(texts))


def _extras_within(record) -> bool:
    """The reported cost and the metadata."""
    if record.reported_cost_nano is not None and cost_problem(record.reported_cost_nano) is not None:
        return False
    metadata = record.metadata
    return not ((metadata or type(metadata) is not dict) and metadata_problem(metadata) is not None)


def _time_within(ts, latest: datetime) -> bool:
    try:
        if not EARLIEST <= ts <= latest:
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
