"""Provider sync against a local fake admin API (tests/usage/fake_providers.py), never the
internet: the billed ledger equals the provider's totals whether data came by sync, by
file or both, in either order; re-syncs change nothing; an interrupted sync re-run is
exact; 429/5xx are retried; a revoked key says so; the admin key is stored encrypted."""

import os
import signal
import subprocess
import sys
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection as db

from costwatch import crypto
from tests.conftest import need
from tests.usage.fake_providers import ANTHROPIC_KEY, OPENAI_KEY, Fake, serve
from tests.usage.test_billed import OPENAI_TOKENS
from tests.usage.test_imports import CONSOLE_TOTAL, FILE_SEARCH, SAMPLES, total
from usage import provider_api
from usage.imports import run_import
from usage.models import DirectoryEntry, ImportJob, ProviderConnection, UsageRecord
from usage.sync import SyncFailed, rotate_keys, set_key, sync

SINCE, UNTIL, TODAY = date(2026, 3, 9), date(2026, 3, 11), date(2026, 3, 12)
ANTHROPIC_TOTAL = CONSOLE_TOTAL  # the cost report's total, unrounded
OPENAI_TOTAL = OPENAI_TOKENS + FILE_SEARCH


@pytest.fixture
def fake(settings, monkeypatch):
    fake = Fake()
    server, url = serve(fake)
    settings.ANTHROPIC_ADMIN_API_URL = settings.OPENAI_ADMIN_API_URL = url
    settings.PROVIDER_SYNC_RETRIES = 2
    fake.sleeps = []
    monkeypatch.setattr(provider_api, "sleep", fake.sleeps.append)
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def anthropic(project, fake):
    return set_key(project=project, provider="anthropic", key=ANTHROPIC_KEY)


@pytest.fixture
def openai(project, fake):
    return set_key(project=project, provider="openai", key=OPENAI_KEY)


def run_sync(connection, **kwargs):
    connection.refresh_from_db()
    return sync(connection=connection, **{"since": SINCE, "until": UNTIL, "today": TODAY, **kwargs})


def requests_to(fake, path):
    return [q for p, q in fake.requests if p == path]


def test_anthropic_sync_fills_the_billed_ledger_and_the_directory(project, anthropic, fake):
    result = run_sync(anthropic)
    assert total(project) == ANTHROPIC_TOTAL
    assert total(project, "reported_cost_nano") == ANTHROPIC_TOTAL
    usage = requests_to(fake, "/v1/organizations/usage_report/messages")
    assert len(usage) == 3  # three daily buckets, one per page: the cursor was followed
    assert usage[0]["group_by[]"] == ["model", "api_key_id", "workspace_id", "service_tier", "context_window",
                                      "inference_geo"]
    assert (usage[0]["starting_at"], usage[0]["ending_at"], usage[0]["bucket_width"]) == (
        ["2026-03-09T00:00:00Z"], ["2026-03-12T00:00:00Z"], ["1d"])
    assert [q.get("page") for q in usage] == [None, ["MQ=="], ["Mg=="]]
    names = dict(DirectoryEntry.objects.values_list("ident", "name"))
    assert names["wrkspc_01Pz3LqV8nRt6YkW2mXc5bJh"] == "Research, EU"
    assert names["apikey_01Ys5DkW7pHn3QmVr9TfC2xA"] == "research-notebooks"
    anthropic.refresh_from_db()
    assert anthropic.synced_through == UNTIL and anthropic.last_error == ""
    job = result.jobs[0]
    job.refresh_from_db()
    assert (job.sync_provider, job.status, job.rows_skipped) == ("anthropic", "done", 2)  # 2 empty buckets


def test_resync_changes_nothing(project, anthropic, fake):
    run_sync(anthropic)
    before = list(UsageRecord.objects.order_by("pk").values_list("pk", "cost_nano", "reported_cost_nano"))
    again = run_sync(anthropic).jobs[0]
    again.refresh_from_db()
    assert (again.records_added, again.records_replaced, again.duplicates) == (0, 0, 7 + 10)
    assert list(UsageRecord.objects.order_by("pk").values_list("pk", "cost_nano", "reported_cost_nano")) == before


def test_default_range_resyncs_the_last_three_days(project, anthropic, fake):
    run_sync(anthropic)
    result = run_sync(anthropic, since=None, until=None)
    assert (result.since, result.until) == (date(2026, 3, 9), TODAY)  # synced through 03-11, minus 2 days


