import json
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import AlertEvent, Budget
from tests.billing.factories import add_spend, make_budget

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def patch(client, path, body):
    return client.patch(path, json.dumps(body), content_type="application/json")


def test_create_a_budget_with_defaults_and_get_spend_and_projection(api_client, project):
    today = timezone.now().date()
    add_spend(project, today, "25")
    response = post(api_client, "/api/v1/budgets", {"name": "Team", "amount_usd": "100",
                                                    "recipients": ["ops@example.com"]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["project"] == project.slug and body["name"] == "Team"
    assert (body["scope"], body["period"], body["ledger"]) == ("project", "month", "metered")
    assert body["thresholds"] == [50, 75, 90, 100] and body["forecast_alert"] is True
    assert body["amount_usd"] == "100.00" and body["recipients"] == ["ops@example.com"]
    assert body["spend_usd"] == "25.000000000" and body["percent_used"] == "25.0"
    assert body["period_start"] == today.replace(day=1).isoformat()
    assert "projected_usd" in body and "runout_date" in body and body["alerts_fired"] == []
    assert Budget.objects.get().project == project


def test_list_get_patch_delete(api_client, project):
    budget = make_budget(project, name="Models", scope="model", scope_value="gpt-5")
    listed = api_client.get("/api/v1/budgets").json()["budgets"]
    assert [b["id"] for b in listed] == [budget.pk]
    got = api_client.get(f"/api/v1/budgets/{budget.pk}").json()
    assert got["scope"] == "model" and got["scope_value"] == "gpt-5"
    changed = patch(api_client, f"/api/v1/budgets/{budget.pk}",
                    {"amount_usd": "250.5", "thresholds": [80, 95], "period": "week"})
    assert changed.status_code == 200, changed.content
    assert changed.json()["amount_usd"] == "250.50" and changed.json()["thresholds"] == [80, 95]
    budget.refresh_from_db()
    assert budget.period == "week" and budget.scope_value == "gpt-5" and budget.name == "Models"
    assert api_client.delete(f"/api/v1/budgets/{budget.pk}").status_code == 204
    budget.refresh_from_db()  # archived: out of the API, its alert history kept
    assert budget.archived_at is not None and not budget.is_active
    assert api_client.get(f"/api/v1/budgets/{budget.pk}").status_code == 404
    assert api_client.get("/api/v1/budgets").json()["budgets"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "amount_usd": "0"}, "amount_usd"),
        ({"name": "x", "amount_usd": "10", "recipients": ["not-an-address"]}, "not-an-address"),
        ({"name": "x", "amount_usd": "10", "scope": "model"}, "scope_value"),
        ({"name": "x", "amount_usd": "10", "thresholds": [0]}, "thresholds"),
        ({"name": "x", "amount_usd": "10", "period": "year"}, "period"),
        ({"name": "x", "amount_usd": "10", "webhook_url": "not a url"}, "webhook_url"),
    ],
)
def test_invalid_budgets_are_refused_with_the_field(api_client, body, message):
    response = post(api_client, "/api/v1/budgets", body)
    assert response.status_code == 422 and message in response.json()["detail"]
    assert not Budget.objects.exists()


def test_alerts_fired_this_period_are_listed(api_client, project):
    budget = make_budget(project, amount_usd=Decimal("10"))
    start = timezone.now().date().replace(day=1)
    AlertEvent.objects.create(budget=budget, period_start=start, threshold=50, recipients="a@b.c",
                              sent_at=timezone.now())
    AlertEvent.objects.create(budget=budget, period_start=date(2020, 1, 1), threshold=50)
    fired = api_client.get(f"/api/v1/budgets/{budget.pk}").json()["alerts_fired"]
    assert [(a["threshold"], a["type"], a["delivered"]) for a in fired] == [(50, "threshold", True)]


def test_a_key_cannot_see_another_projects_budgets(api_client, project):
    from costwatch.tenant.models import Project

    other = Project.objects.create(slug="other", name="Other")
    budget = make_budget(other)
    assert api_client.get(f"/api/v1/budgets/{budget.pk}").status_code == 403
    assert patch(api_client, f"/api/v1/budgets/{budget.pk}", {"name": "mine"}).status_code == 403
    assert api_client.get("/api/v1/budgets?project=other").status_code == 403


def test_session_users_name_the_project(logged_in, project):
    make_budget(project)
    assert logged_in.get("/api/v1/budgets").status_code == 400
    assert len(logged_in.get(f"/api/v1/budgets?project={project.slug}").json()["budgets"]) == 1
