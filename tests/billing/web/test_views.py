from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import AlertEvent, Budget
from tests.billing.factories import add_spend, make_budget, smtp_server, use_smtp

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
FORM = {"name": "Team", "scope": "project", "scope_value": "", "period": "month",
        "amount_usd": "200", "ledger": "metered", "thresholds": "50, 75, 90, 100",
        "forecast_alert": "on", "recipients": "ops@example.com", "webhook_url": "", "is_active": "on"}


def test_the_page_lists_budgets_with_progress_and_projection(logged_in, project):
    add_spend(project, timezone.now().date(), "50")
    make_budget(project, name="Team budget", amount_usd=Decimal("200"))
    html = logged_in.get(f"/p/{project.slug}/budgets/").content.decode()
    assert "Team budget" in html and "$50.00" in html and "of $200.00" in html
    assert "25.0 %" in html and 'role="meter"' in html and "Projected" in html
    assert "Alert history" in html and "No alert has fired yet" in html
    assert 'href="/p/acme/budgets/"' in html  # the nav link


def test_an_empty_project_invites_the_first_budget(logged_in, project):
    html = logged_in.get(f"/p/{project.slug}/budgets/").content.decode()
    assert "No budgets yet" in html and "Create your first budget" in html


def test_other_users_cannot_see_the_page(client, project, django_user_model):
    bob = django_user_model.objects.create_user("bob", password="pw-bob-12345")
    client.force_login(bob)
    assert client.get(f"/p/{project.slug}/budgets/").status_code == 404


def test_new_form_comes_inline_and_creates_a_budget(logged_in, project):
    form = logged_in.get(f"/p/{project.slug}/budgets/new/", **HX).content.decode()
    assert 'id="budget-new"' in form and 'value="50, 75, 90, 100"' in form and "<html" not in form
    response = logged_in.post(f"/p/{project.slug}/budgets/", FORM, **HX)
    assert response.status_code == 200 and response["HX-Retarget"] == "#budgets"
    assert "Team" in response.content.decode() and 'data-testid="budget"' in response.content.decode()
    budget = Budget.objects.get()
    assert (budget.amount_usd, budget.thresholds, budget.recipients) == (
        Decimal("200"), [50, 75, 90, 100], "ops@example.com")


def test_validation_messages_are_shown_inline(logged_in, project):
    bad = {**FORM, "amount_usd": "-5", "recipients": "ops@example.com, nope", "scope": "model",
           "thresholds": "50, abc"}
    html = logged_in.post(f"/p/{project.slug}/budgets/", bad, **HX).content.decode()
    assert "Not a valid e-mail address: nope" in html
    assert "Which model? Enter the value this budget covers." in html
    assert "“abc” is not a whole number of percent." in html
    assert "greater than or equal to 0.01" in html
    assert not Budget.objects.exists()


def test_without_htmx_the_forms_still_work(logged_in, project):
    assert "New budget" in logged_in.get(f"/p/{project.slug}/budgets/?new=1").content.decode()
    response = logged_in.post(f"/p/{project.slug}/budgets/", FORM)
    assert response.status_code == 302
    budget = Budget.objects.get()
    page = logged_in.get(f"/p/{project.slug}/budgets/?edit={budget.pk}").content.decode()
    assert f'id="budget-{budget.pk}"' in page and "Edit “Team”" in page
    response = logged_in.post(f"/p/{project.slug}/budgets/{budget.pk}/", {**FORM, "amount_usd": "300"})
    assert response.status_code == 302
    budget.refresh_from_db()
    assert budget.amount_usd == Decimal("300")


def test_edit_inline_and_save(logged_in, project):
    budget = make_budget(project, name="Old", amount_usd=Decimal("100"))
    form = logged_in.get(f"/p/{project.slug}/budgets/{budget.pk}/?edit=1", **HX).content.decode()
    assert "Edit “Old”" in form and f'id="id_b{budget.pk}_name"' in form
    html = logged_in.post(f"/p/{project.slug}/budgets/{budget.pk}/",
                          {**FORM, "name": "New", "period": "week"}, **HX).content.decode()
    assert f'id="budget-{budget.pk}"' in html and "New" in html and "Week (Monday, UTC)" in html
    budget.refresh_from_db()
    assert budget.name == "New" and budget.period == "week"
    html = logged_in.post(f"/p/{project.slug}/budgets/{budget.pk}/", {**FORM, "amount_usd": ""},
                          **HX).content.decode()
    assert "This field is required." in html


