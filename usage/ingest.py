"""The one write path: price records, store them de-duplicated, mark their days dirty."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import islice
from operator import attrgetter

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.types.json import set_json_dumps

from billing.pricing.classes import FEE_COLUMNS, RATE_CLASSES, TOKEN_COLUMNS
from billing.pricing.rates import PriceBook, Unpriced
from costwatch import hooks
from costwatch.tenant.models import Project
from usage import bounds, bulk
from usage.idempotency import id_rows, lock_ids, lock_source
from usage.models import DirtyDay, ImpliedIntegerField, ImportJob, UsageRecord, natural_key_hash
from usage.partitions import ensure_partitions
from usage.records import Batch, Record

CHUNK = 2000


class KeyCollision(Exception):
    """A new id whose natural-key hash (PostgreSQL: usage.models.NATURAL_KEY_HASH) equals a
    different id's stored for the same project and day: the unique index refuses it, and
    it is neither stored nor counted as a duplicate. The batch or import is rolled back."""

    def __init__(self, *, project_id: int, source: str, external_id: str, day: date, stored: str | None):
        self.external_id, self.stored = external_id, stored
        super().__init__(
            f"usage record {external_id!r} of source {source!r} on {day} not stored: its natural-key hash "
            f"equals that of the stored record {stored!r} of the same project and day (a 64-bit hash: "
            "expected about once in 10^19 pairs of ids). Nothing of this batch was stored.")


@dataclass
class Counts:
    accepted: int = 0
    duplicates: int = 0
    replaced: int = 0
    unpriced: int = 0
    cost_nano: int = 0
    # merge mode: cost of the rows replaced or covered (net cost added = cost_nano - this),
    # and reported costs merged onto existing token rows.
    replaced_cost_nano: int = 0
    merged: int = 0
    days: set[tuple[date, str]] = field(default_factory=set)
    # rows replaced, per format they had come from: format -> [rows, first day, last day]
    replaced_from: dict[str, list] = field(default_factory=dict)

    def restated(self, format: str, day: date, rows: int = 1) -> None:
        entry = self.replaced_from.setdefault(format, [0, day, day])
        entry[0] += rows
        entry[1], entry[2] = min(entry[1], day), max(entry[2], day)

    @property
    def first_day(self) -> date | None:
        return min((d for d, _ in self.days), default=None)

    @property
    def last_day(self) -> date | None:
        return max((d for d, _ in self.days), default=None)


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk


class Row:
    """A usage record on its way in: UsageRecord's attributes, without a model instance
    (Model.__init__ was a quarter of an ingest batch). `instance()` makes the model."""

    def __init__(self, **values):
        self.__dict__.update(_row_defaults())
        self.__dict__.update(values)

    @classmethod
    def of(cls, values: dict) -> Row:
        """Row(**values) without the keyword arguments (a dict built once per record)."""
        row = cls.__new__(cls)
        row.__dict__ = {**_row_defaults(), **values}
        return row

    def instance(self) -> UsageRecord:
        return UsageRecord(**{name: getattr(self, name) for name in _row_defaults()})


@cache
def _row_defaults() -> dict:
    return {f.attname: None if f.primary_key or callable(f.default) else f.get_default()
            for f in UsageRecord._meta.concrete_fields}


_COUNT_COLUMNS = (*TOKEN_COLUMNS, *FEE_COLUMNS)
_record_counts = attrgetter(*_COUNT_COLUMNS)


def build_row(*, project: Project, source: str, record: Record, book: PriceBook,
              import_job: ImportJob | None = None, checked: bool = False) -> Row:
    """The row to store for a record; raises bounds.OutOfBounds for a record (or its cost)
    out of the accepted bounds. `checked`: the record is known to be within them (its
    batch passed bounds.all_within)."""
    if not checked:
        bounds.check(record)
    ts = record.timestamp
    values = dict(zip(_COUNT_COLUMNS, _record_counts(record), strict=True))
    values.update(
        project_id=project.pk,  # ids, not instances: the descriptors cost ~10% of a big import
        source=source,
        external_id=record.external_id,
        ledger=record.ledger,
        timestamp=ts,
        day=ts.astimezone(UTC).date(),
        provider=record.provider,
        model=record.model,
        feature=record.feature,
        end_user=record.end_user,
        api_key=record.api_key,
        workspace=record.workspace,
        batch=record.batch,
        service_tier=record.service_tier,
        # a "-fast" model id (claude-opus-4-6-fast) is that model in fast mode
        speed=record.speed or ("fast" if record.model.lower().endswith("-fast") else ""),
        long_context=bool(record.long_context),
        region=record.region,
        requests=record.requests,
        reported_cost_nano=record.reported_cost_nano,
        metadata=({**record.metadata, "cost_only": True, **({"covers": record.covers} if record.covers else {})}
                  if record.cost_only else record.metadata),
        import_job_id=import_job.pk if import_job else None,
    )
    row = Row.of(values)
    row.priced_model = _differing(book.resolve(record.model) or "", record.model)
    apply_price(row, book, explicit_long_context=record.long_context)
    if (problem := bounds.cost_problem(row.cost_nano)) is not None:
        raise bounds.OutOfBounds("cost", problem, origin=record.origin)
    return row


def apply_price(row: UsageRecord, book: PriceBook, *, explicit_long_context: bool | None = None) -> bool:
    """Set the row's costs from the book. Returns False (costs left NULL) if no price exists.
    A row carrying only a billed amount (cost exports) is priced at what the bill says."""
    if row.metadata.get("cost_only"):
        # covered: token rows of the same usage count it (usage.billed); it stays at 0
        set_billed(row, 0 if row.metadata.get("covered") else row.reported_cost_nano)
        return row.cost_nano is not None
    rates = book.rates_at(row.model, row.timestamp)
    row.fees_nano = 0
    if rates is None:
        row.cost_nano = row.cost_no_cache_nano = row.cost_no_batch_nano = None
        return False
    row.priced_model = _differing(rates.model, row.model)
    if not row.provider:
        row.provider = rates.provider
    try:
        priced = bulk.price_request(
            rates, book, _counts(row), _fee_counts(row), model=row.model, timestamp=row.timestamp,
            requests=row.requests, batch=row.batch, service_tier=row.service_tier, speed=row.speed,
            region=row.region, long_context=explicit_long_context, aggregate_long_context=row.long_context)
    except Unpriced:
        row.cost_nano = row.cost_no_cache_nano = row.cost_no_batch_nano = None
        return False
    row.cost_nano, row.cost_no_cache_nano, row.cost_no_batch_nano, row.long_context, row.fees_nano = priced
    return True


# a row's token counts in billing.pricing.classes.RATE_CLASSES order, its tool counts in
# FEE_CLASSES order: what price_counts takes
_counts = attrgetter(*(f"{c}_tokens" for c in RATE_CLASSES))
_fee_counts = attrgetter(*FEE_COLUMNS)


def _differing(priced_model: str, model: str) -> str:
    """What UsageRecord.priced_model stores: the priced name only when it is not `model`."""
    return "" if priced_model == model else priced_model


def set_billed(row: UsageRecord, billed: int | None) -> None:
    """A cost-only row's counted amount. A fee that tokens don't price (covers "none": web
    search, file search, code execution, …) is the Tools class."""
    row.cost_nano = row.cost_no_cache_nano = row.cost_no_batch_nano = billed
    row.fees_nano = (billed or 0) if row.metadata.get("covers") == "none" else 0


def record_usage(
    *,
    project: Project,
    source: str,
    records: Iterable[Record],
    import_job: ImportJob | None = None,
    on_progress: Callable[[int], None] | None = None,
    merge: bool = False,
    batches: Iterable[Batch] | None = None,
    checked: bool = False,
) -> Counts:
    """Price and store records atomically. An external_id already stored for this
    (project, source) is a duplicate (API idempotency). `merge=True` (imports): a later
    restatement replaces the earlier row, and cost rows merge onto token rows, see
    _merge_chunk; `batches` (merge mode, before `records`): usage.records.Batch, see
    _merge_batches. `checked`: the records are known to be within bounds (the API checked
    them with bounds.all_within). Rollups of the touched days run after commit."""
    counts = Counts()
    book = PriceBook.current()
    if merge:
        with transaction.atomic():
            lock_source(project_id=project.pk, source=source)  # usage.idempotency
            state = _MergeState(project=project, source=source)
            if batches is not None:
                _merge_batches(batches, state=state, counts=counts, book=book, import_job=import_job,
                               on_progress=on_progress)
            for chunk in _chunks(records, CHUNK):
                _merge_chunk(chunk, state=state, counts=counts, book=book, import_job=import_job)
                if on_progress:
                    on_progress(len(chunk))
            mark_dirty(project_id=project.pk, days=counts.days)
        return counts
    # Sorted by id: concurrent requests with the same ids insert (and lock) them in the same
    # order, so they wait for each other instead of deadlocking.
    records = sorted(records, key=lambda r: r.external_id)
    # rows as usage.bulk's tuples, not Rows: build_row and the row's values were ~15 µs an
    # event of the API's 1,000-event batches
    builder = bulk.Builder(project_id=project.pk, source=source, book=book,
                           import_job_id=import_job.pk if import_job else None)
    with transaction.atomic():
        # before the lookup of stored ids, until commit (usage.idempotency)
        lock_ids(project_id=project.pk, source=source, ids=[r.external_id for r in records])
        checked = checked or bounds.all_within(records)
        for chunk in _chunks(records, CHUNK):
            lines: dict[str, tuple[tuple, tuple[date, str], int | None]] = {}  # id -> (tuple, (day, ledger), cost)
            for record in chunk:
                if record.external_id in lines:
                    counts.duplicates += 1
                elif checked and not record.cost_only:
                    line, day, cost = builder.line(record)
                    lines[record.external_id] = (line, (day, record.ledger), cost)
                else:  # build_row names the field out of bounds; prices a cost-only record
                    row = build_row(project=project, source=source, record=record, book=book,
                                    import_job=import_job, checked=checked)
                    lines[record.external_id] = (builder.row_line(row), (row.day, row.ledger), row.cost_nano)
            for external_id in _stored_ids(project, source, list(lines)):
                del lines[external_id]
                counts.duplicates += 1
            new = list(lines.values())
            ensure_partitions({day for _, (day, _), _ in new})
            if not bulk.store([line for line, _, _ in new]):
                # A concurrent request stored some of these ids first: keep theirs, count ours
                # (or an id's hash collides with a stored one's: KeyCollision).
                new = [item for external_id, item in lines.items() if _store_alone(project, source, external_id, item)]
                counts.duplicates += len(lines) - len(new)
            counts.accepted += len(new)
            counts.days.update(day for _, day, _ in new)
            costs = [cost for _, _, cost in new]
            counts.unpriced += costs.count(None)
            counts.cost_nano += sum(filter(None, costs))
            if on_progress:
                on_progress(len(chunk))
        # every record above went through bulk.store: in PendingRollup ranges on PostgreSQL
        mark_dirty(project_id=project.pk, days=counts.days, full=False)
    return counts


_FINGERPRINT = [
    "ledger", "timestamp", "model", "provider", "feature", "end_user", "api_key", "workspace", "batch",
    "service_tier", "speed", "long_context", "region", "requests", *TOKEN_COLUMNS, *FEE_COLUMNS,
    "cost_nano", "reported_cost_nano",
]


@dataclass
class _MergeState:
    project: Project
    source: str
    # Whether this (project, source) holds any cost-only rows: only then must token rows
    # look for cost rows they cover (keeps big token-only imports to one query per chunk).
    has_cost_rows: bool | None = None
    # No rows of this (project, source) before the import: chunks are inserted without
    # looking keys up (on a big, not yet analyzed table PostgreSQL plans that lookup as a
    # scan of the project's rows, which made a 1M-row import quadratic). A key repeated
    # across chunks raises on insert; that chunk is then redone with the lookup.
    fresh: bool | None = None

    def cost_rows(self):
        return UsageRecord.objects.filter(project=self.project, source=self.source, metadata__cost_only=True)

    def load(self) -> None:
        """has_cost_rows and fresh, asked once (before the first chunk)."""
        if self.has_cost_rows is None:
            self.has_cost_rows = self.cost_rows().exists()
        if self.fresh is None:
            self.fresh = not UsageRecord.objects.filter(project=self.project, source=self.source).exists()


def _cover(row: UsageRecord) -> None:
    """A cost-only row whose spend is already counted by token rows: kept for
    reconciliation (reported_cost_nano), counted as zero."""
    row.metadata = {**row.metadata, "covered": True}
    set_billed(row, 0)


def _merge_chunk(chunk: list[Record], *, state: _MergeState, counts: Counts, book: PriceBook,
                 import_job: ImportJob | None) -> None:
    """Store one chunk in merge mode. Keys are hierarchical ("day|a|b|…", see
    usage.importers.base.key); per (project, source) and external_id:

    - same key, token row stored, cost-only record: the reported cost is set on the token
      row, whose tokens and computed cost stay;
    - same key otherwise: the new row replaces the old (a token row keeps an existing
      reported cost; an identical row is a duplicate and left alone);
    - a cost-only row whose key is a proper prefix of token rows' keys (a coarser cost
      export, e.g. per day × model where tokens are per key) is covered by them: stored
      with cost 0 and its reported cost, whichever of the two arrives first.
    So each day's spend is counted once, and reported costs stay for reconciliation."""
    project, source = state.project, state.source
    rows: dict[str, Row] = {}
    checked = bounds.all_within(chunk)
    for record in chunk:
        if record.external_id in rows:
            counts.duplicates += 1
        rows[record.external_id] = build_row(
            project=project, source=source, record=record, book=book, import_job=import_job, checked=checked
        )
    state.load()

    for ext, row in rows.items():
        if row.metadata.get("cost_only") and _token_rows_under(state, ext, row.day, rows):
            _cover(row)

    if state.fresh and not state.has_cost_rows:
        try:
            with transaction.atomic():  # a savepoint
                _insert(list(rows.values()))
        except IntegrityError:
            pass  # a key seen in an earlier chunk: redo this chunk with the lookup below
        else:
            _count_inserts(list(rows.values()), state, counts)
            return
    existing = {
        r["external_id"]: r
        for r in with_ids(UsageRecord.objects.all(), project.pk, source, list(rows))
        .values("pk", "external_id", "day", "ledger", "metadata", *_FINGERPRINT)
    }

    delete_pks: list[int] = []
    inserts: list[Row] = []
    confirmed: list[int] = []  # duplicates: this import states them again
    for ext, row in rows.items():
        old = existing.get(ext)
        cost_only = bool(row.metadata.get("cost_only"))
        if old is None:
            inserts.append(row)
            continue
        counts.days.add((old["day"], old["ledger"]))
        if cost_only and not old["metadata"].get("cost_only"):
            if old["reported_cost_nano"] == row.reported_cost_nano:
                counts.duplicates += 1
            else:
                UsageRecord.objects.filter(pk=old["pk"]).update(reported_cost_nano=row.reported_cost_nano)
                counts.merged += 1
            continue
        if not cost_only and row.reported_cost_nano is None:
            row.reported_cost_nano = old["reported_cost_nano"]
        same_format = old["metadata"].get("format") == row.metadata.get("format")  # usage.billed
        if same_format and all(getattr(row, f) == old[f] for f in _FINGERPRINT
                               if not (cost_only and f == "cost_nano")):
            counts.duplicates += 1
            confirmed.append(old["pk"])
            continue
        delete_pks.append(old["pk"])
        counts.replaced += 1
        counts.restated(old["metadata"].get("format", ""), old["day"])
        counts.replaced_cost_nano += old["cost_nano"] or 0
        inserts.append(row)
    if delete_pks:
        UsageRecord.objects.filter(pk__in=delete_pks).delete()
    if confirmed and import_job is not None:
        # the billed ledger's restatement rule tells rows stated by this import apart by it
        UsageRecord.objects.filter(pk__in=confirmed).update(import_job_id=import_job.pk)
    if state.has_cost_rows:
        _cover_cost_rows(state, [r for r in inserts if not r.metadata.get("cost_only")], counts)
    try:
        with transaction.atomic():
            _insert(inserts)
    except IntegrityError:
        # none of these ids is stored (the lookup above, under the source's lock): a hash
        # collision, which _insert_each names
        stored = _insert_each(project, source, inserts)
        raise RuntimeError(f"an insert of {len(inserts)} records failed, one by one {len(stored)} did") from None
    _count_inserts(inserts, state, counts)
    counts.accepted -= len(delete_pks)


