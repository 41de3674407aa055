"""The import fast path: a usage.records.Batch stored as tuples, without a Record, a Row or
a dict per record (bench/import_csv.py: those were most of a 1M-row import's CPU).

usage.ingest hands a batch here in merge mode while nothing stored can conflict with it
(a (project, source) without rows before the import, see _MergeState.fresh). What a batch
needs is worked out once per shared record (a console export's scope: its bounds, priced
model, columns' values), once per shared record and UTC day (its price row, and the prices
of its rows in one billing.pricing.rates.price_counts_many call), and per row only the
tuple of its own values. Whatever this path does not vouch for (a cost-only record, an id
twice in the batch, a record or cost out of bounds, a time-of-day or size-dependent price)
makes `Builder.prepare` answer None, and the batch takes the general path, which stores it
or names the line and field of the first record out of bounds.

Writer stores prepared batches, each in a savepoint: on PostgreSQL one binary COPY per
batch on a second thread, so the server stores one batch while this thread builds the
next (the two CPUs overlap; on a shared connection, so the caller waits for the batch in
flight before it touches the database itself); on SQLite one executemany. A batch whose
key is already stored (an id repeated across batches) is rolled back alone and handed back
to the caller for the general path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date
from functools import cache
from operator import attrgetter

import orjson
import psycopg
from django.db import IntegrityError, connection, transaction

from billing.pricing.classes import BATCH_COUNTS
from billing.pricing.rates import PriceBook, Unpriced, price_counts, price_counts_many
from usage import bounds
from usage.models import ImpliedIntegerField, PendingRollup, UsageRecord
from usage.records import Batch, Record

# A row's columns: first those of its shared record (and the import), the same for every
# row of that record, then its own.
SHARED_COLUMNS = ["project_id", "source", "import_job_id", "ledger", "provider", "model", "priced_model",
                  "feature", "end_user", "api_key", "workspace", "batch", "service_tier", "speed", "region",
                  "requests", "reported_cost_nano", "metadata"]
# what billing.pricing.rates.price_counts_many answers per row
_PRICE_COLUMNS = ["cost_nano", "cost_no_cache_nano", "cost_no_batch_nano", "long_context", "fees_nano"]
ROW_COLUMNS = ["external_id", "timestamp", "day", *BATCH_COUNTS, *_PRICE_COLUMNS]
_TOKENS = len(BATCH_COUNTS) - 5  # the priced token classes lead BATCH_COUNTS, then reasoning
_TOOLS = _TOKENS + 1  # and the tool calls


@dataclass
class Prepared:
    """A batch's tuples (in SHARED_COLUMNS + ROW_COLUMNS order) and what storing them adds."""

    batch: Batch
    tuples: list[tuple]
    days: set[tuple[date, str]] = field(default_factory=set)  # (day, ledger)
    cost_nano: int = 0
    unpriced: int = 0


