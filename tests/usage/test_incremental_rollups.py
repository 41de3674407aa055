"""Incremental rollups (PostgreSQL): an ingest batch's records are numbered in blocks of ids
and their (day, ledger) ranges kept as PendingRollup rows; a pass adds those records to
every rollup instead of recomputing the day. Whatever the order of ingests, imports and
passes, the rollups must equal a full recompute, and a batch that commits during a pass
must be added exactly once."""

import random
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from tests.conftest import need
from usage import rollups
from usage.bulk import ID_BLOCK
from usage.ingest import mark_dirty, record_usage
from usage.models import (
    DailyModelUsage,
    DailyUsage,
    DimensionUsage,
    DirtyDay,
    PendingRollup,
    UsageRecord,
)
from usage.records import Record
from usage.rollups import rollup_all, rollup_marked

DAYS = [date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 17)]  # 2 and 3: one 4-day block; 17 another
MODELS = ["claude-sonnet-4-5", "claude-haiku-4-5", "gpt-4o-mini", "gpt-5", "no-such-model-q"]  # one unpriced


def events(n, *, seed, prefix="r"):
    rng = random.Random(seed)
    for i in range(n):
        day = rng.choice(DAYS)
        yield Record(
            external_id=f"{prefix}{seed}-{i}",
            timestamp=datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=rng.randrange(86400)),
            model=rng.choice(MODELS), feature=rng.choice(["chat", "search", ""]), end_user=f"u{rng.randrange(7)}",
            api_key=rng.choice(["prod", "dev"]), batch=rng.random() < 0.2,
            input_tokens=rng.randrange(0, 50_000), output_tokens=rng.randrange(0, 5000),
            cache_read_tokens=rng.randrange(0, 20_000), cache_write_5m_tokens=rng.randrange(0, 3))


def rollup_rows(project):
    """Every rollup row of the project, as comparable tuples (no ids)."""
    skip = {"id"}
    out = {}
    for model in (DailyUsage, DailyModelUsage, DimensionUsage):
        names = [f.attname for f in model._meta.concrete_fields if f.attname not in skip]
        out[model.__name__] = sorted(model.objects.filter(project=project).values_list(*names))
    return out


def pass_each_mark(project):
    """One rollup pass per mark, as the Celery task runs it; returns how many were
    incremental (the mark had no full_since)."""
    incremental = 0
    for day, ledger, full_since in DirtyDay.objects.filter(project=project).values_list("day", "ledger", "full_since"):
        incremental += full_since is None
        assert rollup_marked(project_id=project.pk, day=day, ledger=ledger).recomputed
    return incremental


@pytest.mark.services
@pytest.mark.django_db
def test_incremental_passes_equal_a_full_recompute_in_any_order(project):
    need(connection.vendor == "postgresql", "incremental rollups are PostgreSQL's")
    rng = random.Random(5)
    incremental = 0
    for round_no in range(6):
        for batch_no in range(rng.randrange(1, 4)):  # several batches between two passes
            record_usage(project=project, source="api", records=list(events(rng.randrange(1, 400),
                                                                           seed=round_no * 10 + batch_no)))
        if round_no == 3:  # an id sent again, and a write that needs a full recompute
            record_usage(project=project, source="api", records=list(events(50, seed=30)))
            UsageRecord.objects.filter(project=project, day=DAYS[0], feature="chat").update(output_tokens=7)
            mark_dirty(project_id=project.pk, days=[(DAYS[0], "metered")])  # as a restatement marks it
        incremental += pass_each_mark(project)
    assert incremental >= 10  # most passes added records, not recomputed
    assert not PendingRollup.objects.exists() and not DirtyDay.objects.exists()
    passed = rollup_rows(project)
    rollup_all(project_id=project.pk)
    assert rollup_rows(project) == passed
    stored = UsageRecord.objects.filter(project=project).aggregate(c=Sum("cost_nano"), n=Sum("requests"))
    assert DailyModelUsage.objects.filter(project=project).aggregate(c=Sum("cost_nano"), n=Sum("requests")) == stored
    for span in (1, 4, 16, 64, 256):
        rows = DimensionUsage.objects.filter(project=project, span=span, dimension="end_user")
        assert rows.aggregate(c=Sum("cost_nano"))["c"] == stored["c"], span


