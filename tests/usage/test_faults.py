"""Issue 12, items 4-6: a broker that is down never slows or fails an ingest; the answer is
true under concurrency; import jobs whose process died are detected and failed."""

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from costwatch.celery import app
from tests.conftest import _reset_celery_pools
from usage import tasks
from usage.imports import STALE_MESSAGE, fail_stale_jobs, is_stale
from usage.models import DirtyDay, ImportJob, UsageRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down(settings):
    """Celery configured with a broker on a closed port."""
    saved = {k: app.conf.get(k) for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url="redis://127.0.0.1:9/0", task_always_eager=False)
    _reset_celery_pools(app)
    tasks._broker_down_until = 0.0
    yield
    app.conf.update(**saved)
    _reset_celery_pools(app)
    tasks._broker_down_until = 0.0


def test_broker_down_costs_one_short_attempt_for_a_120_day_batch(api_client, project, broker_down,
                                                                 monkeypatch, django_capture_on_commit_callbacks):
    attempts = []
    real = tasks.rollup_day.apply_async
    monkeypatch.setattr(tasks.rollup_day, "apply_async", lambda *a, **kw: attempts.append(kw) or real(*a, **kw))
    start = timezone.now() - timedelta(days=130)
    events = [{"id": f"e{i}", "model": "gpt-4o", "input_tokens": 10,
               "timestamp": (start + timedelta(days=i)).isoformat()} for i in range(120)]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/events", data=json.dumps({"events": events}),
                                   content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 120
    assert len(attempts) == 1 and attempts[0]["retry"] is False
    # the marks stay, unclaimed, for the beat / manage.py rollup
    assert DirtyDay.objects.filter(project=project, queued_at__isnull=True).count() == 120
    assert UsageRecord.objects.filter(project=project).count() == 120


# --- import jobs whose process died -------------------------------------------------------

def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_running_job_whose_process_died_is_failed_with_a_clear_message(project):
    import socket

    job = ImportJob.objects.create(project=project, file_name="x.csv", status="running",
                                   worker=f"{socket.gethostname()}:{_dead_pid()}", heartbeat_at=timezone.now())
    alive = ImportJob.objects.create(project=project, file_name="y.csv", status="running",
                                     worker=f"{socket.gethostname()}:{os.getpid()}", heartbeat_at=timezone.now())
    assert is_stale(job) and not is_stale(alive)
    assert fail_stale_jobs() == 1
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", STALE_MESSAGE)
    alive.refresh_from_db()
    assert alive.status == "running"


def test_the_imports_page_fails_stale_jobs(logged_in, project):
    import socket

    job = ImportJob.objects.create(project=project, file_name="x.csv", status="running",
                                   worker=f"{socket.gethostname()}:{_dead_pid()}")
    page = logged_in.get(f"/p/{project.slug}/imports/").content.decode()
    job.refresh_from_db()
    assert job.status == "failed"
    assert "the process running it was stopped or died" in page


def test_the_cli_marks_its_job_failed_on_any_error(project, tmp_path, monkeypatch):
    from django.core.management import call_command

    from usage import imports

    def boom(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(imports, "_store", boom)
    path = tmp_path / "u.csv"
    path.write_text("date,model,input_tokens\n2026-11-02,gpt-4o,1\n")
    with pytest.raises(Exception, match="disk on fire"):
        call_command("import_usage", str(path), "--project", project.slug)
    job = ImportJob.objects.get()
    assert job.status == "failed" and "RuntimeError" in job.error


def test_a_redelivered_import_task_leaves_a_live_job_alone(project, tmp_path):
    import socket

    from usage.imports import import_job_file

    path = tmp_path / "u.csv"
    path.write_text("date,model,input_tokens\n2026-11-02,gpt-4o,1\n")
    job = ImportJob.objects.create(project=project, file_name="u.csv", file_path=str(path), status="running",
                                   worker=f"{socket.gethostname()}:{os.getpid()}", heartbeat_at=timezone.now())
    import_job_file(job.pk)
    assert UsageRecord.objects.count() == 0  # still running elsewhere: not run twice
    ImportJob.objects.filter(pk=job.pk).update(worker=f"{socket.gethostname()}:{_dead_pid()}")
    import_job_file(job.pk)  # its worker died: the redelivery runs it
    job.refresh_from_db()
    assert job.status == "done" and UsageRecord.objects.count() == 1
