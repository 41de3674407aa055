import contextlib
import logging
import threading
from datetime import date

from celery import shared_task
from django.conf import settings
from django.db import connections, transaction

from costwatch import hooks
from usage import rollups
from usage.imports import import_job_file
from usage.models import ProviderConnection
from usage.pricing_jobs import reprice
from usage.sync import SyncFailed, sync, sync_all

logger = logging.getLogger(__name__)


@shared_task(name="usage.tasks.rollup_day", acks_late=True)
def rollup_day(project_id: int, day: str, ledger: str) -> None:
    rollups.rollup_day(project_id=project_id, day=date.fromisoformat(day), ledger=ledger)
    # Budgets are checked after each rollup; billing connects the receiver (costwatch/hooks.py).
    hooks.day_rolled_up.send(sender=rollup_day, project_id=project_id, day=date.fromisoformat(day),
                             ledger=ledger)


def schedule_rollup(sender, *, project_id: int, day: date, ledger: str, **kwargs) -> None:
    """Receiver of hooks.day_marked_dirty: roll the day up in a worker."""
    try:
        rollup_day.delay(project_id, day.isoformat(), ledger)
    except Exception:  # broker down: the DirtyDay row stays, beat / `manage.py rollup` catch up
        logger.warning("could not enqueue rollup for %s %s", day, ledger, exc_info=True)


@shared_task(name="usage.tasks.rollup_dirty")
def rollup_dirty() -> int:
    return rollups.rollup_dirty()


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
