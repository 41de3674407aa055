"""Counts stored as NULL at their implied value (usage.models.ImpliedIntegerField): the
database holds NULL, every reader sees the number."""

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.db.models import F, Sum

from usage.ingest import record_usage
from usage.models import DailyUsage, ImpliedIntegerField, UsageRecord
from usage.records import Record
from usage.rollups import rollup_day

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 2)
WHEN = datetime(2026, 11, 2, 12, tzinfo=UTC)


def _stored(project, column):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT external_id, {column} FROM {UsageRecord._meta.db_table} "
                       "WHERE project_id = %s ORDER BY external_id", [project.pk])
        return dict(cursor.fetchall())


def _null_metadata(project):
    return {external_id: bool(null) for external_id, null in _stored(project, "metadata IS NULL").items()}


def _ingest(project):
    record_usage(project=project, source="api", records=[
        Record(external_id="a", timestamp=WHEN, model="claude-sonnet-4-5", input_tokens=100, output_tokens=0),
        Record(external_id="b", timestamp=WHEN, model="claude-sonnet-4-5", input_tokens=0, output_tokens=7,
               requests=3),
    ])


def test_implied_values_are_stored_as_null(project):
    _ingest(project)
    assert _stored(project, "output_tokens") == {"a": None, "b": 7}
    assert _stored(project, "input_tokens") == {"a": 100, "b": None}
    assert _stored(project, "requests") == {"a": None, "b": 3}
    assert _stored(project, "fees_nano") == {"a": None, "b": None}
    a = UsageRecord.objects.get(external_id="a")
    assert (a.output_tokens, a.requests, a.fees_nano, a.web_search_requests) == (0, 1, 0, 0)


def test_orm_reads_the_implied_values(project):
    _ingest(project)
    records = UsageRecord.objects.filter(project=project)
    assert list(records.filter(output_tokens=0).values_list("external_id", flat=True)) == ["a"]
    assert list(records.exclude(input_tokens=0).values_list("external_id", flat=True)) == ["a"]
    assert list(records.filter(requests=1).values_list("external_id", flat=True)) == ["a"]
    assert records.aggregate(s=Sum("reasoning_tokens"), r=Sum("requests")) == {"s": 0, "r": 4}
    totals = dict(records.annotate(t=F("input_tokens") + F("output_tokens")).values_list("external_id", "t"))
    assert totals == {"a": 100, "b": 7}
    assert dict(records.values_list("external_id", "requests")) == {"a": 1, "b": 3}


def test_a_saved_record_stores_null_for_the_implied_values(project):
    _ingest(project)
    b = UsageRecord.objects.get(external_id="b")
    b.output_tokens, b.requests = 0, 1
    b.save()
    assert _stored(project, "output_tokens") == {"a": None, "b": None}
    assert _stored(project, "requests") == {"a": None, "b": None}
    UsageRecord.objects.filter(external_id="a").update(requests=F("requests") + 1)
    assert _stored(project, "requests") == {"a": 2, "b": None}


def test_rollups_sum_the_implied_values(project):
    _ingest(project)
    rollup_day(project_id=project.pk, day=DAY, ledger="metered")
    row = DailyUsage.objects.get(project=project, day=DAY)
    assert (row.requests, row.input_tokens, row.output_tokens, row.reasoning_tokens) == (4, 100, 7, 0)


def test_costs_without_discounts_are_null_when_equal_to_the_cost(project):
    _ingest(project)
    record_usage(project=project, source="api", records=[
        Record(external_id="c", timestamp=WHEN, model="claude-sonnet-4-5", input_tokens=10, cache_read_tokens=1000),
        Record(external_id="d", timestamp=WHEN, model="no-such-model", input_tokens=10),
    ])
    stored = _stored(project, "cost_no_cache_nano")
    assert stored["a"] is None and stored["c"] is not None and stored["d"] is None
    c, d = UsageRecord.objects.get(external_id="c"), UsageRecord.objects.get(external_id="d")
    a = UsageRecord.objects.get(external_id="a")
    assert a.cost_no_cache_nano == a.cost_no_batch_nano == a.cost_nano > 0
    assert c.cost_no_cache_nano > c.cost_nano == c.cost_no_batch_nano
    assert d.cost_nano is d.cost_no_cache_nano is d.cost_no_batch_nano is None
    records = UsageRecord.objects.filter(project=project, cost_nano__isnull=False)
    assert records.aggregate(s=Sum("cost_no_batch_nano"))["s"] == records.aggregate(s=Sum("cost_nano"))["s"]
    a.cost_nano += 5
    a.save()
    assert _stored(project, "cost_no_cache_nano")["a"] == a.cost_no_cache_nano == a.cost_nano - 5
    rollup_day(project_id=project.pk, day=DAY, ledger="metered")
    row = DailyUsage.objects.get(project=project, day=DAY, model="claude-sonnet-4-5")
    assert row.cost_no_cache_nano == sum(r.cost_no_cache_nano for r in records)
    assert row.cost_no_batch_nano == sum(r.cost_no_batch_nano for r in records) == row.cost_nano - 5


