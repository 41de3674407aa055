"""The one write path: price records, store them de-duplicated, mark their days dirty."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
import logging
from dataclasses import dataclass, field
from datetime import date
from datetime import timezone as dt_timezone
from itertools import islice

from django.db import transaction
from django.utils import timezone

from billing.pricing import PriceBook, Tokens, cost
from usage.models import DirtyDay, ImportJob, Project, UsageRecord
from usage.records import Record

CHUNK = 2000
logger = logging.getLogger(__name__)


@dataclass
class Counts:
    accepted: int = 0
    duplicates: int = 0
    replaced: int = 0
    unpriced: int = 0
    cost_nano: int = 0
    days: set[tuple[date, str]] = field(default_factory=set)

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


def build_row(*, project: Project, source: str, record: Record, book: PriceBook,
              import_job: ImportJob | None = None) -> UsageRecord:
    ts = record.timestamp
    row = UsageRecord(
        project=project,
        source=source,
        external_id=record.external_id,
        ledger=record.ledger,
        timestamp=ts,
        day=ts.astimezone(dt_timezone.utc).date(),
        provider=record.provider,
        model=record.model,
        feature=record.feature,
        end_user=record.end_user,
        api_key=record.api_key,
        batch=record.batch,
        service_tier=record.service_tier,
        speed=record.speed,
        long_context=bool(record.long_context),
        requests=record.requests,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cache_read_tokens=record.cache_read_tokens,
        cache_write_5m_tokens=record.cache_write_5m_tokens,
        cache_write_1h_tokens=record.cache_write_1h_tokens,
        reasoning_tokens=record.reasoning_tokens,
        reported_cost_nano=record.reported_cost_nano,
        metadata={**record.metadata, "cost_only": True} if record.cost_only else record.metadata,
        import_job=import_job,
    )
    row.priced_model = book.resolve(record.model) or ""
    apply_price(row, book, explicit_long_context=record.long_context)
    return row


def apply_price(row: UsageRecord, book: PriceBook, *, explicit_long_context: bool | None = None) -> bool:
    """Set the row's costs from the book. Returns False (costs left NULL) if no price exists.
    A row carrying only a billed amount (cost exports) is priced at what the bill says."""
    if row.metadata.get("cost_only"):
        row.cost_nano = row.cost_no_cache_nano = row.cost_no_batch_nano = row.reported_cost_nano
        return row.cost_nano is not None
    rates = book.rates_at(row.model, row.timestamp)
    if rates is None:
        row.cost_nano = row.cost_no_cache_nano = row.cost_no_batch_nano = None
        return False
    row.priced_model = rates.model
    if not row.provider:
        row.provider = rates.provider
    priced = cost(
        Tokens(
            input=row.input_tokens,
            output=row.output_tokens,
            cache_read=row.cache_read_tokens,
            cache_write_5m=row.cache_write_5m_tokens,
            cache_write_1h=row.cache_write_1h_tokens,
        ),
        rates,
        batch=row.batch,
        service_tier=row.service_tier,
        speed=row.speed,
        long_context=explicit_long_context if explicit_long_context is not None else (
            row.long_context if row.requests != 1 else None
        ),
    )
    row.long_context = priced.long_context
    row.cost_nano = priced.cost_nano
    row.cost_no_cache_nano = priced.no_cache_nano
    row.cost_no_batch_nano = priced.no_batch_nano
    return True


def record_usage(
    *,
    project: Project,
    source: str,
    records: Iterable[Record],
    replace: bool = False,
    import_job: ImportJob | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Counts:
    """Price and store records atomically. An (external_id) already stored for this
    (project, source) is a duplicate, or with `replace=True` (console restatements) is
    replaced by the new row. Rollups of the touched days run after commit."""
    counts = Counts()
    book = PriceBook.load()
    with transaction.atomic():
        for chunk in _chunks(records, CHUNK):
            rows: dict[str, UsageRecord] = {}
            for record in chunk:
                if record.external_id in rows and not replace:
                    counts.duplicates += 1
                    continue
                rows[record.external_id] = build_row(
                    project=project, source=source, record=record, book=book, import_job=import_job
                )
            existing = UsageRecord.objects.filter(
                project=project, source=source, external_id__in=list(rows)
            )
            if replace:
                for ledger, day in existing.values_list("ledger", "day").distinct():
                    counts.days.add((day, ledger))
                counts.replaced += existing.count()
                existing.delete()
            else:
                for external_id in existing.values_list("external_id", flat=True):
                    del rows[external_id]
                    counts.duplicates += 1
            new_rows = list(rows.values())
            UsageRecord.objects.bulk_create(new_rows, batch_size=1000, ignore_conflicts=not replace)
            for row in new_rows:
                counts.accepted += 1
                counts.days.add((row.day, row.ledger))
                if row.cost_nano is None:
                    counts.unpriced += 1
                else:
                    counts.cost_nano += row.cost_nano
            if on_progress:
                on_progress(len(chunk))
        counts.accepted -= counts.replaced if replace else 0
        mark_dirty(project_id=project.pk, days=counts.days)
    return counts


def mark_dirty(*, project_id: int, days: Iterable[tuple[date, str]]) -> None:
    """Record stale (day, ledger) rollups in the DB and, after commit, recompute them."""
    now = timezone.now()
    marks = [DirtyDay(project_id=project_id, day=d, ledger=ledger, marked_at=now) for d, ledger in days]
    if not marks:
        return
    DirtyDay.objects.bulk_create(
        marks,
        update_conflicts=True,
        unique_fields=["project", "day", "ledger"],
        update_fields=["marked_at"],
    )
    for mark in marks:
        transaction.on_commit(lambda m=mark: _enqueue_rollup(m))


def _enqueue_rollup(mark: DirtyDay) -> None:
    from usage.tasks import rollup_day

    try:
        rollup_day.delay(mark.project_id, mark.day.isoformat(), mark.ledger)
    except Exception:  # broker down: the DirtyDay row stays, beat / `manage.py rollup` catch up
        logger.warning("could not enqueue rollup for %s %s", mark.day, mark.ledger, exc_info=True)