def _merge_batches(batches: Iterable[Batch], *, state: _MergeState, counts: Counts, book: PriceBook,
                   import_job: ImportJob | None, on_progress: Callable[[int], None] | None) -> None:
    """Merge mode for batches: while the (project, source) is fresh and has no cost rows,
    a batch is stored as tuples by usage.bulk, stored while the next one is built; a batch
    that bulk does not take, or one that held a key already stored (a key repeated across
    batches: its COPY is rolled back), goes through _merge_chunk, in the batches' order."""
    builder = bulk.Builder(project_id=state.project.pk, source=state.source, book=book,
                           import_job_id=import_job.pk if import_job else None)
    general = {"state": state, "counts": counts, "book": book, "import_job": import_job}
    with bulk.Writer() as writer:
        for batch in batches:
            state.load()  # before the first batch: nothing in flight
            prepared = builder.prepare(batch, timezone.now()) if state.fresh and not state.has_cost_rows else None
            _stored(writer.wait(), **general)  # the batch in flight: the connection is free again after
            if prepared is None:
                _merge_chunk(list(batch.records()), **general)
            else:
                ensure_partitions({day for day, _ in prepared.days})
                writer.submit(prepared)
            if on_progress:
                on_progress(len(batch.rows))
        _stored(writer.wait(), **general)


