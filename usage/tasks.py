import contextlib
import logging
from datetime import date

from celery import shared_task

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
