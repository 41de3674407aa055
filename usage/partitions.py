"""Monthly partitions of the usage records on PostgreSQL (range on `day`; migration 0014).

A record can only be stored once its month has a partition: the writers call
ensure_partitions(days) for the days they touch, and the beat creates the coming months
ahead (ensure_ahead). A partition is made as its own table, then attached: ATTACH takes a
SHARE UPDATE EXCLUSIVE lock on the parent, which ingest's reads and writes don't wait for
(CREATE TABLE … PARTITION OF would take an ACCESS EXCLUSIVE one). Inside a transaction
(an import, a test) the partition is made on a second, autocommit connection, so no lock
is held until the caller commits. There is no DEFAULT partition. SQLite keeps one plain
table; these functions do nothing there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import connection

from usage.models import UsageRecord

TABLE = UsageRecord._meta.db_table
# One session-level advisory lock around partition DDL, so two processes making the same
# month take turns (the second finds it attached). Any constant; none else uses it.
_DDL_LOCK = 0x636F7374_70617274  # "costpart"
# Months whose partition this process has seen (a partition is never dropped while its
# month is inside the retention horizon, so the cache stays true for what may be written).
_known: set[date] = set()


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1, day=1)


def partition_name(month: date) -> str:
    return f"{TABLE}_p{month:%Y_%m}"


def ensure_partitions(days: Iterable[date]) -> None:
    """Make sure each of these days' months has its partition."""
    if connection.vendor != "postgresql":
        return
    months = {month_start(d) for d in days} - _known
    if not months:
        return
    attached = set(attached_months())
    _known.update(attached)
    missing = sorted(months - attached)
    if missing:
        _create(missing)
        _known.update(missing)


def ensure_ahead(*, today: date, months: int = 2) -> None:
    """The beat: this month's partition and the next `months` months'."""
    wanted, month = [], month_start(today)
    for _ in range(months + 1):
        wanted.append(month)
        month = next_month(month)
    ensure_partitions(wanted)


def attached_months() -> list[date]:
    """The first days of the months that have a partition, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT substring(pg_get_expr(c.relpartbound, c.oid) from $$FROM \\('([0-9-]+)'\\)$$)::date "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY 1", [TABLE])
        return [month for (month,) in cursor.fetchall()]


def forget() -> None:
    """Forget the months seen (after tables were rebuilt behind this process's back:
    migrating back and forth in tests)."""
    _known.clear()


def forget_month(month: date) -> None:
    _known.discard(month)


def _create(months: list[date]) -> None:
    if connection.in_atomic_block:
        raw = connection.get_new_connection(connection.get_connection_params())
        try:
            raw.autocommit = True
            with raw.cursor() as cursor:
                _create_with(cursor, months)
        finally:
            raw.close()
        return
    with connection.cursor() as cursor:
        _create_with(cursor, months)


def _create_with(cursor, months: list[date]) -> None:
    """Each month's table, then attached, under the DDL lock (autocommit: each statement its
    own short transaction)."""
    cursor.execute("SELECT pg_advisory_lock(%s)", [_DDL_LOCK])
    try:
        for month in months:
            name = partition_name(month)
            cursor.execute("SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s)", [name])
            if cursor.fetchone():
                continue
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {name} (LIKE {TABLE} INCLUDING DEFAULTS)")
            cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)",
                           [month, next_month(month)])
    finally:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [_DDL_LOCK])
