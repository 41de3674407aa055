import contextlib
import logging
import threading
import time
from datetime import date, datetime

from celery import shared_task
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from costwatch import hooks
from usage import partitions, retention, rollups
from usage.imports import fail_stale_jobs, import_job_file
from usage.models import ProviderConnection
from usage.pricing_jobs import reprice
from usage.sync import SyncFailed, sync, sync_all

logger = logging.getLogger(__name__)


@shared_task(name="usage.tasks.rollup_day", acks_late=True)
def rollup_day(project_id: int, day: str, ledger: str, claim: str | None = None) -> int:
    """Roll up a dirty day once (usage.rollups.rollup_marked). Returns how many times it was
    recomputed: 0 when the mark is gone or another task owns it."""
    args = {"project_id": project_id, "day": date.fromisoformat(day), "ledger": ledger}
    at = datetime.fromisoformat(claim) if claim else None
    recomputed = 0
    while True:
        try:
            done = rollups.rollup_marked(**args, claim=at, interval=_interval())
        except Exception as exc:  # recorded on the mark, retried later by the beat (claim_late)
            rollups.record_failure(**args, exc=exc)
            return recomputed
        if not done.recomputed:
            return recomputed
        recomputed += 1
        # Budgets are checked after each rollup; billing connects the receiver (costwatch/hooks.py).
        hooks.day_rolled_up.send(sender=rollup_day, **args)
        if done.again is None:
            return recomputed
        if not rollup_day.app.conf.task_always_eager:
            _queue(**args, claim=done.again, countdown=_interval())
            return recomputed
        at = done.again  # in-process: the next pass now, no queue to wait in


def _interval() -> float:
    return 0 if rollup_day.app.conf.task_always_eager else settings.ROLLUP_COALESCE_SECONDS


# monotonic time until which this process does not try the broker again (see _queue)
_broker_down_until = 0.0


def _queue(*, project_id: int, day: date, ledger: str, claim: datetime, countdown: float) -> None:
    """Queue a claimed day's rollup: one short attempt (no publish retries). If the broker is
    down, the mark is released for the beat / `manage.py rollup`, and for BROKER_BACKOFF_SECONDS
    this process does not try again, so a request that dirtied 120 days pays one attempt."""
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        rollups.release(project_id=project_id, day=day, ledger=ledger, claim=claim)
        return
    try:
        rollup_day.apply_async((project_id, day.isoformat(), ledger, claim.isoformat()),
                               countdown=max(0.0, countdown), retry=False)
    except Exception:  # broker down: the mark stays, unclaimed; beat / `manage.py rollup` catch up
        logger.warning("could not enqueue rollup for %s %s", day, ledger, exc_info=True)
        _broker_down_until = time.monotonic() + settings.BROKER_BACKOFF_SECONDS
        rollups.release(project_id=project_id, day=day, ledger=ledger, claim=claim)


def schedule_rollup(sender, *, project_id: int, day: date, ledger: str, due_at: datetime,
                    claim: datetime, **kwargs) -> None:
    """Receiver of hooks.day_marked_dirty (a mark this ingest claimed): one rollup at due_at."""
    countdown = (due_at - timezone.now()).total_seconds() if due_at else 0
    _queue(project_id=project_id, day=day, ledger=ledger, claim=claim, countdown=countdown)


@shared_task(name="usage.tasks.rollup_dirty")
def rollup_dirty() -> int:
    """Beat: queue the dirty days no task is due to take (lost tasks, a broker that was down)."""
    late = rollups.claim_late(late_seconds=settings.ROLLUP_LATE_SECONDS)
    for project_id, day, ledger, claim in late:
        _queue(project_id=project_id, day=day, ledger=ledger, claim=claim, countdown=0)
    return len(late)


@shared_task(name="usage.tasks.maintain_partitions")
def maintain_partitions() -> int:
    """Beat: the coming months' partitions made ahead, the raw records past the retention
    horizon dropped. Returns how many months were dropped."""
    partitions.ensure_ahead(today=timezone.now().date())
    return len(retention.drop_expired())


@shared_task(name="usage.tasks.fail_stale_imports")
def fail_stale_imports() -> int:
    return fail_stale_jobs()


@shared_task(name="usage.tasks.import_file", acks_late=True)
def import_file(job_id: int) -> None:
    import_job_file(job_id)


def import_file_later(job_id: int) -> None:
    """Queue an uploaded file's import: on Celery, or (no broker) in a background thread of
    this process once the job is committed, so the upload answers at once and the page
    polls the job's progress."""
    if not (settings.CELERY_TASK_ALWAYS_EAGER and settings.IMPORT_IN_THREAD):
        import_file.delay_on_commit(job_id)
        return

    def run() -> None:
        try:
            import_file(job_id)
        finally:
            connections.close_all()

    transaction.on_commit(lambda: threading.Thread(target=run, name=f"import-{job_id}", daemon=True).start())


@shared_task(name="usage.tasks.reprice_unpriced")
def reprice_unpriced() -> int:
    return reprice(only_unpriced=True)


@shared_task(name="usage.tasks.sync_all_providers")
def sync_all_providers() -> int:
    return sync_all()


@shared_task(name="usage.tasks.sync_provider")
def sync_provider(connection_id: int) -> None:
    connection = ProviderConnection.objects.select_related("project").filter(pk=connection_id).first()
    if connection is not None:
        # a failure is recorded on the connection and in the sync history
        with contextlib.suppress(SyncFailed):
            sync(connection=connection)
