import contextlib
from datetime import date

from celery import shared_task

from usage import rollups
from usage.models import ProviderConnection
from usage.pricing_jobs import reprice
from usage.sync import SyncFailed, sync, sync_all


@shared_task(name="usage.tasks.rollup_day", acks_late=True)
def rollup_day(project_id: int, day: str, ledger: str) -> None:
    from billing.tasks import check_project_budgets

    rollups.rollup_day(project_id=project_id, day=date.fromisoformat(day), ledger=ledger)
    # Budgets are checked after each rollup (billing owns the check).
    check_project_budgets.delay(project_id)


@shared_task(name="usage.tasks.rollup_dirty")
def rollup_dirty() -> int:
    return rollups.rollup_dirty()


@shared_task(name="usage.tasks.import_file", acks_late=True)
def import_file(job_id: int) -> None:
    from usage.imports import import_job_file

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
