"""Issue 12, item 5: 8 concurrent overlapping batches on PostgreSQL — stored data exact, each
answer counts only what that request stored, and no request fails on a deadlock."""

import random
import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, connections

from tests.conftest import need
from usage.ingest import record_usage
from usage.models import UsageRecord
from usage.records import Record

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def batch(ids):
    ts = datetime(2026, 11, 2, 10, tzinfo=UTC)
    return [Record(external_id=i, timestamp=ts, model="gpt-4o", input_tokens=100, output_tokens=10) for i in ids]


def test_eight_overlapping_batches_in_different_orders(project):
    need(connection.vendor == "postgresql", "concurrent batches need PostgreSQL (set DATABASE_URL)")
    ids = [f"req-{i}" for i in range(1000)]
    barrier = threading.Barrier(8)
    results, errors = [], []

    def client(seed):
        mine = ids[:]
        random.Random(seed).shuffle(mine)
        try:
            barrier.wait()
            counts = record_usage(project=project, source="api", records=batch(mine))
            results.append((counts.accepted, counts.duplicates))
        except Exception as exc:  # a deadlock would land here
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(results) == 8
    assert sum(accepted for accepted, _ in results) == 1000
    assert all(accepted + duplicates == 1000 for accepted, duplicates in results)
    assert UsageRecord.objects.filter(project=project).count() == 1000