class Builder:
    """Tuples of one import's batches; what it works out per shared record is kept for the
    import's later batches."""

    def __init__(self, *, project_id: int, source: str, import_job_id: int | None, book: PriceBook):
        self.project_id, self.source, self.import_job_id, self.book = project_id, source, import_job_id, book
        self.postgres = connection.vendor == "postgresql"
        self.plan = _plan(connection.vendor)
        self._shared: dict[int, tuple[Record, tuple | None]] = {}  # id(shared) -> (it, values or None)
        self._adapt: tuple[Callable, Callable] | None = None  # line()'s

    def prepare(self, batch: Batch, now) -> Prepared | None:
        """The batch's tuples, or None: it takes the general path (see the module doc)."""
        rows = batch.rows
        if not bounds.batch_within(batch, now) or len({row[1] for row in rows}) != len(rows):
            return None
        groups: dict[tuple[int, date], list[int]] = {}
        for index, row in enumerate(rows):
            key = (id(row[0]), row[3])
            try:
                groups[key].append(index)
            except KeyError:
                groups[key] = [index]
        tuples: list = [None] * len(rows)
        prepared = Prepared(batch, tuples)
        adapt_time, adapt_day = self._adapters()
        stored_counts, stored_costs = self.plan.stored_counts, self.plan.stored_costs
        for (_, day), indexes in groups.items():
            shared = rows[indexes[0]][0]
            values = self._values(shared)
            if values is None:
                return None
            prices = self._prices(shared, day, [rows[i][4] for i in indexes])
            costs = [price[0] for price in prices]
            if max(map(abs, filter(None, costs)), default=0) > bounds.MAX_COST_NANO:
                return None  # the general path names the row and its cost
            prepared.unpriced += costs.count(None)
            prepared.cost_nano += sum(filter(None, costs))
            prepared.days.add((day, shared.ledger))
            stored_day = adapt_day(day)
            for i, price in zip(indexes, prices, strict=True):
                _, external_id, ts, _, counts, _ = rows[i]
                tuples[i] = (*values, external_id, adapt_time(ts), stored_day, *stored_counts(counts),
                             *stored_costs(price))
        return prepared

    def line(self, record: Record) -> tuple[tuple, date, int | None]:
        """(tuple, UTC day, cost) of one record, as usage.ingest.build_row and apply_price
        make its row, for the API's batches: each request priced on its own (its size and
        time of day), its bounds already checked (bounds.all_within). Raises
        bounds.OutOfBounds for its cost. Not for a cost-only record (see row_line)."""
        model, ts, book = record.model, record.timestamp, self.book
        speed = _speed(record)
        provider = record.provider
        counts = _record_counts(record)
        price = None
        rates = book.rates_at(model, ts)
        if rates is None:
            priced_model = book.resolve(model) or ""
        else:
            priced_model, provider = rates.model, provider or rates.provider
            try:
                price = price_request(
                    rates, book, counts[:_TOKENS], counts[_TOOLS:], model=model, timestamp=ts,
                    requests=record.requests, batch=record.batch, service_tier=record.service_tier, speed=speed,
                    region=record.region, long_context=record.long_context, aggregate_long_context=False)
            except Unpriced:
                price = None
        if price is None:
            price = (None, None, None, bool(record.long_context), 0)
        elif (problem := bounds.cost_problem(price[0])) is not None:
            raise bounds.OutOfBounds("cost", problem, origin=record.origin)
        day = ts.astimezone(UTC).date()
        adapt_time, adapt_day = self._line_adapters()
        plan = self.plan
        shared = plan.stored_shared((
            self.project_id, self.source, self.import_job_id, record.ledger, provider, model,
            "" if priced_model == model else priced_model, record.feature, record.end_user, record.api_key,
            record.workspace, record.batch, record.service_tier, speed, record.region, record.requests,
            record.reported_cost_nano, self._metadata(record.metadata)))
        return ((*shared, record.external_id, adapt_time(ts), adapt_day(day), *plan.stored_counts(counts),
                 *plan.stored_costs(price)), day, price[0])

    def row_line(self, row) -> tuple:
        """The tuple of a usage.ingest.Row (a record line() does not take)."""
        *shared, metadata = _row_shared(row)
        adapt_time, adapt_day = self._line_adapters()
        plan = self.plan
        return (*plan.stored_shared((*shared, self._metadata(metadata))), row.external_id, adapt_time(row.timestamp),
                adapt_day(row.day), *plan.stored_counts(_row_counts(row)), *plan.stored_costs(_row_price(row)))

    def _line_adapters(self) -> tuple[Callable, Callable]:
        if self._adapt is None:
            self._adapt = self._adapters()
        return self._adapt

    def _metadata(self, metadata: dict):
        if metadata == {}:
            return None  # usage.models.EmptyAsNullJSONField
        return _JSONB_BINARY + json_bytes(metadata) if self.postgres else json.dumps(metadata)

    def _adapters(self) -> tuple[Callable, Callable]:
        if self.postgres:
            return _same, _same
        times: dict = {}

        def adapt_time(ts):  # one string per distinct time of a batch
            text = times.get(ts)
            if text is None:
                text = times[ts] = connection.ops.adapt_datetimefield_value(ts)
            return text

        return adapt_time, connection.ops.adapt_datefield_value

    def _values(self, shared: Record) -> tuple | None:
        """The SHARED_COLUMNS values of a shared record, or None: not for this path (a
        cost-only record; one priced per request, by its size or time of day; no provider)."""
        known = self._shared.get(id(shared))
        if known is not None:
            return known[1]
        values = None
        if not shared.cost_only and shared.provider and shared.requests != 1 and shared.long_context is not None:
            model = shared.model
            resolved = self.book.resolve(model) or ""
            metadata = self._metadata(shared.metadata)
            values = self.plan.stored_shared((
                self.project_id, self.source, self.import_job_id, shared.ledger, shared.provider, model,
                "" if resolved == model else resolved, shared.feature, shared.end_user, shared.api_key,
                shared.workspace, shared.batch, shared.service_tier, _speed(shared), shared.region,
                shared.requests, shared.reported_cost_nano, metadata))
        self._shared[id(shared)] = (shared, values)  # the record kept: its id stays its own
        return values

    def _prices(self, shared: Record, day: date, counts: list[tuple]) -> list[tuple]:
        """(cost, no cache, no batch, long context, fees) of each row, as apply_price sets them."""
        long_context = bool(shared.long_context)
        unpriced = [(None, None, None, long_context, 0)] * len(counts)
        rates = self.book.rates_at(shared.model, day)
        if rates is None:
            return unpriced
        try:
            return price_counts_many(
                rates, [(c[:_TOKENS], c[_TOOLS:]) for c in counts], batch=shared.batch,
                service_tier=shared.service_tier, speed=_speed(shared), long_context=long_context,
                regional=self.book.is_regional(shared.model, shared.region))
        except Unpriced:
            return unpriced


