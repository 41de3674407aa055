"""Issue 12: a day whose rollup fails is recorded on its mark (error, attempts, retry time
with backoff), and the catch-up goes on with the other days and projects."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from costwatch.tenant.models import Project
from usage.ingest import mark_dirty, record_usage
from usage.models import DailyUsage, DirtyDay, UsageRecord
from usage.partitions import ensure_partitions
from usage.records import Record
from usage.rollups import rollup_dirty

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 2)


def poison(project, day=DAY, mark=True):
    """Rows that bypass the write path's bounds (as old data may): their sum overflows a
    64-bit integer, so the day's rollup raises."""
    ts = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    ensure_partitions([day])
    UsageRecord.objects.bulk_create([
        UsageRecord(project=project, source="api", external_id=f"big-{i}", timestamp=ts, day=day,
                    model="no-such-model-x", input_tokens=2**62) for i in range(3)
    ])
    if mark:
        mark_dirty(project_id=project.pk, days=[(day, "metered")])


def good(project, day=DAY):
    ts = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    record_usage(project=project, source="api", records=[
        Record(external_id="ok", timestamp=ts, model="gpt-4o", input_tokens=1000, output_tokens=100)])


def test_a_failing_day_is_recorded_and_the_others_are_rolled_up(project):
    poison(project)
    good(project, DAY + timedelta(days=1))
    other = Project.objects.create(slug="other", name="Other")
    good(other)
    assert rollup_dirty() == 2
    assert DailyUsage.objects.filter(project=other, day=DAY).exists()
    assert DailyUsage.objects.filter(project=project, day=DAY + timedelta(days=1)).exists()
    mark = DirtyDay.objects.get()
    assert (mark.project_id, mark.day, mark.attempts) == (project.pk, DAY, 1)
    assert "overflow" in mark.error.lower() or "out of range" in mark.error.lower()
    assert timezone.now() < mark.retry_at <= timezone.now() + timedelta(minutes=1)


def test_a_failing_day_waits_longer_after_each_attempt(project):
    poison(project)
    rollup_dirty()
    assert rollup_dirty() == 0  # not due yet: nothing retried
    assert DirtyDay.objects.get().attempts == 1
    for attempts in (2, 3):
        DirtyDay.objects.update(retry_at=timezone.now() - timedelta(seconds=1))
        rollup_dirty()
        mark = DirtyDay.objects.get()
        assert mark.attempts == attempts
        expected = timedelta(minutes=2 ** (attempts - 1))
        assert mark.retry_at - timezone.now() == pytest.approx(expected, abs=timedelta(seconds=5))


def test_the_day_is_rolled_up_once_fixed(project):
    poison(project)
    rollup_dirty()
    UsageRecord.objects.filter(external_id__startswith="big-").update(input_tokens=10)
    DirtyDay.objects.update(retry_at=timezone.now() - timedelta(seconds=1))
    assert rollup_dirty() == 1
    assert not DirtyDay.objects.exists()
    assert DailyUsage.objects.get(project=project, day=DAY).input_tokens == 30


def test_manage_rollup_goes_on_past_a_failing_day(project, capsys):
    poison(project)
    other = Project.objects.create(slug="other", name="Other")
    good(other)
    call_command("rollup")
    assert "1 day(s) rolled up" in capsys.readouterr().out
    assert DailyUsage.objects.filter(project=other).exists()
    call_command("rollup", "--all")
    assert DirtyDay.objects.get().attempts == 2


def test_ingest_rollup_failure_does_not_fail_the_request(api_client, project, django_capture_on_commit_callbacks):
    # A row that bypasses the write path's bounds, rolled up: the day's input tokens are
    # all that a 64-bit integer holds, so adding the ingest below overflows,
    # whether its pass recomputes the day or (PostgreSQL) adds the new record to it.
    ensure_partitions([DAY])
    UsageRecord.objects.create(project=project, source="api", external_id="big", day=DAY, model="no-such-model-x",
                               timestamp=datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=UTC),
                               input_tokens=2**63 - 1)
    mark_dirty(project_id=project.pk, days=[(DAY, "metered")])
    assert rollup_dirty() == 1
    body = '{"model": "gpt-4o", "timestamp": "2026-11-02T10:00:00Z", "input_tokens": 1}'
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/events", data=body, content_type="application/json")
    assert response.status_code == 200
    assert DirtyDay.objects.get().attempts == 1


def test_staff_see_failing_days_in_the_admin(client, django_user_model, project):
    poison(project)
    rollup_dirty()
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    page = client.get("/admin/usage/dirtyday/").content.decode()
    assert "2026-11-02" in page or "Nov. 2, 2026" in page
    assert "overflow" in page.lower() or "out of range" in page.lower()
