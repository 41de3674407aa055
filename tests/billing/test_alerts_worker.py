"""Alerts end to end on PostgreSQL with real Celery workers (subprocesses on Redis) and a
real SMTP server (aiosmtpd) on loopback. Run with DATABASE_URL=postgres://…"""

import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import AlertEvent
from billing.tasks import check_project_budgets
from tests.billing.factories import add_spend, at, free_port, make_budget, smtp_server
from tests.conftest import wait_until
from usage.ingest import record_usage
from usage.records import Record

pytestmark = pytest.mark.services
NOV = date(2026, 11, 10)


def delivered(n: int):
    return lambda: AlertEvent.objects.filter(sent_at__isnull=False, bundled_into__isnull=True).count() >= n


def settle(inbox, expected: int, seconds: float = 2.0) -> None:
    """Wait for `expected` messages, then a little longer to catch any duplicate."""
    wait_until(lambda: len(inbox.messages) >= expected, timeout=30)
    time.sleep(seconds)
    assert len(inbox.messages) == expected, inbox.subjects()


def test_spend_rising_through_thresholds_sends_one_email_each(project, celery_worker_factory):
    with smtp_server() as (inbox, port):
        celery_worker_factory(EMAIL_HOST="127.0.0.1", EMAIL_PORT=port)
        make_budget(project, amount_usd=Decimal("100"))
        steps = [("55", 50), ("21", 75), ("15", 90), ("10", 100)]
        for sent, (usd, threshold) in enumerate(steps, start=1):
            add_spend(project, NOV, usd)
            for _ in range(3):  # checks after every rollup and on beat: repeats are normal
                check_project_budgets.delay(project.pk, at(NOV).isoformat())
            settle(inbox, sent, seconds=1)
            assert f"has reached {threshold} %" in inbox.subjects()[-1]
    assert sorted(AlertEvent.objects.values_list("threshold", flat=True)) == [50, 75, 90, 100]


def twenty_checks_at_once(project) -> list[int]:
    """20 threads (20 PostgreSQL connections) run the check at the same moment."""
    barrier = threading.Barrier(20)
    results, errors = [], []

    def check():
        try:
            barrier.wait()
            results.append(check_project_budgets(project.pk, at(NOV).isoformat()))
        except Exception as exc:  # reported by the assert below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    return results


def test_twenty_concurrent_checks_send_no_duplicate(project, celery_worker_factory):
    with smtp_server() as (inbox, port):
        celery_worker_factory(EMAIL_HOST="127.0.0.1", EMAIL_PORT=port)
        budget = make_budget(project, amount_usd=Decimal("100"))
        add_spend(project, NOV, "60")
        assert sum(twenty_checks_at_once(project)) == 1  # one check of twenty fired a message
        assert list(budget.alerts.values_list("threshold", flat=True)) == [50]
        add_spend(project, NOV, "35")
        assert sum(twenty_checks_at_once(project)) == 1
        assert sorted(budget.alerts.values_list("threshold", flat=True)) == [50, 75, 90]
        settle(inbox, 2)
    assert "has reached 50 %" in inbox.subjects()[0]
    assert "has reached 90 %" in inbox.subjects()[1] and "Also crossed in this check: 75 %" in inbox.text(1)


def test_twenty_check_tasks_on_four_workers_send_one_email(project, celery_worker_factory):
    with smtp_server() as (inbox, port):
        for _ in range(4):
            celery_worker_factory(EMAIL_HOST="127.0.0.1", EMAIL_PORT=port)
        make_budget(project, amount_usd=Decimal("100"))
        add_spend(project, NOV, "95")
        for _ in range(20):
            check_project_budgets.delay(project.pk, at(NOV).isoformat())
        settle(inbox, 1, seconds=4)
    assert sorted(AlertEvent.objects.values_list("threshold", flat=True)) == [50, 75, 90]
    assert AlertEvent.objects.get(threshold=90).other_thresholds == [50, 75]


def test_smtp_outage_then_recovery_delivers_once(project, celery_worker_factory):
    port = free_port()  # nothing listens: connection refused
    celery_worker_factory(EMAIL_HOST="127.0.0.1", EMAIL_PORT=port)
    make_budget(project, amount_usd=Decimal("100"))
    add_spend(project, NOV, "80")
    check_project_budgets.delay(project.pk, at(NOV).isoformat())
    event = wait_until(lambda: AlertEvent.objects.filter(threshold=75, attempts__gte=2).first(), timeout=30)
    assert event.sent_at is None and "ConnectionRefusedError" in event.last_error
    with smtp_server(port) as (inbox, _):
        wait_until(delivered(1), timeout=40)
        settle(inbox, 1, seconds=3)
    event.refresh_from_db()
    assert event.sent_at and event.last_error == "" and event.attempts >= 3
    assert "has reached 75 %" in inbox.subjects()[0]