def test_toggle_a_threshold(logged_in, project):
    budget = make_budget(project)
    url = f"/p/{project.slug}/budgets/{budget.pk}/threshold/"
    html = logged_in.post(url, {"threshold": "75"}, **HX).content.decode()
    budget.refresh_from_db()
    assert budget.thresholds == [50, 90, 100]
    assert 'value="75" class="chip"' in html
    logged_in.post(url, {"threshold": "75"}, **HX)
    budget.refresh_from_db()
    assert budget.thresholds == [50, 75, 90, 100]


def test_send_a_test_email_over_smtp(logged_in, project, settings):
    budget = make_budget(project, amount_usd=Decimal("100"))
    with smtp_server() as (inbox, port):
        use_smtp(settings, port)
        html = logged_in.post(f"/p/{project.slug}/budgets/{budget.pk}/test/", **HX).content.decode()
    assert "Test sent: e-mail to ops@example.com." in html
    assert len(inbox.messages) == 1 and "Test alert" in inbox.subjects()[0]


def test_a_failing_test_email_says_why(logged_in, project, settings):
    from tests.billing.factories import free_port

    use_smtp(settings, free_port())
    budget = make_budget(project)
    html = logged_in.post(f"/p/{project.slug}/budgets/{budget.pk}/test/", **HX).content.decode()
    assert "Test failed:" in html and "refused" in html.lower()


def test_delete_archives_and_keeps_the_alert_history(logged_in, project):
    budget = make_budget(project)
    AlertEvent.objects.create(budget=budget, period_start=date(2026, 11, 1), threshold=50)
    response = logged_in.post(f"/p/{project.slug}/budgets/{budget.pk}/delete/", **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "No budgets yet" in html
    assert "Monthly <small>(deleted)</small>" in html  # the history row stays
    budget.refresh_from_db()
    assert budget.archived_at is not None and not budget.is_active
    assert AlertEvent.objects.filter(budget=budget).count() == 1


def test_history_says_what_fired_to_whom_and_whether_it_was_delivered(logged_in, project):
    budget = make_budget(project, name="Team")
    start = date(2026, 11, 1)
    primary = AlertEvent.objects.create(budget=budget, period_start=start, threshold=90,
                                        recipients="ops@example.com", other_thresholds=[50],
                                        sent_at=timezone.now(), spend_nano=92 * 10**9,
                                        amount_nano=100 * 10**9)
    AlertEvent.objects.create(budget=budget, period_start=start, threshold=50, bundled_into=primary,
                              recipients="ops@example.com", sent_at=timezone.now())
    AlertEvent.objects.create(budget=budget, period_start=start, threshold=100,
                              recipients="ops@example.com", attempts=3,
                              last_error="e-mail: ConnectionRefusedError: [Errno 111] refused")
    AlertEvent.objects.create(budget=budget, period_start=start, threshold=AlertEvent.FORECAST,
                              runout_date=date(2026, 11, 24))
    html = logged_in.get(f"/p/{project.slug}/budgets/").content.decode()
    assert html.count('data-testid="alert-row"') == 4
    assert "(with 50 %)" in html and "(in the 90 % e-mail)" in html
    assert "delivered" in html and "failing after 3 attempts" in html
    assert "ConnectionRefusedError" in html
    assert "projected to exceed, runs out Nov 24" in html and "no recipients" in html


def test_scope_values_seen_lately_are_suggested(logged_in, project):
    add_spend(project, timezone.now().date(), "1", feature="chat", end_user="u-7")
    form = logged_in.get(f"/p/{project.slug}/budgets/new/", **HX).content.decode()
    assert 'list="id_scope_value-values"' in form and '<datalist id="id_scope_value-values">' in form
    for value, kind in [("claude-sonnet-4-5", "model"), ("anthropic", "provider"),
                        ("chat", "feature"), ("u-7", "end user")]:
        assert f'<option value="{value}" label="{kind}">' in form


def test_a_scope_without_spend_gets_a_spelling_hint(logged_in, project):
    add_spend(project, timezone.now().date(), "1")
    make_budget(project, scope="model", scope_value="claude-sonet-4-5")
    html = logged_in.get(f"/p/{project.slug}/budgets/").content.decode()
    assert "check the spelling of “claude-sonet-4-5”" in html
