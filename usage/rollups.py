"""UsageRecord -> DailyUsage -> DailyModelUsage, a whole (project, day, ledger) at a time.

Delete and re-insert in one transaction with INSERT … SELECT … GROUP BY: idempotent, so a
retried or duplicated task can never double-count. The project row is locked (FOR NO KEY
UPDATE) so that two workers recomputing the same project serialize instead of interleaving.
"""

from __future__ import annotations

from datetime import date

from django.db import connection, transaction

from usage.models import (
    DailyDimensionUsage,
    DailyModelUsage,
    DailyUsage,
    DirtyDay,
    Project,
    UsageRecord,
)

SUMS = [
    "requests",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "cost_nano",
    "cost_no_cache_nano",
    "cost_no_batch_nano",
    "reported_cost_nano",
]


def _detail_sql() -> str:
    daily, raw = DailyUsage._meta.db_table, UsageRecord._meta.db_table
    sums = ", ".join(f"COALESCE(SUM({c}), 0)" for c in SUMS)
    return f"""
        INSERT INTO {daily} (project_id, day, ledger, provider, model, feature, end_user,
            api_key, batch, {", ".join(SUMS)}, unpriced_requests, unpriced_records)
        SELECT project_id, day, ledger, provider, COALESCE(NULLIF(priced_model, ''), model),
            feature, end_user, api_key, batch, {sums},
            COALESCE(SUM(CASE WHEN cost_nano IS NULL THEN requests ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END), 0)
        FROM {raw}
        WHERE project_id = %s AND day = %s AND ledger = %s
        GROUP BY project_id, day, ledger, provider, COALESCE(NULLIF(priced_model, ''), model),
            feature, end_user, api_key, batch
    """


def _coarse_sql() -> str:
    coarse, daily = DailyModelUsage._meta.db_table, DailyUsage._meta.db_table
    cols = SUMS + ["unpriced_requests", "unpriced_records"]
    sums = ", ".join(f"SUM({c})" for c in cols)
    return f"""
        INSERT INTO {coarse} (project_id, day, ledger, provider, model, {", ".join(cols)})
        SELECT project_id, day, ledger, provider, model, {sums}
        FROM {daily}
        WHERE project_id = %s AND day = %s AND ledger = %s
        GROUP BY project_id, day, ledger, provider, model
    """


def _dimension_sql() -> str:
    table, daily = DailyDimensionUsage._meta.db_table, DailyUsage._meta.db_table
    cols = SUMS + ["unpriced_requests", "unpriced_records"]
    sums = ", ".join(f"SUM({c})" for c in cols)
    selects = " UNION ALL ".join(
        f"SELECT project_id, day, ledger, '{dim}', {dim}, {sums} FROM {daily} "
        f"WHERE project_id = %s AND day = %s AND ledger = %s GROUP BY project_id, day, ledger, {dim}"
        for dim in DailyDimensionUsage.DIMENSIONS
    )
    return f"""
        INSERT INTO {table} (project_id, day, ledger, dimension, value, {", ".join(cols)})
        {selects}
    """


def rollup_day(*, project_id: int, day: date, ledger: str) -> None:
    with transaction.atomic():
        # NO KEY UPDATE: serializes rollups of a project without blocking the KEY SHARE
        # locks that ingest's foreign-key checks take on the same row (FOR UPDATE deadlocks).
        Project.objects.select_for_update(no_key=True).filter(pk=project_id).first()
        mark = (
            DirtyDay.objects.filter(project_id=project_id, day=day, ledger=ledger)
            .values_list("marked_at", flat=True)
            .first()
        )
        params = [project_id, day, ledger]
        DailyUsage.objects.filter(project_id=project_id, day=day, ledger=ledger).delete()
        DailyModelUsage.objects.filter(project_id=project_id, day=day, ledger=ledger).delete()
        DailyDimensionUsage.objects.filter(project_id=project_id, day=day, ledger=ledger).delete()
        with connection.cursor() as cursor:
            cursor.execute(_detail_sql(), params)
            cursor.execute(_coarse_sql(), params)
            cursor.execute(_dimension_sql(), params * len(DailyDimensionUsage.DIMENSIONS))
        clear_mark(project_id=project_id, day=day, ledger=ledger, seen=mark)


def clear_mark(*, project_id: int, day: date, ledger: str, seen) -> bool:
    """Delete the dirty mark this rollup started from. A newer mark (ingest that committed
    during the rollup) survives for the next pass."""
    if seen is None:
        return False
    deleted, _ = DirtyDay.objects.filter(
        project_id=project_id, day=day, ledger=ledger, marked_at=seen
    ).delete()
    return bool(deleted)


def rollup_dirty(*, limit: int | None = None) -> int:
    """Recompute every dirty day; returns how many were done."""
    marks = DirtyDay.objects.order_by("marked_at").values_list("project_id", "day", "ledger")
    if limit:
        marks = marks[:limit]
    done = 0
    for project_id, day, ledger in list(marks):
        rollup_day(project_id=project_id, day=day, ledger=ledger)
        done += 1
    return done


def rollup_all(*, project_id: int | None = None) -> int:
    """Recompute every day that has records (e.g. after a bulk re-price)."""
    qs = UsageRecord.objects.all()
    if project_id:
        qs = qs.filter(project_id=project_id)
    keys = list(qs.values_list("project_id", "day", "ledger").distinct())
    stale = DailyModelUsage.objects.all()
    if project_id:
        stale = stale.filter(project_id=project_id)
    keys += list(stale.values_list("project_id", "day", "ledger").distinct())
    for project_id_, day, ledger in set(keys):
        rollup_day(project_id=project_id_, day=day, ledger=ledger)
    return len(set(keys))