def _stored(result: tuple[bulk.Prepared, bool] | None, *, state: _MergeState, counts: Counts, book: PriceBook,
            import_job: ImportJob | None) -> None:
    """Count a batch that usage.bulk stored, or take it through _merge_chunk if it was not."""
    if result is None:
        return
    prepared, stored = result
    if not stored:
        _merge_chunk(list(prepared.batch.records()), state=state, counts=counts, book=book, import_job=import_job)
        return
    counts.days.update(prepared.days)
    counts.unpriced += prepared.unpriced
    counts.cost_nano += prepared.cost_nano
    counts.accepted += len(prepared.tuples)


def _count_inserts(inserts: list[Row], state: _MergeState, counts: Counts) -> None:
    if not state.has_cost_rows and any(row.metadata.get("cost_only") for row in inserts):
        state.has_cost_rows = True
    counts.days.update({(row.day, row.ledger) for row in inserts})
    costs = [row.cost_nano for row in inserts]
    counts.unpriced += costs.count(None)
    counts.cost_nano += sum(filter(None, costs))
    counts.accepted += len(inserts)


def with_ids(queryset, project_id: int, source: str, ids: list[str]):
    """The records of the queryset (not yet filtered by project) of this project with these
    external ids of this source. On PostgreSQL the natural key's index holds their hash
    (usage.models.NATURAL_KEY_HASH) and the project as an integer: the hashes of the ids,
    computed once by the server, and `project_id::integer` find them, and the text rules
    out a collision. The project is compared only as that integer: with a plain
    `project_id =` a partition without statistics (autovacuum not run yet) was planned as a
    bitmap AND with the scan of all the project's rows in it (338 ms a batch at 24,000 rows;
    this way 6 ms)."""
    queryset = queryset.filter(source=source, external_id__in=ids)
    if connection.vendor != "postgresql":
        return queryset.filter(project_id=project_id)
    return queryset.extra(where=["(project_id)::integer = %s",
                                 f"{natural_key_hash()} = ANY(ARRAY(SELECT {natural_key_hash('%s::text', 'i')} "
                                 "FROM unnest(%s::text[]) i))"], params=[project_id, source, ids])


