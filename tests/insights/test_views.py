"""Insights pages on the hand-computed data of tests/insights/test_api.py."""

from datetime import date

import pytest

from tests.insights.test_api import months  # noqa: F401  (fixture)


@pytest.fixture
def march(monkeypatch):
    from costwatch import clock

    monkeypatch.setattr(clock, "utc_today", lambda now=None, real=clock.utc_today: date(2026, 3, 31) if now is None else real(now))


@pytest.mark.usefixtures("march")
def test_explain_page_this_month_against_last(logged_in, months):  # noqa: F811
    html = logged_in.get(f"/p/{months.slug}/insights/?range=month").content.decode()
    assert "Up $1.30 vs Feb 1–Feb 28" in html
    assert "Shapley decomposition" in html
    assert 'data-testid="by-model"' in html and "claude-sonnet-4-5" in html


@pytest.mark.usefixtures("march")
def test_overview_says_why_under_month_to_date(logged_in, months):  # noqa: F811
    html = logged_in.get(f"/p/{months.slug}/").content.decode()
    assert 'data-testid="why"' in html
    assert "Why: Up $1.30 vs Feb 1–Feb 28" in html


@pytest.mark.usefixtures("march")
def test_whatif_page(logged_in, months):  # noqa: F811
    html = logged_in.get(f"/p/{months.slug}/insights/whatif/?range=month&scenario=model&to_model=claude-haiku-4-5").content.decode()
    assert 'data-testid="whatif">$2.10<' in html
    assert 'data-testid="saving">$0.20<' in html
    bad = logged_in.get(f"/p/{months.slug}/insights/whatif/?range=month&scenario=route&route=chat").content.decode()
    assert "route: &#x27;chat&#x27;: expected feature:model" in bad


def test_insights_pages_need_membership(client, months, django_user_model):  # noqa: F811
    assert client.get(f"/p/{months.slug}/insights/").status_code == 302
    other = django_user_model.objects.create_user("bob", "b@example.com", "pw-bob-12345")
    client.force_login(other)
    assert client.get(f"/p/{months.slug}/insights/whatif/").status_code == 404
