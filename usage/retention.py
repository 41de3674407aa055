"""Raw retention: with USAGE_RAW_RETENTION_MONTHS = N, usage records older than N whole
months before the current one are dropped (PostgreSQL: their monthly partitions detached
and dropped; SQLite: the rows deleted) while the rollups (DailyUsage, DailyModelUsage,
DimensionUsage), budgets and alerts stay. What reads raw records respects the horizon: a
rollup of an older day is skipped (it would wipe the day's rollups), re-pricing leaves those
days alone, and a record older than it is refused (usage.bounds)."""

from __future__ import annotations

import logging
from datetime import date

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from usage import partitions
from usage.models import UsageRecord

logger = logging.getLogger(__name__)
# A detach waits for every transaction reading or writing the usage records; past this
# it gives up (and the next run tries again) instead of queueing everyone behind it.
LOCK_TIMEOUT = "5s"


def raw_horizon(today: date | None = None) -> date | None:
    """The first day whose raw records are kept (None: all are kept)."""
    months = settings.USAGE_RAW_RETENTION_MONTHS
    if not months:
        return None
    month = partitions.month_start(today or timezone.now().date())
    total = month.year * 12 + month.month - 1 - months
    return date(total // 12, total % 12 + 1, 1)


def horizon_problem(day: date, today: date | None = None) -> str | None:
    """Why a record of `day` is refused by the retention (None: it is kept)."""
    horizon = raw_horizon(today)
    if horizon is None or day >= horizon:
        return None
    return (f"before {horizon}, the raw retention horizon (USAGE_RAW_RETENTION_MONTHS="
            f"{settings.USAGE_RAW_RETENTION_MONTHS}): records of {day} are no longer kept")


def drop_expired(today: date | None = None) -> list[date]:
    """Drop the raw records older than the horizon; returns the months dropped (SQLite: the
    months whose rows were deleted)."""
    horizon = raw_horizon(today)
    if horizon is None:
        return []
    if connection.vendor != "postgresql":
        old = UsageRecord.objects.filter(day__lt=horizon)
        months = sorted({partitions.month_start(d) for d in old.values_list("day", flat=True).distinct()})
        old.delete()
        return months
    dropped = []
    for month in partitions.attached_months():
        if month >= horizon:
            break
        name = partitions.partition_name(month)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = %s", [LOCK_TIMEOUT])
                cursor.execute(f"ALTER TABLE {partitions.TABLE} DETACH PARTITION {name}")
                cursor.execute(f"DROP TABLE {name}")
        except OperationalError:  # lock_timeout: a long transaction holds the table
            logger.warning("raw retention: %s not dropped yet (busy), the next run tries again", name)
            break
        partitions.forget_month(month)
        logger.info("raw retention: dropped %s (records before %s)", name, horizon)
        dropped.append(month)
    return dropped