def test_storing_nulls_the_implied_values_as_a_saved_record_does():
    fields = {f.attname: f for f in UsageRecord._meta.concrete_fields}
    names = ["requests", "input_tokens", "cost_nano", "cost_no_cache_nano", "cost_no_batch_nano", "model"]
    stored = ImpliedIntegerField.storing([fields[n] for n in names])
    assert stored((1, 0, 500, 500, 700, "m")) == [None, None, 500, None, 700, "m"]
    assert stored((3, 12, None, None, 0, "m")) == [3, 12, None, None, 0, "m"]
    counts = ImpliedIntegerField.storing([fields["input_tokens"], fields["output_tokens"]])
    assert counts((0, 7)) == [None, 7]
    with pytest.raises(ValueError, match="cost_nano"):
        ImpliedIntegerField.storing([fields["cost_no_cache_nano"]])


def test_empty_metadata_is_stored_as_null_and_read_as_empty(project):
    """usage.models.EmptyAsNullJSONField: {} is NULL in the table (each write path: the
    ingest COPY, the import batches' COPY, save()), and every reader sees {}."""
    record_usage(project=project, source="api", records=[
        Record(external_id="a", timestamp=WHEN, model="claude-sonnet-4-5", input_tokens=100),
        Record(external_id="b", timestamp=WHEN, model="claude-sonnet-4-5", input_tokens=5,
               metadata={"trace": "checkout"}),
    ])
    UsageRecord.objects.create(project=project, source="api", external_id="c", timestamp=WHEN, day=DAY,
                               model="claude-sonnet-4-5")
    assert _null_metadata(project) == {"a": True, "b": False, "c": True}
    records = UsageRecord.objects.filter(project=project).order_by("external_id")
    assert [r.metadata for r in records] == [{}, {"trace": "checkout"}, {}]
    assert list(records.values_list("metadata", flat=True)) == [{}, {"trace": "checkout"}, {}]
    # a key reads NULL as it did from {}; has_key and its exclusion see the empty object
    assert list(records.values_list("metadata__trace", flat=True)) == [None, "checkout", None]
    assert list(records.filter(metadata__has_key="trace").values_list("external_id", flat=True)) == ["b"]
    assert list(records.exclude(metadata__has_key="trace").values_list("external_id", flat=True)) == ["a", "c"]
    assert list(records.exclude(metadata__trace="checkout").values_list("external_id", flat=True)) == ["a", "c"]
    b = records.get(external_id="b")
    b.metadata = {}
    b.save(update_fields=["metadata"])
    assert _null_metadata(project)["b"] is True


def test_empty_metadata_of_an_import_batch_is_stored_as_null(project):
    """The import fast path (usage.bulk's COPY of a batch's tuples) stores {} as NULL too."""
    from billing.pricing.classes import BATCH_COUNTS
    from usage.records import Batch

    def shared(metadata):
        return Record(external_id="", timestamp=WHEN, model="claude-sonnet-4-5", provider="anthropic",
                      ledger="billed", requests=0, long_context=False, metadata=metadata)

    counts = tuple(7 if name == "input_tokens" else 0 for name in BATCH_COUNTS)
    empty, workspace = shared({}), shared({"workspace": "Prod"})
    batch = Batch("usage.csv", [(empty, "k1", WHEN, DAY, counts, 2), (workspace, "k2", WHEN, DAY, counts, 3)])
    result = record_usage(project=project, source="console", records=[], merge=True, batches=[batch])
    assert result.accepted == 2
    assert _null_metadata(project) == {"k1": True, "k2": False}
    assert dict(UsageRecord.objects.values_list("external_id", "metadata")) == {"k1": {}, "k2": {"workspace": "Prod"}}