@pytest.mark.services
@pytest.mark.django_db
def test_a_batch_is_numbered_in_blocks_one_range_a_day(project):
    need(connection.vendor == "postgresql", "incremental rollups are PostgreSQL's")
    with connection.cursor() as cursor:  # migration 0020: a nextval is a block no other nextval overlaps
        cursor.execute("SELECT increment_by FROM pg_sequences WHERE sequencename = 'usage_usagerecord_id_seq'")
        assert cursor.fetchone() == (ID_BLOCK,)
    counts = record_usage(project=project, source="api", records=list(events(2500, seed=1)))
    assert counts.accepted == 2500
    ranges = list(PendingRollup.objects.filter(project=project).values_list("day", "ledger", "first_id", "last_id"))
    assert sum(last - first + 1 for _, _, first, last in ranges) == 2500
    # CHUNK records a store call, each in blocks of ID_BLOCK: a range per (day, block)
    assert len(ranges) <= len(DAYS) * (2500 // ID_BLOCK + 3)
    for day, ledger, first, last in ranges:
        days = set(UsageRecord.objects.filter(id__gte=first, id__lte=last).values_list("day", "ledger"))
        assert days == {(day, ledger)}
    assert set(DirtyDay.objects.values_list("full_since", flat=True)) == {None}


@pytest.mark.django_db
def test_api_marks_are_incremental_only_where_ranges_are_kept(project):
    """SQLite (the embedded default) keeps no ranges: its marks are full recomputes."""
    record_usage(project=project, source="api", records=list(events(30, seed=2)))
    postgres = connection.vendor == "postgresql"
    assert PendingRollup.objects.exists() == postgres
    assert (None in set(DirtyDay.objects.values_list("full_since", flat=True))) == postgres
    day, ledger = DirtyDay.objects.values_list("day", "ledger").first()
    rollups.rollup_day(project_id=project.pk, day=day, ledger=ledger)
    assert DailyUsage.objects.filter(project=project, day=day).aggregate(n=Sum("requests"))["n"] == \
        UsageRecord.objects.filter(project=project, day=day).count()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
def test_a_batch_committing_during_a_pass_is_added_once(project, full):
    """A batch stored while a pass runs and committed after it: the pass neither adds its
    records nor takes its ranges; the next pass adds them once."""
    need(connection.vendor == "postgresql", "incremental rollups are PostgreSQL's")
    day = DAYS[0]
    record_usage(project=project, source="api", records=[r for r in events(200, seed=3) if r.timestamp.date() == day])
    written, commit, failed = threading.Event(), threading.Event(), []

    def late_batch():
        try:
            with transaction.atomic():
                record_usage(project=project, source="api",
                             records=[r for r in events(300, seed=4, prefix="late") if r.timestamp.date() == day])
                written.set()
                assert commit.wait(30)
        except Exception as exc:  # noqa: BLE001 - reported below
            failed.append(exc)
            written.set()
        finally:
            connection.close()

    thread = threading.Thread(target=late_batch)
    thread.start()
    assert written.wait(30) and not failed
    with transaction.atomic():
        rollups._lock_project(project.pk)
        rollups._recompute(project.pk, day, "metered", full=full)
    committed_first = DailyUsage.objects.filter(project=project).aggregate(n=Sum("requests"))["n"]
    assert committed_first == UsageRecord.objects.filter(project=project).count()  # this snapshot: the first batch
    commit.set()
    thread.join(30)
    assert not failed
    pass_each_mark(project)  # the late batch's rollup (in-process, its commit ran one already)
    assert not PendingRollup.objects.filter(project=project).exists()
    stored = UsageRecord.objects.filter(project=project).aggregate(c=Sum("cost_nano"), n=Sum("requests"))
    assert stored["n"] > committed_first
    for model in (DailyUsage, DailyModelUsage):
        assert model.objects.filter(project=project).aggregate(c=Sum("cost_nano"), n=Sum("requests")) == stored
    passed = rollup_rows(project)
    rollup_all(project_id=project.pk)
    assert rollup_rows(project) == passed


@pytest.mark.services
@pytest.mark.django_db
def test_ranges_of_a_day_past_the_retention_horizon_are_dropped_not_added(project, settings):
    """The raw records of a day whose ranges wait are dropped by retention: its pass adds
    nothing (no half rollup) and the ranges go, as the day's mark does."""
    from usage.retention import drop_expired

    need(connection.vendor == "postgresql", "incremental rollups are PostgreSQL's")
    august = date(2026, 8, 14)
    record_usage(project=project, source="api", records=[
        Record(external_id=f"aug-{i}", timestamp=datetime(2026, 8, 14, 10, tzinfo=UTC), model="gpt-4o",
               input_tokens=1000, output_tokens=100) for i in range(3)])
    assert PendingRollup.objects.filter(project=project, day=august).exists()
    settings.USAGE_RAW_RETENTION_MONTHS = 3  # horizon 2026-09-01
    assert date(2026, 8, 1) in drop_expired(today=date(2026, 12, 2))
    pass_each_mark(project)
    assert not PendingRollup.objects.exists() and not DirtyDay.objects.exists()
    assert not DailyUsage.objects.filter(project=project, day=august).exists()
