"""The deployed path: the upload is imported by a real Celery worker (another process, over
Redis, on PostgreSQL), and the page's progress comes from the worker while it imports."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import wait_until
from usage.models import ImportJob, UsageRecord

pytestmark = pytest.mark.services

HEADER = ("usage_date_utc,model_version,api_key,workspace,usage_type,context_window,usage_input_tokens_no_cache,"
          "usage_input_tokens_cache_write_5m,usage_input_tokens_cache_write_1h,usage_input_tokens_cache_read,"
          "usage_output_tokens,web_search_count,inference_geo,speed\n")


def console_csv(rows: int) -> bytes:
    lines = [HEADER]
    for i in range(rows):
        day, hour, key = 1 + i // 2400, (i // 100) % 24, i % 100
        lines.append(f"2026-03-{day:02d} {hour:02d}:00,claude-haiku-4-5-20251001,key-{key},Default,standard,"
                     f"≤ 200k,1000,0,0,0,100,0,global,\n")
    return "".join(lines).encode()


def test_worker_imports_the_upload_and_reports_progress(celery_worker_factory, client, user, settings, tmp_path):
    from costwatch.tenant.models import Project

    settings.MEDIA_ROOT = tmp_path / "media"
    project = Project.objects.create(slug="acme", name="Acme")
    project.members.add(user)
    client.force_login(user)
    celery_worker_factory()
    rows = 30_000
    data = console_csv(rows)
    response = client.post("/p/acme/imports/", {"file": SimpleUploadedFile("claude_api_tokens.csv", data)},
                           HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 1s"' in response.content.decode()  # not done yet: the page polls
    job = ImportJob.objects.get()
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status == "running" and 0 < job.progress_bytes < job.file_size:
            seen.add(job.progress_bytes)
        if job.status in {"done", "failed"}:
            break
        time.sleep(0.1)
    assert job.status == "done", job.error
    assert seen, "no progress was visible while the worker imported"
    assert job.records_added == rows == UsageRecord.objects.filter(project=project).count()
    # Haiku 4.5: 1000 × $1/M + 100 × $5/M per row
    assert job.cost_nano == rows * 1_500_000
    wait_until(lambda: "data-testid=\"import-summary\"" in client.get(
        f"/p/acme/imports/{job.pk}/", HTTP_HX_REQUEST="true").content.decode())