def _stored_ids(project: Project, source: str, ids: list[str]) -> list[str]:
    """Which of these external ids the project already holds for this source."""
    if connection.vendor != "postgresql":
        return list(UsageRecord.objects.filter(project=project, source=source, external_id__in=ids)
                    .values_list("external_id", flat=True))
    # One parameter instead of 1,000 (Django prepares each value of an IN list; see id_rows), and
    # one index probe per id and partition whatever the statistics say: a partition not yet
    # analyzed (a new month, a bench) planned `external_id = ANY(ids)` as a filter over all
    # of the project's rows in it, 30 ms a batch at 60,000 rows. The probe is by the ids'
    # hashes (the natural key's index), the text rules out a collision.
    rows, param = id_rows(ids)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT i FROM (SELECT i, {natural_key_hash('%s::text', 'i')} h FROM {rows} i) ids "
                       f"CROSS JOIN LATERAL (SELECT FROM {UsageRecord._meta.db_table} WHERE {natural_key_hash()} = h "
                       "AND (project_id)::integer = %s AND source = %s AND external_id = i LIMIT 1) stored",
                       [source, param, project.pk, source])
        return [external_id for (external_id,) in cursor.fetchall()]


def _insert_each(project: Project, source: str, rows: list[Row]) -> list[Row]:
    """Insert rows one by one (a savepoint each); returns those stored, not the ids another
    transaction stored first. A row the unique key refuses whose id is not stored collides
    with another id's hash: KeyCollision."""
    stored = []
    for row in rows:
        try:
            with transaction.atomic():
                _insert([row])
        except IntegrityError:
            if not _stored_ids(project, source, [row.external_id]):
                raise _collision(project, source, row.external_id, row.day) from None
            continue
        stored.append(row)
    return stored