def test_the_next_month_starts_fresh(project, celery_worker_factory):
    with smtp_server() as (inbox, port):
        celery_worker_factory(EMAIL_HOST="127.0.0.1", EMAIL_PORT=port)
        make_budget(project, amount_usd=Decimal("100"))
        add_spend(project, date(2026, 11, 29), "101")
        check_project_budgets.delay(project.pk, at(date(2026, 11, 29)).isoformat())
        settle(inbox, 1, seconds=1)
        check_project_budgets.delay(project.pk, at(date(2026, 12, 1)).isoformat())  # nothing yet
        add_spend(project, date(2026, 12, 2), "51")
        check_project_budgets.delay(project.pk, at(date(2026, 12, 2)).isoformat())
        check_project_budgets.delay(project.pk, at(date(2026, 12, 2), 18).isoformat())
        settle(inbox, 2)
    assert "has reached 100 %" in inbox.subjects()[0] and "has reached 50 %" in inbox.subjects()[1]
    assert sorted(AlertEvent.objects.values_list("period_start", "threshold")) == [
        (date(2026, 11, 1), 50), (date(2026, 11, 1), 75), (date(2026, 11, 1), 90),
        (date(2026, 11, 1), 100), (date(2026, 12, 1), 50)]


def test_forecast_alert_fires_once(project, celery_worker_factory):
    with smtp_server() as (inbox, port):
        celery_worker_factory(EMAIL_HOST="127.0.0.1", EMAIL_PORT=port)
        make_budget(project, amount_usd=Decimal("300"), forecast_alert=True, thresholds=[100])
        for d in range(1, 10):
            add_spend(project, date(2026, 11, d), "15")
        for hour in (8, 12, 16, 20):
            check_project_budgets.delay(project.pk, at(NOV, hour).isoformat())
        settle(inbox, 1)
    event = AlertEvent.objects.get()
    assert event.threshold == AlertEvent.FORECAST and event.runout_date == date(2026, 11, 20)
    assert "projected to run out on Fri Nov 20" in inbox.subjects()[0]


def test_a_rollup_on_the_worker_checks_budgets_and_alerts(project, celery_worker_factory):
    """Ingest → rollup_day on the worker → check_project_budgets → e-mail."""
    with smtp_server() as (inbox, port):
        celery_worker_factory(EMAIL_HOST="127.0.0.1", EMAIL_PORT=port)
        make_budget(project, amount_usd=Decimal("0.30"))
        now = datetime.now(UTC)
        # 150K input tokens of claude-sonnet-4-5 at $3/M: $0.45, 150 % of the budget
        record_usage(project=project, source="api", records=[
            Record(external_id="r1", timestamp=now, model="claude-sonnet-4-5", input_tokens=150_000)])
        settle(inbox, 1)
    assert "has reached 100 %" in inbox.subjects()[0] and "$0.45 of $0.30" in inbox.subjects()[0]


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_alert_send_it_once(project, settings):
    """deliver() locks the event row: five deliveries racing on PostgreSQL while the SMTP
    server is slow send one e-mail; the others wait, then see sent_at."""
    import asyncio

    from billing import alerts

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    with smtp_server() as (inbox, port):
        original = inbox.handle_DATA

        async def slow(server, session, envelope):
            await asyncio.sleep(1)
            return await original(server, session, envelope)

        inbox.handle_DATA = slow
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        budget = make_budget(project)
        event = AlertEvent.objects.create(budget=budget, period_start=date(2026, 11, 1), threshold=50,
                                          recipients="ops@example.com", spend_nano=50 * 10**9,
                                          amount_nano=100 * 10**9)
        barrier = threading.Barrier(5)
        sent = []

        def deliver():
            try:
                barrier.wait()
                sent.append(alerts.deliver(event.pk))
            finally:
                connection.close()

        threads = [threading.Thread(target=deliver) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(sent) == [False, False, False, False, True]
    assert len(inbox.messages) == 1
    event.refresh_from_db()
    assert event.sent_at is not None and event.attempts == 1