@pytest.mark.parametrize("files", [["anthropic_console_usage.csv"], ["anthropic_console_cost.csv"],
                                   ["anthropic_console_usage.csv", "anthropic_console_cost.csv"],
                                   ["anthropic_usage_report.json", "anthropic_cost_report.json"]])
@pytest.mark.parametrize("sync_first", [True, False])
def test_sync_and_file_imports_in_either_order_equal_the_provider(project, anthropic, fake, files, sync_first):
    if sync_first:
        run_sync(anthropic)
    for name in files:
        run_import(project=project, paths=[SAMPLES / name])
    if not sync_first:
        run_sync(anthropic)
    # tokens count at our prices, web search ($0.22 in both cost views) from the cost view
    assert total(project) == ANTHROPIC_TOTAL
    assert UsageRecord.objects.exclude(metadata__has_key="cost_only").count() == 7


def test_openai_sync_and_csv_in_either_order(project, openai, fake):
    run_sync(openai)
    assert total(project) == OPENAI_TOTAL
    assert total(project, "reported_cost_nano") == OPENAI_TOTAL
    usage = requests_to(fake, "/v1/organization/usage/completions")
    assert usage[0]["group_by"] == ["model", "project_id", "api_key_id", "batch", "service_tier"]
    assert (usage[0]["start_time"], usage[0]["end_time"]) == (["1773014400"], ["1773273600"])
    names = dict(DirectoryEntry.objects.values_list("ident", "name"))
    assert names["proj_4Rk8NpD2sQ6vX1mJ9tL3wF7g"] == "Agents" and names["key_Xc8vN2pQ7rT4mZ1w"] == "backend"
    for name in ["openai_dashboard_completions_usage_2026-03-09_2026-03-11.csv",
                 "openai_dashboard_cost_2026-03-09_2026-03-11.csv"]:
        run_import(project=project, paths=[SAMPLES / name])
    assert total(project) == OPENAI_TOTAL
    run_sync(openai)
    assert total(project) == OPENAI_TOTAL


def test_429_retry_after_and_500_are_retried(project, anthropic, fake):
    fake.failures["/v1/organizations/usage_report/messages"] = [(429, {"retry-after": "7"})]
    fake.failures["/v1/organizations/cost_report"] = [(500, {}), (503, {})]
    run_sync(anthropic)
    assert fake.sleeps == [7.0, 1.0, 2.0]  # retry-after, then exponential backoff
    assert total(project) == ANTHROPIC_TOTAL


def test_persistent_500_fails_clearly_and_stores_nothing(project, anthropic, fake):
    fake.failures["/v1/organizations/cost_report"] = [(500, {})] * 3
    with pytest.raises(SyncFailed, match="HTTP 500 on /v1/organizations/cost_report, still after 3 attempts"):
        run_sync(anthropic)
    assert not UsageRecord.objects.exists()  # the window's usage pages were not stored alone
    assert ImportJob.objects.get(sync_provider="anthropic").status == "failed"


def test_interrupted_sync_rerun_is_exact(project, anthropic, fake, settings):
    settings.PROVIDER_SYNC_WINDOW_DAYS = 1
    fake.fail_day["/v1/organizations/cost_report"] = ("2026-03-10", 500)
    with pytest.raises(SyncFailed):
        run_sync(anthropic)
    anthropic.refresh_from_db()
    assert anthropic.synced_through == SINCE  # 03-09 stored whole, 03-10 not at all
    assert set(UsageRecord.objects.values_list("day", flat=True)) == {SINCE}
    del fake.fail_day["/v1/organizations/cost_report"]
    result = run_sync(anthropic, since=None)  # resumes: 3 days before the last synced day
    assert result.since == date(2026, 3, 7)
    assert total(project) == ANTHROPIC_TOTAL
    anthropic.refresh_from_db()
    assert anthropic.synced_through == UNTIL


def test_revoked_key_says_so_on_the_pages(project, anthropic, fake, logged_in):
    fake.keys["anthropic"] = "sk-ant-admin01-the-new-one"
    with pytest.raises(SyncFailed, match="rejected the admin key"):
        run_sync(anthropic)
    anthropic.refresh_from_db()
    assert "expired, revoked or not an admin key" in anthropic.last_error
    imports = logged_in.get("/p/acme/imports/").content.decode()
    assert 'data-testid="sync-error">Anthropic rejected the admin key (HTTP 401)' in imports
    page = logged_in.get("/p/acme/connections/").content.decode()
    assert 'data-testid="connection-error">Anthropic rejected the admin key' in page


