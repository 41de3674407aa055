"""Issue 13: on PostgreSQL the natural key's unique index holds a 64-bit hash of (source,
external_id) with the project and the day (usage.models.NATURAL_KEY_HASH, migration 0018).
Ids whose hashes collide are told apart by their text, and one the unique key refuses is
reported (usage.ingest.KeyCollision), never dropped as a duplicate. The collisions are
forced with a test-only hash of the id's length, its index built in the test's
transaction (rolled back after)."""

import json
from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.conftest import need
from usage import models, partitions
from usage.ingest import KeyCollision, _stored_ids, record_usage
from usage.models import UsageRecord
from usage.records import Record

TABLE = UsageRecord._meta.db_table


def event(external_id, day=3, month=10):
    return Record(external_id=external_id, timestamp=datetime(2026, month, day, 10, tzinfo=UTC), model="gpt-4o",
                  input_tokens=100, output_tokens=10)


@pytest.fixture
def colliding_hash(monkeypatch):
    """Every two ids of a source with the same length collide: the writers' lookups and the unique index
    use this hash for the test."""
    need(connection.vendor == "postgresql", "the hashed natural key is PostgreSQL's")
    # the partitions first: one made later would wait for this transaction's lock
    partitions.ensure_partitions([date(2026, 10, 1)])
    monkeypatch.setattr(models, "NATURAL_KEY_HASH", "length({external_id}) + hashtext({source})::bigint")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {models.NATURAL_KEY_INDEX}")
        cursor.execute(models.natural_key_index_sql(TABLE))


def stored():
    return sorted(UsageRecord.objects.values_list("external_id", "day"))


@pytest.mark.services  # PostgreSQL only: run in the PostgreSQL pass
@pytest.mark.django_db
def test_ids_with_the_same_hash_are_told_apart_and_a_same_day_one_refused(project, colliding_hash):
    assert record_usage(project=project, source="api", records=[event("req-a")]).accepted == 1
    # same hash, another day: a different record, stored
    assert record_usage(project=project, source="api", records=[event("req-b", day=4)]).accepted == 1
    # a re-send is found by its text among the records with its hash, on any day
    again = record_usage(project=project, source="api", records=[event("req-a", day=5), event("req-b", day=3)])
    assert (again.accepted, again.duplicates) == (0, 2)
    # same hash, same day as req-a: refused with an error that names both; nothing of the
    # batch stored (the other id included)
    with pytest.raises(KeyCollision, match=r"'req-c' of source 'api' on 2026-10-03 .* record 'req-a'"):
        record_usage(project=project, source="api", records=[event("req-c"), event("a-longer-id")])
    assert stored() == [("req-a", date(2026, 10, 3)), ("req-b", date(2026, 10, 4))]
    # another source: its own ids, even with the same hash
    assert record_usage(project=project, source="sdk", records=[event("req-a")]).accepted == 1


@pytest.mark.services
@pytest.mark.django_db
def test_an_import_with_ids_whose_hashes_collide_is_refused(project, colliding_hash):
    # two keys of a fresh (project, source) in one chunk: stored without a lookup, refused
    # by the unique key, redone with the lookup, which finds neither stored
    with pytest.raises(KeyCollision, match=r"'2026-10-03\|b' .* record '2026-10-03\|a'"):
        record_usage(project=project, source="console", merge=True,
                     records=[event("2026-10-03|a"), event("2026-10-03|b")])
    assert stored() == []
    first = record_usage(project=project, source="console", merge=True, records=[event("2026-10-03|a")])
    assert first.accepted == 1
    # a later import: the lookup finds the key apart from its colliding neighbour
    with pytest.raises(KeyCollision, match=r"'2026-10-03\|c'"):
        record_usage(project=project, source="console", merge=True,
                     records=[event("2026-10-03|a"), event("2026-10-03|c")])
    again = record_usage(project=project, source="console", merge=True, records=[event("2026-10-03|a")])
    assert (again.accepted, again.duplicates) == (0, 1)
    assert stored() == [("2026-10-03|a", date(2026, 10, 3))]


