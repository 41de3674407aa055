"""Re-pricing stored records: unpriced ones once a price exists, or all on request."""

from __future__ import annotations

from django.db import transaction

from billing.pricing.rates import PriceBook
from usage.ingest import apply_price, mark_dirty
from usage.models import UsageRecord
from usage.retention import raw_horizon

PRICE_FIELDS = ["priced_model", "provider", "long_context", "cost_nano", "cost_no_cache_nano", "cost_no_batch_nano",
                "fees_nano"]


def reprice(*, project_id: int | None = None, only_unpriced: bool = True) -> int:
    """Re-price records; returns how many changed. Never rewrites history unless asked
    (`only_unpriced=False`), nor the days before the raw retention horizon."""
    book = PriceBook.load()
    qs = UsageRecord.objects.all()
    if project_id:
        qs = qs.filter(project_id=project_id)
    if only_unpriced:
        qs = qs.filter(cost_nano__isnull=True)
    if (horizon := raw_horizon()) is not None:
        qs = qs.filter(day__gte=horizon)  # those days' rollups would not be recomputed
    changed = 0
    with transaction.atomic():
        batch: list[UsageRecord] = []
        dirty: dict[int, set] = {}
        for row in qs.iterator(chunk_size=2000):
            before = row.cost_nano
            apply_price(row, book)
            if row.cost_nano != before:
                batch.append(row)
                dirty.setdefault(row.project_id, set()).add((row.day, row.ledger))
            if len(batch) >= 2000:
                UsageRecord.objects.bulk_update(batch, PRICE_FIELDS)
                changed += len(batch)
                batch = []
        if batch:
            UsageRecord.objects.bulk_update(batch, PRICE_FIELDS)
            changed += len(batch)
        for pid, days in dirty.items():
            mark_dirty(project_id=pid, days=days)
    return changed
