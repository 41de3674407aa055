"""Rollups: idempotent recomputation, dirty-day bookkeeping, exact sums."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from tests.conftest import need
from usage.ingest import record_usage
from usage.models import DailyModelUsage, DailyUsage, DimensionUsage, DirtyDay, UsageRecord
from usage.records import Record
from usage.reports.queries import SpendQuery, spend
from usage.rollups import blocks, clear_mark, rollup_all, rollup_day, rollup_dirty

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
        rows = DimensionUsage.objects.filter(project=project, dimension=dimension, span=1)
        assert sum(rows.values_list("cost_nano", flat=True)) == expected
        assert sum(rows.values_list("requests", flat=True)) == 500
    by_feature = dict(DimensionUsage.objects.filter(dimension="feature", span=1).values_list("value", "cost_nano"))
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
    assert not DimensionUsage.objects.exists()


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


def test_blocks_cover_a_range_exactly_with_few_aligned_blocks():
    rng = random.Random(3)
    largest = DimensionUsage.SPANS[-1]
    for _ in range(300):
        start = date(2025, 1, 1) + timedelta(days=rng.randrange(800))
        end = start + timedelta(days=rng.randrange(400))
        parts = blocks(start, end)
        covered = [first + timedelta(days=i) for span, first in parts for i in range(span)]
        assert covered == [start + timedelta(days=i) for i in range((end - start).days + 1)]
        for span, first in parts:
            assert span in [1, *DimensionUsage.SPANS]
            assert first.toordinal() % span == 0
        n = (end - start).days + 1
        # at most 3 blocks of each smaller size on either side, whole 256-day blocks between
        assert len(parts) <= 2 * 3 * len(DimensionUsage.SPANS) + n // largest
    assert len(blocks(date(2026, 8, 26), date(2026, 11, 23))) <= 14  # the 90-day preset


def test_breakdowns_over_blocks_equal_the_records(project):
    """Ranges read as blocks of days (2…512) give exactly the per-record sums, after days
    are rolled up in any order and one of them is rolled up again with new records."""
    rng = random.Random(11)
    days = sorted({date(2026, 6, 1) + timedelta(days=rng.randrange(150)) for _ in range(40)})
    for i, day in enumerate(days):
        record_usage(project=project, source="api", records=records(8, seed=100 + i, day=day))
    for day in rng.sample(days, len(days)):
        rollup_day(project_id=project.pk, day=day, ledger="metered")
    record_usage(project=project, source="api", records=records(5, seed=999, day=days[3]))
    rollup_day(project_id=project.pk, day=days[3], ledger="metered")
    assert DimensionUsage.objects.filter(span__gt=1).exists()
    for _ in range(25):
        start = date(2026, 5, 20) + timedelta(days=rng.randrange(120))
        end = start + timedelta(days=rng.randrange(90))
        raw = UsageRecord.objects.filter(project=project, day__gte=start, day__lte=end)
        expected = {}
        for user, cost, requests in raw.values_list("end_user", "cost_nano", "requests"):
            got = expected.setdefault(user, [0, 0])
            got[0] += cost
            got[1] += requests
        rows, total, _ = spend(SpendQuery(project=project, start=start, end=end, ledger="metered",
                                          group_by=["user"]))
        assert {r["user"]: [r["cost_nano"], r["requests"]] for r in rows} == expected
        assert total["cost_nano"] == sum(v[0] for v in expected.values())
        user = "u3"
        _, one, _ = spend(SpendQuery(project=project, start=start, end=end, ledger="metered",
                                     filters={"user": user}))
        assert one["cost_nano"] == expected.get(user, [0, 0])[0]


def test_many_ingests_of_a_day_queue_one_rollup_that_recomputes_once(project, django_capture_on_commit_callbacks):
    """Coalescing: the first ingest claims the mark and queues a rollup; the next nine only
    move the mark. That one rollup recomputes the day once, with every record in it."""
    from usage.tasks import rollup_day as rollup_task

    with django_capture_on_commit_callbacks(execute=False) as queued:
        for seed in range(10):
            record_usage(project=project, source="api", records=records(30, seed=seed))
    assert len(queued) == 1
    mark = DirtyDay.objects.get()
    assert mark.queued_at is not None and mark.due_at > mark.queued_at
    assert mark.dirty_since < mark.marked_at  # the first ingest's time, the mark moved on
    assert rollup_task(project.pk, DAY.isoformat(), "metered", mark.queued_at.isoformat()) == 1
    assert not DirtyDay.objects.exists()
    assert rollup_task(project.pk, DAY.isoformat(), "metered", mark.queued_at.isoformat()) == 0
    expected = sum(UsageRecord.objects.values_list("cost_nano", flat=True))
    _, total, _ = spend(SpendQuery(project=project, start=DAY, end=DAY))
    assert total["requests"] == 300 and total["cost_nano"] == expected


def test_a_rollup_whose_claim_was_taken_over_does_nothing(project):
    from usage.rollups import rollup_marked

    record_usage(project=project, source="api", records=records(5))
    mark = DirtyDay.objects.get()
    stale = mark.queued_at - timedelta(seconds=1)
    assert not rollup_marked(project_id=project.pk, day=DAY, ledger="metered", claim=stale).recomputed
    assert DirtyDay.objects.exists() and not DailyUsage.objects.exists()


def test_a_mark_moved_during_the_rollup_gets_one_more_pass(project, monkeypatch):
    """Ingest commits while the day is recomputed: the pass keeps the mark, claims it for
    the next interval and says so; in-process (eager) the task runs that pass at once."""
    from usage import rollups
    from usage.tasks import rollup_day as rollup_task

    record_usage(project=project, source="api", records=records(5))
    real = rollups._recompute
    passes = []

    def recompute_while_ingest_commits(project_id, day, ledger, **kwargs):
        real(project_id, day, ledger, **kwargs)
        passes.append(day)
        if len(passes) == 1:
            record_usage(project=project, source="api", records=records(7, seed=8))

    monkeypatch.setattr(rollups, "_recompute", recompute_while_ingest_commits)
    claim = DirtyDay.objects.get().queued_at
    assert rollup_task(project.pk, DAY.isoformat(), "metered", claim.isoformat()) == 2
    assert passes == [DAY, DAY] and not DirtyDay.objects.exists()
    _, total, _ = spend(SpendQuery(project=project, start=DAY, end=DAY))
    assert total["requests"] == 12


def test_the_beat_takes_marks_no_task_is_due_to_take(project, settings):
    from django.utils import timezone

    from usage.rollups import claim_late, oldest_mark_age

    record_usage(project=project, source="api", records=records(5))
    record_usage(project=project, source="api", records=records(5, seed=3, day=DAY + timedelta(days=1)))
    assert claim_late(late_seconds=60) == []  # both queued, not yet late
    DirtyDay.objects.filter(day=DAY).update(queued_at=None)  # its task could not be queued
    (taken,) = claim_late(late_seconds=60)
    assert taken[:3] == (project.pk, DAY, "metered")
    lost = DirtyDay.objects.get(day=DAY + timedelta(days=1))
    DirtyDay.objects.filter(pk=lost.pk).update(due_at=timezone.now() - timedelta(seconds=61))
    assert [t[1] for t in claim_late(late_seconds=60)] == [DAY + timedelta(days=1)]
    assert oldest_mark_age(now=lost.dirty_since + timedelta(seconds=90)) >= 90


@pytest.mark.services
def test_rollup_leaves_the_callers_planner_settings(project):
    need(connection.vendor == "postgresql", "planner settings are PostgreSQL's")
    record_usage(project=project, source="api", records=records(10))
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_sort')")
        before = cursor.fetchone()[0]
        rollup_day(project_id=project.pk, day=DAY, ledger="metered")  # hashed while it runs
        cursor.execute("SELECT current_setting('enable_sort')")
        assert cursor.fetchone()[0] == before == "on"
    assert DailyUsage.objects.filter(project=project, day=DAY).exists()