def _store_alone(project: Project, source: str, external_id: str, item: tuple) -> bool:
    """Store one of record_usage's lines (line, (day, ledger), cost) alone: False if another
    transaction stored its id first; KeyCollision if the unique key refuses it otherwise."""
    if bulk.store([item[0]]):
        return True
    if _stored_ids(project, source, [external_id]):
        return False
    raise _collision(project, source, external_id, item[1][0])


def _collision(project: Project, source: str, external_id: str, day: date) -> KeyCollision:
    """The KeyCollision of an id refused by the unique key although it is not stored."""
    stored = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT external_id FROM {UsageRecord._meta.db_table}, (SELECT %s::text s, %s::text i) k "
                           f"WHERE {natural_key_hash()} = {natural_key_hash('s', 'i')} AND (project_id)::integer = %s "
                           "AND day = %s AND NOT (source = s AND external_id = i) LIMIT 1",
                           [source, external_id, project.pk, day])
            stored = next(iter(cursor.fetchone() or ()), None)
    return KeyCollision(project_id=project.pk, source=source, external_id=external_id, day=day, stored=stored)


def _insert(rows: list[Row]) -> None:
    """A binary COPY on PostgreSQL, one executemany on SQLite: Django's per-value
    preparation in bulk_create dominated a 1M-row import (see bench/import_csv.py), and a
    binary COPY takes a third of the client CPU of a text one and less parsing on the server
    (bench/ingest.py). The columns are the model's concrete fields. Conflicts were removed by
    the caller."""
    if not rows:
        return
    ensure_partitions({row.day for row in rows})
    plan = _insert_plan(connection.vendor)
    if connection.vendor != "postgresql":
        lines = []
        for line in map(plan.values, rows):
            for i, to_db in plan.adapt:
                if line[i] is not None:
                    line[i] = to_db(line[i])
            lines.append(line)
        with connection.cursor() as cursor:
            cursor.executemany(plan.sql, lines)
        return
    with connection.wrap_database_errors, connection.cursor() as cursor:
        raw = cursor.cursor
        set_json_dumps(bulk.json_bytes, context=raw)
        with raw.copy(plan.sql) as copy:
            copy.set_types(plan.types)
            write = copy.write_row
            for line in map(plan.values, rows):
                write(line)


