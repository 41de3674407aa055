"""The import page: upload a provider export, watch the Celery task import it, see the result."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from kombu.exceptions import OperationalError as KombuOperationalError

from costwatch.tenant.access import project_for_user
from usage.importers import REGISTRY
from usage.importers.base import ImportFormatError
from usage.imports import delete_import, detect_format, fail_stale_jobs, job_ledger, live_progress
from usage.models import ImportJob
from usage.tasks import import_file_later

HISTORY = 20


def _context(project, job=None, error="", oob=False):
    fail_stale_jobs(project)
    history = list(project.imports.filter(sync_provider="").select_related("created_by")[:HISTORY])
    return {
        "project": project,
        "job": job,
        "error": error,
        "oob": oob,  # an htmx answer also refreshes the history table when the job has ended
        "formats": [(f.name, f.description) for f in REGISTRY.values()],
        "history": history,
        "syncs": list(project.imports.exclude(sync_provider="")[:HISTORY]),
        "max_mb": settings.IMPORT_MAX_FILE_BYTES // 2**20,
    }


def job_view(job: ImportJob) -> dict:
    """What the progress partial shows about a job."""
    done_bytes, rows_read = live_progress(job)
    percent = min(100, done_bytes * 100 // job.file_size) if job.file_size else 0
    first, last = job.first_day, job.last_day
    days_url = sessions_url = ""
    ledger = job_ledger(job)
    if job.status == "done" and first and last:
        days = f"?range=custom&start={first}&end={last}"
        days_url = reverse("overview", args=[job.project.slug]) + days
        if ledger:
            days_url += f"&ledger={ledger}"
        if "claude_code" in job.format.split(", "):
            sessions_url = reverse("sessions", args=[job.project.slug]) + days
    return {
        "obj": job,
        "running": job.status in {"pending", "running"},
        "percent": percent,
        "rows_read": rows_read,
        "formats": [REGISTRY[n].description if n in REGISTRY else n for n in job.format.split(", ") if n],
        "days_url": days_url,
        "sessions_url": sessions_url,
        "ledger": ledger,
    }


@require_http_methods(["GET", "POST"])
def imports(request, slug: str):
    project = project_for_user(request, slug)
    if request.method == "POST":
        job, error = _start(request, project)
        if job is not None and not request.htmx:
            return redirect(reverse("imports", args=[slug]) + f"?job={job.pk}")
        context = _context(project, job=job_view(job) if job else None, error=error, oob=bool(request.htmx))
        if request.htmx:
            return render(request, "usage/imports.html#progress", context)
        return render(request, "usage/imports.html", context, status=400)
    job = None
    if request.GET.get("job", "").isdigit():
        job = project.imports.filter(pk=request.GET["job"]).first()
    return render(request, "usage/imports.html", _context(project, job=job_view(job) if job else None))


@require_POST
def import_delete(request, slug: str, pk: int):
    project = project_for_user(request, slug)
    job = get_object_or_404(project.imports.exclude(status__in=["pending", "running"]), pk=pk)
    deleted = delete_import(job)
    messages.success(request, f"Import of {job.file_name} deleted: {deleted:,} records removed, "
                              "its days rolled up again.")
    return redirect("imports", slug=slug)


@require_GET
def import_status(request, slug: str, pk: int):
    project = project_for_user(request, slug)
    job = get_object_or_404(project.imports, pk=pk)
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    context = _context(project, job=job_view(job), oob=partial)
    if partial:
        return render(request, "usage/imports.html#progress", context)
    return render(request, "usage/imports.html", context)


def _start(request, project) -> tuple[ImportJob | None, str]:
    """Save the upload, detect its format, queue the import. Returns (job, error)."""
    upload = request.FILES.get("file")
    if upload is None:
        return None, "Choose a file to import."
    limit = settings.IMPORT_MAX_FILE_BYTES
    if upload.size > limit:
        return None, (f"{upload.name}: {upload.size / 2**20:.1f} MB is larger than the import limit of "
                      f"{limit / 2**20:.0f} MB.")
    fmt = request.POST.get("format") or "auto"
    if fmt != "auto" and fmt not in REGISTRY:
        return None, f"Unknown format {fmt!r}."
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(upload.name).name)[-100:]
    path = folder / f"{uuid.uuid4().hex}-{safe}"
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    job = ImportJob(project=project, created_by=request.user, file_name=upload.name[:255],
                    file_path=str(path), file_size=upload.size)
    try:
        job.format = detect_format(path, upload.name) if fmt == "auto" else fmt
    except ImportFormatError as exc:
        path.unlink(missing_ok=True)
        job.status, job.error, job.finished_at = "failed", str(exc), timezone.now()
        job.save()
        return job, ""
    job.save()
    try:
        import_file_later(job.pk)
    except KombuOperationalError:
        ImportJob.objects.filter(pk=job.pk).update(
            status="failed", finished_at=timezone.now(),
            error="The task queue is unreachable (is the Celery broker running?). Nothing was imported.",
        )
    job.refresh_from_db()
    return job, ""
