"""Issue 13: usage records in monthly partitions on PostgreSQL, and a re-sent id counted once
across them (usage.partitions, usage.idempotency)."""

import threading
from datetime import UTC, date, datetime

import pytest
from django.db import connection, connections

from tests.conftest import need
from usage import partitions
from usage.ingest import record_usage
from usage.models import UsageRecord
from usage.records import Record


def event(external_id, month, day=3):
    return Record(external_id=external_id, timestamp=datetime(2026, month, day, 10, tzinfo=UTC), model="gpt-4o",
                  input_tokens=100, output_tokens=10)


@pytest.mark.django_db
def test_an_id_resent_with_a_timestamp_in_another_month_counts_once(project):
    first = record_usage(project=project, source="api", records=[event("req-1", 10), event("req-2", 10)])
    again = record_usage(project=project, source="api", records=[event("req-1", 11), event("req-3", 9, 30)])
    assert (first.accepted, again.accepted, again.duplicates) == (2, 1, 1)
    assert sorted(UsageRecord.objects.values_list("external_id", "day")) == [
        ("req-1", date(2026, 10, 3)), ("req-2", date(2026, 10, 3)), ("req-3", date(2026, 9, 30))]


@pytest.mark.services  # PostgreSQL only: run in the PostgreSQL pass
@pytest.mark.django_db
def test_each_record_lands_in_its_months_partition(project):
    need(connection.vendor == "postgresql", "partitions are PostgreSQL's")
    record_usage(project=project, source="api", records=[event("a", 1, 31), event("b", 2, 1), event("c", 2, 28)])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT external_id, tableoid::regclass::text FROM {UsageRecord._meta.db_table} "
                       "ORDER BY external_id")
        assert cursor.fetchall() == [("a", "usage_usagerecord_p2026_01"), ("b", "usage_usagerecord_p2026_02"),
                                     ("c", "usage_usagerecord_p2026_02")]


@pytest.mark.services  # PostgreSQL only: run in the PostgreSQL pass
@pytest.mark.django_db
def test_the_beat_makes_the_coming_months_partitions():
    need(connection.vendor == "postgresql", "partitions are PostgreSQL's")
    partitions.ensure_ahead(today=date(2031, 11, 20), months=2)
    assert {date(2031, 11, 1), date(2031, 12, 1), date(2032, 1, 1)} <= set(partitions.attached_months())


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_resending_ids_in_other_months_store_each_once(project):
    """Eight requests at once with the same 300 ids, each stamping them in its own month
    (so the unique key, which holds the day, can't refuse them): each id stored once, and
    the requests' answers add up to it."""
    need(connection.vendor == "postgresql", "concurrent batches need PostgreSQL (set DATABASE_URL)")
    ids = [f"req-{i}" for i in range(300)]
    barrier = threading.Barrier(8)
    results, errors = [], []

    def client(month):
        try:
            barrier.wait()
            counts = record_usage(project=project, source="api", records=[event(i, month) for i in ids])
            results.append((counts.accepted, counts.duplicates))
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(month,)) for month in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sum(accepted for accepted, _ in results) == 300
    assert all(accepted + duplicates == 300 for accepted, duplicates in results)
    assert UsageRecord.objects.filter(project=project).count() == 300
    assert UsageRecord.objects.values("external_id").distinct().count() == 300
