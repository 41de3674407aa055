"""Importing files: the one domain function behind `manage.py import_usage` and the upload
page's Celery task.

A run is all-or-nothing: every file of it is parsed and stored in one transaction, so a bad
row late in a file leaves nothing behind. Records go through usage.ingest.record_usage in
merge mode: natural keys per format, later restatements replace earlier rows, cost exports
merge onto token exports instead of adding to them.

Progress: the import's own transaction can't publish progress, so on PostgreSQL a second,
autocommit connection writes ImportJob.progress_bytes once a second. SQLite allows one
writer at a time (the import holds it), so there the progress of a job running in this
process — the embedded default imports uploads in a background thread — is kept in memory
(`live_progress`) for the page that polls it.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from costwatch.tenant.models import Project
from usage import billed, bounds
from usage.importers import REGISTRY, detect, expand
from usage.importers.base import ImportFormatError, InputFile, ParseStats, close_archives, located
from usage.ingest import Counts, mark_dirty, record_usage
from usage.models import LEDGER_BILLED, ImportJob, UsageRecord

logger = logging.getLogger(__name__)


class ImportFailed(Exception):
    """The import was rolled back; the message says which file, line and column, and why."""


@dataclass
class FileResult:
    name: str
    format: str


@dataclass
class ImportSummary:
    """What one import did: the counts carry the names of the ImportJob columns that store
    them (COUNTS), so a run, its job row and the pages read one shape."""

    files: list[FileResult] = field(default_factory=list)
    rows_read: int = 0
    rows_skipped: int = 0
    records_added: int = 0
    records_replaced: int = 0
    records_merged: int = 0
    duplicates: int = 0
    rows_rejected: int = 0
    records_unpriced: int = 0
    cost_nano: int = 0  # net cost added (new rows minus the rows they replaced)
    first_day: date | None = None
    last_day: date | None = None
    notes: list[str] = field(default_factory=list)  # what was restated, usage.billed.describe

    def add(self, counts: Counts) -> None:
        """Add one write batch (usage.ingest / usage.billed)."""
        self.records_added += counts.accepted
        self.records_replaced += counts.replaced
        self.records_merged += counts.merged
        self.duplicates += counts.duplicates
        self.records_unpriced += counts.unpriced
        self.cost_nano += counts.cost_nano - counts.replaced_cost_nano
        days = [d for d in (counts.first_day, counts.last_day, self.first_day, self.last_day) if d]
        if days:
            self.first_day, self.last_day = min(days), max(days)

    def columns(self) -> dict:
        """The counts as ImportJob column values."""
        return {name: getattr(self, name) for name in COUNTS}


# ImportJob's count columns, filled from ImportSummary (tests/usage/test_imports.py checks
# that both name the same fields).
COUNTS = ["rows_read", "rows_skipped", "records_added", "records_replaced", "records_merged",
          "duplicates", "rows_rejected", "records_unpriced", "cost_nano", "first_day", "last_day"]


def input_files(paths: Iterable[str | Path], *, names: list[str] | None = None) -> list[InputFile]:
    """Paths (files, folders of Claude Code logs, zips) -> files to parse, size-checked.
    `names`: what messages call each path (an upload's own name, not the stored one)."""
    limit = settings.IMPORT_MAX_FILE_BYTES
    files: list[InputFile] = []
    for index, raw in enumerate(paths):
        path = Path(raw)
        if path.is_dir():
            candidates = [InputFile(name=str(p), path=p) for p in folder_logs(path)]
        elif path.is_file():
            candidates = [InputFile(name=names[index] if names else path.name, path=path)]
        elif path.exists():
            raise ImportFormatError(str(path), "not a regular file (a FIFO, socket or device)")
        else:
            raise ImportFormatError(str(path), "no such file")
        for file in candidates:
            file.size = file.path.stat().st_size
            _check_size(file, limit)
            members = expand(file)
            if members[0] is not file:
                _check_size(InputFile(file.name, file.path, size=sum(m.size for m in members)), limit,
                            what="unpacked")
            files.extend(members)
    return files


def folder_logs(folder: Path) -> list[Path]:
    """The .jsonl files under a folder (a copied ~/.claude/projects), in name order. Symbolic
    links, FIFOs and devices are refused: an import reads only the folder's own files."""
    found = []
    for root, dirs, filenames in os.walk(folder):
        for name in sorted(dirs + filenames):
            entry = Path(root) / name
            if entry.is_symlink():
                raise ImportFormatError(str(entry), "a symbolic link; copy the files themselves into the folder")
            if name in filenames and name.endswith(".jsonl"):
                if not stat.S_ISREG(entry.lstat().st_mode):
                    raise ImportFormatError(str(entry), "not a regular file (a FIFO, socket or device)")
                found.append(entry)
    if not found:
        raise ImportFormatError(str(folder), "a folder without .jsonl files (expected ~/.claude/projects)")
    return sorted(found)


def _check_size(file: InputFile, limit: int, what: str = "") -> None:
    if file.size > limit:
        raise ImportFormatError(
            file.name, f"{what + ' ' if what else ''}{file.size / 2**20:.1f} MB is larger than the import "
            f"limit of {limit / 2**20:.0f} MB (setting IMPORT_MAX_FILE_BYTES)"
        )


def detect_format(path: str | Path, name: str = "") -> str:
    """The format of one file (for the upload page); raises ImportFormatError."""
    files = expand(InputFile(name=name or Path(path).name, path=Path(path)))
    try:
        return detect(files[0])
    finally:
        close_archives(files)


def run_import(
    *,
    project: Project,
    paths: Iterable[str | Path],
    format: str = "auto",
    formats: list[str] | None = None,
    job: ImportJob | None = None,
    names: list[str] | None = None,
) -> ImportSummary:
    """Import files into `project`. Raises ImportFailed (the job is marked failed with the
    same message) and then nothing of the run is stored. `formats`: one per path, instead
    of `format` for all; `names`: one per path, what messages call it. Without a job, one is created: billed rows are told apart by the
    import that stated them (usage.billed)."""
    paths = list(paths)
    watched = job  # a caller's job shows progress; one created here has no watcher
    if job is None:
        job = ImportJob.objects.create(project=project,
                                       file_name=", ".join(Path(p).name for p in paths)[:255])
    ImportJob.objects.filter(pk=job.pk).update(status="running", error="", worker=WORKER,
                                               heartbeat_at=timezone.now())
    summary = ImportSummary()
    stats = ParseStats()
    files: list[tuple[InputFile, str]] = []
    heartbeat = _Heartbeat(job)
    try:
        _store(project=project, paths=paths, format=format, formats=formats, names=names, job=job,
               watched=watched, files=files, summary=summary, stats=stats)
    except (ImportFormatError, bounds.OutOfBounds) as exc:
        message = str(exc if isinstance(exc, ImportFormatError) else _located(exc, stats))
        summary.rows_rejected = 1
        _fail(job, message, rows_read=stats.rows_read, rows_rejected=1)
        raise ImportFailed(message) from exc
    except BaseException as exc:
        with contextlib.suppress(DatabaseError):  # the database itself may be what failed
            _fail(job, f"internal error while importing ({type(exc).__name__}); nothing was imported")
        raise
    finally:
        heartbeat.stop()
        close_archives([file for file, _ in files])
    summary.rows_read, summary.rows_skipped = stats.rows_read, stats.rows_skipped
    summary.duplicates += stats.duplicates
    done_formats = sorted({f.format for f in summary.files})
    ImportJob.objects.filter(pk=job.pk).update(
        status="done", finished_at=timezone.now(), format=", ".join(done_formats)[:64],
        notes="; ".join(summary.notes),
        progress_bytes=job.file_size or stats.progress(), **summary.columns(),
    )
    return summary


def _store(*, project, paths, format, formats, names, job, watched, files, summary, stats) -> None:
    """Parse and store every file of a run in one transaction (run_import's body)."""
    for index, path in enumerate(paths):
        named = formats[index] if formats else format
        shown = [names[index]] if names else None
        files.extend((file, named) for file in input_files([path], names=shown))
    groups: dict[str, list[InputFile]] = {}
    for file, named in files:
        name = named if named != "auto" else detect(file)
        if name not in REGISTRY:
            raise ImportFormatError(file.name, f"unknown format {name!r}; one of {', '.join(REGISTRY)}")
        groups.setdefault(name, []).append(file)
        summary.files.append(FileResult(file.name, name))
    progress = _Progress(watched, stats, total=sum(f.size for f, _ in files))
    try:
        with _frozen_heap(), transaction.atomic():
            for name, group in groups.items():
                fmt = REGISTRY[name]
                if fmt.ledger == LEDGER_BILLED:
                    # batches where the format has them: no object per row (usage.bulk)
                    stream = ({"batches": fmt.parse_batches(group, stats)} if fmt.parse_batches
                              else {"records": located(fmt.parse(group, stats), stats)})
                    counts = billed.store(
                        project=project, format=name, source=fmt.source, kind=fmt.kind,
                        import_job=job, on_progress=progress, **stream,
                    )
                    if note := billed.describe(counts):
                        summary.notes.append(note)
                else:
                    counts = record_usage(
                        project=project, source=fmt.source, records=located(fmt.parse(group, stats), stats),
                        merge=True, import_job=job, on_progress=progress,
                    )
                summary.add(counts)
    finally:
        progress.close()


# allocations between the collector's young passes while an import runs (Python's default: 700)
IMPORT_GC_THRESHOLD = 100_000


@contextlib.contextmanager
def _frozen_heap():
    """The objects that exist before an import (the app's modules, models, price book) are
    left out of the garbage collector's passes while it runs (gc.freeze): its full passes
    scanned them again and again as the rows of each chunk aged, ~10% of a big import's CPU
    (bench/import_csv.py). Collection itself goes on, its young pass every IMPORT_GC_THRESHOLD
    allocations: at every 700 it traversed the batches in flight (tuples that live until
    stored, none of them garbage) over and over, another ~10% of the console fast path."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], IMPORT_GC_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _located(exc: bounds.OutOfBounds, stats: ParseStats) -> ImportFormatError:
    """A bounds refusal as an import error naming the file and line of the record."""
    file, line = exc.origin if isinstance(exc.origin, tuple) else stats.location
    return ImportFormatError(file or "import", exc.message, line=line, column=exc.field)


def _fail(job: ImportJob, message: str, **counts) -> None:
    ImportJob.objects.filter(pk=job.pk).update(status="failed", error=message, finished_at=timezone.now(),
                                               **counts)


def delete_import(job: ImportJob) -> int:
    """Delete an import and the records it stored; their days are rolled up again and the
    billed cost rows of those days re-matched to what token rows remain. Rows the import
    restated (replaced) are gone and do not come back. Returns the records deleted."""
    with transaction.atomic():
        rows = UsageRecord.objects.filter(project=job.project, import_job=job)
        days = set(rows.values_list("day", "ledger").distinct())
        provider_days = set(rows.filter(ledger=LEDGER_BILLED).values_list("provider", "day").distinct())
        deleted, _ = rows.delete()
        if provider_days:
            billed.cover(project=job.project, provider_days=provider_days)
        mark_dirty(project_id=job.project_id, days=days)
        job.delete()
    return deleted


def job_ledger(job: ImportJob) -> str | None:
    """The ledger an import's rows went to (None when its formats span both)."""
    ledgers = {REGISTRY[n].ledger for n in job.format.split(", ") if n in REGISTRY}
    return ledgers.pop() if len(ledgers) == 1 else None


WORKER = f"{socket.gethostname()}:{os.getpid()}"[:100]
STALE_MESSAGE = ("the import stopped: the process running it was stopped or died; nothing was imported. "
                 "Import the file again.")


class _Heartbeat:
    """Writes job.heartbeat_at every IMPORT_HEARTBEAT_SECONDS from a thread with its own
    connection (PostgreSQL: the import's transaction can't publish it). SQLite holds one
    writer at a time, so there a job's liveness is its process (is_stale)."""

    def __init__(self, job: ImportJob):
        self.job_id = job.pk
        self.done = threading.Event()
        self.thread = None
        if connection.vendor != "sqlite":
            self.thread = threading.Thread(target=self._run, name=f"heartbeat-{job.pk}", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        try:
            while not self.done.wait(settings.IMPORT_HEARTBEAT_SECONDS):
                ImportJob.objects.filter(pk=self.job_id, status="running").update(heartbeat_at=timezone.now())
        except DatabaseError:
            logger.warning("import %s: heartbeat stopped", self.job_id, exc_info=True)
        finally:
            connections.close_all()  # this thread's connection

    def stop(self) -> None:
        self.done.set()
        if self.thread is not None:
            self.thread.join(timeout=5)


def is_stale(job: ImportJob, now=None) -> bool:
    """Whether a running job's worker is gone: its process (on this host) has exited, or on
    PostgreSQL its heartbeat is older than IMPORT_STALE_SECONDS."""
    host, _, pid = job.worker.rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
        return True
    if connection.vendor == "sqlite":
        return False
    beat = job.heartbeat_at or job.created_at
    return beat < (now or timezone.now()) - timedelta(seconds=settings.IMPORT_STALE_SECONDS)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_stale_jobs(project: Project | None = None) -> int:
    """Mark running jobs whose worker died as failed, with a clear message (the beat, the
    Imports page). Returns how many."""
    running = ImportJob.objects.filter(status="running")
    if project is not None:
        running = running.filter(project=project)
    stale = [job.pk for job in running.only("pk", "worker", "heartbeat_at", "created_at") if is_stale(job)]
    if stale:
        ImportJob.objects.filter(pk__in=stale, status="running").update(
            status="failed", error=STALE_MESSAGE, finished_at=timezone.now())
    return len(stale)


# job id -> (bytes, rows) of imports running in this process on SQLite
_LIVE: dict[int, tuple[int, int]] = {}


def live_progress(job: ImportJob) -> tuple[int, int]:
    """(bytes read, rows read) of a job, as fresh as this process knows."""
    return _LIVE.get(job.pk, (job.progress_bytes, job.rows_read))


class _Progress:
    """Writes the job's progress from outside the import transaction (PostgreSQL only)."""

    def __init__(self, job: ImportJob | None, stats: ParseStats, total: int):
        self.job, self.stats, self.total = job, stats, total
        self.conn = None
        self.last = 0.0
        if job is not None and connection.vendor != "sqlite":
            self.conn = connections.create_connection("default")

    def __call__(self, _rows: int) -> None:
        if self.job is None or time.monotonic() - self.last < 1.0:
            return
        if self.conn is None:
            self.last = time.monotonic()
            _LIVE[self.job.pk] = (min(self.stats.progress(), self.total), self.stats.rows_read)
            return
        self.last = time.monotonic()
        table = ImportJob._meta.db_table
        with self.conn.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET progress_bytes = %s, rows_read = %s WHERE id = %s",
                [min(self.stats.progress(), self.total), self.stats.rows_read, self.job.pk],
            )

    def close(self) -> None:
        if self.job is not None:
            _LIVE.pop(self.job.pk, None)
        if self.conn is not None:
            self.conn.close()


def import_job_file(job_id: int) -> None:
    """Run an uploaded file's ImportJob (the Celery task's body). Safe to run twice: a
    finished job, or one still running elsewhere, is left alone; one whose worker died (a
    redelivered task) is run again from the start. The upload is deleted once the job has
    finished."""
    job = ImportJob.objects.select_related("project").filter(pk=job_id).first()
    if job is None or job.status in {"done", "failed"} or (job.status == "running" and not is_stale(job)):
        return
    # the job carries the message (run_import marks the job failed on any error)
    with contextlib.suppress(ImportFailed):
        run_import(project=job.project, paths=[job.file_path], format=job.format or "auto", job=job,
                   names=[job.file_name])
    Path(job.file_path).unlink(missing_ok=True)
