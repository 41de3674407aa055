from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.utils import timezone

from billing import alerts, digest
from billing.models import Budget
from billing.pricing import sources, sync
from costwatch.clock import utc_today
from usage.pricing_jobs import reprice

logger = logging.getLogger(__name__)

# 1, 2, 4 … 600 s between attempts (with jitter): ~2 h of SMTP outage before the chain
# ends; after that the periodic check re-sends (alerts.pending_deliveries).
DELIVERY_RETRIES = 20
BACKOFF_MAX = 600


def _now(at: str | None) -> datetime:
    return datetime.fromisoformat(at) if at else timezone.now()


def enqueue_deliveries(event_ids: list[int]) -> None:
    for event_id in event_ids:
        try:
            deliver_alert.delay(event_id)
        except Exception:  # broker down: the event stays undelivered, the sweep re-sends
            logger.warning("could not enqueue delivery of alert %s", event_id, exc_info=True)


@shared_task(name="billing.tasks.check_project_budgets", acks_late=True)
def check_project_budgets(project_id: int, at: str | None = None) -> int:
    """Runs after each rollup. `at` (ISO 8601) checks as of another time."""
    ids = alerts.check_project(project_id=project_id, now=_now(at))
    enqueue_deliveries(ids)
    return len(ids)


def schedule_budget_check(sender, *, project_id: int, **kwargs) -> None:
    """Receiver of hooks.day_rolled_up: check the project's budgets in a worker."""
    check_project_budgets.delay(project_id)


@shared_task(name="billing.tasks.check_all_budgets", acks_late=True)
def check_all_budgets(at: str | None = None) -> int:
    """Beat: every active budget, plus undelivered alerts no retry is working on."""
    now = _now(at)
    ids: list[int] = []
    project_ids = Budget.objects.filter(is_active=True).values_list("project_id", flat=True)
    for project_id in sorted(set(project_ids)):
        ids += alerts.check_project(project_id=project_id, now=now)
    fired = len(ids)
    ids += [i for i in alerts.pending_deliveries(now=now) if i not in ids]
    enqueue_deliveries(ids)
    return fired


@shared_task(bind=True, name="billing.tasks.deliver_alert", acks_late=True,
             max_retries=DELIVERY_RETRIES)
def deliver_alert(self, event_id: int) -> bool:
    try:
        return alerts.deliver(event_id)
    except alerts.DeliveryFailed as exc:
        if self.request.is_eager:
            # No worker to retry in the embedded mode: the failure is recorded on the
            # event and the next `check_budgets` run re-sends it.
            logger.warning("alert %s not delivered: %s", event_id, exc)
            return False
        countdown = get_exponential_backoff_interval(
            factor=1, retries=self.request.retries, maximum=BACKOFF_MAX, full_jitter=False
        )
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="billing.tasks.send_weekly_digests", acks_late=True)
def send_weekly_digests(at: str | None = None) -> int:
    """Beat, hourly: projects whose local time is Monday 09:00 or later and whose digest
    for the week is not sent yet."""
    return digest.send_due(now=_now(at))


@shared_task
def sync_prices(url: str | None = None, source: str | None = None) -> dict:
    """Daily opt-in price sync (COSTWATCH_PRICE_SYNC_URL): add the source's new and changed
    rows, re-price unpriced records, and report (log + result) what changed."""
    url = url or settings.COSTWATCH_PRICE_SYNC_URL
    source = source or settings.COSTWATCH_PRICE_SYNC_SOURCE
    if not url:
        return {"changed": 0}
    changes = sync.apply(sources.load(source, url=url), utc_today())
    repriced = reprice(only_unpriced=True) if changes else 0
    models = sorted({c.model for c in changes})
    logger.info("price sync from %s: %d models changed (%s), %d records re-priced",
                source, len(models), ", ".join(models), repriced)
    return {"changed": len(models), "models": models, "fields": len(changes), "repriced": repriced}
