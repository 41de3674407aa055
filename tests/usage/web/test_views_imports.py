"""The upload page, the Celery task behind it, and `manage.py import_usage`."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db.models import Sum

from usage.models import DailyModelUsage, ImportJob, UsageRecord
from usage.tasks import import_file

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
CONSOLE_TOTAL = 86_144_875_800  # see test_imports.CONSOLE (tokens and 22 web searches)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# On the embedded default the upload request itself runs the import (eager Celery,
# delay_on_commit outside any transaction): transactional tests behave the same way.
eager_request = pytest.mark.django_db(transaction=True)


def upload(name="claude_api_tokens_2026_03.csv", sample="anthropic_console_usage.csv", content=None):
    data = content if content is not None else (SAMPLES / sample).read_bytes()
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_page_shows_form_and_empty_history(logged_in, project):
    response = logged_in.get("/p/acme/imports/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="file" name="file"' in html and "all-or-nothing" in html and "No imports yet." in html
    assert '<option value="anthropic_console_usage">' in html


@eager_request
def test_htmx_upload_imports_and_shows_summary(logged_in, project, user):
    response = logged_in.post("/p/acme/imports/", {"file": upload(), "format": "auto"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Detected format: <strong" in html and "Anthropic Console usage export" in html
    assert 'data-testid="records-added">7<' in html
    assert 'data-testid="cost-added">$86.14<' in html  # tokens $85.92 + 22 web searches $0.22
    assert "?range=custom&amp;start=2026-03-09&amp;end=2026-03-10" in html
    assert 'id="import-history" hx-swap-oob="true"' in html  # the history table refreshes too
    job = ImportJob.objects.get()
    assert (job.status, job.format, job.created_by, job.records_added, job.cost_nano) == (
        "done", "anthropic_console_usage", user, 7, CONSOLE_TOTAL)
    assert job.progress_bytes == job.file_size == (SAMPLES / "anthropic_console_usage.csv").stat().st_size
    assert UsageRecord.objects.filter(import_job=job).count() == 7
    assert not Path(job.file_path).exists()  # the upload is removed once imported
    # rollups ran after commit: the overview's tables have the spend
    assert DailyModelUsage.objects.filter(project=project).aggregate(s=Sum("cost_nano"))["s"] == CONSOLE_TOTAL


@eager_request
def test_reupload_shows_duplicates_not_more_spend(logged_in, project):
    logged_in.post("/p/acme/imports/", {"file": upload()}, HTTP_HX_REQUEST="true")
    response = logged_in.post("/p/acme/imports/", {"file": upload()}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'data-testid="records-added">0<' in html and 'data-testid="duplicates">7<' in html
    assert 'data-testid="cost-added">$0.00<' in html
    assert UsageRecord.objects.aggregate(s=Sum("cost_nano"))["s"] == CONSOLE_TOTAL
    page = logged_in.get("/p/acme/imports/").content.decode()
    assert page.count("claude_api_tokens_2026_03.csv</a>") == 2  # history: who / when / what / result
    assert "alice" in page


@eager_request
def test_plain_form_post_redirects_to_the_job(logged_in, project):
    response = logged_in.post("/p/acme/imports/", {"file": upload()})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/p/acme/imports/?job={job.pk}"
    assert 'data-testid="import-summary"' in logged_in.get(response["Location"]).content.decode()


@eager_request
def test_bad_row_fails_the_whole_file_with_line_and_column(logged_in, project):
    text = (SAMPLES / "anthropic_console_usage.csv").read_text(encoding="utf-8")
    text += "2026-03-11,claude-sonnet-4-6,k,Default,standard,≤ 200k,1,0,0,0,-5,0,global,\n"
    response = logged_in.post("/p/acme/imports/", {"file": upload(content=text.encode())}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "Nothing was imported." in html
    assert ("claude_api_tokens_2026_03.csv, line 9, column &#x27;usage_output_tokens&#x27;: expected a "
            "non-negative whole number, got &#x27;-5&#x27;") in html
    assert ImportJob.objects.get().status == "failed"
    assert not UsageRecord.objects.exists()


def test_binary_upload_rejected_at_detection(logged_in, project):
    response = logged_in.post("/p/acme/imports/", {"file": upload("usage.csv", content=b"PK\x03\x04\x00\x00garbage")},
                              HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "usage.csv: this is a binary file" in html
    assert ImportJob.objects.get().status == "failed"


def test_file_over_the_limit_is_refused(logged_in, project, settings):
    settings.IMPORT_MAX_FILE_BYTES = 100
    response = logged_in.post("/p/acme/imports/", {"file": upload()}, HTTP_HX_REQUEST="true")
    assert "is larger than the import limit of 0 MB" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_running_job_polls_every_second(logged_in, project):
    job = ImportJob.objects.create(project=project, file_name="big.csv", file_size=1000, progress_bytes=250,
                                   status="running", format="anthropic_console_usage", rows_read=1234)
    html = logged_in.get(f"/p/acme/imports/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in html and f'hx-get="/p/acme/imports/{job.pk}/"' in html
    assert '<progress max="100" value="25">' in html and '<span data-testid="rows-read">1,234</span> rows read' in html
    assert "<html" not in html  # a partial
    job.status = "done"
    job.save()
    html = logged_in.get(f"/p/acme/imports/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "every 1s" not in html and 'data-testid="import-summary"' in html


def test_other_users_cannot_see_a_projects_imports(client, project, django_user_model):
    job = ImportJob.objects.create(project=project, file_name="x.csv")
    client.force_login(django_user_model.objects.create_user("mallory", "m@example.com", "pw-mallory-1"))
    assert client.get("/p/acme/imports/").status_code == 404
    assert client.get(f"/p/acme/imports/{job.pk}/").status_code == 404


def test_task_is_safe_to_run_twice(project, tmp_path):
    path = tmp_path / "u.csv"
    path.write_bytes((SAMPLES / "anthropic_console_usage.csv").read_bytes())
    job = ImportJob.objects.create(project=project, file_name="u.csv", file_path=str(path),
                                   file_size=path.stat().st_size)
    import_file.apply(args=[job.pk])
    import_file.apply(args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.records_added) == ("done", 7)
    assert UsageRecord.objects.count() == 7


def test_command_prints_the_summary(project):
    out = StringIO()
    call_command("import_usage", str(SAMPLES / "anthropic_console_usage.csv"),
                 str(SAMPLES / "anthropic_console_cost.csv"), "--project", "acme", stdout=out)
    text = out.getvalue()
    assert "anthropic_console_usage.csv: anthropic_console_usage" in text
    assert "anthropic_console_cost.csv: anthropic_console_cost" in text
    assert "rows read: 32\n" in text and "records added: 17\n" in text
    # 7 token-cost rows and 3 web search rows (the token rows price the searches)
    assert "cost rows matched to token rows (kept as reported cost): 10\n" in text and "rows rejected: 0\n" in text
    assert "cost added: $86.144875800\n" in text  # tokens at our prices + $0.22 web search
    job = ImportJob.objects.get()
    assert job.created_by is None and job.status == "done"  # history shows "command line"


def test_command_fails_on_a_bad_file(project, tmp_path):
    bad = tmp_path / "claude_api_tokens.csv"
    bad.write_text("usage_date_utc,model_version,usage_output_tokens\n2026-13-01,claude-haiku-4-5,5\n")
    with pytest.raises(CommandError, match=r"claude_api_tokens.csv, line 2, column 'usage_date_utc': expected"):
        call_command("import_usage", str(bad), "--project", "acme", stdout=StringIO())
    assert not UsageRecord.objects.exists()
    with pytest.raises(CommandError, match="no such project"):
        call_command("import_usage", str(bad), "--project", "nope", stdout=StringIO())


@eager_request
def test_a_restating_upload_says_what_it_replaced(logged_in, project):
    logged_in.post("/p/acme/imports/", {"file": upload(), "format": "auto"}, HTTP_HX_REQUEST="true")
    report = upload("usage_report.json", "anthropic_usage_report.json")
    html = logged_in.post("/p/acme/imports/", {"file": report, "format": "auto"}, HTTP_HX_REQUEST="true").content.decode()
    assert ('data-testid="import-notes">Replaced 7 billed rows of 2026-03-09…2026-03-10 from the Console usage '
            "CSV.<") in html
    assert DailyModelUsage.objects.filter(project=project).aggregate(s=Sum("cost_nano"))["s"] == CONSOLE_TOTAL
    page = logged_in.get("/p/acme/imports/").content.decode()
    assert "How billed imports count: one truth per provider and day" in page