@dataclass(frozen=True)
class _InsertPlan:
    sql: str
    values: Callable  # a row's values as stored, in column order (_stored_values)
    adapt: list  # SQLite: (index, to_db) of the values the driver can't take as they are
    types: list  # PostgreSQL: the columns' types, for the binary COPY


@cache
def _insert_plan(vendor: str) -> _InsertPlan:
    fields = [f for f in UsageRecord._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = UsageRecord._meta.db_table
    values = _stored_values(fields)
    if vendor == "postgresql":
        # "varchar(40)" -> "varchar", "timestamp with time zone", "bigint", "jsonb": psycopg's names
        types = [bulk.copy_type(f) for f in fields]
        return _InsertPlan(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)", values, [], types)
    adapt = [(i, to_db) for i, f in enumerate(fields) if (to_db := _adapter(f))]
    return _InsertPlan(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})",
                       values, adapt, [])


def _stored_values(fields: list) -> Callable:
    """A row's values in column order as stored (usage.models.ImpliedIntegerField.storing:
    implied counts and empty metadata as NULL)."""
    getter, stored = attrgetter(*(f.attname for f in fields)), ImpliedIntegerField.storing(fields)
    return lambda row: stored(getter(row))


def _adapter(field) -> Callable | None:
    """What a value of this field needs before SQLite's driver takes it (None: nothing)."""
    kind = field.get_internal_type()
    if kind == "JSONField":
        return json.dumps
    if kind == "DateTimeField":
        return connection.ops.adapt_datetimefield_value
    if kind == "DateField":
        return connection.ops.adapt_datefield_value
    return None


