"""Provider sync: pull a project's billed usage and costs from the providers' admin APIs
into the billed ledger through the same import path as uploaded files (usage.imports), so
the one-truth rule (usage.billed) holds between synced data and files.

Per run: the key / workspace / project lists fill the directory, then the days are pulled
in windows of at most 31 days; each window's usage and cost pages are imported in one
transaction (an ImportJob with `sync_provider` set: the sync history). `synced_through`
(the last fully synced UTC day) advances only after a window is stored, so an interrupted
sync resumes where it stopped; every run re-syncs the last 3 days, which consoles restate.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from costwatch import clock, crypto
from costwatch.tenant.models import Project
from usage import billed
from usage.imports import ImportFailed, run_import
from usage.models import DirectoryEntry, ImportJob, ProviderConnection
from usage.provider_api import PROVIDER_NAMES, ProviderError, get_json, list_all, report_pages

RESYNC_DAYS = 3

ANTHROPIC_USAGE = ("/v1/organizations/usage_report/messages", "anthropic_usage_report",
                   ["model", "api_key_id", "workspace_id", "service_tier", "context_window", "inference_geo"])
ANTHROPIC_COST = ("/v1/organizations/cost_report", "anthropic_cost_report", ["workspace_id", "description"])
OPENAI_USAGE = ("/v1/organization/usage/completions", "openai_usage_api",
                ["model", "project_id", "api_key_id", "batch", "service_tier"])
OPENAI_COST = ("/v1/organization/costs", "openai_costs_api", ["line_item", "project_id"])


class SyncFailed(Exception):
    """The sync stopped; what was stored before stays (whole windows only)."""


@dataclass
class SyncResult:
    since: date
    until: date
    jobs: list[ImportJob] = field(default_factory=list)
    directory_changes: int = 0


def set_key(*, project: Project, provider: str, key: str) -> ProviderConnection:
    """Store (or replace) the project's admin key for `provider`, encrypted."""
    key = key.strip()
    if provider not in PROVIDER_NAMES:
        raise ValueError(f"unknown provider {provider!r}; expected anthropic or openai")
    if len(key) < 12 or any(c.isspace() for c in key):
        raise ValueError("that does not look like an admin key (expected one line such as sk-ant-admin01-…)")
    prefix = key[:14] if key.startswith("sk-ant-admin") else key[:10]
    connection, _ = ProviderConnection.objects.update_or_create(
        project=project, provider=provider,
        defaults={"key_encrypted": crypto.encrypt(key), "key_prefix": prefix, "last_error": ""},
    )
    return connection


def rotate_keys() -> int:
    """Re-encrypt every stored admin key with the first of PROVIDER_KEY_SECRETS."""
    count = 0
    for connection in ProviderConnection.objects.all():
        connection.key_encrypted = crypto.rotate(connection.key_encrypted)
        connection.save(update_fields=["key_encrypted"])
        count += 1
    return count


def test_connection(connection: ProviderConnection) -> str:
    """One cheap authenticated request. Returns "" when it works, else the reason."""
    path = "/v1/organizations/workspaces" if connection.provider == "anthropic" else "/v1/organization/projects"
    try:
        get_json(connection.provider, crypto.decrypt(connection.key_encrypted), path, [("limit", "1")])
        error = ""
    except (ProviderError, crypto.SecretUnreadable) as exc:
        error = str(exc)
    connection.last_tested_at, connection.last_error = timezone.now(), error
    connection.save(update_fields=["last_tested_at", "last_error"])
    return error


def _directory(provider: str, key: str) -> list[tuple[str, str, str]]:
    entries = []
    if provider == "anthropic":
        for item in list_all(provider, key, "/v1/organizations/workspaces"):
            entries.append((DirectoryEntry.WORKSPACE, item.get("id"), item.get("name")))
        for item in list_all(provider, key, "/v1/organizations/api_keys"):
            entries.append((DirectoryEntry.API_KEY, item.get("id"), item.get("name")))
    else:
        for item in list_all(provider, key, "/v1/organization/projects"):
            entries.append((DirectoryEntry.WORKSPACE, item.get("id"), item.get("name")))
            if item.get("id"):
                for api_key in list_all(provider, key, f"/v1/organization/projects/{item['id']}/api_keys"):
                    entries.append((DirectoryEntry.API_KEY, api_key.get("id"), api_key.get("name")))
    return [(k, str(i), str(n)) for k, i, n in entries if i and n]


