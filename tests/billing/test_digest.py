from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing import digest
from billing.models import DigestSent
from billing.tasks import send_weekly_digests
from tests.billing.factories import (
    add_spend,
    free_port,
    make_budget,
    smtp_server,
    use_smtp,
)

pytestmark = pytest.mark.django_db
# Monday Nov 23 2026
MONDAY_9_UTC = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)


@pytest.fixture
def opted_in(project):
    project.weekly_digest = True
    project.digest_recipients = "team@example.com"
    project.save()
    return project


@pytest.fixture
def inbox(settings):
    with smtp_server() as (box, port):
        use_smtp(settings, port)
        yield box


def test_due_on_monday_from_nine_in_the_project_timezone(opted_in):
    assert digest.due_week(opted_in, now=MONDAY_9_UTC) == date(2026, 11, 16)
    assert digest.due_week(opted_in, now=datetime(2026, 11, 23, 8, 59, tzinfo=UTC)) is None
    assert digest.due_week(opted_in, now=datetime(2026, 11, 24, 9, 5, tzinfo=UTC)) is None
    opted_in.timezone = "America/New_York"  # 09:05 UTC is 04:05 there
    assert digest.due_week(opted_in, now=MONDAY_9_UTC) is None
    assert digest.due_week(opted_in, now=datetime(2026, 11, 23, 14, 5, tzinfo=UTC)) == date(2026, 11, 16)
    opted_in.timezone = "Asia/Tokyo"  # Monday 09:05 in Tokyo is Monday 00:05 UTC
    assert digest.due_week(opted_in, now=datetime(2026, 11, 23, 0, 5, tzinfo=UTC)) == date(2026, 11, 16)


def test_the_digest_has_totals_change_tops_savings_and_budgets(opted_in, inbox):
    for d in range(16, 23):  # last week: $10 a day
        add_spend(opted_in, date(2026, 11, d), "10", feature="chat", end_user="u-1")
    add_spend(opted_in, date(2026, 11, 20), "5", model="gpt-5", provider="openai", feature="search")
    add_spend(opted_in, date(2026, 11, 10), "50")  # the week before
    make_budget(opted_in, name="Monthly", amount_usd=Decimal("500"))
    assert send_weekly_digests(MONDAY_9_UTC.isoformat()) == 1
    assert len(inbox.messages) == 1 and inbox.envelopes[0] == ["team@example.com"]
    subject, text = inbox.subjects()[0], inbox.text()
    assert subject == "[costwatch] Acme: $75.00 spent Nov 16–Nov 22"
    assert "Total:         $75.00 (+50.0 % vs the previous week, $50.00)" in text
    assert "$70.00  claude-sonnet-4-5" in text and "$5.00  gpt-5" in text
    assert "$70.00  chat" in text and "$70.00  u-1" in text
    assert "Cache savings: $0.00" in text
    assert "Monthly: $125.00 of $500.00 (25.0 %)" in text
    assert "Top models" in inbox.html()


def test_the_digest_is_sent_once_per_week_however_often_the_beat_runs(opted_in, inbox):
    for minute in (5, 6):
        send_weekly_digests(MONDAY_9_UTC.replace(minute=minute).isoformat())
    send_weekly_digests(MONDAY_9_UTC.replace(hour=10).isoformat())
    assert len(inbox.messages) == 1
    assert DigestSent.objects.get().sent_at is not None
    send_weekly_digests(datetime(2026, 11, 30, 9, 5, tzinfo=UTC).isoformat())
    assert len(inbox.messages) == 2


def test_not_opted_in_projects_get_nothing(project, inbox):
    project.digest_recipients = "team@example.com"
    project.save()
    assert send_weekly_digests(MONDAY_9_UTC.isoformat()) == 0 and not inbox.messages


def test_a_failed_digest_is_recorded_and_retried_next_hour(opted_in, settings):
    port = free_port()
    use_smtp(settings, port)
    assert send_weekly_digests(MONDAY_9_UTC.isoformat()) == 0
    row = DigestSent.objects.get()
    assert row.sent_at is None and row.attempts == 1 and "ConnectionRefusedError" in row.last_error
    with smtp_server(port) as (box, _):
        assert send_weekly_digests(MONDAY_9_UTC.replace(hour=10).isoformat()) == 1
    assert len(box.messages) == 1


def test_opt_in_on_the_budgets_page(logged_in, project):
    url = f"/p/{project.slug}/budgets/digest/"
    hx = {"HTTP_HX_REQUEST": "true"}
    html = logged_in.post(url, {"weekly_digest": "on", "digest_recipients": ""}, **hx).content.decode()
    assert "Who should get it?" in html
    html = logged_in.post(url, {"weekly_digest": "on", "digest_recipients": "a@example.com, bad"},
                          **hx).content.decode()
    assert "Not a valid e-mail address: bad" in html
    html = logged_in.post(url, {"weekly_digest": "on", "digest_recipients": "a@example.com"},
                          **hx).content.decode()
    assert 'data-testid="digest-saved"' in html
    project.refresh_from_db()
    assert project.weekly_digest and project.digest_recipients == "a@example.com"
    assert "Weekly digest" in logged_in.get(f"/p/{project.slug}/budgets/").content.decode()
