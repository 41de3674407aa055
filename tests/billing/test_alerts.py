"""Firing and delivering alerts on SQLite with eager Celery, real SMTP (aiosmtpd) and a
real HTTP server for the webhook. The worker/PostgreSQL versions are in
test_alerts_worker.py."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError

from billing import alerts
from billing.models import AlertEvent
from billing.tasks import check_all_budgets, check_project_budgets
from tests.billing.factories import (
    add_spend,
    at,
    free_port,
    make_budget,
    smtp_server,
    use_smtp,
    webhook_server,
)

pytestmark = pytest.mark.django_db
NOV = date(2026, 11, 10)


def check(project, day=NOV, hour=12):
    return check_project_budgets(project.pk, at=at(day, hour).isoformat())


@pytest.fixture
def inbox(settings):
    with smtp_server() as (box, port):
        use_smtp(settings, port)
        yield box


def test_rising_spend_sends_exactly_one_email_per_threshold(project, inbox):
    make_budget(project, amount_usd=Decimal("100"), recipients="ops@example.com, cfo@example.com")
    seen = []
    for usd, expected in [("20", None), ("35", 50), ("5", None), ("20", 75), ("12", 90), ("10", 100)]:
        add_spend(project, NOV, usd)
        check(project)
        check(project)  # a second check finds nothing new
        seen = [(e.threshold, e.sent_at is not None) for e in AlertEvent.objects.order_by("threshold")]
        if expected:
            assert (expected, True) in seen
    assert seen == [(50, True), (75, True), (90, True), (100, True)]
    assert len(inbox.messages) == 4
    assert [s.split(":", 1)[1].split("(")[0].strip() for s in inbox.subjects()] == [
        f"Budget “Monthly” has reached {t} %" for t in (50, 75, 90, 100)]
    assert inbox.envelopes[0] == ["ops@example.com", "cfo@example.com"]
    assert "$102.00 of $100.00" in inbox.subjects()[-1]


def test_several_thresholds_at_once_send_one_email_naming_the_highest(project, inbox):
    budget = make_budget(project, amount_usd=Decimal("100"))
    add_spend(project, NOV, "92")
    assert check(project) == 1
    events = {e.threshold: e for e in AlertEvent.objects.all()}
    assert set(events) == {50, 75, 90}
    assert events[90].other_thresholds == [50, 75] and events[90].bundled_into is None
    assert events[50].bundled_into == events[90] and events[75].bundled_into == events[90]
    assert all(e.sent_at for e in AlertEvent.objects.all())
    assert len(inbox.messages) == 1
    text, html = inbox.text(), inbox.html()
    assert "has reached 90 %" in inbox.subjects()[0]
    assert "Also crossed in this check: 50 %, 75 %" in text
    assert "$92.00 of $100.00 (92.0 %)" in text
    assert "Daily spend" in text and "<table" in html and "Also crossed" in html
    assert f"/p/{project.slug}/?range=custom&start=2026-11-01&end=2026-11-30&ledger=metered" in text
    assert inbox.messages[0]["Message-ID"] == f"<alert-{events[90].pk}@costwatch>"
    assert budget.alerts.count() == 3


def test_the_link_filters_the_dashboard_to_the_budget_scope(project, inbox):
    make_budget(project, scope="end_user", scope_value="u-42", amount_usd=Decimal("10"))
    add_spend(project, NOV, "6", end_user="u-42")
    add_spend(project, NOV, "60", end_user="someone-else")
    check(project)
    assert len(inbox.messages) == 1
    assert "end user u-42" in inbox.text() and "&user=u-42" in inbox.text()


def test_the_unique_constraint_refuses_a_second_event(project):
    budget = make_budget(project)
    AlertEvent.objects.create(budget=budget, period_start=date(2026, 11, 1), threshold=50)
    with pytest.raises(IntegrityError):
        AlertEvent.objects.create(budget=budget, period_start=date(2026, 11, 1), threshold=50)


def test_raising_the_amount_never_resends_and_lowering_it_fires_what_is_crossed(project, inbox):
    budget = make_budget(project, amount_usd=Decimal("100"))
    add_spend(project, NOV, "80")
    check(project)
    assert sorted(AlertEvent.objects.values_list("threshold", flat=True)) == [50, 75]
    budget.amount_usd = Decimal("200")  # now at 40 %: nothing is re-sent later either
    budget.save()
    add_spend(project, NOV, "80")  # 160 of 200 = 80 %: 50 and 75 already fired
    check(project)
    assert len(inbox.messages) == 1
    budget.amount_usd = Decimal("150")  # 160 of 150: 90 and 100 are crossed now
    budget.save()
    check(project)
    assert sorted(AlertEvent.objects.values_list("threshold", flat=True)) == [50, 75, 90, 100]
    assert len(inbox.messages) == 2 and "has reached 100 %" in inbox.subjects()[1]
    assert "Also crossed in this check: 90 %" in inbox.text()


def test_the_next_month_starts_fresh(project, inbox):
    make_budget(project, amount_usd=Decimal("100"))
    add_spend(project, date(2026, 11, 28), "60")
    check(project, date(2026, 11, 28))
    check(project, date(2026, 11, 30))
    add_spend(project, date(2026, 12, 1), "55")
    check(project, date(2026, 12, 1))
    assert list(AlertEvent.objects.order_by("period_start").values_list("period_start", "threshold")) == [
        (date(2026, 11, 1), 50), (date(2026, 12, 1), 50)]
    assert len(inbox.messages) == 2


def test_week_budget_starts_fresh_on_monday(project, inbox):
    make_budget(project, period="week", amount_usd=Decimal("10"))
    add_spend(project, date(2026, 11, 22), "6")  # Sunday
    check(project, date(2026, 11, 22))
    add_spend(project, date(2026, 11, 23), "6")  # Monday
    check(project, date(2026, 11, 23))
    assert sorted(AlertEvent.objects.values_list("period_start", flat=True)) == [
        date(2026, 11, 16), date(2026, 11, 23)]


def test_forecast_alert_fires_once_per_period_with_the_runout_day(project, inbox):
    make_budget(project, amount_usd=Decimal("300"), forecast_alert=True, thresholds=[90, 100])
    for d in range(1, 10):
        add_spend(project, date(2026, 11, d), "15")  # $15 a day: $450 projected for November
    for hour in (9, 12, 18):
        check(project, NOV, hour)
    check(project, date(2026, 11, 11))
    forecast = AlertEvent.objects.get(threshold=AlertEvent.FORECAST)
    assert forecast.runout_date == date(2026, 11, 20)  # 135 after Nov 9, +15 a day
    assert AlertEvent.objects.count() == 1 and len(inbox.messages) == 1
    assert "projected to run out on Fri Nov 20" in inbox.subjects()[0]
    assert "Projected: $450.00 by Nov 30 (150.0 %)" in inbox.text()
    # December: the forecast may fire again, once
    add_spend(project, date(2026, 12, 1), "20")
    for d in range(24, 31):
        add_spend(project, date(2026, 11, d), "15")
    check(project, date(2026, 12, 1))
    check(project, date(2026, 12, 1), 20)
    assert AlertEvent.objects.filter(threshold=AlertEvent.FORECAST).count() == 2
    assert len(inbox.messages) == 2


def test_no_forecast_alert_when_not_asked_for(project, inbox):
    make_budget(project, amount_usd=Decimal("300"), forecast_alert=False)
    for d in range(1, 10):
        add_spend(project, date(2026, 11, d), "15")
    check(project)
    assert not AlertEvent.objects.exists()


def test_inactive_budget_never_fires(project, inbox):
    make_budget(project, is_active=False)
    add_spend(project, NOV, "500")
    check(project)
    assert not AlertEvent.objects.exists() and not inbox.messages


def test_webhook_receives_the_documented_json(project, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.COSTWATCH_WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on 127.0.0.1
    with webhook_server() as (url, received):
        budget = make_budget(project, amount_usd=Decimal("100"), recipients="", webhook_url=url,
                             scope="model", scope_value="claude-sonnet-4-5")
        add_spend(project, NOV, "77.5")
        check(project)
    assert len(received) == 1
    body = received[0]["json"]
    assert received[0]["content_type"] == "application/json"
    assert body["type"] == "budget.threshold"
    assert body["text"].startswith("Budget “Monthly” has reached 75 %")
    assert body["budget"] == {"id": budget.pk, "name": "Monthly", "scope": "model",
                              "scope_value": "claude-sonnet-4-5", "period": "month",
                              "ledger": "metered", "amount_usd": "100.00"}
    alert = body["alert"]
    assert alert["threshold"] == 75 and alert["other_thresholds"] == [50]
    assert alert["spend_usd"] == "77.500000000" and alert["percent_used"] == "77.5"
    assert (alert["period_start"], alert["period_end"]) == ("2026-11-01", "2026-11-30")
    assert body["project"] == {"slug": project.slug, "name": project.name}
    assert "&model=claude-sonnet-4-5" in body["url"]
    event = AlertEvent.objects.get(threshold=75)
    assert event.webhook_sent_at is not None and event.attempts == 1


def test_a_failing_webhook_is_recorded_and_does_not_resend_the_email(project, inbox, settings):
    settings.COSTWATCH_WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on 127.0.0.1
    with webhook_server(status=500) as (url, received):
        make_budget(project, amount_usd=Decimal("100"), webhook_url=url)
        add_spend(project, NOV, "55")
        check(project)
        event = AlertEvent.objects.get()
        assert event.sent_at is not None and event.webhook_sent_at is None
        assert event.attempts == 1 and "webhook: HTTPError: HTTP Error 500" in event.last_error
        assert len(received) == 1 and len(inbox.messages) == 1
    with webhook_server() as (url2, received2):
        event.webhook_url = url2
        event.save()
        alerts.deliver(event.pk)
    event.refresh_from_db()
    assert event.webhook_sent_at and event.last_error == "" and len(received2) == 1
    assert len(inbox.messages) == 1  # the e-mail was not sent again


def test_smtp_outage_is_recorded_and_the_next_check_delivers_once(project, settings):
    port = free_port()  # nothing listens here yet
    use_smtp(settings, port)
    make_budget(project, amount_usd=Decimal("100"))
    add_spend(project, NOV, "60")
    check(project)  # eager: the delivery fails, is recorded, nothing raises
    event = AlertEvent.objects.get()
    assert event.sent_at is None and event.attempts == 1
    assert "e-mail: ConnectionRefusedError" in event.last_error
    with smtp_server(port) as (box, _):
        check_all_budgets(at(NOV, 13).isoformat())
        check_all_budgets(at(NOV, 14).isoformat())
        alerts.deliver(event.pk)
    event.refresh_from_db()
    assert event.sent_at is not None and event.attempts == 2 and event.last_error == ""
    assert len(box.messages) == 1


def test_delivering_twice_sends_once(project, inbox):
    make_budget(project, amount_usd=Decimal("100"))
    add_spend(project, NOV, "60")
    check(project)
    event = AlertEvent.objects.get()
    assert alerts.deliver(event.pk) is False
    assert alerts.deliver(event.pk) is False
    assert len(inbox.messages) == 1


def test_an_event_without_recipients_is_recorded_not_sent(project, inbox):
    make_budget(project, amount_usd=Decimal("100"), recipients="")
    add_spend(project, NOV, "60")
    check(project)
    assert AlertEvent.objects.get().sent_at is None and not inbox.messages
    assert alerts.pending_deliveries(now=at(NOV + timedelta(days=1))) == []


def test_check_budgets_command_checks_and_reports(project, inbox, capsys):
    make_budget(project, name="Team", amount_usd=Decimal("10"))
    add_spend(project, NOV, "9.5")
    call_command("check_budgets", at=at(NOV).isoformat())
    out = capsys.readouterr().out
    assert "acme · Team: $9.50 of $10.00 (95.0 %)" in out and "1 alert message(s) fired" in out
    assert len(inbox.messages) == 1 and "has reached 90 %" in inbox.subjects()[0]


def test_send_test_email_uses_current_numbers_and_records_nothing(project, inbox):
    budget = make_budget(project, amount_usd=Decimal("100"))
    add_spend(project, NOV, "12.34")
    assert alerts.send_test(budget, now=at(NOV)) == "e-mail to ops@example.com"
    assert "Test alert" in inbox.subjects()[0] and "$12.34 of $100.00" in inbox.text()
    assert not AlertEvent.objects.exists()
