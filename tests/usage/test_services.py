"""PostgreSQL + Redis + a real Celery worker: the deployed path gives the eager path's totals."""

from datetime import UTC, date, datetime, timedelta

import pytest

from costwatch.celery import app
from costwatch.tenant.models import Project
from tests.conftest import wait_until
from usage.ingest import record_usage
from usage.models import DirtyDay
from usage.records import Record
from usage.reports.queries import SpendQuery, spend

pytestmark = pytest.mark.services


def make_records(prefix):
    start = datetime(2026, 11, 1, 8, tzinfo=UTC)
    for i in range(300):
        yield Record(external_id=f"{prefix}{i}", timestamp=start + timedelta(hours=i % 72),
                     model=["claude-sonnet-4-5", "gpt-4o-mini", "claude-haiku-4-5"][i % 3],
                     feature=f"f{i % 4}", batch=i % 5 == 0, input_tokens=1000 + i * 37,
                     output_tokens=100 + i, cache_read_tokens=(i % 7) * 512,
                     cache_write_1h_tokens=(i % 11) * 3)


def totals(project):
    rows, total, _ = spend(SpendQuery(project=project, start=date(2026, 11, 1), end=date(2026, 11, 4),
                                      group_by=["day", "model", "feature"]))
    return [(r["day"], r["model"], r["feature"], r["requests"], r["cost_nano"]) for r in rows], total["cost_nano"]


def assert_blocks_match_records(project):
    """A two-month breakdown by feature reads blocks of 4/16 days (usage.rollups.blocks):
    after rollups by the worker or by racing threads they still equal the records."""
    from django.db.models import Sum

    rows, _, _ = spend(SpendQuery(project=project, start=date(2026, 10, 1), end=date(2026, 11, 30),
                                  group_by=["feature"]))
    expected = dict(project.records.values_list("feature").annotate(Sum("cost_nano")).order_by())
    assert {r["feature"]: r["cost_nano"] for r in rows} == expected


def test_worker_rollups_match_the_eager_path(celery_worker_factory):
    eager = Project.objects.create(slug="eager", name="eager")
    queued = Project.objects.create(slug="queued", name="queued")
    celery_worker_factory()

    app.conf.task_always_eager = True
    try:
        record_usage(project=eager, source="api", records=make_records("e"))
    finally:
        app.conf.task_always_eager = False

    record_usage(project=queued, source="api", records=make_records("q"))
    # the worker (another process, over Redis) recomputes the three dirty days
    wait_until(lambda: not DirtyDay.objects.filter(project=queued).exists(), timeout=30)
    eager_rows, eager_total = totals(eager)
    queued_rows, queued_total = totals(queued)
    assert queued_total == eager_total > 0
    assert queued_rows == eager_rows
    assert_blocks_match_records(queued)


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingest_and_rollups_do_not_deadlock():
    """Parallel ingests of the same project and days, with rollups running after each commit
    (the embedded default), all succeed and the totals add up."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("row-lock behaviour is PostgreSQL's")
    project = Project.objects.create(slug="busy", name="busy")
    errors = []

    def worker(n):
        try:
            for round_ in range(3):
                record_usage(project=project, source="api", records=make_records(f"t{n}-{round_}-"))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _, total = totals(project)
    assert sum(r[3] for r in totals(project)[0]) == 4 * 3 * 300
    assert total > 0 and not DirtyDay.objects.filter(project=project).exists()
    assert_blocks_match_records(project)


def test_many_ingests_of_a_day_queue_one_rollup_on_the_worker(celery_worker_factory, settings):
    """Twenty ingests of the same day put one rollup task on the broker (the later ones
    find the mark claimed); the worker recomputes the day once and the totals are exact."""
    import redis

    from tests.conftest import REDIS_URL

    settings.ROLLUP_COALESCE_SECONDS = 1
    project = Project.objects.create(slug="coalesce", name="coalesce")
    day = datetime(2026, 11, 3, 9, tzinfo=UTC)
    for n in range(20):
        record_usage(project=project, source="api", records=[
            Record(external_id=f"c{n}-{i}", timestamp=day + timedelta(minutes=i), model="claude-sonnet-4-5",
                   input_tokens=1000 + n, output_tokens=10 * i) for i in range(50)])
    queue = app.conf.task_default_queue
    assert redis.Redis.from_url(REDIS_URL).llen(queue) == 1
    celery_worker_factory()
    wait_until(lambda: not DirtyDay.objects.filter(project=project).exists(), timeout=30)
    assert redis.Redis.from_url(REDIS_URL).llen(queue) == 0
    rows, total = totals(project)
    assert sum(r[3] for r in rows) == 1000
    assert total == sum(project.records.values_list("cost_nano", flat=True))