@pytest.mark.services
@pytest.mark.django_db
def test_the_lookup_of_stored_ids_probes_the_natural_key_index(project):
    need(connection.vendor == "postgresql", "the hashed natural key is PostgreSQL's")
    record_usage(project=project, source="api", records=[event("req-1"), event("req-2", month=11)])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a small table: else a scan is as cheap
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       f"WHERE i.inhparent = '{models.NATURAL_KEY_INDEX}'::regclass")
        partition_indexes = {name for (name,) in cursor.fetchall()}
        # the code's hash is the index's expression (at a few records the planner would
        # rather take the project's index for the rest of _stored_ids' query)
        probe = models.natural_key_hash(source="'api'::text", external_id="'req-1'::text")
        cursor.execute(f"EXPLAIN SELECT FROM {TABLE} WHERE {models.natural_key_hash()} = {probe}")
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert len(partition_indexes) >= 2  # October and November 2026 at least (other tests make months too)
    assert all(f"Index Scan using {name}" in plan for name in partition_indexes), plan
    assert _stored_ids(project, "api", ["req-1", "req-2", "req-3"]) == ["req-1", "req-2"]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_0018_hashes_the_natural_key_of_a_table_with_records(project):
    need(connection.vendor == "postgresql", "the hashed natural key is PostgreSQL's")
    record_usage(project=project, source="api", records=[event("req-1"), event("req-2", month=11)])
    executor = MigrationExecutor(connection)
    executor.migrate([("usage", "0017_records_page_without_timestamp_index")])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s",
                           [models.NATURAL_KEY_INDEX])
            assert cursor.fetchone() == ("UNIQUE (project_id, source, external_id, day)",)
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [models.NATURAL_KEY_INDEX])
        (definition,) = cursor.fetchone()
    assert "UNIQUE INDEX" in definition and "hashtextextended" in definition and "day" in definition
    again = record_usage(project=project, source="api", records=[event("req-1", day=9), event("req-3")])
    assert (again.accepted, again.duplicates) == (1, 1)
    assert sorted(UsageRecord.objects.values_list("external_id", flat=True)) == ["req-1", "req-2", "req-3"]


@pytest.mark.services
@pytest.mark.django_db
def test_the_api_answers_a_collision_with_409_naming_the_ids(api_client, project, colliding_hash):
    def send(event_id):
        body = {"id": event_id, "model": "gpt-4o", "timestamp": "2026-10-03T10:00:00Z",
                "usage": {"prompt_tokens": 10, "completion_tokens": 1}}
        return api_client.post("/api/v1/events", data=json.dumps(body), content_type="application/json")

    assert send("req-a").status_code == 200
    response = send("req-b")
    assert response.status_code == 409, response.content
    assert "'req-b'" in response.json()["detail"] and "'req-a'" in response.json()["detail"]
    assert list(UsageRecord.objects.values_list("external_id", flat=True)) == ["req-a"]


@pytest.mark.services
@pytest.mark.django_db
def test_id_lookups_probe_only_the_natural_key_in_a_partition_without_statistics(project):
    """A month's partition nobody has analyzed yet (autovacuum off, or not run yet): with a
    plain `project_id =` the planner ANDed the hash probe with a bitmap of all the project's
    rows in the partition, for every id (625 ms for 1,000 ids at 24,000 rows). The lookups
    compare the project as the index's integer, so the natural key alone answers them."""
    need(connection.vendor == "postgresql", "the hashed natural key is PostgreSQL's")
    from django.test.utils import CaptureQueriesContext

    from usage.ingest import with_ids

    record_usage(project=project, source="api", records=[event(f"req-{i}") for i in range(3000)])
    ids = [f"req-{i}" for i in range(2990, 3010)]
    with CaptureQueriesContext(connection) as queries:
        assert sorted(_stored_ids(project, "api", ids)) == sorted(ids[:10])
    lookups = with_ids(UsageRecord.objects.all(), project.pk, "api", ids)
    assert sorted(lookups.values_list("external_id", flat=True)) == sorted(ids[:10])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + queries.captured_queries[-1]["sql"])
        plans = ["\n".join(line for (line,) in cursor.fetchall()), lookups.explain()]
    for plan in plans:
        assert "natural_key" in plan or "hashtextextended" in plan, plan
        assert "project_id_day_model" not in plan and "ledger_day" not in plan and "BitmapAnd" not in plan, plan