def _params(provider: str, start: date, end: date, group_by: list[str]) -> list[tuple[str, str]]:
    """[start, end] (UTC days, inclusive) as the API's half-open range of daily buckets."""
    days = (end - start).days + 1
    first = datetime(start.year, start.month, start.day, tzinfo=UTC)
    after = first + timedelta(days=days)
    if provider == "anthropic":
        return [("starting_at", first.strftime("%Y-%m-%dT%H:%M:%SZ")),
                ("ending_at", after.strftime("%Y-%m-%dT%H:%M:%SZ")),
                ("bucket_width", "1d"), ("limit", str(min(days, 31))),
                *[("group_by[]", g) for g in group_by]]
    return [("start_time", str(int(first.timestamp()))), ("end_time", str(int(after.timestamp()))),
            ("bucket_width", "1d"), ("limit", str(min(days, 31))), *[("group_by", g) for g in group_by]]


def _fetch(provider: str, key: str, start: date, end: date, folder: Path) -> tuple[list[Path], list[str]]:
    """The window's usage and cost pages, saved one page per line as the import reads them."""
    reports = [ANTHROPIC_USAGE, ANTHROPIC_COST] if provider == "anthropic" else [OPENAI_USAGE, OPENAI_COST]
    paths, formats = [], []
    for path, format, group_by in reports:
        file = folder / f"{format}_{start}_{end}.jsonl"
        with file.open("w", encoding="utf-8") as out:
            for page in report_pages(provider, key, path, _params(provider, start, end, group_by)):
                out.write(json.dumps(page) + "\n")
        paths.append(file)
        formats.append(format)
    return paths, formats


def default_since(connection: ProviderConnection, today: date) -> date:
    if connection.synced_through:
        return connection.synced_through - timedelta(days=RESYNC_DAYS - 1)
    return today - timedelta(days=settings.PROVIDER_SYNC_DAYS - 1)


def sync(*, connection: ProviderConnection, since: date | None = None, until: date | None = None,
         today: date | None = None, user=None) -> SyncResult:
    """Pull [since, until] (default: from 3 days before the last fully synced day, or the last
    PROVIDER_SYNC_DAYS days, to today). Raises SyncFailed; the failing window's job and the
    connection carry the message."""
    today = today or clock.utc_today()
    until = min(until or today, today)
    since = since or default_since(connection, today)
    if since > until:
        raise SyncFailed(f"--since {since} is after --until {until}")
    result = SyncResult(since=since, until=until)
    provider, project = connection.provider, connection.project
    label = PROVIDER_NAMES[provider]
    window = timedelta(days=settings.PROVIDER_SYNC_WINDOW_DAYS)
    job = None
    try:
        key = crypto.decrypt(connection.key_encrypted)
        result.directory_changes = billed.learn(project=project, provider=provider,
                                                entries=_directory(provider, key), origin="provider")
        start = since
        while start <= until:
            end = min(start + window - timedelta(days=1), until)
            job = ImportJob.objects.create(project=project, created_by=user, sync_provider=provider,
                                           file_name=f"{label} sync {start}…{end}"[:255], status="running")
            with tempfile.TemporaryDirectory(prefix="costwatch-sync-") as folder:
                paths, formats = _fetch(provider, key, start, end, Path(folder))
                run_import(project=project, paths=paths, formats=formats, job=job)
            result.jobs.append(job)
            if connection.synced_through is None or start <= connection.synced_through + timedelta(days=1):
                complete = min(end, today - timedelta(days=1))  # today is not over yet
                if connection.synced_through is None or complete > connection.synced_through:
                    connection.synced_through = complete
            connection.last_sync_at, connection.last_error = timezone.now(), ""
            connection.save(update_fields=["synced_through", "last_sync_at", "last_error"])
            start = end + timedelta(days=1)
    except (ProviderError, crypto.SecretUnreadable, ImportFailed) as exc:
        message = str(exc)
        if job is None or job.pk in {j.pk for j in result.jobs}:
            job = ImportJob.objects.create(project=project, created_by=user, sync_provider=provider,
                                           file_name=f"{label} sync {since}…{until}"[:255])
        ImportJob.objects.filter(pk=job.pk).update(status="failed", error=message, finished_at=timezone.now())
        connection.last_sync_at, connection.last_error = timezone.now(), message
        connection.save(update_fields=["last_sync_at", "last_error"])
        raise SyncFailed(message) from exc
    return result


def sync_all() -> int:
    """The hourly beat job: every connection, default range. Returns how many failed."""
    failed = 0
    for connection in ProviderConnection.objects.select_related("project"):
        try:
            sync(connection=connection)
        except SyncFailed:
            failed += 1  # recorded on the connection and in the sync history
    return failed