def _token_rows_under(state: _MergeState, ext: str, day: date, chunk_rows: dict[str, Row]) -> bool:
    """Whether token rows of the cost row's day have keys under its key. Only that day's:
    a cost row is a day's cost, and on PostgreSQL no index holds the keys' text (the natural
    key holds their hash), so the lookup reads the day's records of the project."""
    prefix = ext + "|"
    if any(k.startswith(prefix) and r.day == day and not r.metadata.get("cost_only") for k, r in chunk_rows.items()):
        return True
    return (
        UsageRecord.objects.filter(project=state.project, day=day, source=state.source, external_id__startswith=prefix)
        .exclude(metadata__has_key="cost_only")
        .exists()
    )


def _cover_cost_rows(state: _MergeState, token_rows: list[Row], counts: Counts) -> None:
    prefixes = set()
    for row in token_rows:
        parts = row.external_id.split("|")
        prefixes.update("|".join(parts[:n]) for n in range(1, len(parts)))
    prefixes = sorted(prefixes)
    for i in range(0, len(prefixes), 500):
        for cost_row in with_ids(UsageRecord.objects.filter(metadata__cost_only=True), state.project.pk, state.source,
                                prefixes[i:i + 500]).exclude(
            metadata__has_key="covered"
        ):
            counts.replaced_cost_nano += cost_row.cost_nano or 0
            counts.days.add((cost_row.day, cost_row.ledger))
            _cover(cost_row)
            cost_row.save(update_fields=["cost_nano", "cost_no_cache_nano", "cost_no_batch_nano", "fees_nano",
                                         "metadata"])


def mark_dirty(*, project_id: int, days: Iterable[tuple[date, str]], full: bool = True) -> None:
    """Record stale (day, ledger) rollups in the DB and, after commit, queue a rollup of the
    marks no rollup is queued for yet (DirtyDay: a day dirtied again meanwhile only moves
    `marked_at`, so many ingests of a day cost one recompute per interval).

    One upsert per 500 marks (PostgreSQL and SQLite alike; the ORM's bulk_create, a read of
    the unclaimed marks and their update took 4.5 ms of an ingest batch's 22 days): a new
    mark is created claimed (`queued_at` = now), an unclaimed one is claimed, a claimed one
    only moves `marked_at`; RETURNING tells which this transaction claimed.

    `full=False`: every record this transaction wrote on those days is in a PendingRollup
    range (usage.bulk.store on PostgreSQL), so the pass may add them to the day's rollups
    instead of recomputing it (usage.rollups); a mark stays full once a write said so."""
    # Sorted, so concurrent ingests lock the marks in the same order (no deadlock).
    marks = sorted(days)
    if not marks:
        return
    now = timezone.now()
    ops = connection.ops
    at = ops.adapt_datetimefield_value(now)
    due = ops.adapt_datetimefield_value(now + timedelta(seconds=settings.ROLLUP_COALESCE_SECONDS))
    full_since = at if full or connection.vendor != "postgresql" else None
    table = DirtyDay._meta.db_table
    claimed = []
    with connection.cursor() as cursor:
        for i in range(0, len(marks), 500):
            chunk = marks[i:i + 500]
            cursor.execute(
                f"INSERT INTO {table} (project_id, day, ledger, marked_at, dirty_since, due_at, queued_at, "
                f"attempts, error, full_since) VALUES {', '.join(['(%s, %s, %s, %s, %s, %s, %s, 0, %s, %s)'] * len(chunk))} "
                "ON CONFLICT (project_id, day, ledger) DO UPDATE SET marked_at = EXCLUDED.marked_at, "
                f"queued_at = COALESCE({table}.queued_at, EXCLUDED.queued_at), "
                f"full_since = COALESCE(EXCLUDED.full_since, {table}.full_since) RETURNING day, ledger, due_at, queued_at",
                [v for day, ledger in chunk for v in (project_id, ops.adapt_datefield_value(day), ledger, at, at, due,
                                                       at, "", full_since)])
            claimed += [(day, ledger, _aware(due_at)) for day, ledger, due_at, queued_at in cursor.fetchall()
                        if _aware(queued_at) == now]
    for day, ledger, due_at in claimed:
        transaction.on_commit(lambda d=day, led=ledger, at=due_at: hooks.day_marked_dirty.send(
            sender=DirtyDay, project_id=project_id, day=d, ledger=led, due_at=at, claim=now))


def _aware(value: datetime | None) -> datetime | None:
    """A datetime read by raw SQL, aware (SQLite returns UTC without the zone)."""
    return timezone.make_aware(value, UTC) if value is not None and timezone.is_naive(value) else value