def test_admin_key_is_not_stored_in_plain_text(project, anthropic):
    with db.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ProviderConnection._meta.db_table}")
        stored = " ".join(str(v) for row in cursor.fetchall() for v in row)
    assert ANTHROPIC_KEY not in stored and ANTHROPIC_KEY[14:] not in stored
    assert anthropic.key_prefix == ANTHROPIC_KEY[:14]
    assert crypto.decrypt(anthropic.key_encrypted) == ANTHROPIC_KEY


def test_key_rotation(project, anthropic, settings):
    settings.PROVIDER_KEY_SECRETS = ["a-new-secret", settings.SECRET_KEY]
    assert rotate_keys() == 1
    settings.PROVIDER_KEY_SECRETS = ["a-new-secret"]
    anthropic.refresh_from_db()
    assert crypto.decrypt(anthropic.key_encrypted) == ANTHROPIC_KEY
    settings.PROVIDER_KEY_SECRETS = ["something-else"]
    with pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt(anthropic.key_encrypted)


def test_commands_read_the_key_from_stdin_and_sync(project, fake, monkeypatch):
    monkeypatch.setattr("sys.stdin", StringIO(OPENAI_KEY + "\n"))
    out = StringIO()
    call_command("set_provider_key", "acme", "--provider", "openai", stdout=out)
    assert "stored the openai admin key sk-admin-F… for acme (encrypted)" in out.getvalue()
    out = StringIO()
    call_command("sync_provider", "--project", "acme", "--provider", "openai", "--since", "2026-03-09",
                 "--until", "2026-03-11", stdout=out)
    assert "OpenAI sync 2026-03-09…2026-03-11:" in out.getvalue()
    assert total(project) == OPENAI_TOTAL


def test_connections_page_saves_tests_and_never_shows_the_key(project, fake, logged_in):
    response = logged_in.post("/p/acme/connections/", {"provider": "anthropic", "action": "save", "key": ANTHROPIC_KEY})
    assert response.status_code == 302
    page = logged_in.get("/p/acme/connections/").content.decode()
    assert ANTHROPIC_KEY not in page and 'data-testid="key-prefix">sk-ant-admin01…<' in page
    tested = logged_in.post("/p/acme/connections/", {"provider": "anthropic", "action": "test"}, follow=True)
    assert "Anthropic: the admin key works." in tested.content.decode()
    fake.keys["anthropic"] = "sk-ant-admin01-rotated"
    failed = logged_in.post("/p/acme/connections/", {"provider": "anthropic", "action": "test"}, follow=True)
    assert "rejected the admin key (HTTP 401)" in failed.content.decode()


@pytest.mark.services
def test_a_killed_sync_process_rerun_is_exact(transactional_db, project, fake, settings):
    """`manage.py sync_provider` in its own process, killed (SIGKILL) while waiting for the
    provider in the middle of its second day; the re-run ends with the provider's totals."""
    need(db.vendor == "postgresql", "another process sees the test database on PostgreSQL only")
    connection = set_key(project=project, provider="anthropic", key=ANTHROPIC_KEY)
    fake.hang_day["/v1/organizations/cost_report"] = "2026-03-10"
    conf = db.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{conf['USER'] or 'postgres'}@{conf['HOST'] or '127.0.0.1'}:"
           f"{conf['PORT'] or 5432}/{conf['NAME']}", "ANTHROPIC_ADMIN_API_URL": settings.ANTHROPIC_ADMIN_API_URL,
           "PROVIDER_SYNC_WINDOW_DAYS": "1", "SECRET_KEY": settings.SECRET_KEY, "CELERY_BROKER_URL": ""}
    proc = subprocess.Popen([sys.executable, "manage.py", "sync_provider", "--project", "acme", "--provider",
                             "anthropic", "--since", "2026-03-09", "--until", "2026-03-11"],
                            cwd=Path(__file__).resolve().parents[2], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert fake.hanging.wait(60), "the sync never reached the second day"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    connection.refresh_from_db()
    assert connection.synced_through == SINCE
    assert set(UsageRecord.objects.values_list("day", flat=True)) == {SINCE}
    del fake.hang_day["/v1/organizations/cost_report"]
    run_sync(connection, since=None)
    assert total(project) == ANTHROPIC_TOTAL
