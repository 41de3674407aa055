"""Issue 13: USAGE_RAW_RETENTION_MONTHS drops the raw records older than the horizon (their
partitions on PostgreSQL) while the rollups stay, and what reads raw records respects it."""

import json
from datetime import UTC, date, datetime

import pytest
from django.db import connection

from usage import partitions
from usage.bounds import OutOfBounds
from usage.imports import ImportFailed, run_import
from usage.ingest import record_usage
from usage.models import DailyModelUsage, DailyUsage, DimensionUsage, UsageRecord
from usage.pricing_jobs import reprice
from usage.records import Record
from usage.retention import drop_expired, raw_horizon
from usage.rollups import rollup_day

pytestmark = pytest.mark.django_db
AUGUST, OCTOBER = date(2026, 8, 14), date(2026, 10, 14)


def event(external_id, day, model="gpt-4o"):
    return Record(external_id=external_id, timestamp=datetime(day.year, day.month, day.day, 10, tzinfo=UTC),
                  model=model, input_tokens=1000, output_tokens=100, feature="chat")


@pytest.fixture
def stored(project, django_capture_on_commit_callbacks):
    """Records of August and October 2026, rolled up, stored before a retention was set."""
    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=[event("aug-1", AUGUST), event("aug-2", AUGUST),
                                                             event("oct-1", OCTOBER)])
    return project


def test_the_horizon_is_n_whole_months_before_the_current_one(settings):
    assert raw_horizon(date(2026, 12, 2)) is None
    settings.USAGE_RAW_RETENTION_MONTHS = 3
    assert raw_horizon(date(2026, 12, 2)) == date(2026, 9, 1)
    assert raw_horizon(date(2026, 12, 31)) == date(2026, 9, 1)
    settings.USAGE_RAW_RETENTION_MONTHS = 14
    assert raw_horizon(date(2026, 1, 5)) == date(2024, 11, 1)


def test_dropping_expired_records_keeps_the_rollups(stored, settings):
    daily_before = list(DailyUsage.objects.filter(day=AUGUST).values_list("requests", "cost_nano"))
    dims_before = DimensionUsage.objects.filter(day=AUGUST, span=1).count()
    settings.USAGE_RAW_RETENTION_MONTHS = 3  # horizon 2026-09-01 (today is in December 2026)
    dropped = drop_expired(today=date(2026, 12, 2))
    # (on PostgreSQL also the empty partitions other tests of this database made)
    assert date(2026, 8, 1) in dropped and all(month < date(2026, 9, 1) for month in dropped)
    assert list(UsageRecord.objects.values_list("external_id", flat=True)) == ["oct-1"]
    assert daily_before and daily_before[0][0] == 2
    assert list(DailyUsage.objects.filter(day=AUGUST).values_list("requests", "cost_nano")) == daily_before
    assert DailyModelUsage.objects.filter(day=AUGUST).exists()
    assert DimensionUsage.objects.filter(day=AUGUST, span=1).count() == dims_before
    if connection.vendor == "postgresql":
        assert date(2026, 8, 1) not in partitions.attached_months()
        assert date(2026, 10, 1) in partitions.attached_months()
    # a recompute of a day past the horizon would wipe its rollups: skipped
    rollup_day(project_id=stored.pk, day=AUGUST, ledger="metered")
    assert list(DailyUsage.objects.filter(day=AUGUST).values_list("requests", "cost_nano")) == daily_before
    assert drop_expired(today=date(2026, 12, 2)) == []


def test_a_record_older_than_the_horizon_is_refused_by_name(project, settings):
    settings.USAGE_RAW_RETENTION_MONTHS = 3
    with pytest.raises(OutOfBounds) as raised:
        record_usage(project=project, source="api", records=[event("new", OCTOBER), event("old", AUGUST)])
    assert raised.value.field == "timestamp"
    assert "before 2026-09-01, the raw retention horizon (USAGE_RAW_RETENTION_MONTHS=3)" in raised.value.message
    assert not UsageRecord.objects.exists()


def test_the_api_names_the_event_and_the_horizon(api_client, settings):
    settings.USAGE_RAW_RETENTION_MONTHS = 3
    body = {"events": [{"id": "a", "model": "gpt-4o", "timestamp": "2026-10-02T10:00:00Z", "input_tokens": 1},
                       {"id": "b", "model": "gpt-4o", "timestamp": "2026-08-31T23:59:59Z", "input_tokens": 1}]}
    r = api_client.post("/api/v1/events", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert (error["index"], error["field"]) == (1, "timestamp")
    assert "raw retention horizon" in error["message"] and "2026-09-01" in error["message"]
    assert not UsageRecord.objects.exists()


def test_repricing_leaves_days_past_the_horizon_alone(project, settings):
    record_usage(project=project, source="api", records=[event("aug", AUGUST, model="no-such-model"),
                                                         event("oct", OCTOBER, model="no-such-model")])
    UsageRecord.objects.update(model="gpt-4o")  # a price for them exists now
    settings.USAGE_RAW_RETENTION_MONTHS = 3
    assert reprice(project_id=project.pk) == 1
    assert {r.external_id: r.cost_nano is None for r in UsageRecord.objects.all()} == {"aug": True, "oct": False}


def test_the_records_page_names_the_horizon(stored, logged_in, settings):
    settings.USAGE_RAW_RETENTION_MONTHS = 3
    drop_expired()
    page = logged_in.get("/p/acme/records/?start=2026-08-01&end=2026-08-31").content.decode()
    assert "were dropped by the raw retention" in page
    assert "Records before Sep 1, 2026 are no longer kept" in page
    later = logged_in.get("/p/acme/records/?start=2026-10-01&end=2026-10-31").content.decode()
    assert "raw retention" not in later


def test_an_import_row_older_than_the_horizon_names_its_line(project, tmp_path, settings):
    settings.USAGE_RAW_RETENTION_MONTHS = 3
    path = tmp_path / "usage.csv"
    path.write_text("timestamp,model,feature,input_tokens,output_tokens\n"
                    "2026-10-02T10:00:00Z,gpt-4o,f,1,1\n2026-08-02T10:00:00Z,gpt-4o,f,1,1\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as raised:
        run_import(project=project, paths=[path])
    assert "line 3" in str(raised.value) and "raw retention horizon" in str(raised.value)
    assert not UsageRecord.objects.exists()
