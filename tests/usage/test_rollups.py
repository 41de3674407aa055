"""Rollups: idempotent recomputation, dirty-day bookkeeping, exact sums."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from usage.ingest import record_usage
from usage.models import DailyDimensionUsage, DailyModelUsage, DailyUsage, DirtyDay, UsageRecord
from usage.queries import SpendQuery, spend
from usage.records import Record
from usage.rollups import clear_mark, rollup_all, rollup_day, rollup_dirty

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 2)


def records(n, *, seed=7, day=DAY):
    rng = random.Random(seed)
    models = ["claude-sonnet-4-5", "claude-haiku-4-5", "gpt-4o-mini", "gpt-5", "deepseek-chat"]
    for i in range(n):
        yield Record(
            external_id=f"r{seed}-{i}",
            timestamp=datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=rng.randrange(86400)),
            model=rng.choice(models), feature=rng.choice(["a", "b", "c"]), end_user=f"u{rng.randrange(5)}",
            batch=rng.random() < 0.2,
            input_tokens=rng.randrange(0, 50_000), output_tokens=rng.randrange(0, 5000),
            cache_read_tokens=rng.randrange(0, 20_000), cache_write_5m_tokens=rng.randrange(0, 3),
        )


def test_ingest_marks_dirty_and_rollup_clears_it(project):
    record_usage(project=project, source="api", records=records(10))  # on_commit not run: stays dirty
    assert DirtyDay.objects.filter(project=project, day=DAY, ledger="metered").exists()
    assert not DailyUsage.objects.exists()
    assert rollup_dirty() == 1
    assert not DirtyDay.objects.exists()
    assert DailyUsage.objects.filter(project=project, day=DAY).exists()


def test_rollup_is_idempotent_and_sums_are_exact(project):
    counts = record_usage(project=project, source="api", records=records(500))
    rollup_day(project_id=project.pk, day=DAY, ledger="metered")
    first = sorted(DailyUsage.objects.values_list("model", "feature", "end_user", "batch", "requests", "cost_nano"))
    rollup_day(project_id=project.pk, day=DAY, ledger="metered")
    rollup_day(project_id=project.pk, day=DAY, ledger="metered")
    again = sorted(DailyUsage.objects.values_list("model", "feature", "end_user", "batch", "requests", "cost_nano"))
    assert first == again
    expected = sum(r.cost_nano for r in UsageRecord.objects.all())
    assert counts.cost_nano == expected
    assert sum(row[-1] for row in again) == expected
    assert sum(DailyModelUsage.objects.values_list("cost_nano", flat=True)) == expected
    # the per-dimension rollup holds every record once per dimension
    for dimension in ("feature", "end_user", "api_key"):
        rows = DailyDimensionUsage.objects.filter(project=project, dimension=dimension)
        assert sum(rows.values_list("cost_nano", flat=True)) == expected
        assert sum(rows.values_list("requests", flat=True)) == 500
    by_feature = dict(DailyDimensionUsage.objects.filter(dimension="feature").values_list("value", "cost_nano"))
    assert by_feature == {f: sum(UsageRecord.objects.filter(feature=f).values_list("cost_nano", flat=True))
                          for f in ("a", "b", "c")}
    _, total, _ = spend(SpendQuery(project=project, start=DAY, end=DAY))
    assert total["cost_nano"] == expected and total["requests"] == 500


def test_rollup_of_a_day_without_records_empties_it(project):
    record_usage(project=project, source="api", records=records(5))
    rollup_day(project_id=project.pk, day=DAY, ledger="metered")
    UsageRecord.objects.all().delete()
    assert rollup_all(project_id=project.pk) == 1
    assert not DailyUsage.objects.exists() and not DailyModelUsage.objects.exists()
    assert not DailyDimensionUsage.objects.exists()


def test_a_newer_dirty_mark_survives_a_running_rollup(project):
    record_usage(project=project, source="api", records=records(3))
    seen = DirtyDay.objects.get().marked_at
    # Ingest commits while the rollup runs: the mark moves on.
    DirtyDay.objects.update(marked_at=seen + timedelta(seconds=1))
    assert not clear_mark(project_id=project.pk, day=DAY, ledger="metered", seen=seen)
    assert DirtyDay.objects.count() == 1
    assert clear_mark(project_id=project.pk, day=DAY, ledger="metered", seen=seen + timedelta(seconds=1))
    assert not DirtyDay.objects.exists()


def test_embedded_default_sees_new_events_immediately(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=records(20))
    _, total, _ = spend(SpendQuery(project=project, start=DAY, end=DAY))
    assert total["requests"] == 20
    assert not DirtyDay.objects.exists()


def test_billed_and_metered_ledgers_never_mix(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record_usage(project=project, source="api", records=records(10))
        record_usage(project=project, source="console", records=[
            Record(external_id="b1", timestamp=datetime(2026, 11, 2, tzinfo=UTC), model="gpt-4o-mini",
                   ledger="billed", requests=40, input_tokens=1_000_000)])
    _, metered, ledger = spend(SpendQuery(project=project, start=DAY, end=DAY))
    _, billed, _ = spend(SpendQuery(project=project, start=DAY, end=DAY, ledger="billed"))
    assert ledger == "metered" and metered["requests"] == 10
    assert billed["requests"] == 40 and billed["cost_nano"] == 150_000_000