def price_request(rates, book: PriceBook, counts: Sequence[int], fee_counts: Sequence[int], *, model: str,
                  timestamp, requests: int, batch: bool, service_tier: str, speed: str, region: str,
                  long_context: bool | None, aggregate_long_context: bool) -> tuple:
    """price_counts for one stored row (Builder.line's and usage.ingest.apply_price's rule):
    a single request is priced at its own time of day and, unless long context is said, by
    its size; a row of several requests spans hours and keeps `aggregate_long_context`.
    Raises Unpriced."""
    single = requests == 1
    return price_counts(
        rates, counts, fee_counts, batch=batch, service_tier=service_tier, speed=speed,
        long_context=long_context if long_context is not None else (None if single else aggregate_long_context),
        when=timestamp if single else None, regional=book.is_regional(model, region))


_record_counts = attrgetter(*BATCH_COUNTS)  # a Record's (and a Row's) counts
_row_shared, _row_counts, _row_price = attrgetter(*SHARED_COLUMNS), _record_counts, attrgetter(*_PRICE_COLUMNS)


def _speed(record: Record) -> str:
    # a "-fast" model id (claude-opus-4-6-fast) is that model in fast mode (usage.ingest.build_row)
    return record.speed or ("fast" if record.model.lower().endswith("-fast") else "")


def _same(value):
    return value


class Writer:
    """Stores prepared batches, one in flight at a time (see the module doc). `wait()`
    answers the batch in flight, if any, and whether it was stored; use as a context
    manager, which waits for it on the way out."""

    SAVEPOINT = "costwatch_batch"

    def __init__(self):
        self.pending: tuple[Prepared, Future | None] | None = None
        self.thread = None
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            self.raw = connection.connection
            self.thread = ThreadPoolExecutor(1, thread_name_prefix="costwatch-copy")

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if exc_info[0] is None:
                if self.pending is not None:
                    raise RuntimeError("a prepared batch was neither waited for nor stored")
            elif self.pending is not None and self.pending[1] is not None:
                self.pending[1].exception()  # the COPY must end before the rollback
        finally:
            if self.thread is not None:
                self.thread.shutdown()

    def submit(self, prepared: Prepared) -> None:
        """Start storing a batch (after wait(): one in flight)."""
        assert self.pending is None
        future = self.thread.submit(self._copy, prepared.tuples) if self.thread is not None else None
        self.pending = (prepared, future)

    def wait(self) -> tuple[Prepared, bool] | None:
        if self.pending is None:
            return None
        prepared, future = self.pending
        self.pending = None
        if future is None:
            return prepared, self._insert(prepared.tuples)
        with connection.wrap_database_errors:
            return prepared, future.result()

    def _copy(self, tuples: list[tuple]) -> bool:
        """On the second thread, on the import's own connection (its transaction)."""
        return _copy(self.raw, tuples)

    def _insert(self, tuples: list[tuple]) -> bool:
        return _insert(tuples)


def store(tuples: list[tuple]) -> bool:
    """Store tuples (Builder's) in a savepoint, on this thread: False, and none stored, if
    one's key is already stored. On PostgreSQL with their PendingRollup ranges (numbered(),
    usage.rollups): the caller marks their days with mark_dirty(full=False)."""
    if connection.vendor != "postgresql":
        return _insert(tuples)
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return _copy(connection.connection, tuples, ranged=True)


# The record id sequence's increment on PostgreSQL (migration 0020): a nextval is a block
# of this many ids that no other nextval hands out.
ID_BLOCK = 1024


def numbered(cursor, tuples: list[tuple]) -> tuple[list[tuple], list[tuple]]:
    """The tuples with an id in front, from blocks of the id sequence, grouped by (day,
    ledger) so that each (day, ledger) of a block is one range of ids; and those ranges as
    PendingRollup rows (project, day, ledger, first id, last id)."""
    at_day, at_ledger = len(SHARED_COLUMNS) + ROW_COLUMNS.index("day"), SHARED_COLUMNS.index("ledger")
    cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                   [UsageRecord._meta.db_table, -(-len(tuples) // ID_BLOCK)])
    starts = [start for (start,) in cursor.fetchall()]
    groups: dict[tuple, list[tuple]] = {}
    for line in tuples:
        key = (line[0], line[at_day], line[at_ledger])
        try:
            groups[key].append(line)
        except KeyError:
            groups[key] = [line]
    rows, ranges = [], []
    done = 0  # ids handed out
    for key, lines in groups.items():
        at = 0
        while at < len(lines):
            block, offset = divmod(done, ID_BLOCK)
            first, take = starts[block] + offset, min(len(lines) - at, ID_BLOCK - offset)
            rows += [(first + i, *line) for i, line in enumerate(lines[at:at + take])]
            ranges.append((*key, first, first + take - 1))
            at += take
            done += take
    return rows, ranges


def _copy(raw, tuples: list[tuple], *, ranged: bool = False) -> bool:
    plan = _plan("postgresql")
    with raw.cursor() as cursor:
        cursor.execute(f"SAVEPOINT {Writer.SAVEPOINT}")
        ranges = None
        if ranged:
            tuples, ranges = numbered(cursor, tuples)
        try:
            with cursor.copy(plan.numbered_sql if ranged else plan.sql) as copy:
                copy.set_types(["bigint", *plan.types] if ranged else plan.types)
                write = copy.write_row
                for line in tuples:
                    write(line)
        except psycopg.IntegrityError:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {Writer.SAVEPOINT}")
            cursor.execute(f"RELEASE SAVEPOINT {Writer.SAVEPOINT}")
            return False
        if ranges:
            cursor.execute(f"INSERT INTO {PendingRollup._meta.db_table} (project_id, day, ledger, first_id, last_id) "
                           f"VALUES {', '.join(['(%s, %s, %s, %s, %s)'] * len(ranges))}",
                           [v for r in ranges for v in r])
        cursor.execute(f"RELEASE SAVEPOINT {Writer.SAVEPOINT}")
        return True


def _insert(tuples: list[tuple]) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(_plan(connection.vendor).sql, tuples)
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True)
class _Plan:
    sql: str
    numbered_sql: str  # PostgreSQL: the COPY with the id first (numbered())
    types: list[str]  # PostgreSQL: the columns' types, for the binary COPY
    # the values as stored (usage.models.ImpliedIntegerField.storing): of SHARED_COLUMNS,
    # of BATCH_COUNTS and of a price (cost, no cache, no batch, long context, fees)
    stored_shared: Callable[[Sequence], list]
    stored_counts: Callable[[Sequence], list]
    stored_costs: Callable[[Sequence], list]


@cache
def _plan(vendor: str) -> _Plan:
    """The statement of SHARED_COLUMNS + ROW_COLUMNS, and their values as stored."""
    fields = {f.attname: f for f in UsageRecord._meta.concrete_fields if not f.primary_key}
    names = SHARED_COLUMNS + ROW_COLUMNS
    if sorted(names) != sorted(fields):
        raise RuntimeError(f"usage.bulk's columns are not UsageRecord's: {sorted(set(names) ^ set(fields))}")
    columns = ", ".join(connection.ops.quote_name(fields[name].column) for name in names)
    table = UsageRecord._meta.db_table
    common = {f"stored_{part}": ImpliedIntegerField.storing([fields[name] for name in group])
              for part, group in (("shared", SHARED_COLUMNS), ("counts", BATCH_COUNTS), ("costs", _PRICE_COLUMNS))}
    if vendor == "postgresql":
        # jsonb goes as the bytes of its binary format (_JSONB_BINARY, Builder._metadata), made
        # once per shared record: psycopg's jsonb dumper is Python, a call per row (0.3 µs of ~17)
        types = ["bytea" if (t := copy_type(fields[name])) == "jsonb" else t for name in names]
        return _Plan(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)",
                     f"COPY {table} (id, {columns}) FROM STDIN (FORMAT BINARY)", types, **common)
    return _Plan(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(names))})", "", [], **common)


_JSONB_BINARY = b"\x01"  # jsonb's binary format: this version byte, then the JSON text


def copy_type(field) -> str:
    """A column's type as psycopg names it for a binary COPY: "varchar(40)" -> "varchar",
    "timestamp with time zone", "bigint", "jsonb"."""
    return re.sub(r"\(.*\)", "", field.db_type(connection)).strip()


def json_bytes(value) -> bytes:
    """A JSON column's value for a COPY: orjson, or json where orjson refuses (integers
    past 64 bits, keys that are not text)."""
    if not value:
        return b"{}" if value == {} else json.dumps(value).encode()
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()
